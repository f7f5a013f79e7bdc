"""Which runbook option the ECS diagnosis picks for each incident (the decision logic, at its boundaries)."""

import pytest

from ansible_collections.sre.incident.plugins.filter.ecs_plan import ecs_plan


def ecs(running=4, desired=4, age=600.0, failed=0, exit_codes=(), oom=0, revision=6):
    td = "arn:td/sample-service:%d" % revision
    return {
        "service": {"name": "sample-service", "running": running, "desired": desired, "pending": 0, "revision": revision},
        "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "task_definition": td, "revision": revision,
                         "rollout_state": "IN_PROGRESS", "age_seconds": age, "failed_tasks": failed,
                         "running": running, "desired": desired}],
        "stopped_tasks": [{"task_definition": td, "exit_codes": list(exit_codes), "stopped_reason": "Essential container exited",
                           "oom": False, "age_seconds": 60}],
        "oom": {"detected": oom > 0, "count": oom, "tasks": [{"task_arn": "t%d" % kill, "age_seconds": 120} for kill in range(oom)]},
        "events": [{"message": "(service sample-service) is unable to consistently start tasks successfully."}],
    }


def test_service_down_healthy_needs_nothing():
    assert ecs_plan({"ecs": ecs(), "health": 200}, "service_down")["recommended_option"] == "none"


def test_service_down_fresh_failing_deployment_rolls_back():
    plan = ecs_plan({"ecs": ecs(running=0, failed=4, age=300), "health": 502}, "service_down")
    assert plan["recommended_option"] == "rollback"


@pytest.mark.parametrize("age,expected", [(3599, "rollback"), (3601, "restart")])
def test_service_down_recent_deployment_boundary(age, expected):
    plan = ecs_plan({"ecs": ecs(running=0, exit_codes=(1,), age=age), "health": 502}, "service_down", recent_deploy_seconds=3600)
    assert plan["recommended_option"] == expected


def test_service_down_without_failing_tasks_restarts():
    assert ecs_plan({"ecs": ecs(running=2, age=120), "health": 502}, "service_down")["recommended_option"] == "restart"


@pytest.mark.parametrize("success,age,flag,cpu,expected", [
    (99.6, 60, "on", 10, "none"),
    (95.0, 60, "on", 10, "none"),             # 5 % is not above 5 %
    (92.0, 60, "off", 10, "rollback"),
    (92.0, 7200, "on", 10, "disable_feature"),
    (92.0, 7200, "off", 95, "scale_up"),
    (92.0, 7200, "off", 10, "none"),
    (None, 60, "on", 10, "none"),
])
def test_high_error_rate(success, age, flag, cpu, expected):
    evidence = {"ecs": ecs(age=age), "health": 200, "flag": flag,
                "metrics": {"success_rate": success, "cpu": cpu, "memory": 40}}
    assert ecs_plan(evidence, "high_error_rate")["recommended_option"] == expected


@pytest.mark.parametrize("oom,memory,expected", [(3, 95, "raise_memory"), (2, 91, "raise_memory"), (2, 50, "none"),
                                                 (1, 95, "restart"), (1, 90, "none"), (0, 40, "none"), (3, None, "none")])
def test_memory_leak(oom, memory, expected):
    assert ecs_plan({"ecs": ecs(oom=oom), "metrics": {"memory": memory}}, "memory_leak")["recommended_option"] == expected


def test_unknown_incident_is_a_clear_error():
    with pytest.raises(ValueError, match="incident must be one of"):
        ecs_plan({}, "disk_full")


def test_memory_leak_counts_only_recent_oom_kills():
    old = ecs(oom=3)
    for task in old["oom"]["tasks"]:
        task["age_seconds"] = 7200
    assert ecs_plan({"ecs": old, "metrics": {"memory": 95}}, "memory_leak", oom_window_seconds=3600)["recommended_option"] == "restart"


def test_ecs_automation_denial_stops_and_names_the_fix():
    reads = {"ecs": {"failed": True, "error_code": "AccessDeniedException",
                     "msg": "AWS ecs DescribeServices: access denied (AccessDeniedException, HTTP 400): no"},
             "health": {"endpoints": {"health": {"status": 502, "error": None}}}, "metrics": {"by_name": {}}}
    plan = ecs_plan({"ecs": None, "health": 502}, "service_down", reads=reads)
    assert plan["recommended_option"] == "none"
    assert "grant it the permission" in plan["automation_errors"][0]


def test_ecs_read_missing_refuses_every_fix():
    reads = {"ecs": {"failed": True, "msg": "AWS ecs DescribeServices: timed out"},
             "health": {"endpoints": {"health": {"status": 502, "error": None}}}}
    plan = ecs_plan({"ecs": None, "health": 502}, "service_down", reads=reads)
    assert plan["recommended_option"] == "none"
    assert "ECS (service, deployments, tasks)" in plan["refused"]
    assert plan["missing_reads"] == ["ecs"]


def test_metrics_missing_still_rolls_back_a_failing_deployment():
    reads = {"ecs": {}, "health": {"endpoints": {"health": {"status": 502}}},
             "metrics": {"failed": True, "msg": "Datadog: cannot reach the API (connection refused)"}}
    plan = ecs_plan({"ecs": ecs(running=0, failed=4, age=300), "health": 502}, "service_down", reads=reads)
    assert plan["recommended_option"] == "rollback"
    assert plan["refused"] == "" and plan["missing_reads"] == ["metrics"]


def test_high_error_rate_without_the_flag_refuses_what_needs_it():
    reads = {"ecs": {}, "metrics": {}, "flag": {"failed": True, "msg": "AWS ssm GetParameters: ThrottlingException"}}
    evidence = {"ecs": ecs(age=7200), "metrics": {"success_rate": 92.0, "cpu": 95.0}}
    plan = ecs_plan(evidence, "high_error_rate", reads=reads)
    assert plan["recommended_option"] == "none"
    assert "SSM (feature flag)" in plan["refused"]


def test_health_dns_failure_is_the_automations():
    reads = {"ecs": {}, "health": {"endpoints": {"health": {"status": None, "url": "http://svc.invalid/health",
                                                            "error": "URLError: <urlopen error [Errno -2] Name or service not known>"}}}}
    plan = ecs_plan({"ecs": ecs(running=0), "health": None}, "service_down", reads=reads)
    assert plan["recommended_option"] == "none"
    assert "fix the endpoint's name" in plan["automation_errors"][0]
