#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_service_restart
short_description: Restart an ECS service's tasks (force new deployment) and wait until that deployment is stable
version_added: 0.1.0
description:
  - The runbook's "Option 1 - Restart tasks" (C(aws ecs update-service --force-new-deployment)), a rolling restart
    on the same task definition.
  - Waits on the new deployment's id until it is COMPLETED with every task running, or fails with the rollout state,
    counts and last service event it saw.
  - A restart is always a change; decide in the playbook whether one is needed.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.ecs_service
  - sre.incident.wait
  - sre.incident.strict_inputs
  - sre.incident.deadline
attributes:
  check_mode:
    support: full
    description: Checks the service exists and returns the plan; starts nothing.
  diff_mode:
    support: none
    description: The task definition does not change.
"""

EXAMPLES = r"""
- name: Restart tasks
  sre.incident.ecs_service_restart:
    region: us-east-1
    cluster: sample-service-prod
    service: sample-service
    wait_timeout: 900
"""

RETURN = r"""
task_definition:
  description: The task definition the restarted tasks run.
  returned: always
  type: str
deployment_id:
  description: The restart deployment's id.
  returned: when restarted
  type: str
waited:
  description: Seconds waited for the deployment.
  returned: when restarted with wait
  type: float
"""

from ansible_collections.sre.incident.plugins.module_utils.aws import client, fail
from ansible_collections.sre.incident.plugins.module_utils.common import WAIT_ARGUMENT_SPEC
from ansible_collections.sre.incident.plugins.module_utils.ecs import (
    BACKEND,
    ECS_LIMITS,
    describe_service,
    ecs_service_argument_spec,
    start_deployment,
    wait_for_deployment,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    module = StrictModule(
        argument_spec=ecs_service_argument_spec(
            **WAIT_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
        limits=ECS_LIMITS,
    )
    params = module.params
    api = client(module, "ecs")
    service = describe_service(module, api, params["cluster"], params["service"])
    result = dict(changed=True, task_definition=service["taskDefinition"])
    if module.check_mode:
        module.exit_json(msg="would restart the %d task(s) of %s (force new deployment of %s)" % (
            service.get("desiredCount", 0), params["service"], service["taskDefinition"]), **result)
    previous_ids = {d.get("id") for d in service.get("deployments", [])}
    try:
        _service, deployment_id = start_deployment(api, params["cluster"], params["service"], previous_ids,
                                                   forceNewDeployment=True)
    except Exception as exc:  # noqa: BLE001
        fail(module, exc, BACKEND, "update_service", changed=False)
    result["deployment_id"] = deployment_id
    if not params["wait"]:
        module.exit_json(msg="restart deployment %s started" % deployment_id, **result)
    _service, waited = wait_for_deployment(module, api, params["cluster"], params["service"], deployment_id,
                                           params["wait_timeout"], params["wait_interval"])
    result["waited"] = waited
    module.exit_json(msg="restarted %s (deployment %s) in %ss" % (params["service"], deployment_id, waited), **result)


if __name__ == "__main__":
    main()
