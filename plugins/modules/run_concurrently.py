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
  - Each step runs exactly as a task would (same check mode, interpreter and no_log handling), and the
    collection's C(module_defaults) action groups (C(group/sre.incident.aws), ...) apply to the steps.
  - Meant for reads. Steps run concurrently only when pipelining is enabled (the project's ansible.cfg enables
    it); otherwise they run one after another.
  - This is an action plugin; it runs on the controller.
author:
  - sre.incident maintainers (@sre-incident)
options:
  steps:
    description: The steps to run.
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
    description: Most steps running at the same time.
    type: int
    default: 4
attributes:
  action:
    support: full
    description: Runs on the controller as an action plugin.
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
msg:
  description: The steps and their durations, or what failed.
  returned: always
  type: str
"""
