# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.postgres_activity_info - Read PostgreSQL connection usage - counts by state, application and user, long queries, idle sessions.

Its logic (SPEC and run(module)); plugins/modules/postgres_activity_info.py holds the documentation and main()."""

from __future__ import annotations

from ansible_collections.sre.incident.plugins.module_utils.common import module_duration
from ansible_collections.sre.incident.plugins.module_utils.postgres import connect, postgres_argument_spec, query
from ansible_collections.sre.incident.plugins.module_utils.validate import Seconds, Whole

ACTIVITY = """
SELECT a.pid, a.usename AS user, a.application_name AS application, a.datname AS database,
       coalesce(a.state, 'unknown') AS state,
       round(extract(epoch FROM now() - a.state_change)::numeric, 1)::float AS state_seconds,
       round(extract(epoch FROM now() - a.query_start)::numeric, 1)::float AS query_seconds,
       left(a.query, %(length)s) AS query
FROM pg_stat_activity a
WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
"""

PRIVILEGES = """
SELECT current_user AS role, r.rolsuper AS superuser,
       r.rolsuper OR pg_has_role(current_user, 'pg_read_all_stats', 'MEMBER') AS can_read_all_stats,
       r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS can_signal_backends,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved_connections
FROM pg_roles r WHERE r.rolname = current_user
"""

# Users with sessions, and every login role with a connection limit (the application's, even with no session yet).
ROLE_LIMITS = ("SELECT rolname AS user, rolconnlimit AS limit FROM pg_roles "
               "WHERE rolname = ANY(%(users)s) OR (rolcanlogin AND rolconnlimit >= 0)")

SPEC = dict(
    argument_spec=postgres_argument_spec(
        long_running_limit=dict(type="int", default=10),
        idle_longer_than=dict(type="raw", default=600),
        running_longer_than=dict(type="raw", default=300),
        query_max_length=dict(type="int", default=200),
    ),
    supports_check_mode=True,
    limits=dict(long_running_limit=Whole(1, 1000), idle_longer_than=Seconds(7 * 86400, zero_ok=True),
                running_longer_than=Seconds(7 * 86400, zero_ok=True), query_max_length=Whole(10, 10000)),
)


def count_by(rows, key):
    counts = {}
    for row in rows:
        name = row[key] if row[key] not in (None, "") else "unknown"
        counts[name] = counts.get(name, 0) + 1
    return counts


def brief(row, seconds_key):
    return {"pid": row["pid"], "user": row["user"], "application": row["application"], "database": row["database"],
            "state": row["state"], "seconds": row[seconds_key], "query": row["query"]}


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
    params = module.params
    old = module_duration(module, "idle_longer_than")
    running = module_duration(module, "running_longer_than")
    with connect(module) as connection:
        privileges = query(module, connection, PRIVILEGES)[0]
        rows = query(module, connection, ACTIVITY, {"length": params["query_max_length"]})
        by_user = count_by(rows, "user")
        limits = query(module, connection, ROLE_LIMITS, {"users": [name for name in by_user if name != "unknown"]})
    connections = len(rows) + 1  # this module's own session counts against max_connections too
    active = sorted((row for row in rows if row["state"] not in ("idle", "unknown") and row["query_seconds"] is not None),
                    key=lambda row: row["query_seconds"], reverse=True)
    idle = [brief(row, "state_seconds") for row in rows if row["state"] == "idle" and (row["state_seconds"] or 0) > old]
    idle_tx = [brief(row, "state_seconds") for row in rows
               if row["state"].startswith("idle in transaction") and (row["state_seconds"] or 0) > old]
    running_over = [brief(row, "query_seconds") for row in active if row["query_seconds"] > running]
    user_limits = {}
    for row in limits:
        count = by_user.get(row["user"], 0)
        user_limits[row["user"]] = {"connections": count, "limit": row["limit"],
                                    "at_limit": row["limit"] >= 0 and count >= row["limit"]}
    max_connections = privileges.pop("max_connections")
    reserved = privileges.pop("reserved_connections")
    module.exit_json(
        changed=False,
        connections=connections,
        max_connections=max_connections,
        reserved_connections=reserved,
        usage_percent=round(100.0 * connections / max_connections, 1),
        by_state=count_by(rows, "state"),
        by_application=count_by(rows, "application"),
        by_user=by_user,
        long_running=[brief(row, "query_seconds") for row in active[:params["long_running_limit"]]],
        idle=sorted(idle, key=lambda row: row["seconds"], reverse=True),
        idle_in_transaction=sorted(idle_tx, key=lambda row: row["seconds"], reverse=True),
        running_over=running_over,
        user_limits=user_limits,
        thresholds={"idle_seconds": old, "running_seconds": running},
        privileges=privileges,
    )
