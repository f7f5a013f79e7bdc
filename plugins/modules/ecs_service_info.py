#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_service_info
short_description: Read an ECS service's health - counts, deployments, events, revisions, running and stopped tasks
version_added: 0.1.0
description:
  - The runbook's "Check ECS task status", "Check recent deployments" and "Check task events" in one read
    (C(aws ecs describe-services), C(list-task-definitions --sort DESC), C(list-tasks), C(describe-tasks)).
  - Returns desired/running/pending counts, deployments with rollout state and age, recent service events, the
    task family's newest revisions with the service's current one marked, running tasks, recently stopped tasks
    with their stopped reason and container exit codes, an OOM verdict (exit code 137 or OutOfMemoryError), and
    the service's successful deployment history when ECS provides it.
  - Independent calls are made concurrently. Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.ecs_service
  - sre.incident.read_only
options:
  revisions:
    description: How many of the task family's newest revisions to list.
    type: int
    default: 5
  stopped_tasks:
    description: How many of the newest stopped tasks to return in RV(stopped_tasks).
    type: int
    default: 10
  scan_stopped:
    description:
      - How many stopped tasks (newest first; ECS keeps them about an hour) to examine for the OOM verdict, so that a
        crash loop's many stops do not hide older OOM kills.
    type: int
    default: 300
  events:
    description: How many of the newest service events to return.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Check ECS task status
  sre.incident.ecs_service_info:
    region: us-east-1
    cluster: sample-service-prod
    service: sample-service
  register: ecs

- name: Say whether tasks are being killed by OOM
  ansible.builtin.debug:
    msg: "{{ ecs.oom.count }} task(s) stopped by OOM; running {{ ecs.service.running }}/{{ ecs.service.desired }}"
"""

RETURN = r"""
service:
  description: Name, status, desired, running, pending, task_definition (ARN), revision (int) and launch_type.
  returned: always
  type: dict
deployments:
  description: Current deployments, primary first - id, status, rollout_state, rollout_state_reason, task_definition,
    revision, desired, running, pending, failed_tasks, created_at, age_seconds.
  returned: always
  type: list
  elements: dict
events:
  description: Newest service events first - created_at and message.
  returned: always
  type: list
  elements: dict
revisions:
  description: The family's newest revisions first - task_definition, revision, current (the service runs it).
  returned: always
  type: list
  elements: dict
running_tasks:
  description: Running tasks - task_arn, task_definition, last_status, health_status, started_at, started_by.
  returned: always
  type: list
  elements: dict
stopped_tasks:
  description: Recently stopped tasks, newest first - task_arn, task_definition, stopped_reason, stop_code, stopped_at,
    exit_codes, containers (name, exit_code, reason), oom.
  returned: always
  type: list
  elements: dict
oom:
  description: OOM verdict over the examined stopped tasks - detected (bool), count, and tasks (task_arn, stopped_at,
    age_seconds) stopped by OOM, newest first.
  returned: always
  type: dict
history:
  description: Successful deployments newest first (task_definition, finished_at); empty where ECS has no history API.
  returned: always
  type: list
  elements: dict
"""

import datetime
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.aws import client, describe_error
from ansible_collections.sre.incident.plugins.module_utils.ecs import (
    BACKEND,
    describe_service,
    ecs_service_argument_spec,
    revision_of,
    short_deployments,
    stable_history,
)

OOM_EXIT_CODE = 137


def iso(value):
    return value.isoformat() if hasattr(value, "isoformat") else value


def age_seconds(value, now):
    return round((now - value).total_seconds(), 1) if isinstance(value, datetime.datetime) else None


def is_oom(task):
    texts = [task.get("stoppedReason") or ""] + [c.get("reason") or "" for c in task.get("containers", [])]
    codes = [c.get("exitCode") for c in task.get("containers", [])]
    return OOM_EXIT_CODE in codes or any("outofmemory" in text.lower().replace(" ", "") for text in texts)


def tasks(api, cluster, service_name, desired_status, limit):
    arns, token = [], None
    while len(arns) < limit:
        request = dict(cluster=cluster, serviceName=service_name, desiredStatus=desired_status, maxResults=100)
        if token:
            request["nextToken"] = token
        page = api.list_tasks(**request)
        arns.extend(page.get("taskArns", []))
        token = page.get("nextToken")
        if not token:
            break
    if not arns:
        return []
    described = []
    for start in range(0, len(arns), 100):
        described.extend(api.describe_tasks(cluster=cluster, tasks=arns[start:start + 100]).get("tasks", []))
    key = "stoppedAt" if desired_status == "STOPPED" else "startedAt"
    described.sort(key=lambda task: task.get(key) or task.get("createdAt") or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc),
                   reverse=True)
    return described[:limit]


def main():
    module = AnsibleModule(
        argument_spec=ecs_service_argument_spec(
            revisions=dict(type="int", default=5),
            stopped_tasks=dict(type="int", default=10),
            scan_stopped=dict(type="int", default=300),
            events=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    cluster, service_name = params["cluster"], params["service"]
    api = client(module, "ecs")
    service = describe_service(module, api, cluster, service_name)
    family, _revision = revision_of(service["taskDefinition"])

    calls = {
        "revisions": ("ListTaskDefinitions", lambda: api.list_task_definitions(
            familyPrefix=family, sort="DESC", maxResults=max(1, params["revisions"])).get("taskDefinitionArns", [])),
        "running": ("ListTasks/DescribeTasks", lambda: tasks(api, cluster, service_name, "RUNNING", 100)),
        "stopped": ("ListTasks/DescribeTasks", lambda: tasks(
            api, cluster, service_name, "STOPPED", max(params["stopped_tasks"], params["scan_stopped"]))),
        "history": ("ListServiceDeployments", lambda: stable_history(api, cluster, service_name)),
    }

    def run(item):
        name, (label, call) = item
        try:
            return name, call(), None
        except Exception as exc:  # noqa: BLE001 - one readable line below
            return name, None, describe_error(exc, BACKEND, label)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = {name: (value, error) for name, value, error in pool.map(run, calls.items())}
    errors = [error for _value, error in answers.values() if error]
    if errors:
        module.fail_json(msg=errors[0])

    now = datetime.datetime.now(datetime.timezone.utc)
    current = service["taskDefinition"]
    deployments = short_deployments(service)
    for raw, short in zip(service.get("deployments", []), deployments):
        short.update(revision=revision_of(raw.get("taskDefinition"))[1], rollout_state_reason=raw.get("rolloutStateReason"),
                     created_at=iso(raw.get("createdAt")), age_seconds=age_seconds(raw.get("createdAt"), now))
    stopped = []
    for task in answers["stopped"][0]:
        containers = [{"name": c.get("name"), "exit_code": c.get("exitCode"), "reason": c.get("reason")}
                      for c in task.get("containers", [])]
        stopped.append({
            "task_arn": task.get("taskArn"), "task_definition": task.get("taskDefinitionArn"),
            "stopped_reason": task.get("stoppedReason"), "stop_code": task.get("stopCode"),
            "stopped_at": iso(task.get("stoppedAt")), "age_seconds": age_seconds(task.get("stoppedAt"), now),
            "exit_codes": [c["exit_code"] for c in containers if c["exit_code"] is not None],
            "containers": containers, "oom": is_oom(task),
        })
    oom_tasks = [{"task_arn": task["task_arn"], "stopped_at": task["stopped_at"], "age_seconds": task["age_seconds"]}
                 for task in stopped if task["oom"]]
    module.exit_json(
        changed=False,
        service={"name": service.get("serviceName"), "status": service.get("status"),
                 "desired": service.get("desiredCount"), "running": service.get("runningCount"),
                 "pending": service.get("pendingCount"), "task_definition": current,
                 "revision": revision_of(current)[1], "launch_type": service.get("launchType")},
        deployments=deployments,
        events=[{"created_at": iso(event.get("createdAt")), "message": event.get("message")}
                for event in (service.get("events") or [])[:params["events"]]],
        revisions=[{"task_definition": arn, "revision": revision_of(arn)[1], "current": arn == current}
                   for arn in answers["revisions"][0]],
        running_tasks=[{"task_arn": task.get("taskArn"), "task_definition": task.get("taskDefinitionArn"),
                        "last_status": task.get("lastStatus"), "health_status": task.get("healthStatus"),
                        "started_at": iso(task.get("startedAt")), "started_by": task.get("startedBy")}
                       for task in answers["running"][0]],
        stopped_tasks=stopped[:params["stopped_tasks"]],
        oom={"detected": bool(oom_tasks), "count": len(oom_tasks), "tasks": oom_tasks},
        history=[dict(item, finished_at=iso(item.get("finished_at"))) for item in answers["history"][0]],
    )


if __name__ == "__main__":
    main()
