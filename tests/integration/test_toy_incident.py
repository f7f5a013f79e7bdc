"""A sixth incident type added the way docs/adding-an-incident.md says, in a scratch copy of the repository: its
registry entry, its two roles and its playbook, nothing else. Triage then suggests it, its playbook runs --check
(nothing changes) and for real (the lab's journal shows the rollback and the service is healthy again) on the lab, the post-mortem titles it, and
the AWX configuration offers its job templates, survey and workflow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml
from lab import config

from helpers import BIN, REPO, ansible_env, incident_dirs, output

ENTRY = """
  health_flapping:
    title: Health Flapping
    playbook: playbooks/health_flapping.yml
    roles: {diagnose: sre.incident.health_flapping_diagnose, remediate: sre.incident.health_flapping_remediate}
    symptom: {signal: health_status, unhealthy: true, reason: "health endpoint {value} (flapping?)"}
    follow_up: [Find what makes the health check flap]
    alert_names: [HealthFlapping]
    alert_keywords: [flapping]
    awx:
      name: Health Flapping
      credentials: [aws, datadog]
      fix: diagnosis, rollback, messages
    survey:
      - question_name: Remediation option
        question_description: rollback = the revision that last ran stable, none = change nothing.
        variable: health_flapping_remediation_option
        type: multiplechoice
        choices: [rollback, none]
        required: false
"""

DIAGNOSE = """---
- name: Probe the health endpoint
  sre.incident.http_probe:
    urls: {health: "{{ health_url }}"}
  register: health_flapping_probe

- name: Say what the probe saw and which option fits
  ansible.builtin.set_fact:
    health_flapping_diagnose_result:
      suspected_cause: "{{ 'health endpoint unhealthy' if health_flapping_probe.unhealthy else 'healthy' }}"
      findings: ["health endpoint answered {{ health_flapping_probe.endpoints.health.status }}"]
      option: "{{ 'rollback' if health_flapping_probe.unhealthy else 'none' }}"
"""

REMEDIATE = """---
- name: Roll back to the revision that last ran stable
  sre.incident.ecs_service_rollback:
    cluster: "{{ ecs_cluster }}"
    service: "{{ ecs_service }}"
    wait_timeout: 120
    wait_interval: 1
  register: health_flapping_rollback
  when: (health_flapping_remediation_option or health_flapping_diagnose_result.option) == 'rollback'

- name: Keep the outcome
  ansible.builtin.set_fact:
    health_flapping_remediate_result:
      option: "{{ health_flapping_remediation_option or health_flapping_diagnose_result.option }}"
      changed: "{{ health_flapping_rollback.changed | default(false) }}"
      detail: ["{{ health_flapping_rollback.msg | default('nothing rolled back') }}"]
"""

PLAYBOOK = """---
# Runbook: "Health Flapping"; the flow is frame/incident.yml's.
#   -e health_flapping_remediation_option=rollback|none   force an option
- name: Health Flapping
  ansible.builtin.import_playbook: frame/play.yml
  vars:
    incident_type: health_flapping
    incident_deadline: "{{ 120 if ansible_check_mode else 600 }}"
    health_flapping_remediation_option: ""
"""

# What the test writes into the scratch copy, and nothing else (the closing note of the registry issue lists them).
TOUCHED = {
    "playbooks/vars/incident_types.yml": None,  # appended: ENTRY
    "roles/health_flapping_diagnose/tasks/main.yml": DIAGNOSE,
    "roles/health_flapping_remediate/tasks/main.yml": REMEDIATE,
    "playbooks/health_flapping.yml": PLAYBOOK,
}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy") / "repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True, text=True).stdout
    for path in filter(None, files.split("\0")):
        source, target = os.path.join(REPO, path), root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if os.path.islink(source):
            os.symlink(os.readlink(source), target)
        elif os.path.isfile(source):
            shutil.copy2(source, target)
    with open(root / "playbooks" / "vars" / "incident_types.yml", "a", encoding="utf-8") as handle:
        handle.write(ENTRY)
    for path, text in TOUCHED.items():
        if text is not None:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
    return root


def run(scratch, *args, timeout=300):
    # The scratch copy's lab inventory reads this lab, not a .lab of its own.
    env = ansible_env(ANSIBLE_CONFIG=str(scratch / "ansible.cfg"), SRE_LAB_DIR=str(config.state_dir().resolve()))
    return subprocess.run([os.path.join(BIN, "ansible-playbook"), *args], cwd=scratch, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_a_sixth_type_from_its_entry_roles_and_playbook_alone(scratch, healed_lab, lab_control):
    lab_control.break_incident("service_down")

    triage = run(scratch, "playbooks/triage.yml", "--check")
    assert triage.returncode == 0, output(triage)
    assert "Symptom: health endpoint answers 502 (flapping?)" in triage.stdout, output(triage)

    started = time.time()
    check = run(scratch, "playbooks/health_flapping.yml", "--check")
    assert check.returncode == 0, output(check)
    assert "health endpoint unhealthy" in check.stdout, output(check)
    assert [entry for entry in lab_control.journal(since=started) if entry["backend"] == "aws"] == []

    started = time.time()
    fix = run(scratch, "playbooks/health_flapping.yml")
    assert fix.returncode == 0, output(fix)
    operations = [entry["operation"] for entry in lab_control.journal(since=started) if entry["backend"] == "aws"]
    assert "UpdateService" in operations, operations
    assert urllib.request.urlopen(healed_lab["health"]["url"], timeout=10).status == 200

    review = run(scratch, "playbooks/postmortem.yml")
    assert review.returncode == 0, output(review)
    [incident] = incident_dirs(config.state_dir() / "incidents")
    document = (incident / "postmortem.md").read_text()
    assert "Health Flapping" in document and "Find what makes the health check flap" in document, document


def test_the_awx_configuration_offers_the_sixth_type(scratch, tmp_path):
    out = tmp_path / "awx.json"
    vars_files = [str(scratch / "awx" / "vars" / ("%s.yml" % name)) for name in ("controller", "surveys", "job_templates", "workflows")]
    play = [{"hosts": "localhost", "gather_facts": False, "vars_files": vars_files, "tasks": [{"ansible.builtin.copy": {
        "dest": str(out), "content": "{{ {'t': awx_job_templates, 's': awx_surveys, 'w': awx_workflows} | to_json }}"}}]}]
    (tmp_path / "render.yml").write_text(yaml.safe_dump(play))
    result = run(scratch, "-i", "localhost,", "-c", "local", "-e", "ansible_python_interpreter=%s" % os.path.join(BIN, "python"),
                 str(tmp_path / "render.yml"))
    assert result.returncode == 0, output(result)
    rendered = json.loads(out.read_text())
    names = [template["name"] for template in rendered["t"]]
    assert {"Health Flapping - diagnose", "Health Flapping - fix", "Health Flapping - verify"} <= set(names)
    assert rendered["s"]["health_flapping"]["spec"][0]["choices"] == ["rollback", "none"]
    assert "Health Flapping - diagnose, approve, fix, verify" in [workflow["name"] for workflow in rendered["w"]]
