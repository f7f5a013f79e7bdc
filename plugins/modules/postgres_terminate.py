#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_terminate
short_description: End PostgreSQL sessions selected by a filter, with guardrails and a cap
version_added: 0.1.0
description:
  - The runbook's "Kill idle connections older than 10 minutes" and "Kill queries running longer than 5 minutes"
    (C(pg_terminate_backend)) as one guarded verb.
  - A session is ended only when it matches every filter given, and never - whatever O(states) or the filters
    say - when it is this module's own session, a superuser's, a replication/walsender, background worker or any
    other backend that is not a client backend, or one of O(protected_applications).
  - Also protected by default, unless widened on purpose - another session of the role the module connects as
    (another run of the automation; O(end_own_role_sessions)), and a backup or restore tool's session
    (application_name starting with pg_dump, pg_dumpall, pg_restore, pg_basebackup, pg_receivewal,
    pg_recvlogical, pg_rewind, pg_upgrade, pgbackrest, barman, wal-g or wal-e, in any case;
    O(end_backup_sessions)).
  - When more sessions match than O(max_terminate), nothing is ended and the module fails saying how many matched.
  - Check mode lists exactly the pids it would end (C(changed=true) when there are any) and ends none.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.postgres
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  states:
    description:
      - Only sessions in one of these states, for example C([idle]) or C([active, idle in transaction]) - the
        states of pg_stat_activity (active, idle, idle in transaction, idle in transaction (aborted), fastpath
        function call, disabled).
    type: list
    elements: str
  idle_longer_than:
    description:
      - Only sessions whose state has not changed for longer than this (seconds, or a duration such as C(10m));
        from 0 to 7 days.
    type: raw
  running_longer_than:
    description:
      - Only non-idle sessions whose current query started longer ago than this (seconds, or a duration such as
        C(5m)); from 0 to 7 days.
    type: raw
  applications:
    description: Only sessions of these application_names.
    type: list
    elements: str
  users:
    description: Only sessions of these users.
    type: list
    elements: str
  databases:
    description: Only sessions connected to these databases.
    type: list
    elements: str
  protected_applications:
    description: Sessions of these application_names are never ended.
    type: list
    elements: str
    default: []
  max_terminate:
    description: Most sessions ended in one run (1 to 200); more matches make the module refuse and end none.
    type: int
    default: 10
  end_own_role_sessions:
    description:
      - Also end other sessions of the role the module connects as (by default they are spared - another run of
        the automation, or a tool sharing its role). Its own session is never ended.
    type: bool
    default: false
  end_backup_sessions:
    description: Also end sessions of backup and restore tools (see the description); by default they are spared.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Lists the pids it would end; ends none.
  diff_mode:
    support: none
    description: The result lists the sessions instead.
"""

EXAMPLES = r"""
- name: Kill idle connections older than 10 minutes
  sre.incident.postgres_terminate:
    dsn: "{{ database_automation_dsn }}"
    states: [idle]
    idle_longer_than: 600
    users: [sample_app]
    protected_applications: [pg_dump, replication-monitor]
    max_terminate: 20

- name: Kill queries running longer than 5 minutes
  sre.incident.postgres_terminate:
    dsn: "{{ database_automation_dsn }}"
    running_longer_than: 300
    users: [sample_app]
"""

RETURN = r"""
terminated:
  description: Sessions ended (in check mode, that would be ended) - pid, user, application, database, state, reason.
  returned: always
  type: list
  elements: dict
pids:
  description: Their pids.
  returned: always
  type: list
  elements: int
matched:
  description: How many sessions matched the filters (after the guardrails).
  returned: always
  type: int
spared:
  description: Sessions the filters matched but a guardrail protected - pid and why.
  returned: always
  type: list
  elements: dict
"""

import re

from ansible_collections.sre.incident.plugins.module_utils.common import module_duration
from ansible_collections.sre.incident.plugins.module_utils.postgres import connect, postgres_argument_spec, query
from ansible_collections.sre.incident.plugins.module_utils.validate import NAME63, Each, Seconds, StrictModule, Text, Whole

SESSIONS = """
SELECT a.pid, a.backend_start, a.usename AS user, a.application_name AS application, a.datname AS database,
       coalesce(a.state, 'unknown') AS state, a.backend_type,
       round(extract(epoch FROM now() - a.state_change)::numeric, 1)::float AS state_seconds,
       round(extract(epoch FROM now() - a.query_start)::numeric, 1)::float AS query_seconds,
       coalesce(r.rolsuper, false) AS superuser, a.pid = pg_backend_pid() AS own,
       a.usename IS NOT DISTINCT FROM current_user AS own_role
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
"""

# application_name prefixes of backup/restore tools, whose sessions are spared unless end_backup_sessions.
BACKUP_TOOLS = ("pg_dump", "pg_dumpall", "pg_restore", "pg_basebackup", "pg_receivewal", "pg_recvlogical", "pg_rewind",
                "pg_upgrade", "pgbackrest", "barman", "wal-g", "wal-e")
STATES = ("active", "idle", "idle in transaction", "idle in transaction (aborted)", "fastpath function call", "disabled")

CAN_SIGNAL = ("SELECT r.rolsuper OR pg_has_role(current_user, 'pg_signal_backend', 'MEMBER') AS ok, current_user AS role "
              "FROM pg_roles r WHERE r.rolname = current_user")

TERMINATE = "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE pid = %(pid)s AND backend_start = %(start)s"


def selected(row, params):
    """The reason this session matches every filter, or None."""
    reasons = []
    if params["states"] is not None:
        if row["state"] not in params["states"]:
            return None
        reasons.append("state %s" % row["state"])
    if params["idle_longer_than"] is not None:
        if (row["state_seconds"] or 0) <= params["idle_longer_than"]:
            return None
        reasons.append("%s for %d s (> %d s)" % (row["state"], row["state_seconds"], params["idle_longer_than"]))
    if params["running_longer_than"] is not None:
        if row["state"] == "idle" or (row["query_seconds"] or 0) <= params["running_longer_than"]:
            return None
        reasons.append("%s, query started %d s ago (> %d s)" % (row["state"], row["query_seconds"], params["running_longer_than"]))
    for option, key in (("applications", "application"), ("users", "user"), ("databases", "database")):
        if params[option] is not None:
            if row[key] not in params[option]:
                return None
            reasons.append("%s %s" % (key, row[key]))
    return ", ".join(reasons)


def guardrail(row, params):
    """Why this session must never be ended, or None."""
    if row["own"]:
        return "the automation's own session"
    if row["backend_type"] != "client backend":
        return "not a client backend (%s)" % row["backend_type"]
    if row["superuser"]:
        return "superuser session (%s)" % row["user"]
    if row["own_role"] and not params["end_own_role_sessions"]:
        return "another session of the automation's own role %s" % row["user"]
    if (row["application"] or "").lower().startswith(BACKUP_TOOLS) and not params["end_backup_sessions"]:
        return "backup tool %s" % row["application"]
    if row["application"] in params["protected_applications"]:
        return "protected application %s" % row["application"]
    return None


def main():
    names = Each(NAME63, max_items=100)
    module = StrictModule(
        argument_spec=postgres_argument_spec(
            states=dict(type="list", elements="str"),
            idle_longer_than=dict(type="raw"),
            running_longer_than=dict(type="raw"),
            applications=dict(type="list", elements="str"),
            users=dict(type="list", elements="str"),
            databases=dict(type="list", elements="str"),
            protected_applications=dict(type="list", elements="str", default=[]),
            max_terminate=dict(type="int", default=10),
            end_own_role_sessions=dict(type="bool", default=False),
            end_backup_sessions=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
        limits=dict(states=Each(Text("|".join(re.escape(state) for state in STATES), ", ".join(STATES)), max_items=6),
                    idle_longer_than=Seconds(7 * 86400, zero_ok=True), running_longer_than=Seconds(7 * 86400, zero_ok=True),
                    applications=names, users=names, databases=names, protected_applications=names,
                    max_terminate=Whole(1, 200)),
    )
    params = module.params
    filters = ("states", "idle_longer_than", "running_longer_than", "applications", "users", "databases")
    if all(params[name] is None for name in filters):
        module.fail_json(msg="postgres_terminate: give at least one filter (%s); ending every session is never a fix" % ", ".join(filters))
    for name in ("idle_longer_than", "running_longer_than"):
        if params[name] is not None:
            params[name] = module_duration(module, name)

    with connect(module) as connection:
        signal = query(module, connection, CAN_SIGNAL)[0]
        chosen, spared = [], []
        for row in query(module, connection, SESSIONS):
            reason = selected(row, params)
            if reason is None:
                continue
            protected = guardrail(row, params)
            if protected:
                spared.append({"pid": row["pid"], "why": protected})
            else:
                chosen.append(dict(row, reason=reason))
        result = dict(changed=bool(chosen), matched=len(chosen), spared=spared,
                      pids=[row["pid"] for row in chosen],
                      terminated=[{key: row[key] for key in ("pid", "user", "application", "database", "state", "reason")}
                                  for row in chosen])
        refused = dict(changed=False, matched=len(chosen), spared=spared, terminated=[], pids=[])
        if len(chosen) > params["max_terminate"]:
            module.fail_json(msg="postgres_terminate: %d sessions match, more than max_terminate=%d; ended none. Narrow the "
                                 "filters or raise max_terminate on purpose." % (len(chosen), params["max_terminate"]),
                             **refused)
        if chosen and not signal["ok"]:
            module.fail_json(msg="postgres_terminate: role %s may not end other sessions: grant it pg_signal_backend "
                                 "(see docs/postgres-role.md); ended none." % signal["role"], **refused)
        if module.check_mode or not chosen:
            module.exit_json(msg="would end %d session(s)" % len(chosen) if module.check_mode else "no session matches", **result)
        ended = []
        for row in chosen:
            # backend_start pins the very session that was selected: a pid reused since is left alone.
            answer = query(module, connection, TERMINATE, {"pid": row["pid"], "start": row["backend_start"]})
            if answer and answer[0]["ended"]:
                ended.append(row["pid"])
    result["terminated"] = [item for item in result["terminated"] if item["pid"] in ended]
    result.update(pids=ended, changed=bool(ended))
    module.exit_json(msg="ended %d of %d matching session(s)" % (len(ended), len(chosen)), **result)


if __name__ == "__main__":
    main()
