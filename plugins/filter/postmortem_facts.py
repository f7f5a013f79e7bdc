# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import time

from ansible_collections.sre.incident.plugins.module_utils.common import to_epoch
from ansible_collections.sre.incident.plugins.plugin_utils.incident_types import incident_types

DOCUMENTATION = r"""
name: postmortem_facts
short_description: The content of an incident's timeline and post-mortem, from its record and recorded timeline
version_added: 0.1.0
description:
  - Builds the runbook's "Timeline Documentation" lines (C(10:30 - Alert triggered...)) from the record (detection,
    acknowledgement, identification, escalations, resolution) and the recorded steps that changed or failed.
  - Fills the post-mortem template's seven sections - Summary, Impact, Root Cause, Detection, Response,
    Resolution, Prevention - with what the record and the timeline hold.
author:
  - sre.incident maintainers (@sre-incident)
positional: timeline, follow_up_items
options:
  _input:
    description: The incident record.
    type: dict
    required: true
  timeline:
    description: The recorded timeline events (timeline.jsonl, one dict per line).
    type: list
    elements: dict
    required: true
  follow_up_items:
    description: Incident type (and C(common)) to follow-up items.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Build the review
  ansible.builtin.set_fact:
    review: "{{ incident | sre.incident.postmortem_facts(timeline_events, incident_follow_up_items) }}"
"""

RETURN = r"""
_value:
  description: timeline (list of C(HH:MM - text) lines), title, and the sections summary, impact, root_cause,
    detection, response, resolution (lists of lines) and prevention (follow-up items).
  type: dict
"""

COMMS_ACTIONS = ("slack_message", "slack_channel", "pagerduty_event", "datadog_event", "incident_record", "debug")


def _title(incident_type, otherwise):
    return incident_types().get(incident_type, {}).get("title", otherwise)


def _hhmm(epoch):
    return time.strftime("%H:%M", time.gmtime(epoch))


def _day(epoch):
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch)) if epoch is not None else "not yet"


def _short(action):
    return str(action or "").rsplit(".", 1)[-1]


def _events(timeline):
    return [event for event in timeline or [] if isinstance(event, dict) and not event.get("check_mode")]


def _timeline(record, timeline):
    details = record.get("details") or {}
    entries = []

    def add(when, text):
        epoch = to_epoch(when)
        if epoch is not None:
            entries.append((epoch, text))

    triage = details.get("triage") or {}
    suspected = (triage.get("suspected") or [{}])[0].get("reason") if triage.get("suspected") else None
    add(record.get("detected_at"), "Alert triggered: %s (%s)" % (
        suspected or record.get("severity_reason") or _title(record.get("incident_type"), "incident"), record.get("severity")))
    runs = record.get("runs") or []
    add(record.get("acknowledged_at"), "On-call acknowledged (%s) and began investigation" % (
        record.get("created_by") or (runs[0].get("by") if runs else "on-call")))
    if details.get("root_cause"):
        add(record.get("identified_at") or details.get("identified_at"), "Identified %s" % details["root_cause"])
    for event in _events(timeline):
        action = _short(event.get("action"))
        if event.get("status") == "failed":
            add(event.get("end") or event.get("ts"), "FAILED - %s: %s" % (event.get("task"), event.get("summary") or ""))
        elif event.get("changed") and action not in COMMS_ACTIONS:
            add(event.get("end") or event.get("ts"), "%s%s" % (event.get("task"), (" - %s" % event["summary"]) if event.get("summary") else ""))
    for item in record.get("escalations") or []:
        add(item.get("at"), "Escalated to %s: %s" % ((item.get("contact_info") or {}).get("role") or item.get("contact"), item.get("description")))
    for action in record.get("actions") or []:
        if action.get("verified"):
            add(action.get("at"), "Service recovering after option %s, verification passed" % action.get("option"))
    entries.sort(key=lambda entry: entry[0])
    resolved = to_epoch(record.get("resolved_at"))
    if resolved is not None:  # the closing line, even when the record's whole seconds put it before the last step
        entries.append((max([resolved] + [epoch for epoch, _text in entries]), "Service fully recovered, incident closed"))
    return ["%s - %s" % (_hhmm(epoch), " ".join(str(text).split())) for epoch, text in entries]


def postmortem_facts(record, timeline, follow_up_items=None):
    record = record or {}
    details = record.get("details") or {}
    events = _events(timeline)
    detected, acknowledged, resolved = (to_epoch(record.get(key)) for key in ("detected_at", "acknowledged_at", "resolved_at"))
    end = resolved if resolved is not None else time.time()
    duration = int(round((end - detected) / 60.0)) if detected is not None else None
    title = _title(record.get("incident_type"), record.get("incident_type") or "Incident")
    actions = record.get("actions") or []
    failed = [event for event in events if event.get("status") == "failed"]
    fixes = [event for event in events if event.get("changed") and _short(event.get("action")) not in COMMS_ACTIONS]
    sent = [item.get("kind") for item in record.get("notifications") or []]
    root_cause = details.get("root_cause") or "not identified by the automation - see the findings"
    state = "resolved %s after %s minutes" % (_day(resolved), duration) if resolved is not None else (
        "still %s after %s minutes" % (record.get("status"), duration))
    triage = details.get("triage") or {}
    severity = triage.get("severity") or {}

    items = list((follow_up_items or {}).get(record.get("incident_type")) or []) + list((follow_up_items or {}).get("common") or [])
    runs = record.get("runs") or []
    first_run = runs[0].get("playbook") if runs else "the automation"
    ack_delay = ""
    if acknowledged is not None and detected is not None:
        ack_delay = " (%d minutes after detection)" % round((acknowledged - detected) / 60.0)
    response_time = severity.get("response_time") or details.get("response_time") or "n/a"
    escalated = ["Escalated to %s (%s)" % ((item.get("contact_info") or {}).get("role") or item.get("contact"), item.get("description"))
                 for item in record.get("escalations") or []]
    resolution = ["%s: option %s%s" % (action.get("at", "")[:16].replace("T", " "), action.get("option"),
                                       (" - " + "; ".join(action.get("detail") or [])) if action.get("detail") else "")
                  for action in actions] or ["No fix was applied by the automation"]
    return {
        "title": "%s - %s (%s)" % (title, record.get("service"), record.get("id")),
        "timeline": _timeline(record, timeline),
        "summary": ["%s on %s: %s. %s, detected %s, %s." % (
            title, record.get("service"), root_cause, record.get("severity"), _day(detected), state)],
        "impact": [
            "Users affected: %s %% at triage (%s - %s)" % (
                details.get("affected_percent", "unknown"), record.get("severity"),
                severity.get("description") or record.get("severity_reason") or ""),
            "Duration: %s minutes (%s to %s)" % (duration, _day(detected), _day(resolved)),
            "Impact at detection: %s" % (details.get("impact") or record.get("severity_reason") or "not measured"),
            "Business impact: %s (the runbook's example for %s)" % (severity.get("example") or "see severity", record.get("severity")),
        ],
        "root_cause": [root_cause] + ["Finding: %s" % line for line in (details.get("findings") or [])[:15]],
        "detection": [
            "Detected %s by %s" % (_day(detected), first_run),
            "Acknowledged %s%s" % (_day(acknowledged), ack_delay),
            "Response time target for %s: %s" % (record.get("severity"), response_time),
        ],
        "response": (
            ["Worked: option %s - %s" % (action.get("option"), "verified" if action.get("verified") else "not verified")
             for action in actions]
            + ["Worked: %d automated fix step(s) changed the system as planned" % len(fixes)]
            + ["Didn't: %s - %s" % (event.get("task"), event.get("summary")) for event in failed]
            + (["Didn't: no step failed"] if not failed else [])
            + ["Communications sent: %s" % (", ".join(sent) or "none")]
            + escalated
            + ["Runs: %d (%s)" % (len(runs), ", ".join("%s by %s" % (run.get("playbook"), run.get("by")) for run in runs))]
        ),
        "resolution": resolution + ["Status: %s" % record.get("status")],
        "prevention": items,
    }


class FilterModule:
    def filters(self):
        return {"postmortem_facts": postmortem_facts}
