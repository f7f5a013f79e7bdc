# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import time

DOCUMENTATION = r"""
name: task_timeout
short_description: Seconds a task may run - what is left of the run's deadline, plus a grace
version_added: 0.2.0
description:
  - The incident frame's play keyword C(timeout), templated for every task (docs/development.md "Time bounds").
  - Before the deadline is set (the first steps of a run) it is 0, no limit; past the deadline it is the grace.
author:
  - sre.incident maintainers (@sre-incident)
positional: grace
options:
  _input:
    description: The run's deadline, epoch seconds (C(incident_deadline_at)), or null before it is set.
    type: float
    required: true
  grace:
    description: Seconds a task may run past the deadline before the engine ends it.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: A play whose tasks end by the run's deadline
  hosts: all
  timeout: "{{ incident_deadline_at | default(none) | sre.incident.task_timeout(30) }}"
  tasks: []
"""

RETURN = r"""
_value:
  description: Whole seconds, 0 for no limit.
  type: int
"""


def task_timeout(deadline_at, grace=30, now=None):
    """Whole seconds from now to deadline_at (never below 0) plus grace; 0 while there is no deadline."""
    if deadline_at is None:
        return 0
    now = time.time() if now is None else now
    return max(int(float(deadline_at) - now), 0) + int(grace)


class FilterModule:
    def filters(self):
        return {"task_timeout": task_timeout}
