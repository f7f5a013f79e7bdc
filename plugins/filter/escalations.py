# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import time

from ansible_collections.sre.incident.plugins.module_utils.common import to_epoch

DOCUMENTATION = r"""
name: escalations
short_description: The runbook's escalation rules that fire for an incident record and have not fired yet
version_added: 0.1.0
description:
  - Evaluates each rule of O(rules) against the incident record; a rule fires when every condition it names holds -
    C(severities) (the record's severity is one of them), C(open_minutes) (unresolved for longer than that since
    C(detected_at)), C(incident_types) (the record's incident_type is one of them), C(flag) (that key of O(flags)
    is true).
  - A rule whose id is already in the record's C(escalations) list is never returned again, so each contact is
    notified once per incident.
author:
  - sre.incident maintainers (@sre-incident)
positional: rules, contacts
options:
  _input:
    description: The incident record (incident_record's C(record)).
    type: dict
    required: true
  rules:
    description: List of rules - C(id), C(description), C(contact) and the conditions above.
    type: list
    elements: dict
    required: true
  contacts:
    description: Contact id to a dict (C(role) and how to reach them); copied into each fired rule.
    type: dict
    required: true
  flags:
    description: Named facts about the incident (security_suspected, multiple_services, data_integrity_concern).
    type: dict
    default: {}
  now:
    description: Epoch seconds to evaluate at (default now).
    type: float
"""

EXAMPLES = r"""
- name: Evaluate the escalation rules
  ansible.builtin.set_fact:
    incident_escalate: "{{ incident_current | sre.incident.escalations(incident_escalation_rules, incident_escalation_contacts) }}"
"""

RETURN = r"""
_value:
  description: The rules that fire now and have not fired before - rule, description, contact (id), contact_info,
    reason, open_minutes.
  type: list
  elements: dict
"""


def open_minutes(record, now):
    """Minutes since detection while unresolved; None when resolved or never detected."""
    detected = to_epoch(record.get("detected_at"))
    if detected is None or record.get("status") == "resolved" or record.get("resolved_at"):
        return None
    return (now - detected) / 60.0


def _fires(rule, record, minutes, flags):
    reasons = []
    if rule.get("severities"):
        if record.get("severity") not in rule["severities"]:
            return None
        reasons.append(str(record.get("severity")))
    if rule.get("open_minutes") is not None:
        if minutes is None or minutes <= float(rule["open_minutes"]):
            return None
        reasons.append("unresolved for %d min (> %s)" % (minutes, rule["open_minutes"]))
    if rule.get("incident_types"):
        if record.get("incident_type") not in rule["incident_types"]:
            return None
        reasons.append("incident type %s" % record.get("incident_type"))
    if rule.get("flag"):
        if not (flags or {}).get(rule["flag"]):
            return None
        reasons.append(rule["flag"].replace("_", " "))
    return ", ".join(reasons) if reasons else None  # a rule without conditions never fires


def escalations(record, rules, contacts, flags=None, now=None):
    record = record or {}
    now = time.time() if now is None else float(now)
    minutes = open_minutes(record, now)
    done = {item.get("rule") for item in record.get("escalations") or [] if isinstance(item, dict)}
    fired = []
    for rule in rules or []:
        if rule.get("id") in done:
            continue
        reason = _fires(rule, record, minutes, flags)
        if reason is None:
            continue
        fired.append({"rule": rule["id"], "description": rule.get("description", rule["id"]), "contact": rule.get("contact"),
                      "contact_info": dict((contacts or {}).get(rule.get("contact")) or {}), "reason": reason,
                      "open_minutes": None if minutes is None else round(minutes, 1)})
    return fired


class FilterModule:
    def filters(self):
        return {"escalations": escalations}
