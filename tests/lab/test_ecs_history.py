"""The ECS deployment history through the real APIs: ListServiceDeployments, DescribeServiceDeployments,
DescribeServiceRevisions (what a rollback uses to find the revision the service last ran stable)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError
from labhelpers import CLUSTER, SERVICE, describe_service, wait_rollout

from lab import client


def listed(aws, **kwargs) -> list[dict]:
    return aws("ecs").list_service_deployments(cluster=CLUSTER, service=SERVICE, **kwargs)["serviceDeployments"]


def test_seeded_history_has_revisions_1_to_5_each_successful(lab, aws):
    ecs = aws("ecs")
    seeded = listed(aws, createdAt={"before": datetime.now(timezone.utc) - timedelta(days=1)})
    assert [s["status"] for s in seeded] == ["SUCCESSFUL"] * 5
    created = [s["createdAt"] for s in seeded]
    assert created == sorted(created, reverse=True)  # newest first
    assert all(s["startedAt"] >= s["createdAt"] and s["finishedAt"] > s["startedAt"] for s in seeded)
    revisions = ecs.describe_service_revisions(
        serviceRevisionArns=[s["targetServiceRevisionArn"] for s in seeded])["serviceRevisions"]
    assert [r["taskDefinition"].rsplit(":", 1)[1] for r in revisions] == ["5", "4", "3", "2", "1"]
    assert revisions[0]["containerImages"][0]["image"] == "sample-service:1.0.5"
    described = ecs.describe_service_deployments(
        serviceDeploymentArns=[s["serviceDeploymentArn"] for s in seeded[:2]])["serviceDeployments"]
    rev5, rev4 = described
    assert rev5["targetServiceRevision"]["arn"] == seeded[0]["targetServiceRevisionArn"]
    assert [s["arn"] for s in rev5["sourceServiceRevisions"]] == [rev4["targetServiceRevision"]["arn"]]
    assert rev5["deploymentCircuitBreaker"] == {"status": "DISABLED", "failureCount": 0, "threshold": 3}
    arn = seeded[0]["serviceDeploymentArn"]
    assert arn.startswith(f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/{SERVICE}/")


def test_each_deployment_is_recorded_and_a_superseded_one_is_stopped(healed_lab, aws):
    ecs = aws("ecs")
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    first = listed(aws, createdAt={"after": since})
    assert len(first) == 1 and first[0]["status"] in ("PENDING", "IN_PROGRESS")
    svc = ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition="sample-service:4")["service"]
    assert svc["currentServiceDeployment"] != first[0]["serviceDeploymentArn"]
    wait_rollout(aws)
    newest, older = listed(aws, createdAt={"after": since})
    assert (newest["status"], older["status"]) == ("SUCCESSFUL", "STOPPED")
    assert older["serviceDeploymentArn"] == first[0]["serviceDeploymentArn"]
    assert "new service deployment" in older["statusReason"]
    assert describe_service(aws)["currentServiceDeployment"] == newest["serviceDeploymentArn"]
    detail = ecs.describe_service_deployments(serviceDeploymentArns=[newest["serviceDeploymentArn"]])
    target = detail["serviceDeployments"][0]["targetServiceRevision"]
    assert (target["requestedTaskCount"], target["runningTaskCount"], target["pendingTaskCount"]) == (4, 4, 0)
    revision = ecs.describe_service_revisions(serviceRevisionArns=[target["arn"]])["serviceRevisions"][0]
    assert revision["taskDefinition"].endswith(":task-definition/sample-service:4")
    assert listed(aws, createdAt={"after": since}, status=["STOPPED"]) == [older]
    page = aws("ecs").list_service_deployments(cluster=CLUSTER, service=SERVICE, maxResults=1)
    assert len(page["serviceDeployments"]) == 1 and page["nextToken"]
    second = aws("ecs").list_service_deployments(cluster=CLUSTER, service=SERVICE, maxResults=1,
                                                 nextToken=page["nextToken"])["serviceDeployments"]
    assert second[0]["serviceDeploymentArn"] == older["serviceDeploymentArn"]

    # the rollback a module would do: the newest SUCCESSFUL deployment that is not the current one
    client.heal()
    latest = listed(aws, status=["SUCCESSFUL"], maxResults=1)[0]
    td = ecs.describe_service_revisions(serviceRevisionArns=[latest["targetServiceRevisionArn"]])
    assert td["serviceRevisions"][0]["taskDefinition"] == healed_lab["ecs"]["baseline_task_definition"]


@pytest.mark.parametrize("call, code", [
    (lambda ecs: ecs.list_service_deployments(cluster=CLUSTER, service="nope"), "ServiceNotFoundException"),
    (lambda ecs: ecs.list_service_deployments(cluster="nope", service=SERVICE), "ClusterNotFoundException"),
    (lambda ecs: ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["FAILED"]),
     "InvalidParameterException"),
    (lambda ecs: ecs.describe_service_deployments(serviceDeploymentArns=[f"arn:{i}" for i in range(21)]),
     "InvalidParameterException"),
])
def test_errors_have_the_ecs_codes(lab, aws, call, code):
    with pytest.raises(ClientError) as err:
        call(aws("ecs"))
    assert err.value.response["Error"]["Code"] == code


def test_unknown_arns_are_failures_not_errors(lab, aws):
    ecs = aws("ecs")
    arn = f"arn:aws:ecs:us-east-1:123456789012:service-deployment/{CLUSTER}/{SERVICE}/nope"
    resp = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    assert resp["serviceDeployments"] == [] and resp["failures"] == [{"arn": arn, "reason": "MISSING"}]
    resp = ecs.describe_service_revisions(serviceRevisionArns=["arn:x"])
    assert resp["serviceRevisions"] == [] and resp["failures"] == [{"arn": "arn:x", "reason": "MISSING"}]
    resp = ecs.describe_tasks(cluster=CLUSTER, tasks=["0123456789abcdef"])
    assert resp["tasks"] == [] and resp["failures"][0]["reason"] == "MISSING"
