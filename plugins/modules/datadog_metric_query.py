#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: datadog_metric_query
short_description: Query Datadog metrics over a time window and summarise them, with an optional threshold verdict
version_added: 0.1.0
description:
  - The runbook's C(datadog-cli metrics query --query ...) steps. Runs a metric query over the last O(window)
    and returns each series with its latest, average, maximum and minimum.
  - With O(threshold) it also says whether the chosen aggregate breaches it (O(breach_when)).
  - Several independent queries can be run in one call with O(queries); they go to Datadog O(batch_size) at a time
    in one request each (comma-separated, told apart by C(query_index)), and the requests run concurrently.
  - Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.datadog
  - sre.incident.read_only
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  query:
    description:
      - A Datadog metric query, for example C(avg:aws.elasticache.cpuutilization{*}).
    type: str
  queries:
    description:
      - 'Several queries by name, for example C({"cpu": "avg:aws.elasticache.cpuutilization{*}"}).'
      - Results are returned under RV(by_name) by the same names. Threshold options apply only to O(query).
      - At most 500, each at most 8000 characters.
    type: dict
  window:
    description: How far back to look, in seconds or with a unit (C(90s), C(5m), C(1h)); more than 0 and at most 1 day.
    type: raw
    default: 5m
  threshold:
    description: Value to compare O(aggregate) of the first series with.
    type: float
  breach_when:
    description: Whether values C(above) or C(below) the threshold are a breach.
    type: str
    choices: [above, below]
    default: above
  aggregate:
    description: Which summary of the first series is compared with O(threshold).
    type: str
    choices: [latest, avg, max, min]
    default: latest
  batch_size:
    description:
      - How many of O(queries) share one request. A batch that fails is asked again one query at a time, so the
        error names the query at fault. From 1 to 50.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Check Redis metrics
  sre.incident.datadog_metric_query:
    query: "avg:aws.elasticache.cpuutilization{*}"
    window: 15m
  register: redis_cpu

- name: Cache hit rate must be back above 50 %
  sre.incident.datadog_metric_query:
    query: "avg:sample.cache.hit_rate{*}"
    window: 1m
    threshold: 0.5
    breach_when: below
  register: hit_rate
  failed_when: hit_rate.breached

- name: Several metrics in one call
  sre.incident.datadog_metric_query:
    queries:
      cpu: "avg:aws.elasticache.cpuutilization{*}"
      hit_rate: "avg:sample.cache.hit_rate{*}"
"""

RETURN = r"""
series:
  description: For O(query), one entry per series with metric, scope, points, latest, avg, max, min.
  returned: when query is set
  type: list
  elements: dict
latest:
  description: Last non-null value of the first series; null when there is no data.
  returned: when query is set
  type: float
avg:
  description: Average of the first series.
  returned: when query is set
  type: float
max:
  description: Maximum of the first series.
  returned: when query is set
  type: float
min:
  description: Minimum of the first series.
  returned: when query is set
  type: float
no_data:
  description: True when the query returned no points at all.
  returned: when query is set
  type: bool
breached:
  description: Whether O(aggregate) breaches O(threshold); null without a threshold or without data.
  returned: when query is set
  type: bool
verdict:
  description: The comparison in words.
  returned: when threshold is set
  type: str
  sample: "latest 0.0 is below 0.5"
by_name:
  description: For O(queries), the same summary per name.
  returned: when queries is set
  type: dict
window_seconds:
  description: The window used.
  returned: always
  type: float
"""

from ansible_collections.sre.incident.plugins.module_utils.steps import datadog_metric_query as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
