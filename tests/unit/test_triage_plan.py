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
