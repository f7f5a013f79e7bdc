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
  - Waits on the new deployment's id until it is COMPLETED with every task running, or fails with what it saw.
  - Idempotent - when the service already runs the target revision, nothing is done.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.ecs_service
  - sre.incident.wait
options:
  to_revision:
    description:
      - Roll back to this task definition (C(family:revision) or ARN) instead of the last stable one.
    type: str
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.aws import call, client, describe_error, fail
from ansible_collections.sre.incident.plugins.module_utils.common import WAIT_ARGUMENT_SPEC
from ansible_collections.sre.incident.plugins.module_utils.ecs import (
    BACKEND,
    describe_service,
    ecs_service_argument_spec,
    revision_of,
    stable_history,
    start_deployment,
    wait_for_deployment,
)


def last_stable(module, api, cluster, service):
    """(task definition ARN, source) of the last stable revision other than the current one, or (None, why)."""
    current = service["taskDefinition"]
    for deployment in service.get("deployments", []):
        if (deployment.get("status") == "ACTIVE" and deployment.get("rolloutState") == "COMPLETED"
                and deployment.get("taskDefinition") != current):
            return deployment["taskDefinition"], "active_deployment"
    try:
        history = stable_history(api, cluster, service["serviceName"])
    except Exception as exc:  # noqa: BLE001
        module.fail_json(msg=describe_error(exc, BACKEND, "ListServiceDeployments"))
    for item in history:
        if item["task_definition"] != current:
            return item["task_definition"], "history"
    return None, "%d successful deployment(s) in the history, all of %s" % (len(history), current)


def main():
    module = AnsibleModule(
        argument_spec=ecs_service_argument_spec(
            to_revision=dict(type="str"),
            **WAIT_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
    )
    params = module.params
    api = client(module, "ecs")
    service = describe_service(module, api, params["cluster"], params["service"])
    current = service["taskDefinition"]

    if params["to_revision"]:
        target = call(module, BACKEND, api, "describe_task_definition",
                      taskDefinition=params["to_revision"])["taskDefinition"]["taskDefinitionArn"]
        source = "to_revision"
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
