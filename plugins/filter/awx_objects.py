# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: awx_objects
short_description: The AWX job templates, surveys and workflows of each incident type
version_added: 0.2.0
description:
  - Given the incident registry (C(query('sre.incident.incident_types') | first)), returns what
    C(awx/configure_controller.yml) applies for every incident type; O(kind) says which.
  - C(job_templates) gives three per type, C(<name> - diagnose) (check mode), C(<name> - fix) and
    C(<name> - verify) (C(--tags verify)); C(surveys) gives one per type, by type name; C(workflows) gives
    diagnose, approval, fix and verify per type.
author:
  - sre.incident maintainers (@sre-incident)
positional: kind
options:
  _input:
    description: The incident registry, type name to entry.
    type: dict
    required: true
  kind:
    description: What to build.
    type: str
    choices: [job_templates, surveys, workflows]
    required: true
  organization:
    description: The organization the workflow nodes' job templates belong to (workflows only).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: The incident job templates
  ansible.builtin.debug:
    msg: "{{ query('sre.incident.incident_types') | first | sre.incident.awx_objects('job_templates') | map(attribute='name') }}"
"""

RETURN = r"""
_value:
  description: A list of job templates or workflows (awx/vars/job_templates.yml's and workflows.yml's shape), or
    a dict of type name to survey (surveys.yml's shape).
  type: raw
"""

from ansible.errors import AnsibleFilterError

SURVEY_DESCRIPTION = "Force a runbook option or change a threshold; leave a question empty to keep the inventory's value."
NOTIFY_CREDENTIALS = ["slack", "pagerduty"]


def _job_templates(name, entry):
    awx, runbook = entry["awx"], "Runbook %s: " % entry["title"]
    reads = list(awx["credentials"])
    fix_credentials = reads[:2] + NOTIFY_CREDENTIALS + reads[2:]
    common = {"playbook": entry["playbook"]}
    return [
        dict(common, name="%s - diagnose" % awx["name"], kind="diagnose", job_type="check", credentials=reads, survey=name,
             description=runbook + awx.get("diagnose", "diagnosis and the plan (--check); changes nothing") + "."),
        dict(common, name="%s - fix" % awx["name"], kind="fix", job_type="run", credentials=fix_credentials, survey=name,
             description=runbook + awx["fix"] + "."),
        dict(common, name="%s - verify" % awx["name"], kind="verify", job_type="run", job_tags="verify", credentials=reads,
             description=runbook + "the verification checks on the current state, recorded in the incident."),
    ]


def _workflow(name, entry, organization):
    awx = entry["awx"]
    org = {"name": organization}

    def job(step):
        return {"name": "%s - %s" % (awx["name"], step), "type": "job_template", "organization": org}

    return {
        "name": "%s - diagnose, approve, fix, verify" % awx["name"],
        "description": "Runbook %s: the --check diagnosis, a human approval, the fix, the verification." % entry["title"],
        "survey": name,
        "workflow_nodes": [
            {"identifier": "diagnose", "unified_job_template": job("diagnose"), "related": {"success_nodes": [{"identifier": "approve"}]}},
            {"identifier": "approve", "unified_job_template": {
                "name": "Approve the %s fix" % awx["name"], "type": "workflow_approval", "timeout": 3600,
                "description": "Read the diagnose job's plan (option, reason, what it would change), then approve or deny."},
             "related": {"success_nodes": [{"identifier": "fix"}]}},
            {"identifier": "fix", "unified_job_template": job("fix"), "related": {"success_nodes": [{"identifier": "verify"}]}},
            {"identifier": "verify", "unified_job_template": job("verify")},
        ],
    }


def awx_objects(types, kind, organization=""):
    if not isinstance(types, dict):
        raise AnsibleFilterError("awx_objects needs the incident registry (a dict), got %s" % type(types).__name__)
    try:
        if kind == "job_templates":
            return [template for name, entry in types.items() for template in _job_templates(name, entry)]
        if kind == "surveys":
            return {name: {"name": entry["title"], "description": SURVEY_DESCRIPTION, "spec": entry["survey"]}
                    for name, entry in types.items()}
        if kind == "workflows":
            return [_workflow(name, entry, organization) for name, entry in types.items()]
    except KeyError as missing:
        raise AnsibleFilterError("awx_objects: an incident type lacks %s (playbooks/vars/incident_types.yml)" % missing)
    raise AnsibleFilterError("awx_objects: kind must be job_templates, surveys or workflows, got %r" % (kind,))


class FilterModule:
    def filters(self):
        return {"awx_objects": awx_objects}
