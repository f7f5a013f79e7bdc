"""Which runbook option the Redis diagnosis picks, for each state of the cluster."""

import pytest

from ansible_collections.sre.incident.plugins.filter.redis_diagnosis import redis_diagnosis


def cluster(status="available", failover="enabled", replicas=("r-002",), primary="r-001"):
    return {
        "replication_group": {"replication_group_id": "rg", "status": status, "automatic_failover": failover,
                              "member_clusters": [primary] + list(replicas)},
        "primary_cluster_id": primary,
        "replicas": [{"cache_cluster_id": r, "cache_cluster_status": "available"} for r in replicas],
    }


def probe(ping=False, replicas_up=("r-002",), replicas=("r-002",)):
    return {
        "endpoint": "127.0.0.1:6379", "ping": ping, "latency_ms": 0.3 if ping else None,
        "error": None if ping else "Redis 127.0.0.1:6379: connection refused (ECONNREFUSED): refused",
        "info": {"role": "master"} if ping else {},
        "also_probed": [{"name": r, "ping": r in replicas_up, "latency_ms": 0.2, "error": None if r in replicas_up else "refused"}
                        for r in replicas],
    }


METRICS = {"by_name": {"cpu": {"latest": 0.0, "max": 14.0}, "hit_rate": {"latest": 0.0, "avg": 0.4}}}
LOGS = {"count": 2, "events": [{"message": '{"level":"error","message":"Redis connection to x failed - connect ECONNREFUSED"}'},
                               {"message": '{"level":"error","message":"Redis connection to x failed - connect ECONNREFUSED"}'}]}


def test_healthy_endpoint_needs_no_fix():
    result = redis_diagnosis(cluster(), probe(ping=True), METRICS, {"count": 0, "events": []})
    assert result["healthy"] is True
    assert result["recommended_option"] == "none"


def test_primary_down_with_healthy_replica_fails_over():
    result = redis_diagnosis(cluster(), probe(), METRICS, LOGS)
    assert result["recommended_option"] == "failover"
    assert result["option_number"] == 1
    assert result["healthy_replicas"] == ["r-002"]
    assert any("ECONNREFUSED" in line for line in result["findings"])
    assert result["evidence"]["log_error_lines"] == 2


def test_no_healthy_replica_disables_cache_unless_reboot_allowed():
    args = (cluster(), probe(replicas_up=()), METRICS, LOGS)
    assert redis_diagnosis(*args)["recommended_option"] == "disable_cache"
    assert "reboot not allowed" in redis_diagnosis(*args)["option_reason"]
    assert redis_diagnosis(*args, allow_reboot=True)["recommended_option"] == "reboot"


def test_failover_needs_automatic_failover_enabled():
    result = redis_diagnosis(cluster(failover="disabled"), probe(), METRICS, LOGS)
    assert result["recommended_option"] == "disable_cache"


def test_group_already_changing_means_wait():
    result = redis_diagnosis(cluster(status="modifying"), probe(), METRICS, LOGS)
    assert result["recommended_option"] == "wait"


def test_high_cpu_is_reported_as_overload():
    metrics = {"by_name": {"cpu": {"latest": 97.0, "max": 99.0}, "hit_rate": {"latest": 0.9}}}
    result = redis_diagnosis(cluster(), probe(ping=True), metrics, {"events": []}, cpu_high_percent=90)
    assert "overload" in result["suspected_cause"]


@pytest.mark.parametrize("missing", ["cluster", "metrics", "logs"])
def test_missing_inputs_do_not_crash(missing):
    args = {"cluster": cluster(), "metrics": METRICS, "logs": LOGS}
    args[missing] = None
    result = redis_diagnosis(args["cluster"], probe(), args["metrics"], args["logs"])
    assert result["recommended_option"] in ("failover", "disable_cache")
