"""Fleet triage: triage.yml over many lab services in one run - one table, each broken service named with its
incident and severity, nothing sent and nothing recorded in --check."""

import re

import pytest

from helpers import clear_sinks, output, run_playbook, sink

EXPECTED = {  # the lab breaks every (N // K)-th service, cycling through these
    "svc-004": ("SEV1", "service_down"),
    "svc-008": ("SEV3", "redis_down"),
    "svc-012": ("SEV2", "db_pool_exhausted"),
    "svc-016": ("SEV3", "memory_leak"),
    "svc-020": ("SEV2", "high_error_rate"),
}


@pytest.fixture
def fleet(healed_lab, lab_control, tmp_path):
    inventory = tmp_path / "fleet"
    lab_control.fleet(20, broken=5, inventory=str(inventory))
    clear_sinks(healed_lab)
    yield inventory
    lab_control.fleet(0)


def test_fleet_triage_prints_one_table_with_each_broken_service(healed_lab, fleet):
    result, seconds = run_playbook("triage.yml", "-i", str(fleet), "--check")

    text = output(result)
    assert result.returncode == 0, text
    rows = {match.group(1): (match.group(2), match.group(3), match.group(4))
            for match in re.finditer(r"^\s+(svc-\d{3})\s+(SEV\d)\s+(\S+)\s+(\S+)\s+", text, re.M)}
    assert len(rows) == 20, text
    for service, (severity, incident) in EXPECTED.items():
        assert rows[service][0] == severity and rows[service][2] == incident, (service, rows[service])
    assert rows["svc-004"][1] == "502"
    healthy = [service for service in rows if service not in EXPECTED]
    assert all(rows[service] == ("SEV4", "200", "none") for service in healthy), rows
    assert text.count("Triage - svc-") == 0, "a fleet gets the table, not a report per service"
    assert sink(healed_lab, "slack") == [] and sink(healed_lab, "pagerduty") == []
    print("fleet of 20 triaged in %.2f s" % seconds)


def test_an_incident_playbook_triages_and_diagnoses_each_service_of_the_run(healed_lab, lab_control, tmp_path):
    """Several services in one incident run: each reads and assesses its own (not the first host's for all)."""
    inventory = tmp_path / "three"
    lab_control.fleet(3, broken=0, inventory=str(inventory))
    lab_control.break_incident("redis_down")
    try:
        result, _seconds = run_playbook("redis_down.yml", "-i", str(inventory), "--check")
    finally:
        lab_control.fleet(0)

    text = output(result)
    assert result.returncode == 0, text
    for service in ("svc-001", "svc-002", "svc-003"):
        assert "Triage - %s: SEV4" % service in text, text
        assert "Redis Cache Down - diagnosis for %s" % service in text, text
    assert "failed=0" in text and text.count("Would take option failover") == 3
