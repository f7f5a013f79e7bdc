"""break service_down: a bad deployment that cannot start; only a rollback fixes it (or nothing, with
--no-good-revision)."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from labhelpers import (CLUSTER, SERVICE, describe_service, health, last_value, primary, stopped_tasks, wait_rollout,
                        wait_until)

from lab import client

LOG_GROUP = "/aws/ecs/sample-service-prod"


def test_service_down_symptoms_and_only_a_rollback_fixes_it(healed_lab, aws, query_metric):
    ecs = aws("ecs")
    deploy = healed_lab["ecs"]["deploy_seconds"]
    since_ms = int(time.time() * 1000) - 1000
    result = client.break_incident("service_down")
    bad = result["options"]["task_definition"]
    assert result["status"]["scenario"]["active"] == ["service_down"]
    container = ecs.describe_task_definition(taskDefinition=bad)["taskDefinition"]["containerDefinitions"][0]
    assert container["image"] == "sample-service:1.0.6"
    assert {"name": "LAB_CRASH", "value": "1"} in container["environment"]

    status, body = health(healed_lab)
    assert status == 502 and "502 Bad Gateway" in body
    svc = describe_service(aws)
    dep = svc["deployments"][0]
    assert (svc["taskDefinition"], svc["runningCount"]) == (bad, 0)
    assert (dep["taskDefinition"], dep["rolloutState"], dep["runningCount"]) == (bad, "IN_PROGRESS", 0)
    assert dep["failedTasks"] >= 4
    assert svc["deploymentConfiguration"]["minimumHealthyPercent"] == 0
    assert any(e["message"].startswith("(service sample-service) is unable to consistently start tasks successfully.")
               for e in svc["events"])
    # The crash loop relaunches after a backoff (break returns about a second later, once the metrics show the
    # fault): tasks may be starting again, none is running.
    starting = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]
    assert not starting or all(task["lastStatus"] != "RUNNING"
                               for task in ecs.describe_tasks(cluster=CLUSTER, tasks=starting)["tasks"])
    crashed = [t for t in stopped_tasks(aws, started_by=dep["id"]) if t["stopCode"] == "EssentialContainerExited"]
    assert crashed and {t["taskDefinitionArn"] for t in crashed} == {bad}
    assert crashed[0]["stoppedReason"] == "Essential container in task exited"
    assert crashed[0]["containers"][0]["exitCode"] == 1
    assert time.time() - crashed[0]["stoppedAt"].timestamp() < 60

    events = aws("logs").filter_log_events(logGroupName=LOG_GROUP, startTime=since_ms,
                                           filterPattern='{ $.error.code = "MODULE_NOT_FOUND" }')["events"]
    line = json.loads(events[0]["message"])
    assert (line["level"], line["message"]) == ("error", "Error: Cannot find module './config/production'")
    assert {e["logStreamName"] for e in events} <= {f"ecs/sample-service/{t['taskArn'].rsplit('/', 1)[1]}"
                                                    for t in stopped_tasks(aws)}
    wait_until(lambda: last_value(query_metric("avg:sample.requests.success_rate{*}")) == 0.0, timeout=3,
               what="success rate 0")
    assert ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["IN_PROGRESS"],
                                        maxResults=5)["serviceDeployments"][0]["status"] == "IN_PROGRESS"

    # a restart does not help: the new deployment crashes the same way
    ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    wait_until(lambda: primary(aws)["failedTasks"] >= 1, timeout=deploy + 2, what="the restart to crash")
    assert describe_service(aws)["runningCount"] == 0 and health(healed_lab)[0] == 502

    # a rollback does: the newest SUCCESSFUL deployment's revision is revision 5
    last_good = ecs.list_service_deployments(cluster=CLUSTER, service=SERVICE, status=["SUCCESSFUL"],
                                             maxResults=1)["serviceDeployments"][0]
    revision = ecs.describe_service_revisions(serviceRevisionArns=[last_good["targetServiceRevisionArn"]])
    good = revision["serviceRevisions"][0]["taskDefinition"]
    assert good == healed_lab["ecs"]["baseline_task_definition"]
    started = time.monotonic()
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=good)
    svc = wait_rollout(aws, timeout=deploy + 3)
    assert time.monotonic() - started < deploy + 1.5
    assert svc["runningCount"] == 4 and health(healed_lab) == (200, {"status": "ok"})


def test_no_good_revision_means_nothing_can_start(healed_lab, aws):
    ecs, ssm = aws("ecs"), aws("ssm")
    deploy = healed_lab["ecs"]["deploy_seconds"]
    since_ms = int(time.time() * 1000) - 1000
    result = client.break_incident("service_down", no_good_revision=True)
    assert result["options"]["no_good_revision"] is True
    with pytest.raises(ClientError) as err:
        ssm.get_parameter(Name=healed_lab["ssm"]["runtime_config"])
    assert err.value.response["Error"]["Code"] == "ParameterNotFound"
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=healed_lab["ecs"]["baseline_task_definition"])
    dep = primary(aws)
    wait_until(lambda: primary(aws)["failedTasks"] >= 4, timeout=deploy + 2, what="revision 5 to crash too")
    assert (primary(aws)["rolloutState"], describe_service(aws)["runningCount"]) == ("IN_PROGRESS", 0)
    crashed = stopped_tasks(aws, started_by=dep["id"])
    assert crashed and crashed[0]["taskDefinitionArn"] == healed_lab["ecs"]["baseline_task_definition"]
    events = aws("logs").filter_log_events(logGroupName=LOG_GROUP, startTime=since_ms,
                                           filterPattern='{ $.error.code = "CONFIG_NOT_FOUND" }')["events"]
    assert events
    healed = client.heal()
    assert any("runtime-config restored" in c for c in healed["changes"])
    assert describe_service(aws)["runningCount"] == 4 and health(healed_lab) == (200, {"status": "ok"})
