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


@pytest.mark.parametrize("missing", ["metrics", "logs"])
def test_one_missing_signal_still_fails_over_on_the_other(missing):
    args = {"cluster": cluster(), "metrics": METRICS, "logs": LOGS}
    args[missing] = {"failed": True, "msg": "Datadog http://x /api/v1/query: cannot reach the API (connection refused)"}
    result = redis_diagnosis(args["cluster"], probe(), args["metrics"], args["logs"])
    assert result["recommended_option"] == "failover"
    assert result["missing_reads"] == [missing]
    assert result["corroborated_by"]


def test_missing_inputs_do_not_crash():
    result = redis_diagnosis(None, probe(), None, None)
    assert result["recommended_option"] == "none"
    assert result["refused"]
    assert result["missing_reads"] == ["cluster", "logs", "metrics"]


def test_without_the_cluster_state_no_fix_is_chosen():
    failed = {"failed": True, "msg": "AWS elasticache DescribeReplicationGroups: InternalFailure (HTTP 500): boom"}
    result = redis_diagnosis(failed, probe(), METRICS, LOGS)
    assert result["recommended_option"] == "none"
    assert "replication group's state" in result["refused"]
    assert result["automation_errors"] == []


def test_probe_failure_the_service_does_not_show_is_refused():
    metrics = {"by_name": {"cpu": {"latest": 14.0}, "hit_rate": {"latest": 0.93}}}
    result = redis_diagnosis(cluster(), probe(), metrics, {"count": 0, "events": []})
    assert result["recommended_option"] == "none"
    assert "show no Redis outage" in result["refused"]
    assert "cache hit rate 0.93" in result["refused"]


def test_no_signal_readable_refuses():
    down = {"failed": True, "msg": "Datadog: timed out"}
    result = redis_diagnosis(cluster(), probe(), down, {"failed": True, "msg": "AWS logs FilterLogEvents: timed out"})
    assert result["recommended_option"] == "none"
    assert "could be read to corroborate" in result["refused"]


def auth_probe(primary_error="Redis 127.0.0.1:6379: authentication failed: invalid username-password pair"):
    result = probe()
    result["error"] = primary_error
    result["also_probed"] = [{"name": "r-002", "ping": False, "error": "Redis r-002: authentication failed: WRONGPASS"}]
    return result


@pytest.mark.parametrize("primary_error", [
    "Redis 127.0.0.1:6379: authentication failed: invalid username-password pair",   # healthy, wrong password
    "Redis 127.0.0.1:6379: connection refused (ECONNREFUSED): refused",            # down, replica rejects the password
])
def test_the_automations_wrong_password_is_never_an_outage(primary_error):
    result = redis_diagnosis(cluster(), auth_probe(primary_error), METRICS, LOGS)
    assert result["recommended_option"] == "none"
    assert result["healthy"] is None
    assert result["automation_errors"]
    assert all("fix its credentials" in line for line in result["automation_errors"])


@pytest.mark.parametrize("result, code, kind", [
    ({"failed": True, "msg": "AWS ecs DescribeServices: access denied (AccessDeniedException, HTTP 400): x"},
     "AccessDeniedException", "permission"),
    ({"failed": True, "msg": "Datadog http://x /api/v1/query: HTTP 403 - the API or application key is wrong"}, "", "auth"),
    ({"failed": True, "msg": "PostgreSQL 127.0.0.1:5432: could not translate host name \"db\" to address"}, "", "dns"),
    ({"failed": True, "msg": "Redis h:1: TLS handshake failed: certificate verify failed"}, "", "tls"),
    ({"failed": True, "msg": "AWS logs FilterLogEvents: no answer within read_timeout"}, "", "timeout"),
    ({"failed": True, "msg": "Datadog: cannot reach the API (connection refused or no route)"}, "", "refused"),
])
def test_failure_kinds(result, code, kind):
    from ansible_collections.sre.incident.plugins.plugin_utils.evidence import result_kind

    assert result_kind(dict(result, error_code=code)) == kind


def test_aws_denial_stops_the_diagnosis():
    denied = {"failed": True, "error_code": "AccessDenied",
              "msg": "AWS elasticache DescribeReplicationGroups: access denied (AccessDenied, HTTP 403): no"}
    result = redis_diagnosis(denied, probe(), METRICS, LOGS)
    assert result["recommended_option"] == "none"
    assert "grant it the permission" in result["automation_errors"][0]


def test_errors_from_before_the_last_minutes_do_not_corroborate():
    stale = {"count": 1, "truncated": False, "window": {"end_epoch": 1796230000.0},
             "events": [{"timestamp": "2026-12-02T16:00:00Z", "message": "Redis connection failed - connect ECONNREFUSED"}]}
    no_metrics = {"failed": True, "msg": "Datadog: timed out"}
    result = redis_diagnosis(cluster(), probe(), no_metrics, stale, log_fresh_seconds=120)
    assert result["recommended_option"] == "none"
    assert "no Redis errors in the application's logs in the last 120 s" in result["refused"]
