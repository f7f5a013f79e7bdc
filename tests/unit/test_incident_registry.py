"""The incident registry (playbooks/vars/incident_types.yml) is the one list of incident types, and what reads it
follows it: triage, post-mortem titles and follow-ups, the lab, the bench."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from ansible_collections.sre.incident.plugins.filter import postmortem_facts, triage_plan
from ansible_collections.sre.incident.plugins.plugin_utils import incident_types as registry

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TYPES = registry.incident_types()
FIELDS = {"title", "playbook", "roles", "symptom", "follow_up", "alert_names", "alert_keywords", "awx", "survey"}
# Where a list of the incident types may stand besides the registry: what documents, tests or emulates them.
MAY_LIST = ("playbooks/vars/incident_types.yml", "docs/", "tests/", "lab/", "changelogs/", "CHANGELOG.md", "README.md")
STILL_LISTING = set()


@pytest.mark.parametrize("name", list(TYPES))
def test_every_entry_is_complete_and_points_at_what_exists(name):
    entry = TYPES[name]
    assert set(entry) == FIELDS, name
    assert entry["playbook"] == "playbooks/%s.yml" % name and os.path.exists(os.path.join(REPO, entry["playbook"]))
    roles = entry["roles"]
    for role in (roles["diagnose"], roles["remediate"], roles["verify"]["name"]):
        assert role.startswith("sre.incident.") and os.path.isdir(os.path.join(REPO, "roles", role.split(".")[-1])), role
    assert os.path.exists(os.path.join(REPO, "roles", roles["verify"]["name"].split(".")[-1], "tasks", roles["verify"]["tasks_from"] + ".yml"))
    with open(os.path.join(REPO, "roles", roles["diagnose"].split(".")[-1], "vars", "main.yml"), encoding="utf-8") as handle:
        assert "%s_read_steps:" % roles["diagnose"].split(".")[-1] in handle.read()  # what the frame has the triage read
    rule = entry["symptom"]
    assert len([test for test in registry.TESTS if test in rule]) == 1, rule
    assert rule["reason"].format(value=1.5, limit=2)
    first = entry["survey"][0]
    assert first["variable"].endswith("_remediation_option") and first["type"] in ("multiplechoice", "multiselect")
    assert first["choices"][-1] == "none" and not first["required"], name
    assert set(entry["awx"]) <= {"name", "credentials", "fix", "diagnose"} and {"aws", "datadog"} <= set(entry["awx"]["credentials"])


def test_the_lab_breaks_every_registered_type_and_no_other():
    from lab import config

    assert set(config.INCIDENTS) == set(TYPES)


def test_triage_suggests_a_registered_type_from_its_rule_alone(monkeypatch):
    toy = dict(TYPES, health_flapping={
        "title": "Health Flapping", "playbook": "playbooks/health_flapping.yml", "follow_up": [],
        "symptom": {"signal": "flaps", "above": 2, "reason": "health flapped {value} times (above {limit})"}})
    monkeypatch.setattr(triage_plan, "incident_types", lambda: toy)
    monkeypatch.setattr(postmortem_facts, "incident_types", lambda: toy)
    result = triage_plan.triage_plan({"health_status": 200, "metrics": {"flaps": 3.0, "cache_hit_rate": 0.9}})
    assert result["incident"] == "health_flapping" and result["playbook"] == "playbooks/health_flapping.yml"
    assert result["suspected"][0]["reason"] == "health flapped 3.0 times (above 2)"
    assert triage_plan.triage_plan({"health_status": 200, "metrics": {"flaps": 2.0}})["incident"] == "none"
    assert postmortem_facts._title("health_flapping", "incident") == "Health Flapping"


def test_a_threshold_named_by_the_rule_comes_from_the_filter_option():
    hit = triage_plan.triage_plan({"health_status": 200, "metrics": {"cache_hit_rate": 0.3}}, hit_rate_min=0.5)
    assert hit["incident"] == "redis_down" and hit["suspected"][0]["reason"] == "cache hit rate 0.3 (below 0.5)"


def test_no_file_outside_the_registry_lists_the_incident_types():
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True, text=True).stdout.split()
    word = re.compile(r"(?<![A-Za-z0-9_])(%s)(?![A-Za-z0-9_])" % "|".join(map(re.escape, TYPES)))
    # Naming all the types, or all but one, is listing them; a role that serves a few of them is not.
    enough = max(2, len(TYPES) - 1)
    listing = set()
    for path in files:
        if path.startswith(MAY_LIST) or not os.path.isfile(os.path.join(REPO, path)):
            continue
        try:
            with open(os.path.join(REPO, path), encoding="utf-8") as handle:
                text = handle.read()
        except UnicodeDecodeError:
            continue
        if len(set(word.findall(text))) >= enough:
            listing.add(path)
    assert listing == STILL_LISTING


def test_the_rulebook_filter_hands_the_registry_to_each_event():
    import runpy

    event_filter = runpy.run_path(os.path.join(REPO, "extensions", "eda", "plugins", "event_filter", "incident_types.py"))
    table = event_filter["main"]({"payload": {}})["sre_incident_types"]
    assert table["types"] == list(TYPES)
    assert [name for name, _words in table["keywords"]] == list(TYPES)  # the registry's order: first match wins
    for name, entry in TYPES.items():
        assert all(table["names"][alert] == name for alert in entry["alert_names"])
        assert dict(table["keywords"])[name] == [word.lower() for word in entry["alert_keywords"]]
