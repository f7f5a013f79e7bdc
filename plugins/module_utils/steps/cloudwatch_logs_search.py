# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.cloudwatch_logs_search - Search a CloudWatch Logs group with a filter pattern over a time window.

Its logic (SPEC and run(module)); plugins/modules/cloudwatch_logs_search.py holds the documentation and main()."""

from __future__ import annotations

import collections
import time

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, client, fail, is_not_found
from ansible_collections.sre.incident.plugins.module_utils.common import module_duration, utc_iso
from ansible_collections.sre.incident.plugins.module_utils.validate import EPOCH, LOG_GROUP, Seconds, Text, Whole

BACKEND = "CloudWatch Logs"
# keep=newest reads every page of the window (FilterLogEvents has no newest-first order); this many at most.
NEWEST_MAX_PAGES = 100

SPEC = dict(
    argument_spec=aws_argument_spec(
        log_group=dict(type="str", required=True),
        filter_pattern=dict(type="str", default=""),
        since=dict(type="raw", default="10m"),
        since_epoch=dict(type="float"),
        log_stream_prefix=dict(type="str"),
        limit=dict(type="int", default=100),
        keep=dict(type="str", choices=["oldest", "newest"], default="oldest"),
    ),
    supports_check_mode=True,
    limits=dict(log_group=LOG_GROUP, filter_pattern=Text(None, "text of at most 1024 characters", empty_ok=True),
                since=Seconds(14 * 86400), log_stream_prefix=Text(None, "text of at most 512 characters", max_length=512),
                limit=Whole(1, 10000), since_epoch=EPOCH),
)


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
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
    # newest: full pages (10000 is the API's most), the last O(limit) kept.
    request = dict(logGroupName=params["log_group"], startTime=int(start * 1000), endTime=int(end * 1000) + 1,
                   limit=10000 if params["keep"] == "newest" else min(params["limit"], 10000))
    if params["filter_pattern"]:
        request["filterPattern"] = params["filter_pattern"]
    if params["log_stream_prefix"]:
        request["logStreamNamePrefix"] = params["log_stream_prefix"]

    newest = params["keep"] == "newest"
    events, truncated, seen, pages = collections.deque(maxlen=params["limit"] if newest else None), False, 0, 0
    try:
        while True:
            page = api.filter_log_events(**request)
            pages += 1
            events.extend(page.get("events", []))
            seen += len(page.get("events", []))
            if not newest and len(events) >= params["limit"]:
                truncated = len(events) > params["limit"] or bool(page.get("nextToken"))
                break
            if not page.get("nextToken") or page["nextToken"] == request.get("nextToken"):
                truncated = truncated or seen > params["limit"]
                break
            if newest and pages >= NEWEST_MAX_PAGES:
                truncated = True
                break
            request["nextToken"] = page["nextToken"]
    except Exception as exc:  # noqa: BLE001
        if is_not_found(exc, "ResourceNotFoundException"):
            module.fail_json(msg="%s: log group %s not found - check log_group and region" % (BACKEND, params["log_group"]))
        fail(module, exc, BACKEND, "filter_log_events")

    events = sorted(events, key=lambda event: event.get("timestamp", 0))
    events = events[-params["limit"]:] if newest else events[:params["limit"]]
    module.exit_json(
        changed=False,
        events=[{"timestamp": utc_iso(event["timestamp"] / 1000.0), "log_stream": event.get("logStreamName"),
                 "message": event.get("message", "").rstrip("\n")} for event in events],
        count=len(events),
        truncated=truncated,
        window=window,
    )
