#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_taskdef_deploy
short_description: Register a new task-definition revision with changed environment or memory and deploy it
version_added: 0.1.0
description:
  - The runbook's "Set environment variable CACHE_ENABLED=false - requires deployment" (and, later, raised
    memory limits or NODE_OPTIONS). Takes the task definition the service runs now, changes only what is
    asked in one container, registers it as a new revision, points the service at it and waits on that
    deployment's id until it is COMPLETED with every task running.
  - Idempotent - when the running revision already has the values, nothing is registered or deployed.
  - If the service update fails, the revision just registered is deregistered again, so a failed run leaves
    the service as it was.
  - Refuses, before registering anything, values ECS would not run - an environment name that is empty, longer
    than 255 characters, or not letters, digits and underscores (not starting with a digit); a value that is not
    text or a number (C(false) unquoted is refused, quote it), longer than 4096 characters or with a NUL byte;
    more than 50 variables at once; O(memory) outside 6-122880 MiB, O(cpu) outside 1-16384 units; and on Fargate
    a task-level cpu/memory pair that is not in Fargate's table (cpu 256 - memory 512, 1024 or 2048; 512 - 1024
    to 4096 by 1024; 1024 - 2048 to 8192 by 1024; 2048 - 4096 to 16384 by 1024; 4096 - 8192 to 30720 by 1024;
    8192 - 16384 to 61440 by 4096; 16384 - 32768 to 122880 by 8192).
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.ecs_service
  - sre.incident.wait
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  container:
    description:
      - Container to change; required when the task definition has more than one container. Letters, digits, - and
        _ (at most 255).
    type: str
  environment:
    description:
      - 'Environment variables to set (added or replaced), for example C({"CACHE_ENABLED": "false"}).'
      - At most 50; names letters, digits and _ (not starting with a digit, at most 255), values text or numbers of
        at most 4096 characters. An unquoted C(false) or C(true) is refused - quote it.
    type: dict
    default: {}
  remove_environment:
    description: Environment variable names to remove (at most 50, named as in O(environment)).
    type: list
    elements: str
    default: []
  memory:
    description:
      - Container hard memory limit in MiB. When the task definition sets a task-level memory smaller than
        this, the task-level memory is raised to match. From 6 to 122880; on Fargate the task's cpu/memory pair
        must be one Fargate runs.
    type: int
  cpu:
    description:
      - Container CPU units. When the task definition sets a task-level cpu smaller than this, the task-level cpu
        is raised to match. From 1 to 16384.
    type: int
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Returns the planned change and diff; registers and deploys nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Disable cache temporarily (CACHE_ENABLED=false, requires deployment)
  sre.incident.ecs_taskdef_deploy:
    region: us-east-1
    cluster: sample-service-prod
    service: sample-service
    environment:
      CACHE_ENABLED: "false"
    wait_timeout: 900
"""

RETURN = r"""
previous_task_definition:
  description: ARN the service ran before.
  returned: always
  type: str
task_definition:
  description: ARN the service runs afterwards (the new revision; in check mode the current one).
  returned: always
  type: str
deployment_id:
  description: Id of the deployment that rolled the new revision out.
  returned: when deployed
  type: str
changes:
  description: The container changes, as name -> [before, after].
  returned: always
  type: dict
waited:
  description: Seconds waited for the deployment.
  returned: when deployed with wait
  type: float
"""

from ansible_collections.sre.incident.plugins.module_utils.aws import call, client, fail
from ansible_collections.sre.incident.plugins.module_utils.common import WAIT_ARGUMENT_SPEC
from ansible_collections.sre.incident.plugins.module_utils.ecs import (
    BACKEND,
    ECS_LIMITS,
    describe_service,
    describe_task_definition,
    ecs_service_argument_spec,
    register_copy,
    start_deployment,
    wait_for_deployment,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import Each, Mapping, StrictModule, Text, Whole

ENV_NAME = Text(r"[A-Za-z_][A-Za-z0-9_]*", "letters, digits and _ (not starting with a digit), at most 255 characters",
                max_length=255)
ENV_VALUE = Text(None, "text or a number of at most 4096 characters", max_length=4096, empty_ok=True, numbers_ok=True)
LIMITS = dict(ECS_LIMITS, container=Text(r"[A-Za-z0-9_-]{1,255}", "letters, digits, - and _ (at most 255)", max_length=255),
              environment=Mapping(ENV_NAME, ENV_VALUE, max_items=50), remove_environment=Each(ENV_NAME, max_items=50),
              memory=Whole(6, 122880, floor="ECS's minimum of"), cpu=Whole(1, 16384))

# Fargate's valid task cpu -> memory (MiB) table.
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}


def task_level_changes(task_definition, params):
    """Task-level cpu/memory raised to what one container now needs."""
    task_level = {}
    for field in ("memory", "cpu"):
        wanted, current = params[field], task_definition.get(field)
        if wanted and current and int(current) < wanted:
            task_level[field] = wanted
    return task_level


def fargate_problem(task_definition, service, task_level):
    """Why the resulting task-level cpu/memory cannot run on Fargate, or None."""
    fargate = "FARGATE" in (task_definition.get("requiresCompatibilities") or []) or service.get("launchType") == "FARGATE"
    if not fargate or not task_level:
        return None
    cpu = int(task_level.get("cpu", task_definition.get("cpu") or 0))
    memory = int(task_level.get("memory", task_definition.get("memory") or 0))
    if cpu not in FARGATE_MEMORY:
        return "task cpu %d is not a Fargate size (%s)" % (cpu, ", ".join(str(size) for size in FARGATE_MEMORY))
    if memory not in FARGATE_MEMORY[cpu]:
        sizes = FARGATE_MEMORY[cpu]
        return "Fargate task cpu %d runs with memory %s MiB, not %d" % (
            cpu, ", ".join(str(size) for size in sizes) if len(sizes) <= 4 else "%d to %d by %d" % (
                sizes[0], sizes[-1], sizes[1] - sizes[0]), memory)
    return None


def pick_container(module, definitions, name):
    if name:
        for definition in definitions:
            if definition["name"] == name:
                return definition
        module.fail_json(msg="%s: container %s not in the task definition (it has: %s)" % (
            BACKEND, name, ", ".join(d["name"] for d in definitions)))
    if len(definitions) != 1:
        module.fail_json(msg="%s: the task definition has %d containers (%s); set container" % (
            BACKEND, len(definitions), ", ".join(d["name"] for d in definitions)))
    return definitions[0]


def apply_changes(container, environment, remove, memory, cpu=None):
    """Change container in place; return {field: [before, after]} for what really changed."""
    changes = {}
    current = {item["name"]: item["value"] for item in container.get("environment", [])}
    wanted = dict(current)
    wanted.update({name: str(value) for name, value in environment.items()})
    for name in remove:
        wanted.pop(name, None)
    for name in sorted(set(current) | set(wanted)):
        if current.get(name) != wanted.get(name):
            changes["env.%s" % name] = [current.get(name), wanted.get(name)]
    if changes:
        container["environment"] = [{"name": name, "value": value} for name, value in sorted(wanted.items())]
    for field, value in (("memory", memory), ("cpu", cpu)):
        if value is not None and container.get(field) != value:
            changes[field] = [container.get(field), value]
            container[field] = value
    return changes


def main():
    module = StrictModule(
        argument_spec=ecs_service_argument_spec(
            container=dict(type="str"),
            environment=dict(type="dict", default={}),
            remove_environment=dict(type="list", elements="str", default=[]),
            memory=dict(type="int"),
            cpu=dict(type="int"),
            **WAIT_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
        limits=LIMITS,
    )
    params = module.params
    api = client(module, "ecs")
    service = describe_service(module, api, params["cluster"], params["service"])
    current_arn = service["taskDefinition"]
    task_definition, tags = describe_task_definition(module, api, current_arn)
    definitions = task_definition["containerDefinitions"]
    container = pick_container(module, definitions, params["container"])
    changes = apply_changes(container, params["environment"], params["remove_environment"], params["memory"], params["cpu"])
    result = dict(changed=bool(changes), previous_task_definition=current_arn, task_definition=current_arn,
                  changes=changes, diff=dict(before={k: v[0] for k, v in changes.items()},
                                             after={k: v[1] for k, v in changes.items()}))
    if not changes:
        module.exit_json(msg="%s already runs %s with these settings; nothing to deploy" % (params["service"], current_arn), **result)
    task_level = task_level_changes(task_definition, params)
    problem = fargate_problem(task_definition, service, task_level)
    if problem:
        module.fail_json(msg="%s: refusing to deploy %s: %s. Nothing was changed." % (BACKEND, params["service"], problem),
                         changed=False, previous_task_definition=current_arn, task_definition=current_arn, changes=changes)
    if module.check_mode:
        module.exit_json(msg="would register a new revision of %s with %s and deploy it to %s" % (
            task_definition["family"], ", ".join("%s=%s" % (k, v[1]) for k, v in changes.items()), params["service"]), **result)

    registered = call(module, BACKEND, api, "register_task_definition",
                      **register_copy(task_definition, tags, definitions, **task_level))["taskDefinition"]
    new_arn = registered["taskDefinitionArn"]
    previous_ids = {d.get("id") for d in service.get("deployments", [])}
    try:
        service, deployment_id = start_deployment(api, params["cluster"], params["service"], previous_ids,
                                                  taskDefinition=new_arn)
    except Exception as exc:  # noqa: BLE001 - undo the registration so a failed run leaves nothing behind
        try:
            api.deregister_task_definition(taskDefinition=new_arn)
        except Exception:  # noqa: BLE001 - best effort; the message below names the revision either way
            pass
        fail(module, exc, BACKEND, "update_service", registered_then_deregistered=new_arn)
    result.update(task_definition=new_arn, deployment_id=deployment_id)
    if not params["wait"]:
        module.exit_json(msg="deployment %s of %s started" % (deployment_id, new_arn), **result)
    _service, waited = wait_for_deployment(module, api, params["cluster"], params["service"], deployment_id,
                                           params["wait_timeout"], params["wait_interval"])
    result["waited"] = waited
    module.exit_json(msg="deployed %s to %s (deployment %s) in %ss" % (new_arn, params["service"], deployment_id, waited), **result)


if __name__ == "__main__":
    main()
