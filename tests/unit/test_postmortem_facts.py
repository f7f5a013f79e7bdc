"""The timeline and post-mortem content built from an incident record and its recorded steps."""

from ansible_collections.sre.incident.plugins.filter.postmortem_facts import postmortem_facts

RECORD = {
    "id": "sample-service-20251119T103000Z", "service": "sample-service", "incident_type": "db_pool_exhausted",
    "severity": "SEV2", "severity_reason": "more than half of the users affected (60.0 %)", "status": "resolved",
    "detected_at": "2025-11-19T10:30:00Z", "acknowledged_at": "2025-11-19T10:32:00Z", "identified_at": "2025-11-19T10:35:00Z",
    "resolved_at": "2025-11-19T11:00:00Z", "created_by": "jane",
    "details": {"root_cause": "long-running queries held every connection", "affected_percent": 60.0,
                "impact": "Order creation failing for ~60 % of users",
                "triage": {"suspected": [{"reason": "no free database pool connection (available 0)"}],
                           "severity": {"description": "Major functionality impaired", "response_time": "30 minutes",
                                        "example": "Orders failing, some users affected"}},
                "findings": ["Connections: 26 of max_connections 30 (86.7 %)"]},
    "runs": [{"playbook": "Triage", "by": "jane"}, {"playbook": "Database Connection Pool Exhausted", "by": "jane"}],
    "actions": [{"at": "2025-11-19T10:40:00Z", "option": "kill_long_running", "detail": ["ended 7 of 7 matching session(s)"],
                 "verified": True}],
    "notifications": [{"kind": "initial"}, {"kind": "resolution"}],
    "escalations": [{"at": "2025-11-19T10:33:00Z", "rule": "database_issue", "description": "Database issues",
                     "contact_info": {"role": "Database Admin"}}],
}
TIMELINE = [
    {"event": "task", "ts": "2025-11-19T10:39:58Z", "end": "2025-11-19T10:40:00Z", "task": "Kill queries running longer than 5.0 min",
     "action": "sre.incident.postgres_terminate", "status": "changed", "changed": True, "summary": "ended 7 of 7 matching session(s)"},
    {"event": "task", "ts": "2025-11-19T10:41:00Z", "end": "2025-11-19T10:41:01Z", "task": "Post the update",
     "action": "sre.incident.slack_message", "status": "changed", "changed": True, "summary": "posted"},
    {"event": "task", "ts": "2025-11-19T10:31:00Z", "end": "2025-11-19T10:31:01Z", "task": "Kill idle connections",
     "action": "sre.incident.postgres_terminate", "status": "changed", "changed": True, "check_mode": True, "summary": "would end"},
]
ITEMS = {"common": ["Review in next team meeting"], "db_pool_exhausted": ["Review slow queries and add indexes"]}


def test_timeline_in_the_runbook_format_in_order():
    review = postmortem_facts(RECORD, TIMELINE, ITEMS)
    assert review["timeline"] == [
        "10:30 - Alert triggered: no free database pool connection (available 0) (SEV2)",
        "10:32 - On-call acknowledged (jane) and began investigation",
        "10:33 - Escalated to Database Admin: Database issues",
        "10:35 - Identified long-running queries held every connection",
        "10:40 - Kill queries running longer than 5.0 min - ended 7 of 7 matching session(s)",
        "10:40 - Service recovering after option kill_long_running, verification passed",
        "11:00 - Service fully recovered, incident closed",
    ]


def test_every_section_has_content_from_the_record():
    review = postmortem_facts(RECORD, TIMELINE, ITEMS)
    assert review["summary"][0].startswith("Database Connection Pool Exhausted on sample-service: long-running queries")
    assert "after 30 minutes" in review["summary"][0]
    assert "Users affected: 60.0 % at triage (SEV2 - Major functionality impaired)" in review["impact"]
    assert "Detected 2025-11-19 10:30 UTC by Triage" in review["detection"]
    assert "Acknowledged 2025-11-19 10:32 UTC (2 minutes after detection)" in review["detection"]
    assert "Worked: option kill_long_running - verified" in review["response"]
    assert "Didn't: no step failed" in review["response"]
    assert review["resolution"][0] == "2025-11-19 10:40: option kill_long_running - ended 7 of 7 matching session(s)"
    assert review["prevention"] == ["Review slow queries and add indexes", "Review in next team meeting"]
    for name in ("summary", "impact", "root_cause", "detection", "response", "resolution", "prevention"):
        assert review[name] and not any("None" in line for line in review[name]), name


def test_failed_steps_are_what_did_not_work():
    failed = TIMELINE + [{"event": "task", "end": "2025-11-19T10:45:00Z", "task": "Check the connection pool availability metric",
                          "status": "failed", "summary": "latest 0.0 is below 1.0"}]
    review = postmortem_facts(dict(RECORD, status="mitigated", resolved_at=None), failed, ITEMS)
    assert "Didn't: Check the connection pool availability metric - latest 0.0 is below 1.0" in review["response"]
    assert "10:45 - FAILED - Check the connection pool availability metric: latest 0.0 is below 1.0" in review["timeline"]
    assert "still mitigated after" in review["summary"][0]
