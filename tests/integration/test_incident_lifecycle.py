"""The incident around the fix, end to end on the lab: triage -> incident playbook -> post-mortem.

Asserted on what the lab's Slack and PagerDuty sinks and the Datadog emulator received, on the incident record
and its timeline in the store, and on the post-mortem written.
"""

import json
import re
import time
from pathlib import Path

import psycopg
import pytest

from helpers import adhoc, clear_sinks, incident_dirs, lab_secrets, output, run_playbook, sink

ONCALL = {"SRE_INCIDENT_USER": "jane-oncall"}
HEADINGS = ["Summary", "Impact", "Root Cause", "Detection", "Response", "Resolution", "Prevention"]


@pytest.fixture
def store(healed_lab):
    from lab import config

    clear_sinks(healed_lab)
    return Path(config.state_dir()) / "incidents"


def posts(status):
    return [r["body"] for r in sink(status, "slack") if r.get("method") == "chat.postMessage"]


def timeline(path):
    return [json.loads(line) for line in (path / "timeline.jsonl").read_text().splitlines()]


def test_triage_fix_and_postmortem_tell_the_story(healed_lab, lab_control, store):
    lab_control.break_incident("db_pool_exhausted")

    triage, _seconds = run_playbook("triage.yml", env=ONCALL)
    text = output(triage)
    assert triage.returncode == 0, text
    assert "Triage - sample-service: SEV2" in text and "Suspected incident: db_pool_exhausted" in text
    [incident] = incident_dirs(store)
    record = json.loads((incident / "record.json").read_text())
    assert record["severity"] == "SEV2" and record["status"] == "investigating" and record["acknowledged_at"]

    slack = sink(healed_lab, "slack")
    created = [r["body"] for r in slack if r.get("method") == "conversations.create"]
    stamp = re.sub(r"\D", "", record["detected_at"])  # 2026-11-27T18:36:44Z -> 20261127183644
    assert [body["name"] for body in created] == ["incident-%s-%s" % (stamp[:8], stamp[8:14])]
    texts = [body["text"] for body in posts(healed_lab)]
    assert texts[0] == "Investigating - jane-oncall"
    assert "INCIDENT DETECTED - sample-service" in texts[1] and "Severity: SEV2" in texts[1]
    assert "Detected: %s UTC" % record["detected_at"][:16].replace("T", " ") in texts[1]
    assert "Investigating: jane-oncall" in texts[1]
    acks = [r["body"] for r in sink(healed_lab, "pagerduty") if r["body"].get("event_action") == "acknowledge"]
    assert len(acks) == 1 and acks[0]["dedup_key"] == "sample-service"

    fix, _seconds = run_playbook("db_pool_exhausted.yml", env=ONCALL)
    text = output(fix)
    assert fix.returncode == 0, text
    assert incident_dirs(store) == [incident], "the fix run continues the triage's incident"
    record = json.loads((incident / "record.json").read_text())
    assert record["status"] == "resolved" and record["resolved_at"] and record["actions"][0]["option"] == "kill_idle+kill_long_running"
    texts = [body["text"] for body in posts(healed_lab)]
    assert len(texts) == 4, texts
    update, resolution = texts[2], texts[3]
    assert "INCIDENT UPDATE - sample-service" in update and "Severity: SEV2" in update
    assert "Applied fix: option kill_idle+kill_long_running" in update and "Done: Kill idle connections" in update
    assert "INCIDENT RESOLVED - sample-service" in resolution and "Severity: SEV2" in resolution
    assert "Resolved: %s UTC" % record["resolved_at"][:16].replace("T", " ") in resolution
    assert re.search(r"Duration: \d+ minutes", resolution)
    assert "Review slow queries and add indexes" in resolution
    assert len([r for r in sink(healed_lab, "pagerduty") if r["body"].get("event_action") == "acknowledge"]) == 1
    events = sink(healed_lab, "datadog")
    assert [e["title"] for e in events] == ["%s: kill_idle+kill_long_running on sample-service" % record["id"]]

    steps = timeline(incident)
    starts = [step["ts"] for step in steps if step.get("event") == "task"]
    assert starts == sorted(starts) and len({step["run_id"] for step in steps}) == 2
    tasks = [step["task"] for step in steps if step.get("event") == "task"]
    for name in ("Quick checks - service health, error rate in the last 5 minutes, active users",
                 "Acknowledge PagerDuty alert", "Post the initial notification",
                 "Kill idle connections older than 3 s", "Kill queries running longer than 3 s",
                 "Post the update", "Post the resolution"):
        assert any(task.endswith(name) for task in tasks), name

    review, _seconds = run_playbook("postmortem.yml")
    assert review.returncode == 0, output(review)
    document = (incident / "postmortem.md").read_text()
    sections = re.split(r"^## \d\. ", document, flags=re.M)[1:]
    assert [section.splitlines()[0] for section in sections] == HEADINGS
    for heading, section in zip(HEADINGS, sections):
        body = [line for line in section.splitlines()[1:] if line.startswith("- ")]
        assert body, heading
        assert "None" not in section.split("## Timeline")[0] and "{{" not in section and "(no data" not in section, heading
    assert "Database Connection Pool Exhausted on sample-service" in document
    assert "Users affected: " in document and "Duration: " in document
    assert "option kill_idle+kill_long_running - ended" in document
    assert "- [ ] Review slow queries and add indexes" in document
    rendered = (incident / "timeline.md").read_text()
    assert re.search(r"^\d\d:\d\d - Alert triggered: no free database pool connection", rendered, re.M)
    assert re.search(r"^\d\d:\d\d - On-call acknowledged \(jane-oncall\)", rendered, re.M)
    assert re.search(r"^\d\d:\d\d - Service fully recovered, incident closed", rendered, re.M)
    everything = text + output(triage) + output(review) + "".join(p.read_text() for p in incident.iterdir())
    assert not [secret for secret in lab_secrets(healed_lab) if secret in everything]


def test_check_mode_prints_the_messages_and_sends_and_writes_nothing(healed_lab, lab_control, store):
    lab_control.break_incident("db_pool_exhausted")

    triage, _seconds = run_playbook("triage.yml", "--check", env=ONCALL)
    fix, _seconds = run_playbook("db_pool_exhausted.yml", "--check", env=ONCALL)

    assert triage.returncode == 0, output(triage)
    assert fix.returncode == 0, output(fix)
    for result in (triage, fix):
        text = output(result)
        assert "Would post: Investigating - jane-oncall" in text and "INCIDENT DETECTED - sample-service" in text
        assert "Would acknowledge PagerDuty alert sample-service" in text
    assert sink(healed_lab, "slack") == [] and sink(healed_lab, "pagerduty") == [] and sink(healed_lab, "datadog") == []
    assert incident_dirs(store) == []


def test_a_sev1_open_for_31_minutes_notifies_the_engineering_manager_once(healed_lab, store):
    detected = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 31 * 60))
    result, text = adhoc("incident_record", {"store": str(store), "service": "sample-service", "incident_type": "redis_down",
                                             "severity": "SEV1", "severity_reason": "health endpoint answers 502",
                                             "detected_at": detected, "by": "pagerduty"})
    assert result.returncode == 0, text

    for _run in range(2):
        run, _seconds = run_playbook("triage.yml", env=ONCALL)
        assert run.returncode == 0, output(run)

    mentions = [body for body in posts(healed_lab) if "@eng-manager" in body["text"]]
    assert len(mentions) == 1, posts(healed_lab)
    assert "SEV1 unresolved for more than 30 minutes" in mentions[0]["text"]
    [incident] = incident_dirs(store)
    record = json.loads((incident / "record.json").read_text())
    assert [item["rule"] for item in record["escalations"]] == ["sev1_over_30m"]
    assert record["severity"] == "SEV1", "a healthy triage does not lower the incident's severity"
    assert any("Escalate - mention the contact" in step.get("task", "") for step in timeline(incident))


def test_unreachable_slack_and_pagerduty_never_block_the_fix(healed_lab, lab_control, store):
    lab_control.break_incident("db_pool_exhausted")

    result, seconds = run_playbook("db_pool_exhausted.yml", "-e", "slack_api_url=http://127.0.0.1:9/api",
                                   "-e", "pagerduty_api_url=http://127.0.0.1:9", env=ONCALL)

    text = output(result)
    assert result.returncode == 0, text
    assert "WARNING: notification failed" in text and "127.0.0.1:9" in text
    assert "verified after option kill_idle+kill_long_running" in text
    with psycopg.connect(healed_lab["postgres"]["app_dsn"], connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    [incident] = incident_dirs(store)
    assert json.loads((incident / "record.json").read_text())["status"] == "resolved"
    assert seconds < 120
