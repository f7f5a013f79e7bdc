#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ecs_service_scale
short_description: Set an ECS service's desired count within a ceiling, or bounce it (scale up, hold, scale back)
version_added: 0.1.0
description:
  - The runbook's "Scale up to force new tasks" (Service Down option 3 - scale 4 to 6, wait 2 minutes, scale back
    to 4) and "Scale up resources" (High Error Rate option 3 - desired count 8).
  - Never sets a desired count above O(max_desired_count); asking for more is refused and nothing changes.
  - Limits no variable can lift, each refused before anything changes - O(desired_count) and
    O(max_desired_count) are at most 500 (the hard cap), and one run scales a service to at most
    max(2 x current desired count, current + 4) tasks (4 -> 8, 0 -> 4, 10 -> 20); a larger step is several
    deliberate runs.
  - Waits until the service runs exactly the desired number of tasks.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.ecs_service
  - sre.incident.wait
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  desired_count:
    description:
      - Desired number of tasks (during the bounce, the count to scale up to). A whole number from 0 to 500 (a
        boolean is refused), and at most max(2 x current, current + 4).
    type: int
    required: true
  max_desired_count:
    description:
      - Ceiling for O(desired_count); the guardrail against scaling a broken service into a bill. From 1 to 500 -
        a larger value is refused, it cannot lift the hard cap.
    type: int
    required: true
  bounce_hold:
    description:
      - When set, bounce - scale to O(desired_count), wait until the tasks run, hold this many seconds, then scale
        back to the count the service had before. Seconds or with a unit (C(2m)); more than 0 and at most 10m.
    type: raw
attributes:
  check_mode:
    support: full
    description: Returns the planned counts; changes nothing.
  diff_mode:
    support: full
    description: Before/after desired count.
"""

EXAMPLES = r"""
- name: Scale up resources
  sre.incident.ecs_service_scale:
    cluster: sample-service-prod
    service: sample-service
    desired_count: 8
    max_desired_count: 12

- name: Scale up to force new tasks, wait 2 minutes, scale back down
  sre.incident.ecs_service_scale:
    cluster: sample-service-prod
    service: sample-service
    desired_count: 6
    max_desired_count: 12
    bounce_hold: 2m
"""

RETURN = r"""
previous_desired_count:
  description: Desired count before.
  returned: always
  type: int
desired_count:
  description: Desired count afterwards (after a bounce, the original count again).
  returned: always
  type: int
bounced:
  description: Whether a bounce ran.
  returned: always
  type: bool
"""

import time

from ansible_collections.sre.incident.plugins.module_utils.aws import call, client
from ansible_collections.sre.incident.plugins.module_utils.common import WAIT_ARGUMENT_SPEC, module_duration
from ansible_collections.sre.incident.plugins.module_utils.ecs import (
    BACKEND,
    ECS_LIMITS,
    describe_service,
    ecs_service_argument_spec,
    wait_for_running,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import Seconds, StrictModule, Whole

# No variable lifts these: a count above HARD_CAP, or a step above max(2 x current, current + STEP), is refused.
HARD_CAP = 500
STEP = 4


def step_limit(current):
    return max(2 * current, current + STEP)


def main():
    module = StrictModule(
        argument_spec=ecs_service_argument_spec(
            desired_count=dict(type="int", required=True),
            max_desired_count=dict(type="int", required=True),
            bounce_hold=dict(type="raw"),
            **WAIT_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
        limits=dict(ECS_LIMITS, desired_count=Whole(0, HARD_CAP), max_desired_count=Whole(1, HARD_CAP),
                    bounce_hold=Seconds(600)),
    )
    params = module.params
    cluster, name, wanted = params["cluster"], params["service"], params["desired_count"]
    if wanted > params["max_desired_count"]:
        module.fail_json(msg="%s: refusing to scale %s to %d tasks: above max_desired_count %d. Nothing was changed." % (
            BACKEND, name, wanted, params["max_desired_count"]), changed=False)
    hold = module_duration(module, "bounce_hold") if params["bounce_hold"] is not None else None
    api = client(module, "ecs")
    service = describe_service(module, api, cluster, name)
    before = service.get("desiredCount")
    if wanted > step_limit(before):
        module.fail_json(msg="%s: refusing to scale %s from %d to %d tasks: one run scales to at most max(2 x %d, %d + %d) "
                             "= %d. Nothing was changed." % (BACKEND, name, before, wanted, before, before, STEP,
                                                             step_limit(before)),
                         changed=False, previous_desired_count=before, desired_count=before, bounced=False)
    final = before if hold is not None else wanted
    result = dict(changed=wanted != before, previous_desired_count=before, desired_count=final, bounced=False,
                  diff=dict(before={"desired_count": before}, after={"desired_count": wanted}))
    if hold is not None and wanted <= before:
        module.fail_json(msg="%s: a bounce scales up: desired_count %d must be above the current %d" % (BACKEND, wanted, before))
    if not result["changed"]:
        module.exit_json(msg="%s already wants %d task(s)" % (name, before), **result)
    if module.check_mode:
        plan = ("would scale %s from %d to %d, hold %ss, then back to %d" % (name, before, wanted, hold, before)
                if hold is not None else "would scale %s from %d to %d" % (name, before, wanted))
        module.exit_json(msg=plan, **result)

    call(module, BACKEND, api, "update_service", cluster=cluster, service=name, desiredCount=wanted)
    if params["wait"] or hold is not None:
        wait_for_running(module, api, cluster, name, wanted, params["wait_timeout"], params["wait_interval"])
    if hold is None:
        module.exit_json(msg="scaled %s from %d to %d" % (name, before, wanted), **result)

    time.sleep(hold)
    call(module, BACKEND, api, "update_service", cluster=cluster, service=name, desiredCount=before)
    if params["wait"]:
        wait_for_running(module, api, cluster, name, before, params["wait_timeout"], params["wait_interval"])
    result.update(bounced=True, diff=dict(before={"desired_count": before}, after={"desired_count": before}))
    module.exit_json(msg="bounced %s: %d -> %d for %ss -> %d" % (name, before, wanted, hold, before), **result)


if __name__ == "__main__":
    main()
