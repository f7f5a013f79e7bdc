#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudwatch_logs_insights_query
short_description: Run a CloudWatch Logs Insights query over a time window and return its rows as dicts
version_added: 0.1.0
description:
  - The runbook's C(aws logs insights query ... | stats count() by error.code), for example the error
    distribution of "High Error Rate". Starts the query, polls until it is Complete, and returns each row as a
    dict of field name to value (numbers converted), plus the query statistics.
  - A query still running after O(timeout) is stopped and the module fails saying so; a Failed, Cancelled or
    Timeout status fails with that status.
  - Never changes anything (a query only reads).
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.read_only
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  log_group:
    description: Log group to query (letters, digits and _./#-; at most 512).
    type: str
    required: true
  query:
    description: Logs Insights query string (at most 10000 characters).
    type: str
    required: true
  since:
    description: Query the last this long, in seconds or with a unit (C(15m)); more than 0 and at most 14 days.
    type: raw
    default: 15m
  limit:
    description: Most rows to return, 1 to 10000 (the query's own C(limit) applies too).
    type: int
    default: 1000
  timeout:
    description: Seconds to wait for the query to complete; more than 0 and at most 900.
    type: float
    default: 60
  poll_interval:
    description: Most seconds between two GetQueryResults calls (the first pauses are shorter, 0.2 s doubling up to this); more than 0 and at most 60.
    type: float
    default: 1
"""

EXAMPLES = r"""
- name: Identify error types
  sre.incident.cloudwatch_logs_insights_query:
    region: us-east-1
    log_group: /aws/ecs/sample-service-prod
    since: 15m
    query: |
      fields @timestamp, level, message, error
      | filter level = "error"
      | stats count() by error.code
  register: errors_by_code
"""

RETURN = r"""
rows:
  description: Result rows, each a dict of field to value; numeric strings become numbers; C(@ptr) is left out.
  returned: always
  type: list
  elements: dict
  sample: [{"error.code": "CHECKOUT_TIMEOUT", "count()": 120}]
status:
  description: Final query status.
  returned: always
  type: str
statistics:
  description: records_matched, records_scanned, bytes_scanned as CloudWatch reports them.
  returned: always
  type: dict
query_id:
  description: The query id.
  returned: always
  type: str
"""

from ansible_collections.sre.incident.plugins.module_utils.steps import cloudwatch_logs_insights_query as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
