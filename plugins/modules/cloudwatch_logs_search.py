#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_logs_search
short_description: Search a CloudWatch Logs group with a filter pattern over a time window
version_added: 0.1.0
description:
  - The runbook's C(aws logs tail LOG_GROUP --since 10m --filter-pattern PATTERN), as data. Returns the
    matching events (oldest first, as C(aws logs tail) prints them) up to O(limit) - the first or, with
    O(keep=newest), the last of the window - and how many.
  - Uses CloudWatch Logs FilterLogEvents with the standard filter pattern syntax.
  - Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.read_only
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  log_group:
    description: Log group name, for example C(/aws/ecs/sample-service-prod).
    type: str
    required: true
  filter_pattern:
    description: CloudWatch Logs filter pattern, for example C(Redis) or C(?ECONNREFUSED ?timeout). Empty matches everything.
    type: str
    default: ""
  since:
    description: How far back to search, in seconds or with a unit (C(10m), C(1h)); more than 0 and at most 14 days.
    type: raw
    default: 10m
  since_epoch:
    description:
      - Search from this Unix time (seconds) instead of O(since), for example the moment a fix was applied; from 0
        to 4102444800 (2100).
    type: float
  log_stream_prefix:
    description: Only search streams whose name starts with this prefix (at most 512 characters).
    type: str
  limit:
    description: Most events to return, 1 to 10000 (the count of matches is capped at the same number).
    type: int
    default: 100
  keep:
    description:
      - Which events to return when more than O(limit) match. C(oldest) stops at the first O(limit);
        C(newest) reads the whole window (at most 100 pages) and returns the last O(limit), for a diagnosis
        that asks what the service logs now when an earlier outage in the window logged more.
    type: str
    choices: [oldest, newest]
    default: oldest
"""

EXAMPLES = r"""
- name: Verify application logs for Redis errors
  sre.incident.cloudwatch_logs_search:
    region: us-east-1
    log_group: /aws/ecs/sample-service-prod
    filter_pattern: Redis
    since: 10m
  register: redis_lines
"""

RETURN = r"""
events:
  description: Matching events, oldest first.
  returned: always
  type: list
  elements: dict
  contains:
    timestamp: {description: "Event time (ISO 8601, UTC).", type: str, returned: always}
    log_stream: {description: Stream name., type: str, returned: always}
    message: {description: The log line., type: str, returned: always}
count:
  description: Number of matching events found (at most O(limit)).
  returned: always
  type: int
truncated:
  description: True when more events matched than O(limit).
  returned: always
  type: bool
window:
  description: The searched interval - C(start) and C(end) as ISO 8601, C(start_epoch), C(end_epoch) and C(seconds).
  returned: always
  type: dict
"""

from ansible_collections.sre.incident.plugins.module_utils.steps import cloudwatch_logs_search as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
