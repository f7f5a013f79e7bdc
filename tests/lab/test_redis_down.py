"""break redis_down: the runbook's symptoms seen through real clients; heal puts everything back."""

from __future__ import annotations

import json
import time

import pytest
import redis
from labhelpers import http, last_value, wait_until

from lab import client

NODE1, NODE2 = "sample-service-redis-prod-001", "sample-service-redis-prod-002"
LOG_GROUP = "/aws/ecs/sample-service-prod"


def econnrefused_lines(aws, since_ms: int) -> list[dict]:
    events = aws("logs").filter_log_events(logGroupName=LOG_GROUP, startTime=since_ms,
                                           filterPattern="ECONNREFUSED")["events"]
    return [json.loads(e["message"]) for e in events]


def test_break_redis_down_shows_the_runbook_symptoms(healed_lab, aws, query_metric):
    since = int(time.time() * 1000)
    result = client.break_incident("redis_down")
    assert result["status"]["scenario"] == {"active": ["redis_down"], "options": {"redis_down": {"replica_down": False}}}
    assert result["status"]["redis"]["nodes"][NODE1]["up"] is False
    assert result["status"]["redis"]["nodes"][NODE2]["up"] is True

    with pytest.raises(redis.ConnectionError, match="(?i)refused"):
        redis.Redis.from_url(healed_lab["redis"]["url"], socket_connect_timeout=1).ping()
    assert http("GET", healed_lab["health"]["url"]) == (200, {"status": "degraded", "checks": {"redis": "down"}})

    # No waiting: break records a metric point before it returns, so a diagnosis started at once sees the fault.
    assert last_value(query_metric("avg:sample.cache.hit_rate{*}")) == 0.0
    resp = query_metric("avg:sample.cache.hit_rate{*},avg:aws.elasticache.cpuutilization{*}")
    assert [s.metric for s in resp.series] == ["sample.cache.hit_rate", "aws.elasticache.cpuutilization"]
    assert last_value(resp, 1) == 0.0

    lines = wait_until(lambda: econnrefused_lines(aws, since), timeout=5, what="ECONNREFUSED log lines")
    line = lines[-1]
    assert line["level"] == "error" and line["error"]["code"] == "ECONNREFUSED"
    assert line["message"] == f"Redis connection to 127.0.0.1:{healed_lab['redis']['port']} failed - connect ECONNREFUSED"

    # AWS lags: ElastiCache still says available, the PING is the truth
    cc = aws("elasticache").describe_cache_clusters(CacheClusterId=NODE1, ShowCacheNodeInfo=True)["CacheClusters"][0]
    assert cc["CacheClusterStatus"] == "available"
    assert client.status() == json.loads((__import__("pathlib").Path(healed_lab["state_dir"]) / "status.json").read_text())


def test_replica_down_stops_both_nodes(healed_lab):
    status = client.break_incident("redis_down", replica_down=True)["status"]
    assert {n["up"] for n in status["redis"]["nodes"].values()} == {False}
    assert status["scenario"]["options"]["redis_down"] == {"replica_down": True}


def test_heal_restores_everything_and_is_idempotent(healed_lab, query_metric):
    client.break_incident("redis_down", replica_down=True)
    healed = client.heal()
    assert healed["changed"] is True
    status = healed["status"]
    assert status["scenario"] == {"active": [], "options": {}}
    assert status["redis"]["nodes"] == healed_lab["redis"]["nodes"]
    assert redis.Redis.from_url(healed_lab["redis"]["url"], socket_connect_timeout=1).ping() is True
    assert http("GET", healed_lab["health"]["url"]) == (200, {"status": "ok"})
    wait_until(lambda: (last_value(query_metric("avg:sample.cache.hit_rate{*}")) or 0) > 0.9, timeout=5,
               what="hit rate back")
    assert client.heal()["changed"] is False


def test_disabling_the_cache_stops_the_errors(healed_lab, aws, query_metric):
    """Runbook Option 3: a deployment with CACHE_ENABLED=false while Redis is down; heal rolls it back."""
    ecs = aws("ecs")
    client.break_incident("redis_down", replica_down=True)
    td = ecs.describe_task_definition(taskDefinition=healed_lab["ecs"]["baseline_task_definition"])["taskDefinition"]
    container = td["containerDefinitions"][0]
    container["environment"] = [e if e["name"] != "CACHE_ENABLED" else {"name": "CACHE_ENABLED", "value": "false"}
                                for e in container["environment"]]
    new_td = ecs.register_task_definition(family=td["family"], containerDefinitions=[container])["taskDefinition"]
    dep = ecs.update_service(cluster="sample-service-prod", service="sample-service",
                             taskDefinition=new_td["taskDefinitionArn"])["service"]["deployments"][0]
    wait_until(lambda: ecs.describe_services(cluster="sample-service-prod", services=["sample-service"])
               ["services"][0]["deployments"][0]["rolloutState"] == "COMPLETED", timeout=6, what="deployment done")
    assert http("GET", healed_lab["health"]["url"]) == (200, {"status": "ok"})
    since = int(time.time() * 1000) + 300
    wait_until(lambda: aws("logs").filter_log_events(logGroupName=LOG_GROUP, startTime=since - 2000,
                                                     filterPattern='"cache disabled"')["events"],
               timeout=7, what="'cache disabled' log line")
    assert econnrefused_lines(aws, since) == []
    assert last_value(query_metric("avg:sample.cache.hit_rate{*}")) == 0.0

    healed = client.heal()
    svc = ecs.describe_services(cluster="sample-service-prod", services=["sample-service"])["services"][0]
    assert svc["taskDefinition"] == healed_lab["ecs"]["baseline_task_definition"]
    assert svc["deployments"][0]["id"] != dep["id"]
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert any(c.startswith("ecs:") for c in healed["changes"])
