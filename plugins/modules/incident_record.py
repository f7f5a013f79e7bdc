#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: incident_record
short_description: Open, find and update an incident's record where a later run finds it
version_added: 0.1.0
description:
  - Keeps one record per incident in a directory store - C(<store>/<incident_id>/record.json) - next to the
    incident's C(timeline.jsonl) (appended by the P(sre.incident.timeline#callback) callback) and, later, its
    C(timeline.md) and C(postmortem.md).
  - An incident id is C(<service>-<YYYYmmddTHHMMSSZ>) of its detection time in UTC, for example
    C(sample-service-20261127T181500Z).
  - Without O(incident_id), the newest record of O(service) whose status is not C(resolved) is used; when there is
    none, a new incident is opened (O(open=true)) or nothing happens (O(open=false), RV(found=false)).
  - The record is updated, never overwritten - C(detected_at), C(acknowledged_at), C(resolved_at), C(created_by) and
    C(created_at) keep their first value; lists only grow; every severity change is appended to
    C(severity_history) and every status change to C(status_history).
  - Every read-modify-write holds an exclusive lock on C(<store>/.lock), so concurrent runs (CLI, AWX, event rules)
    never lose each other's updates; the record is replaced atomically (temporary file, fsync, rename). A record
    that is not valid JSON makes the module fail naming the file, and it is never overwritten.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.strict_inputs
options:
  store:
    description:
      - Directory of the incident store, created (mode 0750) on the first write.
      - It must be a place every later run reaches - a shared volume for AWX.
    type: path
    required: true
  service:
    description: The service the incident is about (the inventory host of the service under care).
    type: str
    required: true
  incident_id:
    description:
      - Address this incident instead of the service's open one.
      - When it does not exist yet and O(open=true), it is created; its form must then be C(<service>-<YYYYmmddTHHMMSSZ>)
        and its time stamp is the detection time (O(detected_at) is not used).
    type: str
  open:
    description:
      - Open a new incident when the service has none open (and O(incident_id) is not given, or does not exist).
      - With V(false), a missing incident changes nothing and returns RV(found=false).
    type: bool
    default: true
  incident_type:
    description: What kind of incident this is, for example C(db_pool_exhausted), C(redis_down) or C(triage).
    type: str
  status:
    description: The incident's status. A new incident starts as C(investigating) unless this says otherwise.
    type: str
    choices: [investigating, identified, mitigated, resolved]
  severity:
    description: The severity (the runbook's "Severity Levels"). A change is appended to C(severity_history).
    type: str
    choices: [SEV1, SEV2, SEV3, SEV4]
  severity_only_up:
    description:
      - Only ever raise the severity (C(SEV3) to C(SEV2)), never lower it - what a triage in the middle of a
        recovering incident should do. A lower O(severity) is then ignored with its O(severity_reason).
    type: bool
    default: false
  severity_reason:
    description: Why this severity - stored as C(severity_reason) and in the C(severity_history) entry.
    type: str
  detected_at:
    description:
      - When the incident was detected (ISO 8601, epoch seconds, or C(now)), between 1970 and 2100. Default - now.
      - Used only when the incident is created, or when its record has no C(detected_at); an existing value is never
        replaced.
    type: raw
  by:
    description:
      - Who makes this change - stored as C(created_by), C(updated_by) and in history and list entries.
      - Default - the environment variable E(SRE_INCIDENT_USER), else the operating system user running the module.
        Modules do not see AWX's job variables; a playbook run by AWX passes its C(awx_user_name) (see EXAMPLES).
    type: str
  fields:
    description:
      - Merged into the record's C(details), recursively for dictionaries (impact, diagnosis summary, suspected
        cause, ...). Other values replace the previous value; V(null) never erases one.
    type: dict
  append:
    description:
      - List name to the items appended to that list of the record (C(actions), C(runs), C(notifications),
        C(escalations), or a new lower_case name). A single item is appended as a one-item list.
      - Lists only grow. Dictionary items get C(at) (now) and C(by) when they have none; an item with an C(id) that is
        already in the list is not appended again, so a re-run adds nothing twice.
    type: dict
  set_once:
    description:
      - Top-level keys set only when the record has no value for them yet, for example C(acknowledged_at) or
        C(escalated_at) - how "acknowledged once" and "escalated once" stay idempotent.
      - Keys ending in C(_at) are times (ISO 8601, epoch seconds or C(now)) and are stored as ISO UTC.
      - Keys with their own option (C(status), C(severity), C(resolved_at), lists, ...) are refused.
    type: dict
  resolved:
    description:
      - Resolve the incident - status C(resolved) and C(resolved_at) now - unless it already is.
    type: bool
    default: false
  lock_timeout:
    description: Seconds to wait for the store's lock before failing; more than 0 and at most 600.
    type: float
    default: 10
attributes:
  action:
    support: full
    description: An action plugin keeps the record on the controller, in the incident directory the
      P(sre.incident.timeline#callback) callback writes, whatever connection the host uses.
  check_mode:
    support: full
    description: Returns the record as it would be and C(changed) as it would be; writes nothing, and returns
      RV(timeline_path=null) so that nothing is recorded during C(--check) runs.
  diff_mode:
    support: full
    description: Before/after of the record's top-level fields that change.
notes:
  - Times in the record are ISO 8601 UTC strings with whole seconds, for example C(2026-11-27T18:15:00Z).
  - The store must be on a local file system (or one with working C(flock)).
seealso:
  - plugin: sre.incident.timeline
    plugin_type: callback
"""

EXAMPLES = r"""
- name: Open the incident (or find the open one) and acknowledge it once
  sre.incident.incident_record:
    store: "{{ incident_store }}"
    service: "{{ inventory_hostname }}"
    incident_type: db_pool_exhausted
    severity: SEV2
    severity_reason: orders failing for 30 % of users
    detected_at: "{{ alert_started_at | default(omit) }}"
    by: "{{ awx_user_name | default(omit) }}"
    set_once:
      acknowledged_at: now
  register: incident

- name: Record the diagnosis and the action taken
  sre.incident.incident_record:
    store: "{{ incident_store }}"
    service: "{{ inventory_hostname }}"
    status: identified
    fields:
      diagnosis:
        summary: "{{ postgres_diagnosis.summary }}"
        suspected_cause: "{{ postgres_diagnosis.suspected_cause }}"
    append:
      actions:
        - id: "terminate-idle-{{ incident.incident_id }}"
          what: Killed idle connections older than 10 minutes
          pids: "{{ terminated.pids }}"

- name: Close it
  sre.incident.incident_record:
    store: "{{ incident_store }}"
    service: "{{ inventory_hostname }}"
    open: false
    resolved: true

- name: Read an incident for the post-mortem
  sre.incident.incident_record:
    store: "{{ incident_store }}"
    service: sample-service
    incident_id: sample-service-20261127T181500Z
    open: false
  register: incident
"""

RETURN = r"""
incident_id:
  description: The incident's id (null when none was found and none opened).
  returned: always
  type: str
  sample: sample-service-20261127T181500Z
found:
  description: Whether an existing record was found.
  returned: always
  type: bool
created:
  description: Whether this call opened the incident (in check mode - would open it).
  returned: always
  type: bool
record:
  description:
    - The full record after this call (in check mode, as it would be); null when none was found and none opened.
    - Times are ISO 8601 UTC strings (C(2026-11-27T18:15:00Z)) or null.
  returned: always
  type: dict
  contains:
    id:
      description: The incident id.
      type: str
    service:
      description: The service.
      type: str
    incident_type:
      description: Kind of incident (C(db_pool_exhausted), C(redis_down), C(triage), ...).
      type: str
    status:
      description: investigating, identified, mitigated or resolved.
      type: str
    severity:
      description: SEV1 to SEV4, or null before it is assessed.
      type: str
    severity_reason:
      description: Why the current severity.
      type: str
    detected_at:
      description: Detection time; never replaced.
      type: str
    acknowledged_at:
      description: When it was acknowledged (set once, with O(set_once)).
      type: str
    resolved_at:
      description: When it was resolved; never replaced.
      type: str
    created_by:
      description: Who opened it.
      type: str
    created_at:
      description: When the record was created.
      type: str
    updated_at:
      description: Last change.
      type: str
    updated_by:
      description: Who made the last change.
      type: str
    details:
      description: Free-form facts merged in with O(fields) (impact, diagnosis, suspected cause, ...).
      type: dict
    runs:
      description: Playbook runs recorded against the incident.
      type: list
      elements: dict
    actions:
      description: Actions taken (each with C(at) and C(by)).
      type: list
      elements: dict
    notifications:
      description: Messages sent (Slack, PagerDuty, ...).
      type: list
      elements: dict
    escalations:
      description: Escalations made.
      type: list
      elements: dict
    severity_history:
      description: Every severity change - C(at), C(from), C(to), C(reason), C(by).
      type: list
      elements: dict
    status_history:
      description: Every status change - C(at), C(from), C(to), C(by).
      type: list
      elements: dict
  sample:
    id: sample-service-20261127T181500Z
    service: sample-service
    incident_type: db_pool_exhausted
    status: investigating
    severity: SEV2
    severity_reason: orders failing for 30 % of users
    detected_at: "2026-11-27T18:15:00Z"
    acknowledged_at: "2026-11-27T18:17:02Z"
    resolved_at: null
    created_by: oncall
    created_at: "2026-11-27T18:17:02Z"
    updated_at: "2026-11-27T18:17:02Z"
    updated_by: oncall
    details: {}
    runs: []
    actions: []
    notifications: []
    escalations: []
    severity_history: [{at: "2026-11-27T18:17:02Z", from: null, to: SEV2, reason: orders failing for 30 % of users, by: oncall}]
    status_history: [{at: "2026-11-27T18:17:02Z", from: null, to: investigating, by: oncall}]
path:
  description: The record's file, C(<store>/<incident_id>/record.json) (null when there is no incident).
  returned: always
  type: str
incident_dir:
  description: The incident's directory (null when there is no incident).
  returned: always
  type: str
timeline_path:
  description:
    - The incident's C(timeline.jsonl); the timeline callback appends the run's steps there once a task returns it.
    - Null in check mode and when there is no incident, so that nothing is recorded.
  returned: always
  type: str
changed_fields:
  description: Top-level fields of the record that changed (or would change).
  returned: always
  type: list
  elements: str
"""

from ansible_collections.sre.incident.plugins.module_utils.incident_record import ARGUMENT_SPEC, LIMITS, record
from ansible_collections.sre.incident.plugins.module_utils.incident_store import IncidentStoreError
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    module = StrictModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, limits=LIMITS)
    try:
        result = record(module.params, module.check_mode)
    except IncidentStoreError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
