# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.ecs_service_info - Read an ECS service's health - counts, deployments, events, revisions, running and stopped tasks.

Its logic (SPEC and run(module)); plugins/modules/ecs_service_info.py holds the documentation and main()."""

from __future__ import annotations

import datetime
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.sre.incident.plugins.module_utils.aws import client, describe_error
from ansible_collections.sre.incident.plugins.module_utils.ecs import (
    BACKEND,
    ECS_LIMITS,
    describe_service,
    ecs_service_argument_spec,
    revision_of,
    short_deployments,
    stable_history,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import Whole

OOM_EXIT_CODE = 137

SPEC = dict(
    argument_spec=ecs_service_argument_spec(
        revisions=dict(type="int", default=5),
        stopped_tasks=dict(type="int", default=10),
        scan_stopped=dict(type="int", default=300),
        events=dict(type="int", default=10),
    ),
    supports_check_mode=True,
    limits=dict(ECS_LIMITS, revisions=Whole(1, 100), stopped_tasks=Whole(0, 100), scan_stopped=Whole(0, 1000), events=Whole(0, 100)),
)


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


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
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
