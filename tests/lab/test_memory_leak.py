"""break memory_leak: memory at ~95 %, OOM-killed tasks, heap dumps; a restart or more memory helps."""

from __future__ import annotations

import time

from labhelpers import CLUSTER, SERVICE, register_variant, stopped_tasks, wait_rollout, wait_until

from lab import client

OOM = "OutOfMemoryError: Container killed due to memory usage"


def memory(query_metric) -> float:
    return query_metric("avg:aws.ecs.memory_utilization{*}", seconds=10).series[0].pointlist[-1].value[1]


def oom_stops(aws) -> list[dict]:
    return [t for t in stopped_tasks(aws) if t.get("stoppedReason") == OOM]


def test_memory_leak_symptoms_restart_and_more_memory(healed_lab, aws, query_metric):
    ecs, s3 = aws("ecs"), aws("s3")
    deploy = healed_lab["ecs"]["deploy_seconds"]
    assert 42 < memory(query_metric) < 48
    before = {t["taskArn"] for t in oom_stops(aws)}
    result = client.break_incident("memory_leak")
    assert result["options"]["oom_stopped_tasks"] == 5 and len(result["options"]["heap_dumps"]) == 3

    wait_until(lambda: memory(query_metric) > 92, timeout=3, what="memory at ~95 %")
    assert memory(query_metric) < 98
    new_ooms = [t for t in oom_stops(aws) if t["taskArn"] not in before]
    assert len(new_ooms) == 5
    now = time.time()
    for task in new_ooms:
        assert task["containers"][0]["exitCode"] == 137 and task["containers"][0]["reason"] == OOM
        assert task["stopCode"] == "EssentialContainerExited"
        assert 60 <= now - task["stoppedAt"].timestamp() <= 15 * 60
        assert task["taskDefinitionArn"] == healed_lab["ecs"]["baseline_task_definition"]
    objects = s3.list_objects_v2(Bucket=healed_lab["s3"]["heapdump_bucket"])["Contents"]
    assert len(objects) == 3
    for obj in objects:
        assert obj["Key"].startswith(f"{CLUSTER}/") and obj["Key"].endswith(".heapsnapshot.gz")
        assert obj["Size"] > 1_000_000 and 0 < now - obj["LastModified"].timestamp() < 15 * 60

    # a restart: fresh tasks at ~45 %, no more OOM kills
    ecs.update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    wait_rollout(aws, timeout=deploy + 3)
    wait_until(lambda: memory(query_metric) < 48, timeout=3, what="memory down after the restart")
    # By task: an earlier test's back-dated OOM stops may pass the lab's one-hour retention meanwhile, as in ECS.
    seen = {t["taskArn"] for t in oom_stops(aws)}

    # 2048 MiB (and NODE_OPTIONS with --expose-gc) deploys fine: ~50 %
    bigger = register_variant(aws, env={"NODE_OPTIONS": "--max-old-space-size=1536 --expose-gc"}, memory=2048)
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=bigger)
    svc = wait_rollout(aws, timeout=deploy + 3)
    assert svc["runningCount"] == 4
    wait_until(lambda: 48 < memory(query_metric) < 53, timeout=3, what="~50 % of 2048 MiB")
    assert {t["taskArn"] for t in oom_stops(aws)} <= seen  # no task killed by OOM since the restart

    healed = client.heal()
    assert "ecs: memory leak cleared" in healed["changes"]
    assert s3.list_objects_v2(Bucket=healed_lab["s3"]["heapdump_bucket"]).get("KeyCount") == 0
