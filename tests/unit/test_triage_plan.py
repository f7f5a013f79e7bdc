"""Which incident playbook the triage's quick checks point at."""

from ansible_collections.sre.incident.plugins.filter.triage_plan import triage_plan

HEALTHY = {"errors": {"avg": 2.0, "latest": 2.0}, "requests": {"avg": 500.0, "latest": 500.0}, "cache_hit_rate": 0.93,
           "pool_available": 14.0, "memory": 45.0}


def plan(status=200, **changes):
    return triage_plan({"health_status": status, "metrics": dict(HEALTHY, **changes)})


def test_healthy_service_suspects_nothing():
    result = plan()
    assert result["incident"] == "none" and result["playbook"] is None and result["error_rate_percent"] == 0.4
    assert result["current_error_rate_percent"] == 0.4


def test_each_symptom_points_at_its_playbook():
    assert plan(status=502)["playbook"] == "playbooks/service_down.yml"
    assert plan(status=None)["incident"] == "service_down"
    assert plan(cache_hit_rate=0.0)["incident"] == "redis_down"
    assert plan(pool_available=0.0)["incident"] == "db_pool_exhausted"
    assert plan(memory=95.2)["incident"] == "memory_leak"
    assert plan(errors={"latest": 40.0})["incident"] == "high_error_rate"


def test_boundaries():
    assert plan(errors={"latest": 25.0})["incident"] == "none"  # exactly 5 %
    assert plan(errors={"latest": 25.5})["incident"] == "high_error_rate"
    assert plan(memory=90.0)["incident"] == "none"
    assert plan(pool_available=1.0)["incident"] == "none"


def test_the_most_specific_symptom_comes_first_and_all_are_listed():
    result = plan(pool_available=0.0, errors={"latest": 60.0})
    assert [item["incident"] for item in result["suspected"]] == ["db_pool_exhausted", "high_error_rate"]
    assert result["playbook"] == "playbooks/db_pool_exhausted.yml"


def test_missing_metrics_do_not_match():
    assert triage_plan({"health_status": 200, "metrics": {}})["incident"] == "none"


def test_a_past_error_burst_in_the_window_is_reported_but_not_suspected():
    result = plan(errors={"avg": 60.0, "latest": 2.0})
    assert result["incident"] == "none" and result["error_rate_percent"] == 12.0


def test_fleet_metrics_are_read_per_service_and_affected_share_computed():
    metrics = {"svc-001|errors": {"latest": 2.0, "avg": 2.0}, "svc-001|requests": {"latest": 500.0, "avg": 500.0},
               "svc-001|affected_users": 0.0, "svc-001|active_users": 1200.0,
               "svc-002|pool_available": 0.0, "svc-002|affected_users": 1008.0, "svc-002|active_users": 1200.0}
    first = triage_plan({"health_status": 200, "metrics": metrics}, host="svc-001")
    second = triage_plan({"health_status": 200, "metrics": metrics}, host="svc-002")
    assert first["incident"] == "none" and first["affected_percent"] == 0.0 and first["active_users"] == 1200.0
    assert second["incident"] == "db_pool_exhausted" and second["affected_percent"] == 84.0


def test_a_percentage_metric_wins_and_no_data_is_none():
    assert triage_plan({"metrics": {"affected_percent": 62.46, "affected_users": 1.0, "active_users": 10.0}})["affected_percent"] == 62.5
    assert triage_plan({"metrics": {"active_users": 0.0, "affected_users": 0.0}})["affected_percent"] is None


def test_a_whole_fleet_in_one_call():
    metrics = {"svc-001|pool_available": 14.0, "svc-002|pool_available": 0.0}
    result = triage_plan({"metrics": metrics, "health": {"svc-001": 200, "svc-002": 200}}, hosts=["svc-001", "svc-002", "svc-003"])
    assert result["svc-001"]["incident"] == "none" and result["svc-002"]["incident"] == "db_pool_exhausted"
    assert result["svc-003"]["incident"] == "service_down", "no health answer means down"


def test_fleet_health_may_be_the_probe_results():
    result = triage_plan({"metrics": {}, "health": {"svc-001": {"status": 502, "healthy": False}, "svc-002": {"status": 200}}},
                         hosts=["svc-001", "svc-002"])
    assert result["svc-001"]["health_status"] == 502 and result["svc-001"]["incident"] == "service_down"
    assert result["svc-002"]["health_status"] == 200 and result["svc-002"]["incident"] == "none"
