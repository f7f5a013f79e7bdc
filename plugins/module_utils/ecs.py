# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ECS reads and the deployment waiter shared by the sre.incident ECS modules."""

from __future__ import annotations

import copy

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, call
from ansible_collections.sre.incident.plugins.module_utils.common import WaitTimeout, deadline_note, wait_for
from ansible_collections.sre.incident.plugins.module_utils.validate import ECS_NAME

BACKEND = "ECS"
# The limits of the cluster and service options (module_utils/validate.py).
ECS_LIMITS = dict(cluster=ECS_NAME, service=ECS_NAME)

# Fields of DescribeTaskDefinition's answer that RegisterTaskDefinition accepts back.
REGISTER_FIELDS = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
                   "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
                   "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform")


def ecs_service_argument_spec(**extra):
    """AWS options plus cluster and service (documented in the sre.incident.ecs_service fragment)."""
    return aws_argument_spec(cluster=dict(type="str", required=True), service=dict(type="str", required=True), **extra)


def describe_service(module, api, cluster, service):
    answer = call(module, BACKEND, api, "describe_services", cluster=cluster, services=[service])
    services = [s for s in answer.get("services", []) if s.get("status") != "INACTIVE"]
    if not services:
        module.fail_json(msg="%s: service %s not found in cluster %s - check cluster/service and region" % (
            BACKEND, service, cluster))
    return services[0]


def describe_task_definition(module, api, task_definition):
    answer = call(module, BACKEND, api, "describe_task_definition", taskDefinition=task_definition, include=["TAGS"])
    return answer["taskDefinition"], answer.get("tags") or []


def register_copy(task_definition, tags, container_definitions, cpu=None, memory=None):
    """RegisterTaskDefinition arguments for a new revision that differs only in what is given."""
    request = {key: copy.deepcopy(task_definition[key]) for key in REGISTER_FIELDS if task_definition.get(key)}
    request["containerDefinitions"] = container_definitions
    if cpu is not None:
        request["cpu"] = str(cpu)
    if memory is not None:
        request["memory"] = str(memory)
    if tags:
        request["tags"] = tags
    return request


def primary_deployment(service):
    for deployment in service.get("deployments", []):
        if deployment.get("status") == "PRIMARY":
            return deployment
    return None


def short_deployments(service):
    return [{"id": d.get("id"), "status": d.get("status"), "rollout_state": d.get("rolloutState"),
             "task_definition": d.get("taskDefinition"), "running": d.get("runningCount"),
             "desired": d.get("desiredCount"), "pending": d.get("pendingCount"), "failed_tasks": d.get("failedTasks")}
            for d in service.get("deployments", [])]


def wait_for_deployment(module, api, cluster, service_name, deployment_id, timeout, interval):
    """Wait until deployment_id is COMPLETED with running == desired; fail with what was seen otherwise."""

    def fetch():
        return describe_service(module, api, cluster, service_name)

    def done(service):
        deployment = next((d for d in service.get("deployments", []) if d.get("id") == deployment_id), None)
        if deployment is None:
            raise DeploymentGone(service)
        if deployment.get("rolloutState") == "FAILED":
            raise DeploymentFailed(service, deployment)
        return (deployment.get("rolloutState") == "COMPLETED"
                and deployment.get("runningCount") == deployment.get("desiredCount")
                and len(service.get("deployments", [])) == 1)

    try:
        return wait_for(fetch, done, timeout, interval)
    except DeploymentFailed as exc:
        module.fail_json(msg="%s: deployment %s of %s FAILED: %s. Last event: %s" % (
            BACKEND, deployment_id, service_name, exc.deployment.get("rolloutStateReason", "no reason given"),
            last_event(exc.service)), deployments=short_deployments(exc.service))
    except DeploymentGone as exc:
        module.fail_json(msg="%s: deployment %s of %s disappeared (replaced by another deployment?) - current: %s" % (
            BACKEND, deployment_id, service_name, ", ".join(d["id"] for d in exc.service.get("deployments", []))),
            deployments=short_deployments(exc.service))
    except WaitTimeout as exc:
        service = exc.last or {}
        deployment = next((d for d in service.get("deployments", []) if d.get("id") == deployment_id), {})
        module.fail_json(msg="%s: deployment %s of %s not stable after %ss: rollout %s, running %s of %s, pending %s, "
                             "failed tasks %s. Last event: %s" % (
                                 BACKEND, deployment_id, service_name, int(timeout), deployment.get("rolloutState"),
                                 deployment.get("runningCount"), deployment.get("desiredCount"),
                                 deployment.get("pendingCount"), deployment.get("failedTasks"), last_event(service))
                         + deadline_note(module.params), deployments=short_deployments(service))


def last_event(service):
    events = service.get("events") or []
    return events[0].get("message") if events else "none"


class DeploymentFailed(Exception):
    def __init__(self, service, deployment):
        super().__init__("deployment failed")
        self.service, self.deployment = service, deployment


class DeploymentGone(Exception):
    def __init__(self, service):
        super().__init__("deployment gone")
        self.service = service


def start_deployment(api, cluster, service_name, previous_ids, **update):
    """UpdateService; return (service, id of the deployment it started). Raises what boto3 raises."""
    service = api.update_service(cluster=cluster, service=service_name, **update)["service"]
    new = [d for d in service.get("deployments", []) if d.get("id") not in previous_ids and d.get("status") == "PRIMARY"]
    deployment = new[0] if new else (primary_deployment(service) or {})
    return service, deployment.get("id")


def revision_of(task_definition_arn):
    """"arn:...:task-definition/sample-service:5" -> ("sample-service", 5)."""
    name = (task_definition_arn or "").rsplit("/", 1)[-1]
    family, _sep, number = name.rpartition(":")
    return (family, int(number)) if number.isdigit() else (name, None)


def stable_history(api, cluster, service_name, limit=20):
    """Task definitions of the service's SUCCESSFUL deployments, newest first (ECS service deployment history).

    Empty when the API is not available (older endpoints) - callers then fall back to the deployments list.
    """
    try:
        briefs = api.list_service_deployments(cluster=cluster, service=service_name, status=["SUCCESSFUL"],
                                              maxResults=limit).get("serviceDeployments", [])
    except Exception as exc:  # noqa: BLE001 - history is optional evidence
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code in ("InvalidParameterException", "UnknownOperationException", "ServiceNotFoundException"):
            return []
        raise
    briefs = sorted(briefs, key=lambda brief: brief.get("finishedAt") or brief.get("startedAt") or brief.get("createdAt") or 0,
                    reverse=True)
    arns = [brief["targetServiceRevisionArn"] for brief in briefs if brief.get("targetServiceRevisionArn")]
    if not arns:
        return []
    revisions = {}
    for start in range(0, len(arns), 20):
        for revision in api.describe_service_revisions(serviceRevisionArns=arns[start:start + 20]).get("serviceRevisions", []):
            revisions[revision["serviceRevisionArn"]] = revision.get("taskDefinition")
    history = []
    for brief in briefs:
        task_definition = revisions.get(brief.get("targetServiceRevisionArn"))
        if task_definition:
            history.append({"task_definition": task_definition, "status": brief.get("status"),
                            "finished_at": brief.get("finishedAt"), "deployment_arn": brief.get("serviceDeploymentArn")})
    return history


def wait_for_running(module, api, cluster, service_name, desired, timeout, interval):
    """Wait until the service runs exactly `desired` tasks; fail with the counts and last event otherwise."""

    def done(service):
        return service.get("desiredCount") == desired and service.get("runningCount") == desired \
            and not service.get("pendingCount")

    try:
        return wait_for(lambda: describe_service(module, api, cluster, service_name), done, timeout, interval)
    except WaitTimeout as exc:
        service = exc.last or {}
        module.fail_json(msg="%s: %s did not reach %d running task(s) within %ss: desired %s, running %s, pending %s. "
                             "Last event: %s" % (BACKEND, service_name, desired, int(timeout), service.get("desiredCount"),
                                                 service.get("runningCount"), service.get("pendingCount"), last_event(service))
                         + deadline_note(module.params), deployments=short_deployments(service))
