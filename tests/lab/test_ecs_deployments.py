"""UpdateService creates deployments that roll out (moto alone creates none)."""

from __future__ import annotations

from labhelpers import wait_until

CLUSTER, SERVICE = "sample-service-prod", "sample-service"


def describe(aws):
    return aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]


def test_force_new_deployment_rolls_out_a_new_deployment(healed_lab, aws):
    before = describe(aws)["deployments"][0]
    resp = aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)["service"]
    new, old = resp["deployments"]
    assert new["id"] != before["id"] and new["id"].startswith("ecs-svc/")
    assert (new["status"], new["rolloutState"], new["runningCount"], new["pendingCount"]) == \
        ("PRIMARY", "IN_PROGRESS", 0, 4)
    assert (old["id"], old["status"]) == (before["id"], "ACTIVE")
    svc = wait_until(lambda: (s := describe(aws))["deployments"][0]["rolloutState"] == "COMPLETED" and s,
                     timeout=6, what="deployment COMPLETED")
    assert [d["id"] for d in svc["deployments"]] == [new["id"]]
    assert svc["deployments"][0]["runningCount"] == 4 and svc["runningCount"] == 4
    assert svc["events"][0]["message"] == "(service sample-service) has reached a steady state."
    tasks = aws("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]
    described = aws("ecs").describe_tasks(cluster=CLUSTER, tasks=tasks)["tasks"]
    assert len(described) == 4 and {t["startedBy"] for t in described} == {new["id"]}


def test_new_task_definition_is_stored_as_arn_and_heal_rolls_back(healed_lab, aws):
    resp = aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition="sample-service:4")["service"]
    assert resp["taskDefinition"].endswith(":task-definition/sample-service:4")
    assert resp["deployments"][0]["taskDefinition"] == resp["taskDefinition"]
    from lab import client

    healed = client.heal()
    svc = describe(aws)
    assert svc["taskDefinition"] == healed_lab["ecs"]["baseline_task_definition"]
    assert svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert healed["changed"]


def test_running_count_follows_desired_count(healed_lab, aws):
    aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=6)
    wait_until(lambda: describe(aws)["runningCount"] == 6, timeout=3, what="6 running")
    tasks = aws("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]
    assert len(tasks) == 6
    assert len(describe(aws)["deployments"]) == 1
    from lab import client

    client.heal()
    assert describe(aws)["desiredCount"] == 4
    wait_until(lambda: len(aws("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE,
                                                 desiredStatus="RUNNING")["taskArns"]) == 4, timeout=3,
               what="back to 4 tasks")
