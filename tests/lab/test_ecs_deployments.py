"""UpdateService creates deployments that roll out (moto alone creates none), tasks follow the PRIMARY
deployment, crashing task definitions crash, the circuit breaker fails or rolls back."""

from __future__ import annotations

import time

from labhelpers import (CLUSTER, SERVICE, describe_service, primary, register_variant, stopped_tasks, wait_rollout,
                        wait_until)

from lab import client

UNABLE = "(service sample-service) is unable to consistently start tasks successfully."


def describe(aws):
    return describe_service(aws)


def running_arns(aws) -> list[str]:
    return aws("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]


def test_force_new_deployment_rolls_out_a_new_deployment(healed_lab, aws):
    before = describe(aws)["deployments"][0]
    resp = aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)["service"]
    new, old = resp["deployments"]
    assert new["id"] != before["id"] and new["id"].startswith("ecs-svc/")
    assert (new["status"], new["rolloutState"], new["runningCount"], new["pendingCount"]) == \
        ("PRIMARY", "IN_PROGRESS", 0, 4)
    assert (old["id"], old["status"], old["runningCount"]) == (before["id"], "ACTIVE", 4)
    started = time.monotonic()
    svc = wait_rollout(aws, timeout=6)
    assert time.monotonic() - started < healed_lab["ecs"]["deploy_seconds"] + 1.5
    assert [d["id"] for d in svc["deployments"]] == [new["id"]]
    assert svc["deployments"][0]["runningCount"] == 4 and svc["runningCount"] == 4
    assert svc["events"][0]["message"] == "(service sample-service) has reached a steady state."
    described = aws("ecs").describe_tasks(cluster=CLUSTER, tasks=running_arns(aws))["tasks"]
    assert len(described) == 4 and {t["startedBy"] for t in described} == {new["id"]}
    assert {t["lastStatus"] for t in described} == {"RUNNING"} and "stoppedReason" not in described[0]
    replaced = stopped_tasks(aws, started_by=before["id"])
    assert len(replaced) >= 4 and replaced[0]["stopCode"] == "ServiceSchedulerInitiated"
    assert replaced[0]["stoppedReason"] == f"Scaling activity initiated by (deployment {new['id']})"


def test_new_task_definition_is_stored_as_arn_and_heal_rolls_back(healed_lab, aws):
    resp = aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition="sample-service:4")["service"]
    assert resp["taskDefinition"].endswith(":task-definition/sample-service:4")
    assert resp["deployments"][0]["taskDefinition"] == resp["taskDefinition"]
    healed = client.heal()
    svc = describe(aws)
    assert svc["taskDefinition"] == healed_lab["ecs"]["baseline_task_definition"]
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert healed["changed"]


def test_scaling_shows_pending_tasks_until_they_run(healed_lab, aws):
    resp = aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=6)["service"]
    assert (resp["desiredCount"], resp["runningCount"], resp["pendingCount"]) == (6, 4, 2)
    assert len(resp["deployments"]) == 1 and resp["deployments"][0]["rolloutState"] == "COMPLETED"
    tasks = aws("ecs").describe_tasks(cluster=CLUSTER, tasks=running_arns(aws))["tasks"]
    assert sorted(t["lastStatus"] for t in tasks) == ["PENDING"] * 2 + ["RUNNING"] * 4
    wait_until(lambda: describe(aws)["runningCount"] == 6, timeout=healed_lab["ecs"]["deploy_seconds"] + 2,
               what="6 running")
    svc = describe(aws)
    assert svc["pendingCount"] == 0 and svc["events"][0]["message"].endswith("has reached a steady state.")
    aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=4)
    assert describe(aws)["runningCount"] == 4 and len(running_arns(aws)) == 4  # scale-in is immediate


def test_a_deployment_that_cannot_start_stays_in_progress_and_old_tasks_keep_serving(healed_lab, aws):
    """minimumHealthyPercent 100 (the baseline): the old tasks run on while the new ones crash."""
    crash = register_variant(aws, env={"LAB_CRASH": "1"})
    aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=crash)
    dep = primary(aws)
    wait_until(lambda: primary(aws)["failedTasks"] >= 4, timeout=healed_lab["ecs"]["deploy_seconds"] + 2,
               what="failed tasks")
    svc = describe(aws)
    new, old = svc["deployments"]
    assert (new["rolloutState"], new["runningCount"], old["status"], old["runningCount"]) == \
        ("IN_PROGRESS", 0, "ACTIVE", 4)
    assert svc["runningCount"] == 4
    assert any(e["message"].startswith(UNABLE) for e in svc["events"])
    crashed = stopped_tasks(aws, started_by=dep["id"])
    assert crashed and {t["stopCode"] for t in crashed} == {"EssentialContainerExited"}
    assert {t["stoppedReason"] for t in crashed} == {"Essential container in task exited"}
    assert {c["exitCode"] for t in crashed for c in t["containers"]} == {1}
    assert {t["taskDefinitionArn"] for t in crashed} == {crash}
    assert all(t["stoppedAt"] >= t["startedAt"] for t in crashed)


def test_circuit_breaker_without_rollback_fails_the_deployment(healed_lab, aws):
    crash = register_variant(aws, env={"LAB_CRASH": "1"})
    aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=crash, deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    svc = wait_rollout(aws, "FAILED", timeout=healed_lab["ecs"]["deploy_seconds"] + 3)
    failed = svc["deployments"][0]
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert failed["failedTasks"] >= 3 and svc["runningCount"] == 4  # the old deployment still serves
    assert any(e["message"].endswith("deployment failed: tasks failed to start.") for e in svc["events"])
    sd = aws("ecs").describe_service_deployments(
        serviceDeploymentArns=[svc["currentServiceDeployment"]])["serviceDeployments"][0]
    assert sd["status"] == "STOPPED" and sd["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert sd["deploymentCircuitBreaker"]["failureCount"] >= sd["deploymentCircuitBreaker"]["threshold"] == 3
    time.sleep(0.8)
    assert primary(aws)["failedTasks"] == failed["failedTasks"]  # a failed deployment starts no more tasks


def test_circuit_breaker_with_rollback_returns_to_the_last_successful_revision(healed_lab, aws):
    ecs = aws("ecs")
    crash = register_variant(aws, env={"LAB_CRASH": "1"})
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=crash, deploymentConfiguration={
        "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    failing_sd = describe(aws)["currentServiceDeployment"]
    wait_until(lambda: describe(aws)["taskDefinition"] == healed_lab["ecs"]["baseline_task_definition"],
               timeout=healed_lab["ecs"]["deploy_seconds"] + 3, what="rollback started")
    svc = wait_rollout(aws, timeout=healed_lab["ecs"]["deploy_seconds"] + 3)
    assert any(" rolling back to deployment ecs-svc/" in e["message"] for e in svc["events"])
    assert svc["runningCount"] == 4
    sd = ecs.describe_service_deployments(serviceDeploymentArns=[failing_sd])["serviceDeployments"][0]
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and sd["rollback"]["reason"] == "Circuit Breaker triggered"
    revision = ecs.describe_service_revisions(serviceRevisionArns=[sd["rollback"]["serviceRevisionArn"]])
    assert revision["serviceRevisions"][0]["taskDefinition"] == healed_lab["ecs"]["baseline_task_definition"]
