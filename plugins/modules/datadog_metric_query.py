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
options:
  query:
    description:
      - A Datadog metric query, for example C(avg:aws.elasticache.cpuutilization{*}).
    type: str
  queries:
    description:
      - 'Several queries by name, for example C({"cpu": "avg:aws.elasticache.cpuutilization{*}"}).'
      - Results are returned under RV(by_name) by the same names. Threshold options apply only to O(query).
    type: dict
  window:
    description: How far back to look, in seconds or with a unit (C(90s), C(5m), C(1h)).
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
        error names the query at fault.
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

import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.common import module_duration
from ansible_collections.sre.incident.plugins.module_utils.datadog import (
    api_client,
    datadog_argument_spec,
    describe_error,
)


def summarise(response):
    series = []
    for raw in response.get("series") or []:
        values = [point[1] for point in raw.get("pointlist") or [] if len(point) > 1 and point[1] is not None]
        series.append({
            "metric": raw.get("metric"),
            "scope": raw.get("scope"),
            "expression": raw.get("expression"),
            "points": len(values),
            "latest": values[-1] if values else None,
            "avg": round(sum(values) / len(values), 6) if values else None,
            "max": max(values) if values else None,
            "min": min(values) if values else None,
        })
    first = series[0] if series else {}
    return {
        "series": series,
        "latest": first.get("latest"),
        "avg": first.get("avg"),
        "max": first.get("max"),
        "min": first.get("min"),
        "no_data": not any(s["points"] for s in series),
    }


def verdict(summary, threshold, breach_when, aggregate):
    value = summary.get(aggregate)
    if threshold is None:
        return None, None
    if value is None:
        return None, "no data for %s; cannot compare with %s" % (aggregate, threshold)
    breached = value > threshold if breach_when == "above" else value < threshold
    relation = ("above" if value > threshold else "below" if value < threshold else "equal to")
    return breached, "%s %s is %s %s" % (aggregate, value, relation, threshold)


def main():
    module = AnsibleModule(
        argument_spec=datadog_argument_spec(
            query=dict(type="str"),
            queries=dict(type="dict"),
            window=dict(type="raw", default="5m"),
            threshold=dict(type="float"),
            breach_when=dict(type="str", choices=["above", "below"], default="above"),
            aggregate=dict(type="str", choices=["latest", "avg", "max", "min"], default="latest"),
            batch_size=dict(type="int", default=10),
        ),
        mutually_exclusive=[("query", "queries")],
        required_one_of=[("query", "queries")],
        supports_check_mode=True,
    )
    params = module.params
    window = module_duration(module, "window")
    if window <= 0:
        module.fail_json(msg="option window: must be greater than zero")
    client, url = api_client(module)

    # Imported here: the metrics API module pulls in many models, and only this module needs it.
    from datadog_api_client.v1.api.metrics_api import MetricsApi

    api = MetricsApi(client)
    end = int(time.time())
    start = end - int(window)

    def ask(query):
        return api.query_metrics(_from=start, to=end, query=query).to_dict()

    def run_one(query):
        try:
            return summarise(ask(query)), None
        except Exception as exc:  # noqa: BLE001 - becomes one readable line
            return None, describe_error(exc, url, "query_metrics(%s)" % query)

    def run_batch(queries):
        """Summaries of several queries from one request; the series' query_index says which query they answer."""
        if len(queries) == 1:
            return [run_one(queries[0])]
        try:
            response = ask(",".join(queries))
        except Exception as exc:  # noqa: BLE001 - becomes one readable line
            if getattr(exc, "status", None) == 400:  # one of them is malformed: ask each, so the error names it
                return [run_one(query) for query in queries]
            error = describe_error(exc, url, "query_metrics(%s, and %d more)" % (queries[0], len(queries) - 1))
            return [(None, error)] * len(queries)
        by_index = {}
        for raw in response.get("series") or []:
            by_index.setdefault(raw.get("query_index", 0), []).append(raw)
        return [(summarise({"series": by_index.get(index, [])}), None) for index in range(len(queries))]

    named = params["queries"] or {"_": params["query"]}
    for name, query in named.items():
        if not isinstance(query, str) or not query.strip():
            module.fail_json(msg="queries.%s: must be a non-empty Datadog query string" % name)
    if params["batch_size"] < 1:
        module.fail_json(msg="option batch_size: must be at least 1")
    names, queries = list(named), [named[name].strip() for name in named]
    batches = [queries[index:index + params["batch_size"]] for index in range(0, len(queries), params["batch_size"])]
    with ThreadPoolExecutor(max_workers=min(8, len(batches))) as pool:
        outcomes = [outcome for batch in pool.map(run_batch, batches) for outcome in batch]
    answers = dict(zip(names, outcomes))
    errors = [error for _summary, error in answers.values() if error]
    if errors:
        module.fail_json(msg=errors[0], window_seconds=window)

    if params["queries"]:
        module.exit_json(changed=False, window_seconds=window,
                         by_name={name: summary for name, (summary, _error) in answers.items()})
    summary = answers["_"][0]
    breached, text = verdict(summary, params["threshold"], params["breach_when"], params["aggregate"])
    result = dict(summary, changed=False, window_seconds=window, breached=breached)
    if text:
        result["verdict"] = text
    module.exit_json(**result)


if __name__ == "__main__":
    main()
