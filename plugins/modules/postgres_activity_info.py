#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_activity_info
short_description: Read PostgreSQL connection usage - counts by state, application and user, long queries, idle sessions
version_added: 0.1.0
description:
  - The runbook's "Check active connections" for "Database Connection Pool Exhausted" in one read of
    C(pg_stat_activity) - client connections against C(max_connections) (usage percent), counts by state, by
    application_name and by user, the longest-running non-idle queries, and idle and idle-in-transaction sessions
    older than a threshold.
  - Says whether the connecting role can see other roles' queries (C(pg_read_all_stats)) and end their sessions
    (C(pg_signal_backend)).
  - Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.postgres
  - sre.incident.read_only
options:
  long_running_limit:
    description: How many of the longest-running non-idle queries to return.
    type: int
    default: 10
  idle_longer_than:
    description:
      - Report idle and idle-in-transaction sessions whose state has not changed for longer than this.
      - Seconds, or a duration such as C(10m).
    type: raw
    default: 600
  running_longer_than:
    description:
      - Report every non-idle session whose current query started longer ago than this (the runbook's
        "queries running longer than 5 minutes"), in RV(running_over).
      - Seconds, or a duration such as C(5m).
    type: raw
    default: 300
  query_max_length:
    description: Query texts are cut to this many characters.
    type: int
    default: 200
"""

EXAMPLES = r"""
- name: Check active connections
  sre.incident.postgres_activity_info:
    dsn: "{{ database_automation_dsn }}"
  register: db
"""

RETURN = r"""
connections:
  description: Client connections now.
  returned: always
  type: int
max_connections:
  description: The server's max_connections.
  returned: always
  type: int
reserved_connections:
  description: The server's superuser_reserved_connections (slots other roles can never use).
  returned: always
  type: int
usage_percent:
  description: connections / max_connections x 100.
  returned: always
  type: float
by_state:
  description: Client connections by state (null state is reported as C(unknown)).
  returned: always
  type: dict
by_application:
  description: Client connections by application_name.
  returned: always
  type: dict
by_user:
  description: Client connections by user.
  returned: always
  type: dict
long_running:
  description: Longest-running non-idle queries first - pid, user, application, state, seconds, query.
  returned: always
  type: list
  elements: dict
idle:
  description: Sessions idle longer than O(idle_longer_than) - pid, user, application, seconds.
  returned: always
  type: list
  elements: dict
idle_in_transaction:
  description: Sessions idle in transaction longer than O(idle_longer_than).
  returned: always
  type: list
  elements: dict
running_over:
  description: Every non-idle session whose query started more than O(running_longer_than) ago, longest first.
  returned: always
  type: list
  elements: dict
user_limits:
  description:
    - Per user with sessions, and per login role with a connection limit - C(connections), C(limit) (the role's
      CONNECTION LIMIT, -1 for none) and C(at_limit).
    - A role at its limit gets "too many connections for role" even while the server has free slots.
  returned: always
  type: dict
thresholds:
  description: The thresholds applied, in seconds - C(idle_seconds), C(running_seconds).
  returned: always
  type: dict
privileges:
  description: role, superuser, can_read_all_stats, can_signal_backends.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.common import module_duration
from ansible_collections.sre.incident.plugins.module_utils.postgres import connect, postgres_argument_spec, query

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


def count_by(rows, key):
    counts = {}
    for row in rows:
        name = row[key] if row[key] not in (None, "") else "unknown"
        counts[name] = counts.get(name, 0) + 1
    return counts


def brief(row, seconds_key):
    return {"pid": row["pid"], "user": row["user"], "application": row["application"], "database": row["database"],
            "state": row["state"], "seconds": row[seconds_key], "query": row["query"]}


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            long_running_limit=dict(type="int", default=10),
            idle_longer_than=dict(type="raw", default=600),
            running_longer_than=dict(type="raw", default=300),
            query_max_length=dict(type="int", default=200),
        ),
        supports_check_mode=True,
    )
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


if __name__ == "__main__":
    main()
