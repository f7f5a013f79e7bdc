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
    matching events (oldest first, as C(aws logs tail) prints them) up to O(limit), and how many matched.
  - Uses CloudWatch Logs FilterLogEvents with the standard filter pattern syntax.
  - Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.read_only
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
    description: How far back to search, in seconds or with a unit (C(10m), C(1h)).
    type: raw
    default: 10m
  since_epoch:
    description:
      - Search from this Unix time (seconds) instead of O(since), for example the moment a fix was applied.
    type: float
  log_stream_prefix:
    description: Only search streams whose name starts with this prefix.
    type: str
  limit:
    description: Most events to return (the count of matches is capped at the same number).
    type: int
    default: 100
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

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, client, fail, is_not_found
from ansible_collections.sre.incident.plugins.module_utils.common import module_duration, utc_iso

BACKEND = "CloudWatch Logs"


def main():
    module = AnsibleModule(
        argument_spec=aws_argument_spec(
            log_group=dict(type="str", required=True),
            filter_pattern=dict(type="str", default=""),
            since=dict(type="raw", default="10m"),
            since_epoch=dict(type="float"),
            log_stream_prefix=dict(type="str"),
            limit=dict(type="int", default=100),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["limit"] < 1:
        module.fail_json(msg="option limit: must be at least 1")
    end = time.time()
    start = params["since_epoch"] if params["since_epoch"] is not None else end - module_duration(module, "since")
    window = {"start": utc_iso(start), "end": utc_iso(end), "start_epoch": start, "end_epoch": end,
              "seconds": round(max(0.0, end - start), 3)}
    if start >= end:
        # A window that has not begun yet (e.g. "since the fix" a moment after it) holds no events.
        module.exit_json(changed=False, events=[], count=0, truncated=False, window=window)
    api = client(module, "logs")
    request = dict(logGroupName=params["log_group"], startTime=int(start * 1000), endTime=int(end * 1000) + 1,
                   limit=min(params["limit"], 10000))
    if params["filter_pattern"]:
        request["filterPattern"] = params["filter_pattern"]
    if params["log_stream_prefix"]:
        request["logStreamNamePrefix"] = params["log_stream_prefix"]

    events, truncated = [], False
    try:
        while True:
            page = api.filter_log_events(**request)
            events.extend(page.get("events", []))
            if len(events) >= params["limit"]:
                truncated = len(events) > params["limit"] or bool(page.get("nextToken"))
                break
            if not page.get("nextToken") or page["nextToken"] == request.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
    except Exception as exc:  # noqa: BLE001
        if is_not_found(exc, "ResourceNotFoundException"):
            module.fail_json(msg="%s: log group %s not found - check log_group and region" % (BACKEND, params["log_group"]))
        fail(module, exc, BACKEND, "filter_log_events")

    events = sorted(events, key=lambda event: event.get("timestamp", 0))[:params["limit"]]
    module.exit_json(
        changed=False,
        events=[{"timestamp": utc_iso(event["timestamp"] / 1000.0), "log_stream": event.get("logStreamName"),
                 "message": event.get("message", "").rstrip("\n")} for event in events],
        count=len(events),
        truncated=truncated,
        window=window,
    )


if __name__ == "__main__":
    main()
