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
  - A session is ended only when it matches every filter given, and never when it is this module's own session, a
    superuser's, a replication/walsender or background worker (anything but a client backend), or one of
    O(protected_applications).
  - When more sessions match than O(max_terminate), nothing is ended and the module fails saying how many matched.
  - Check mode lists exactly the pids it would end (C(changed=true) when there are any) and ends none.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.postgres
options:
  states:
    description: Only sessions in one of these states, for example C([idle]) or C([active, idle in transaction]).
    type: list
    elements: str
  idle_longer_than:
    description: Only sessions whose state has not changed for longer than this (seconds, or a duration such as C(10m)).
    type: raw
  running_longer_than:
    description: Only non-idle sessions whose current query started longer ago than this (seconds, or a duration such as C(5m)).
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
    description: Most sessions ended in one run; more matches make the module refuse and end none.
    type: int
    default: 10
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.common import module_duration
from ansible_collections.sre.incident.plugins.module_utils.postgres import connect, postgres_argument_spec, query

SESSIONS = """
SELECT a.pid, a.backend_start, a.usename AS user, a.application_name AS application, a.datname AS database,
       coalesce(a.state, 'unknown') AS state, a.backend_type,
       round(extract(epoch FROM now() - a.state_change)::numeric, 1)::float AS state_seconds,
       round(extract(epoch FROM now() - a.query_start)::numeric, 1)::float AS query_seconds,
       coalesce(r.rolsuper, false) AS superuser, a.pid = pg_backend_pid() AS own
FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
"""

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
    if row["application"] in params["protected_applications"]:
        return "protected application %s" % row["application"]
    return None


def main():
    module = AnsibleModule(
        argument_spec=postgres_argument_spec(
            states=dict(type="list", elements="str"),
            idle_longer_than=dict(type="raw"),
            running_longer_than=dict(type="raw"),
            applications=dict(type="list", elements="str"),
            users=dict(type="list", elements="str"),
            databases=dict(type="list", elements="str"),
            protected_applications=dict(type="list", elements="str", default=[]),
            max_terminate=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    filters = ("states", "idle_longer_than", "running_longer_than", "applications", "users", "databases")
    if all(params[name] is None for name in filters):
        module.fail_json(msg="postgres_terminate: give at least one filter (%s); ending every session is never a fix" % ", ".join(filters))
    for name in ("idle_longer_than", "running_longer_than"):
        if params[name] is not None:
            params[name] = module_duration(module, name)
    if params["max_terminate"] < 1:
        module.fail_json(msg="option max_terminate: must be at least 1")

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
