"""The runbook's escalation rules against an incident record."""

from ansible_collections.sre.incident.plugins.filter.escalations import escalations

NOW = 1_800_000_000.0
RULES = [
    {"id": "sev1_over_30m", "description": "SEV1 > 30 min", "severities": ["SEV1"], "open_minutes": 30, "contact": "engineering_manager"},
    {"id": "sev2_over_1h", "description": "SEV2 > 1 h", "severities": ["SEV2"], "open_minutes": 60, "contact": "engineering_manager"},
    {"id": "unresolved_over_1h", "description": "> 1 h with no resolution", "open_minutes": 60, "contact": "secondary_oncall"},
    {"id": "database", "description": "Database issues", "incident_types": ["db_pool_exhausted"], "contact": "dba"},
    {"id": "security", "description": "Security incident suspected", "flag": "security_suspected", "contact": "security"},
]
CONTACTS = {"engineering_manager": {"role": "Engineering Manager", "slack": "@eng-manager"}, "dba": {"role": "Database Admin"},
            "secondary_oncall": {"role": "Secondary On-Call"}, "security": {"role": "Security Team"}}


def record(severity="SEV1", minutes=31, incident_type="redis_down", **extra):
    data = {"severity": severity, "incident_type": incident_type, "status": "investigating",
            "detected_at": NOW - minutes * 60, "escalations": []}
    data.update(extra)
    return data


def fired(rec, **kwargs):
    return [item["rule"] for item in escalations(rec, RULES, CONTACTS, now=NOW, **kwargs)]


def test_sev1_after_30_minutes_reaches_the_engineering_manager():
    result = escalations(record(minutes=31), RULES, CONTACTS, now=NOW)
    assert [item["rule"] for item in result] == ["sev1_over_30m"]
    assert result[0]["contact_info"]["slack"] == "@eng-manager" and result[0]["open_minutes"] == 31.0


def test_boundaries_are_strictly_more_than():
    assert fired(record(minutes=30)) == []
    assert fired(record(severity="SEV2", minutes=60)) == []
    assert fired(record(severity="SEV2", minutes=61)) == ["sev2_over_1h", "unresolved_over_1h"]


def test_already_escalated_rules_do_not_fire_again():
    rec = record(minutes=45, escalations=[{"rule": "sev1_over_30m", "at": "2027-01-15T08:00:00Z"}])
    assert fired(rec) == []


def test_resolved_incidents_do_not_escalate_on_time():
    assert fired(record(minutes=120, status="resolved")) == []


def test_database_and_flag_rules():
    assert fired(record(severity="SEV3", minutes=1, incident_type="db_pool_exhausted")) == ["database"]
    assert fired(record(severity="SEV3", minutes=1), flags={"security_suspected": True}) == ["security"]
    assert fired(record(severity="SEV3", minutes=1), flags={"security_suspected": False}) == []


def test_iso_timestamps_are_read():
    rec = record()
    rec["detected_at"] = "2027-01-15T08:00:00Z"
    now = 1_800_000_000  # 2027-01-15T08:00:00Z
    assert [i["rule"] for i in escalations(rec, RULES, CONTACTS, now=now + 31 * 60)] == ["sev1_over_30m"]
