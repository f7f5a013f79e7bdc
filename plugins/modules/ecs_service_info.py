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
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  revisions:
    description: How many of the task family's newest revisions to list (1 to 100).
    type: int
    default: 5
  stopped_tasks:
    description: How many of the newest stopped tasks to return in RV(stopped_tasks) (0 to 100).
    type: int
    default: 10
  scan_stopped:
    description:
      - How many stopped tasks (newest first; ECS keeps them about an hour) to examine for the OOM verdict, so that a
        crash loop's many stops do not hide older OOM kills. From 0 to 1000.
    type: int
    default: 300
  events:
    description: How many of the newest service events to return (0 to 100).
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

from ansible_collections.sre.incident.plugins.module_utils.steps import ecs_service_info as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
