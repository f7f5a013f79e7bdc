# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.cloudwatch_logs_insights_query - Run a CloudWatch Logs Insights query over a time window and return its rows as dicts.

Its logic (SPEC and run(module)); plugins/modules/cloudwatch_logs_insights_query.py holds the documentation and main()."""

from __future__ import annotations

import time

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, call, client
from ansible_collections.sre.incident.plugins.module_utils.common import WaitTimeout, module_duration, wait_for
from ansible_collections.sre.incident.plugins.module_utils.validate import LOG_GROUP, Seconds, Text, Whole

BACKEND = "CloudWatch Logs Insights"
DONE = ("Complete", "Failed", "Cancelled", "Timeout", "Unknown")
# Small queries finish in well under a second; the pauses double from here to poll_interval (GetQueryResults allows 5/s).
FIRST_POLL = 0.2

SPEC = dict(
    argument_spec=aws_argument_spec(
        log_group=dict(type="str", required=True),
        query=dict(type="str", required=True),
        since=dict(type="raw", default="15m"),
        limit=dict(type="int", default=1000),
        timeout=dict(type="float", default=60),
        poll_interval=dict(type="float", default=1),
    ),
    supports_check_mode=True,
    limits=dict(log_group=LOG_GROUP, query=Text(None, "text of at most 10000 characters", max_length=10000), since=Seconds(14 * 86400), limit=Whole(1, 10000)),
)


def number(value):
    for cast in (int, float):
        try:
            return cast(value)
        except (TypeError, ValueError):
            continue
    return value


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
    params = module.params
    if not 1 <= params["limit"] <= 10000:
        module.fail_json(msg="option limit: must be between 1 and 10000")
    end = int(time.time())
    start = end - int(module_duration(module, "since"))
    api = client(module, "logs")
    query_id = call(module, BACKEND, api, "start_query", logGroupName=params["log_group"], startTime=start, endTime=end,
                    queryString=params["query"], limit=params["limit"])["queryId"]
    try:
        answer, _waited = wait_for(lambda: call(module, BACKEND, api, "get_query_results", queryId=query_id),
                                   lambda answer: answer.get("status") in DONE, params["timeout"], params["poll_interval"],
                                   first_interval=FIRST_POLL)
    except WaitTimeout:
        try:
            api.stop_query(queryId=query_id)
        except Exception:  # noqa: BLE001 - the query ends by itself on the service side anyway
            pass
        module.fail_json(msg="%s: query %s on %s still running after %ss; stopped it - narrow the window or raise timeout" % (
            BACKEND, query_id, params["log_group"], params["timeout"]), query_id=query_id)
    if answer.get("status") != "Complete":
        module.fail_json(msg="%s: query %s on %s ended %s" % (BACKEND, query_id, params["log_group"], answer.get("status")),
                         query_id=query_id, status=answer.get("status"))
    stats = answer.get("statistics") or {}
    module.exit_json(
        changed=False,
        query_id=query_id,
        status=answer["status"],
        rows=[{cell["field"]: number(cell.get("value")) for cell in row if cell.get("field") != "@ptr"}
              for row in answer.get("results", [])],
        statistics={"records_matched": stats.get("recordsMatched"), "records_scanned": stats.get("recordsScanned"),
                    "bytes_scanned": stats.get("bytesScanned")},
    )
