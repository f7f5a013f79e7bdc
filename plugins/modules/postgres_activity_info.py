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
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  long_running_limit:
    description: How many of the longest-running non-idle queries to return (1 to 1000).
    type: int
    default: 10
  idle_longer_than:
    description:
      - Report idle and idle-in-transaction sessions whose state has not changed for longer than this.
      - Seconds, or a duration such as C(10m); from 0 to 7 days.
    type: raw
    default: 600
  running_longer_than:
    description:
      - Report every non-idle session whose current query started longer ago than this (the runbook's
        "queries running longer than 5 minutes"), in RV(running_over).
      - Seconds, or a duration such as C(5m); from 0 to 7 days.
    type: raw
    default: 300
  query_max_length:
    description: Query texts are cut to this many characters (10 to 10000).
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

from ansible_collections.sre.incident.plugins.module_utils.steps import postgres_activity_info as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
