#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: run_concurrently
short_description: Run independent read steps of a runbook diagnosis at the same time
version_added: 0.1.0
description:
  - Runs several modules at once and returns each one's result by id, so a diagnosis that reads
    ElastiCache, Redis, Datadog and CloudWatch Logs takes as long as the slowest read rather than their sum.
  - When the host's modules would run on the controller with the controller's own Python (a local connection and
    C(ansible_python_interpreter) equal to C(ansible_playbook_python), as in this project's inventories, and no
    C(delegate_to), C(become) or C(environment)), steps that use this collection's read modules (the C(*_info),
    C(*_probe), C(*_query) and C(*_search) modules) run in threads right in the task's worker process, which
    loads each client library once and starts no Python process.
  - Each such step's arguments are checked against its module's own argument spec (types, defaults, required
    options, no_log), its answer is masked with its own no_log values, and it is the module's answer without the
    C(invocation) (which would repeat the arguments).
  - Every other step (another module such as C(ansible.builtin.uri), or any step of a host whose modules run
    elsewhere, for example delegated to a host in the VPC) runs as a task would, in its own module process, at the
    same time as the others when pipelining is enabled (the project's ansible.cfg enables it).
  - The same check mode applies to every step, and the collection's C(module_defaults) action groups
    (C(group/sre.incident.aws), ...) apply to the steps.
  - Meant for reads.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.strict_inputs
options:
  steps:
    description: The steps to run (1 to 50; ids letters, digits and _.-).
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Key of this step's result in RV(by_id).
        type: str
        required: true
      name:
        description: What the step does, in the runbook's words.
        type: str
        required: true
      module:
        description:
          - Fully qualified module name, for example C(sre.incident.ecs_service_info) or C(ansible.builtin.uri).
          - The collection's C(module_defaults) groups apply to sre.incident modules; C(module_defaults) set for the
            module's own name apply to any module.
        type: str
        required: true
      args:
        description: The module's arguments.
        type: dict
        default: {}
  max_workers:
    description: Most steps running at the same time (1 to 32).
    type: int
    default: 8
  known_results:
    description:
      - Results of steps already read, by step id (for example read together with the triage's own reads, see
        the P(sre.incident.triage#role) role's C(triage_also_read)). Those steps are not run again; their results,
        failed or not, count as if they had just been read.
    type: dict
    default: {}
  continue_on_failure:
    description:
      - When true, a step that fails does not fail the task - its result in RV(by_id) says what went wrong and its
        id is in RV(failed_steps). A diagnosis goes on with what it could read and lists what is missing.
      - Once the run's deadline (the steps' C(deadline) option) has passed, a failed step fails the task all the
        same - past the run's deadline nothing more is decided.
    type: bool
    default: false
attributes:
  action:
    support: full
    description: An action plugin runs the steps from the controller; this module only holds the documentation.
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Check mode is passed on to every step.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Check Redis cluster status, metrics and logs at the same time
  sre.incident.run_concurrently:
    steps:
      - id: cluster
        name: Check Redis cluster status
        module: sre.incident.elasticache_info
        args:
          replication_group_id: sample-service-redis-prod
      - id: cpu
        name: Check Redis metrics
        module: sre.incident.datadog_metric_query
        args:
          query: "avg:aws.elasticache.cpuutilization{*}"
  register: diagnosis

- name: Use one step's result
  ansible.builtin.debug:
    var: diagnosis.by_id.cluster.primary_cluster_id
"""

RETURN = r"""
by_id:
  description: Each step's full module result, by step id.
  returned: always
  type: dict
steps:
  description: One line per step - id, name, failed, seconds, msg - in the order given.
  returned: always
  type: list
  elements: dict
failed_steps:
  description: Ids of the steps that failed, in the order given.
  returned: always
  type: list
  elements: str
msg:
  description: The steps and their durations, or what failed.
  returned: always
  type: str
"""

from ansible_collections.sre.incident.plugins.module_utils.validate import Each, Fields, StrictModule, Text, Whole

STEP_ID = Text(r"[A-Za-z0-9_.-]{1,100}", "letters, digits and _.- (at most 100)", max_length=100)
ARGUMENT_SPEC = dict(
    steps=dict(type="list", elements="dict", required=True, options=dict(
        id=dict(type="str", required=True),
        name=dict(type="str", required=True),
        module=dict(type="str", required=True),
        args=dict(type="dict", default={}),
    )),
    max_workers=dict(type="int", default=8),
    known_results=dict(type="dict", default={}),
    continue_on_failure=dict(type="bool", default=False),
)
LIMITS = dict(steps=Each(Fields(id=STEP_ID, name=Text(None, "text of at most 255 characters", max_length=255),
                                module=Text(r"[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+", "a fully qualified module name", max_length=255)),
                         max_items=50, min_items=1),
              max_workers=Whole(1, 32))


def main():
    # The action plugin (plugins/action/run_concurrently.py) runs the steps and checks the same spec and limits.
    module = StrictModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, limits=LIMITS)
    module.fail_json(msg="sre.incident.run_concurrently runs as an action plugin on the controller; this module process "
                         "cannot run its steps (is the collection's action plugin shadowed?)")


if __name__ == "__main__":
    main()
