#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: datadog_event
short_description: Post an event to the Datadog event stream
version_added: 0.1.0
description:
  - Marks an incident's milestones (declared, mitigated, resolved) on the Datadog event stream, where they show
    next to the metrics on dashboards. One C(EventsApi.create_event) call (C(POST /api/v1/events)).
  - Every run posts an event and reports RV(ignore:changed=true); use O(aggregation_key) to group an incident's
    events in Datadog.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.datadog
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  title:
    description: Event title (at most 100 characters).
    type: str
    required: true
  text:
    description:
      - Event body (at most 4000 characters). Markdown when wrapped in C(%%% \n) ... C(\n %%%).
    type: str
    required: true
  tags:
    description: Tags, for example C(service:sample-service), C(incident:42).
    type: list
    elements: str
    default: []
  alert_type:
    description: Kind of event.
    type: str
    choices: [info, success, warning, error]
    default: info
  aggregation_key:
    description: Groups events with the same key in Datadog (at most 100 characters), for example the incident id.
    type: str
  source_type_name:
    description: Source of the event as Datadog knows it, for example C(ansible).
    type: str
attributes:
  check_mode:
    support: full
    description: Sends nothing and returns in RV(request) the event it would create.
  diff_mode:
    support: none
    description: An event has no before.
"""

EXAMPLES = r"""
- name: Mark the incident on the Datadog event stream
  sre.incident.datadog_event:
    title: "SEV-2 Redis cache down - sample-service"
    text: "Failover to the replica started by the redis_down playbook."
    tags: ["service:sample-service", "incident:{{ incident_id }}", "runbook:redis_down"]
    alert_type: warning
    aggregation_key: "incident-{{ incident_id }}"
    source_type_name: ansible
  register: dd_event
"""

RETURN = r"""
id:
  description: Id of the created event; null in check mode.
  returned: always
  type: int
url:
  description: Link to the event in Datadog; null in check mode.
  returned: always
  type: str
event:
  description: The event as Datadog answered it (id, url, title, text, tags, alert_type, date_happened, ...).
  returned: success, not in check mode
  type: dict
request:
  description: The event sent (in check mode - that would be sent).
  returned: always
  type: dict
  sample: {"title": "SEV-2 Redis cache down", "text": "Failover started", "tags": ["service:sample-service"],
           "alert_type": "warning", "aggregation_key": "incident-42"}
"""

import json

from ansible_collections.sre.incident.plugins.module_utils.datadog import (
    api_client,
    datadog_argument_spec,
    describe_error,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import Each, StrictModule, Text

LIMITS = {"title": 100, "text": 4000, "aggregation_key": 100}


def build_request(params):
    request = {"title": params["title"], "text": params["text"], "tags": list(params["tags"]),
               "alert_type": params["alert_type"]}
    for option in ("aggregation_key", "source_type_name"):
        if params[option]:
            request[option] = params[option]
    return request


def api_errors(exc):
    """Datadog's own reasons from an error answer ({"errors": [...]}), if any."""
    try:
        body = json.loads(getattr(exc, "body", None) or "")
    except (TypeError, ValueError):
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    return "; ".join(str(error) for error in errors) if isinstance(errors, list) else ""


def main():
    module = StrictModule(
        argument_spec=datadog_argument_spec(
            title=dict(type="str", required=True),
            text=dict(type="str", required=True),
            tags=dict(type="list", elements="str", default=[]),
            alert_type=dict(type="str", choices=["info", "success", "warning", "error"], default="info"),
            aggregation_key=dict(type="str", no_log=False),
            source_type_name=dict(type="str"),
        ),
        supports_check_mode=True,
        limits=dict(tags=Each(Text(None, "text of at most 200 characters", max_length=200), max_items=100)),
    )
    params = module.params
    if not params["title"].strip():
        module.fail_json(msg="option title: must not be empty")
    for option, limit in LIMITS.items():
        if params[option] and len(params[option]) > limit:
            module.fail_json(msg="option %s: %d characters; Datadog allows at most %d"
                             % (option, len(params[option]), limit))
    request = build_request(params)
    client, url = api_client(module)
    if module.check_mode:
        module.exit_json(changed=True, id=None, url=None, request=request)

    # Imported here, as datadog_metric_query does with its API: only this module needs the events models.
    from datadog_api_client.v1.api.events_api import EventsApi
    from datadog_api_client.v1.model.event_alert_type import EventAlertType
    from datadog_api_client.v1.model.event_create_request import EventCreateRequest

    body = EventCreateRequest(**dict(request, alert_type=EventAlertType(request["alert_type"])))
    try:
        answer = EventsApi(client).create_event(body=body).to_dict()
    except Exception as exc:  # noqa: BLE001 - becomes one readable line
        message = describe_error(exc, url, "create_event")
        reasons = api_errors(exc)
        module.fail_json(msg="%s: %s" % (message, reasons) if reasons else message)
    event = answer.get("event") or {}
    module.exit_json(changed=True, id=event.get("id"), url=event.get("url"), event=event, request=request)


if __name__ == "__main__":
    main()
