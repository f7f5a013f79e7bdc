# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.datadog_metric_query - Query Datadog metrics over a time window and summarise them, with an optional threshold verdict.

Its logic (SPEC and run(module)); plugins/modules/datadog_metric_query.py holds the documentation and main()."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.sre.incident.plugins.module_utils.common import module_duration
from ansible_collections.sre.incident.plugins.module_utils.datadog import (
    api_client,
    datadog_argument_spec,
    describe_error,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import Mapping, Seconds, Text, Whole

QUERY = Text(None, "a metric query of at most 8000 characters", max_length=8000)
SPEC = dict(
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
    limits=dict(query=QUERY, queries=Mapping(Text(None, "a name of at most 300 characters", max_length=300), QUERY, max_items=500),
                window=Seconds(86400), batch_size=Whole(1, 50)),
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


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
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
