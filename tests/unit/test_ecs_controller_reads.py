"""The lab's ECS controller: a DescribeServices never sees a scheduler pass half done.

moto serializes the services a DescribeServices returns after the backend call; the controller changes them in
several steps per pass (the rollout is COMPLETED first, the counts follow). A CI run once read a COMPLETED
rollout with runningCount 0. The reads now wait for the pass and get a copy taken under the controller's lock.
"""

from __future__ import annotations

import threading

import pytest

from lab import config
from lab.aws_emulator import backend
from lab.ecs_controller import EcsController

CLUSTER, SERVICE = "reads-cluster", "reads-service"


@pytest.fixture(scope="module")
def controller():
    ecs = backend("ecs")
    ecs.create_cluster(CLUSTER)
    ecs.register_task_definition("reads", [{"name": "app", "image": "app:1", "memory": 512, "environment": []}],
                                 cpu="256", memory="512")
    controller = EcsController(deploy_seconds=0.0)
    controller.install()
    service = ecs.create_service(CLUSTER, SERVICE, 2, "reads:1", launch_type="FARGATE")
    controller.adopt_created_service(service, None)  # launches 2 PENDING tasks, RUNNING at the next pass
    return controller


def test_describe_services_waits_for_a_scheduler_pass_and_gets_a_copy(controller, monkeypatch):
    ecs = controller.ecs
    in_pass, finish_pass = threading.Event(), threading.Event()
    complete = controller._complete

    def complete_then_pause(*args):
        complete(*args)  # rolloutState COMPLETED; the running count is updated after this, in the same pass
        in_pass.set()
        finish_pass.wait(5)

    monkeypatch.setattr(controller, "_complete", complete_then_pause)
    seen: list = []

    def read():
        service = ecs.describe_services(CLUSTER, [SERVICE])[0][0]
        seen.append((service.deployments[0]["rolloutState"], service.running_count, service))

    ticker = threading.Thread(target=controller.tick)
    ticker.start()
    assert in_pass.wait(5), "the pass did not complete the rollout"
    reader = threading.Thread(target=read)
    reader.start()
    reader.join(0.3)
    assert not seen, f"DescribeServices answered in the middle of a scheduler pass: {seen}"
    finish_pass.set()
    ticker.join(5)
    reader.join(5)
    state, running, copy = seen[0]
    assert (state, running) == ("COMPLETED", 2)

    live = controller.service(SERVICE, CLUSTER)
    assert copy is not live
    live.deployments[0]["rolloutState"] = "IN_PROGRESS"
    assert copy.deployments[0]["rolloutState"] == "COMPLETED"
    live.deployments[0]["rolloutState"] = "COMPLETED"


def test_describe_tasks_answers_copies(controller):
    ecs = controller.ecs
    service = controller.service(SERVICE, CLUSTER)
    task = controller.service_tasks(service)[0]
    described = ecs.describe_tasks(CLUSTER, [task.task_arn])[0]
    assert described is not task and described.task_arn == task.task_arn
    assert described.last_status == task.last_status == "RUNNING"
    assert config.AWS_REGION in described.task_arn
