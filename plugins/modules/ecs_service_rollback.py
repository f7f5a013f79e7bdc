#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_service_rollback
short_description: Roll an ECS service back to the revision it last ran stable, and wait
version_added: 0.1.0
description:
  - The runbook's "Option 2 - Rollback deployment" (C(aws ecs update-service --task-definition sample-service:123)),
    modelled on kubernetes.core's k8s_rollback. Without O(to_revision) it picks the revision the service last ran
    stable - never the current, possibly broken, one - from, in order, a previous deployment still listed on the
    service with rollout state COMPLETED, then the service's successful deployment history
    (ListServiceDeployments). It refuses, changing nothing, when there is no such revision.
  - O(to_revision) must be a revision that ran stable too - one of the service's SUCCESSFUL deployments in its
    deployment history (the last 20), or a deployment still listed on the service with rollout state COMPLETED.
    Any other revision is refused, naming it and why, unless O(allow_unproven_revision=true).
  - Waits on the new deployment's id until it is COMPLETED with every task running, or fails with what it saw.
  - Idempotent - when the service already runs the target revision, nothing is done.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.ecs_service
  - sre.incident.wait
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  to_revision:
    description:
      - Roll back to this task definition (C(family:revision) or a task-definition ARN, with its revision)
        instead of the last stable one. An empty string or a family without revision is refused.
    type: str
  allow_unproven_revision:
    description:
      - Deploy O(to_revision) even when it never ran stable on this service (no SUCCESSFUL deployment in the
        history, no COMPLETED deployment listed). Only for a revision known good by other means.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Returns the revision it would roll back to and the diff; deploys nothing.
  diff_mode:
    support: full
    description: Before/after task definition.
"""

EXAMPLES = r"""
- name: Rollback deployment
  sre.incident.ecs_service_rollback:
    region: us-east-1
    cluster: sample-service-prod
    service: sample-service
  register: rollback

- name: Roll back to a revision named by the on-call engineer
  sre.incident.ecs_service_rollback:
    cluster: sample-service-prod
    service: sample-service
    to_revision: sample-service:123
"""

RETURN = r"""
previous_task_definition:
  description: What the service ran before.
  returned: always
  type: str
task_definition:
  description: What the service runs afterwards (in check mode, what it would run).
  returned: always
  type: str
source:
  description: Where the target came from - C(to_revision), C(active_deployment) or C(history).
  returned: always
  type: str
deployment_id:
  description: The rollback deployment's id.
  returned: when rolled back
  type: str
waited:
  description: Seconds waited for the deployment.
  returned: when rolled back with wait
  type: float
"""

from ansible_collections.sre.incident.plugins.module_utils.aws import call, client, describe_error, fail
from ansible_collections.sre.incident.plugins.module_utils.common import WAIT_ARGUMENT_SPEC
from ansible_collections.sre.incident.plugins.module_utils.ecs import (
    BACKEND,
    ECS_LIMITS,
    describe_service,
    ecs_service_argument_spec,
    revision_of,
    stable_history,
    start_deployment,
    wait_for_deployment,
)


from ansible_collections.sre.incident.plugins.module_utils.validate import TASK_DEFINITION, StrictModule


def completed_deployments(service):
    """Task definitions of deployments still listed on the service that completed their rollout."""
    return [d["taskDefinition"] for d in service.get("deployments", [])
            if d.get("status") in ("ACTIVE", "PRIMARY") and d.get("rolloutState") == "COMPLETED" and d.get("taskDefinition")]


def history_of(module, api, cluster, service):
    try:
        return stable_history(api, cluster, service["serviceName"])
    except Exception as exc:  # noqa: BLE001
        module.fail_json(msg=describe_error(exc, BACKEND, "ListServiceDeployments"))


def last_stable(module, api, cluster, service):
    """(task definition ARN, source) of the last stable revision other than the current one, or (None, why)."""
    current = service["taskDefinition"]
    for deployment in service.get("deployments", []):
        if (deployment.get("status") == "ACTIVE" and deployment.get("rolloutState") == "COMPLETED"
                and deployment.get("taskDefinition") != current):
            return deployment["taskDefinition"], "active_deployment"
    history = history_of(module, api, cluster, service)
    for item in history:
        if item["task_definition"] != current:
            return item["task_definition"], "history"
    return None, "%d successful deployment(s) in the history, all of %s" % (len(history), current)


def refuse_unproven(module, api, params, service, target):
    """Fail, changing nothing, unless target ran stable on this service."""
    if target in completed_deployments(service):
        return
    history = history_of(module, api, params["cluster"], service)
    if any(item["task_definition"] == target for item in history):
        return
    module.fail_json(msg="%s: refusing to roll %s back to %s: revision %s never ran stable on this service (not among "
                         "the %d SUCCESSFUL deployment(s) of its history, no COMPLETED deployment listed). Nothing was "
                         "changed; leave to_revision out for the last stable revision, or set allow_unproven_revision=true "
                         "if you know it is good." % (BACKEND, params["service"], params["to_revision"],
                                                      revision_of(target)[1], len(history)),
                     previous_task_definition=service["taskDefinition"], task_definition=service["taskDefinition"],
                     source="to_revision", changed=False)


def main():
    module = StrictModule(
        argument_spec=ecs_service_argument_spec(
            to_revision=dict(type="str"),
            allow_unproven_revision=dict(type="bool", default=False),
            **WAIT_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
        limits=dict(ECS_LIMITS, to_revision=TASK_DEFINITION),
    )
    params = module.params
    api = client(module, "ecs")
    service = describe_service(module, api, params["cluster"], params["service"])
    current = service["taskDefinition"]

    if params["to_revision"] is not None:
        target = call(module, BACKEND, api, "describe_task_definition",
                      taskDefinition=params["to_revision"])["taskDefinition"]["taskDefinitionArn"]
        source = "to_revision"
        if target != current and not params["allow_unproven_revision"]:
            refuse_unproven(module, api, params, service, target)
    else:
        target, source = last_stable(module, api, params["cluster"], service)
        if target is None:
            module.fail_json(msg="%s: refusing to roll back %s: no earlier revision ran stable (%s). Nothing was changed; "
                                 "pass to_revision=family:N to choose one." % (BACKEND, params["service"], source),
                             previous_task_definition=current, task_definition=current, source="none", changed=False)

    result = dict(changed=target != current, previous_task_definition=current, task_definition=target, source=source,
                  diff=dict(before={"task_definition": current}, after={"task_definition": target}))
    if target == current:
        module.exit_json(msg="%s already runs %s; nothing to roll back" % (params["service"], current), **result)
    if module.check_mode:
        module.exit_json(msg="would roll %s back from revision %s to %s (%s)" % (
            params["service"], revision_of(current)[1], revision_of(target)[1], source), **result)

    previous_ids = {d.get("id") for d in service.get("deployments", [])}
    try:
        _service, deployment_id = start_deployment(api, params["cluster"], params["service"], previous_ids,
                                                   taskDefinition=target)
    except Exception as exc:  # noqa: BLE001
        fail(module, exc, BACKEND, "update_service", **result)
    result["deployment_id"] = deployment_id
    if not params["wait"]:
        module.exit_json(msg="rollback deployment %s started" % deployment_id, **result)
    _service, waited = wait_for_deployment(module, api, params["cluster"], params["service"], deployment_id,
                                           params["wait_timeout"], params["wait_interval"])
    result["waited"] = waited
    module.exit_json(msg="rolled %s back from revision %s to %s in %ss" % (
        params["service"], revision_of(current)[1], revision_of(target)[1], waited), **result)


if __name__ == "__main__":
    main()
