"""ECS modules: the rollback target, the ceiling, and AWS error paths, against botocore stubs."""

import datetime

import pytest

from ansible_collections.sre.incident.plugins.modules import ecs_service_rollback, ecs_service_scale
from ansible_collections.sre.incident.plugins.module_utils.ecs import revision_of
from module_harness import run_module, stubbed_client

ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/sample-service:%d"
NOW = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.timezone.utc)
ARGS = {"cluster": "sample-service-prod", "service": "sample-service", "region": "us-east-1"}


def service(current, deployments=None, desired=4):
    return {"services": [{
        "serviceName": "sample-service", "status": "ACTIVE", "taskDefinition": ARN % current,
        "desiredCount": desired, "runningCount": desired, "pendingCount": 0,
        "deployments": deployments or [{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": ARN % current,
                                         "rolloutState": "COMPLETED", "desiredCount": desired, "runningCount": desired}],
    }], "failures": []}


def history(*revisions):
    briefs = [{"serviceDeploymentArn": "arn:sd/%d" % i, "targetServiceRevisionArn": "arn:rev/%d" % rev,
               "status": "SUCCESSFUL", "finishedAt": NOW - datetime.timedelta(days=i)} for i, rev in enumerate(revisions)]
    revs = [{"serviceRevisionArn": "arn:rev/%d" % rev, "taskDefinition": ARN % rev} for rev in set(revisions)]
    return {"serviceDeployments": briefs}, {"serviceRevisions": revs}


def test_revision_of():
    assert revision_of(ARN % 123) == ("sample-service", 123)
    assert revision_of("sample-service") == ("sample-service", None)


def test_rollback_prefers_the_completed_previous_deployment(monkeypatch, capsys):
    api, stub = stubbed_client("ecs")
    deployments = [{"id": "ecs-svc/new", "status": "PRIMARY", "taskDefinition": ARN % 6, "rolloutState": "IN_PROGRESS"},
                   {"id": "ecs-svc/old", "status": "ACTIVE", "taskDefinition": ARN % 5, "rolloutState": "COMPLETED"}]
    stub.add_response("describe_services", service(6, deployments))
    with stub:
        result = run_module(ecs_service_rollback, ARGS, api, monkeypatch, capsys, check_mode=True)
    assert result["changed"] is True and result["task_definition"] == ARN % 5
    assert result["source"] == "active_deployment"
    assert result["diff"] == {"before": {"task_definition": ARN % 6}, "after": {"task_definition": ARN % 5}}


def test_rollback_takes_the_newest_successful_revision_that_is_not_the_current_one(monkeypatch, capsys):
    api, stub = stubbed_client("ecs")
    listed, described = history(6, 5, 4)
    stub.add_response("describe_services", service(6))
    stub.add_response("list_service_deployments", listed)
    stub.add_response("describe_service_revisions", described)
    with stub:
        result = run_module(ecs_service_rollback, ARGS, api, monkeypatch, capsys, check_mode=True)
    assert result["task_definition"] == ARN % 5 and result["source"] == "history"


def test_rollback_refuses_without_an_earlier_stable_revision(monkeypatch, capsys):
    api, stub = stubbed_client("ecs")
    listed, described = history(6)
    stub.add_response("describe_services", service(6))
    stub.add_response("list_service_deployments", listed)
    stub.add_response("describe_service_revisions", described)
    with stub:  # no update_service is stubbed: calling it would fail the test
        result = run_module(ecs_service_rollback, ARGS, api, monkeypatch, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert "no earlier revision ran stable" in result["msg"] and "to_revision" in result["msg"]
    stub.assert_no_pending_responses()


@pytest.mark.parametrize("code,status,expected", [
    ("AccessDeniedException", 400, "access denied"),
    ("", 403, "access denied"),
    ("ThrottlingException", 400, "throttled"),
])
def test_aws_errors_are_one_readable_line(monkeypatch, capsys, code, status, expected):
    api, stub = stubbed_client("ecs")
    stub.add_client_error("describe_services", service_error_code=code, service_message="no", http_status_code=status)
    with stub:
        result = run_module(ecs_service_rollback, ARGS, api, monkeypatch, capsys)
    assert result["failed"] is True
    assert result["msg"].startswith("ECS DescribeServices: " + expected) and "\n" not in result["msg"]


def test_missing_service_is_named(monkeypatch, capsys):
    api, stub = stubbed_client("ecs")
    stub.add_response("describe_services", {"services": [], "failures": [{"arn": "arn:x", "reason": "MISSING"}]})
    with stub:
        result = run_module(ecs_service_rollback, ARGS, api, monkeypatch, capsys)
    assert result["msg"] == "ECS: service sample-service not found in cluster sample-service-prod - check cluster/service and region"


def test_scale_never_exceeds_its_ceiling(monkeypatch, capsys):
    api, stub = stubbed_client("ecs")
    with stub:  # refused before any call
        result = run_module(ecs_service_scale, dict(ARGS, desired_count=20, max_desired_count=12), api, monkeypatch, capsys)
    assert result["failed"] is True and "above max_desired_count 12" in result["msg"]


def test_scale_plans_in_check_mode(monkeypatch, capsys):
    api, stub = stubbed_client("ecs")
    stub.add_response("describe_services", service(5))
    with stub:
        result = run_module(ecs_service_scale, dict(ARGS, desired_count=8, max_desired_count=12), api, monkeypatch, capsys,
                            check_mode=True)
    assert result["changed"] is True and result["msg"] == "would scale sample-service from 4 to 8"
