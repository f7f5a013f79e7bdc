#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: pagerduty_event
short_description: Trigger, acknowledge or resolve a PagerDuty alert (Events API v2)
version_added: 0.1.0
description:
  - The runbook's escalation steps ("page the on-call", "acknowledge", "resolve when verified") as one
    PagerDuty Events API v2 event (C(POST /v2/enqueue)).
  - Events with the same O(dedup_key) belong to the same alert - trigger with a key (or keep the one RV(dedup_key)
    returns), then acknowledge and resolve with it.
  - Every run sends an event and reports RV(ignore:changed=true). PagerDuty itself treats repeated events with one
    key as the same alert.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.pagerduty
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  event_action:
    description: What to do with the alert.
    type: str
    choices: [trigger, acknowledge, resolve]
    default: trigger
  dedup_key:
    description:
      - Key of the alert (at most 255 characters). Required to acknowledge or resolve.
      - On trigger, PagerDuty makes one up when it is not given; it is returned as RV(dedup_key).
    type: str
  summary:
    description:
      - One-line description of the problem (at most 1024 characters), shown in the alert and the page.
      - Required to trigger.
    type: str
  source:
    description:
      - The affected system, for example the service or host name. Required to trigger.
    type: str
  severity:
    description:
      - How bad it is. Required to trigger.
    type: str
    choices: [critical, error, warning, info]
  component:
    description: Part of the source that is affected, for example C(redis).
    type: str
  group:
    description: Logical grouping, for example C(sample-service-prod).
    type: str
  event_class:
    description: Class or type of the event, for example C(cache down). Sent as PagerDuty's C(class).
    type: str
    aliases: [class]
  custom_details:
    description: Free-form details shown with the alert, for example the diagnosis' findings.
    type: dict
attributes:
  check_mode:
    support: full
    description: Sends nothing and returns in RV(request) the event it would send (without the routing key).
  diff_mode:
    support: none
    description: An event has no before.
"""

EXAMPLES = r"""
- name: Page the on-call
  sre.incident.pagerduty_event:
    event_action: trigger
    dedup_key: "sample-service/redis_down/{{ incident_id }}"
    summary: "SEV-2 Redis cache down on sample-service: hit rate 0 %"
    source: sample-service
    severity: error
    component: redis
    group: sample-service-prod
    event_class: cache down
    custom_details: "{{ redis_diagnosis.findings }}"
    api_url: "{{ pagerduty_api_url }}"
    routing_key: "{{ vault_pagerduty_routing_key }}"

- name: Resolve once verified (routing key from PAGERDUTY_ROUTING_KEY)
  sre.incident.pagerduty_event:
    event_action: resolve
    dedup_key: "sample-service/redis_down/{{ incident_id }}"
"""

RETURN = r"""
dedup_key:
  description: Key of the alert - the one given or the one PagerDuty made up. Null in check mode without O(dedup_key).
  returned: always
  type: str
status:
  description: PagerDuty's status (C(success)); null in check mode.
  returned: always
  type: str
message:
  description: PagerDuty's message (C(Event processed)), or what check mode did.
  returned: always
  type: str
request:
  description: The event sent (in check mode - that would be sent), without the routing key.
  returned: always
  type: dict
  sample: {"event_action": "trigger", "dedup_key": "sample-service/redis_down/42",
           "payload": {"summary": "SEV-2 Redis cache down", "source": "sample-service", "severity": "error"}}
"""

from ansible_collections.sre.incident.plugins.module_utils.pagerduty import (
    check_settings,
    enqueue,
    pagerduty_argument_spec,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule

PAYLOAD_OPTIONS = ("summary", "source", "severity", "component", "group", "event_class", "custom_details")


def build_event(params):
    event = {"event_action": params["event_action"]}
    if params["dedup_key"]:
        event["dedup_key"] = params["dedup_key"]
    if params["event_action"] == "trigger":
        payload = {"summary": params["summary"], "source": params["source"], "severity": params["severity"]}
        for option, field in (("component", "component"), ("group", "group"), ("event_class", "class"),
                              ("custom_details", "custom_details")):
            if params[option] not in (None, "", {}):
                payload[field] = params[option]
        event["payload"] = payload
    return event


def main():
    module = StrictModule(
        argument_spec=pagerduty_argument_spec(
            event_action=dict(type="str", choices=["trigger", "acknowledge", "resolve"], default="trigger"),
            dedup_key=dict(type="str", no_log=False),
            summary=dict(type="str"),
            source=dict(type="str"),
            severity=dict(type="str", choices=["critical", "error", "warning", "info"]),
            component=dict(type="str"),
            group=dict(type="str"),
            event_class=dict(type="str", aliases=["class"]),
            custom_details=dict(type="dict"),
        ),
        required_if=[
            ("event_action", "trigger", ("summary", "source", "severity")),
            ("event_action", "acknowledge", ("dedup_key",)),
            ("event_action", "resolve", ("dedup_key",)),
        ],
        supports_check_mode=True,
    )
    params = module.params
    if params["dedup_key"] is not None and not 0 < len(params["dedup_key"]) <= 255:
        module.fail_json(msg="option dedup_key: must be 1 to 255 characters")
    if params["summary"] is not None and len(params["summary"]) > 1024:
        module.fail_json(msg="option summary: %d characters; PagerDuty allows at most 1024" % len(params["summary"]))
    if params["event_action"] != "trigger":
        ignored = [option for option in PAYLOAD_OPTIONS if params[option] is not None]
        if ignored:
            module.warn("%s ignored: only a trigger carries a payload" % ", ".join(ignored))
    check_settings(module)

    event = build_event(params)
    if module.check_mode:
        module.exit_json(changed=True, dedup_key=params["dedup_key"], status=None,
                         message="check mode: event not sent", request=event)
    answer = enqueue(module, event)
    module.exit_json(changed=True, dedup_key=answer.get("dedup_key") or params["dedup_key"],
                     status=answer.get("status"), message=answer.get("message"), request=event)


if __name__ == "__main__":
    main()
