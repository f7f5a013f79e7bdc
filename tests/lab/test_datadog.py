"""The Datadog emulator through the real datadog-api-client."""

from __future__ import annotations

import time

import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ForbiddenException
from datadog_api_client.v1.api.authentication_api import AuthenticationApi
from datadog_api_client.v1.api.events_api import EventsApi
from datadog_api_client.v1.api.metrics_api import MetricsApi
from datadog_api_client.v1.model.event_create_request import EventCreateRequest
from labhelpers import http, last_value

RUNBOOK_QUERIES = [
    "sum:sample.errors{*}.as_count()",
    "sum:sample.active_users{*}",
    "avg:sample.db.pool.size{*},avg:sample.db.pool.available{*}",
    "avg:aws.elasticache.cpuutilization{*}",
    "avg:sample.cache.hit_rate{*}",
    "sum:sample.errors{*}.as_rate()",
    "avg:sample.requests.success_rate{*}",
    "avg:aws.ecs.memory_utilization{*}",
]


@pytest.mark.parametrize("query", RUNBOOK_QUERIES)
def test_runbook_queries_deserialize_in_the_real_client(healed_lab, query_metric, query):
    resp = query_metric(query, seconds=300)
    assert resp.status == "ok" and resp.res_type == "time_series"
    assert len(resp.series) == len(query.split(","))  # one series per query
    for s in resp.series:
        assert s.pointlist and s.length == len(s.pointlist)
        assert s.expression in query and s.metric in query and s.scope == "*"
        assert s.start <= s.pointlist[0].value[0] and s.pointlist[-1].value[0] <= s.end


def test_baseline_values(healed_lab, query_metric):
    resp = query_metric("avg:sample.cache.hit_rate{*},avg:aws.elasticache.cpuutilization{*},"
                        "avg:sample.db.pool.size{*},avg:sample.requests.success_rate{*}")
    hit, cpu, pool, success = (last_value(resp, i) for i in range(4))
    assert 0.9 < hit < 0.95 and 10 < cpu < 18 and pool == 20 and 99 < success <= 100


def test_unknown_metric_gives_no_series_and_two_hours_are_rolled_up(lab, query_metric):
    assert query_metric("avg:no.such.metric{*}").series == []
    resp = query_metric("sum:sample.active_users{*},sum:sample.errors{*}.as_count()", seconds=7200)
    users, errors = resp.series
    assert users.length <= 300 and users.interval >= 24
    assert users.pointlist[0].value[0] / 1000 < time.time() - 7000  # history is there from the start
    # sum: aggregates across sources; over time a gauge rolls up by avg, a count (.as_count()) by sum
    assert 1100 < users.pointlist[len(users.pointlist) // 2].value[1] < 1300
    assert errors.pointlist[len(errors.pointlist) // 2].value[1] > 2 * errors.interval * 0.5


def test_wrong_keys_are_forbidden(lab):
    for api_key, app_key in ((lab["datadog"]["api_key"], "wrong"), ("wrong", lab["datadog"]["app_key"])):
        cfg = Configuration(host=lab["datadog"]["url"])
        cfg.api_key["apiKeyAuth"], cfg.api_key["appKeyAuth"] = api_key, app_key
        with ApiClient(cfg) as api, pytest.raises(ForbiddenException) as err:
            MetricsApi(api).query_metrics(_from=int(time.time()) - 60, to=int(time.time()),
                                          query="avg:sample.cache.hit_rate{*}")
        assert err.value.status == 403
    status, body = http("GET", lab["datadog"]["url"] + "/api/v1/query?from=1&to=2&query=avg:x{*}")
    assert (status, body) == (403, {"errors": ["Forbidden"]})


def test_events_and_validate(lab, datadog_config):
    http("DELETE", lab["datadog"]["url"] + "/_lab/events")
    with ApiClient(datadog_config) as api:
        assert AuthenticationApi(api).validate().valid is True
        resp = EventsApi(api).create_event(body=EventCreateRequest(
            title="Redis Cache Down", text="failover started", tags=["service:sample-service"], alert_type="error"))
    assert resp.status == "ok" and resp.event.title == "Redis Cache Down"
    status, recorded = http("GET", lab["datadog"]["url"] + "/_lab/events")
    assert status == 200 and [e["title"] for e in recorded] == ["Redis Cache Down"]
    assert recorded[0]["tags"] == ["service:sample-service"]
