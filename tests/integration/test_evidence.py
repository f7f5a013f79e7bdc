"""Fixes decide from corroborated evidence: the automation's own failures are never an outage, a missing read
refuses only the fixes that need it. The real playbooks against the lab; the backends are read back."""

import re
import time

import pytest

from helpers import clear_sinks, lab_secrets, output, run_playbook, sink, snapshot


NOTIFICATIONS = ("slack", "pagerduty", "datadog")


def wrong_password_url(status):
    return re.sub(r"//:[^@]*@", "//:wrong-password@", status["redis"]["url"])


def flat(result):
    return " ".join(output(result).split())


@pytest.mark.parametrize("broken", [False, True], ids=["healthy", "redis_down"])
def test_a_wrong_redis_password_changes_nothing_and_says_so(healed_lab, lab_control, broken):
    if broken:
        lab_control.break_incident("redis_down")
    before = snapshot(healed_lab)
    started = time.time()

    result, _seconds = run_playbook("redis_down.yml", "-e", "redis_password=wrong-password",
                                    "-e", "redis_url=%s" % wrong_password_url(healed_lab))

    text = flat(result)
    assert result.returncode != 0, text
    assert "the automation cannot read Redis" in text
    assert "authentication failed" in text and "fix its credentials" in text
    assert "Taking option" not in text
    assert snapshot(healed_lab) == before
    assert "wrong-password" not in text
    # The witness: no change to the service; a real outage is still told (PagerDuty, Slack), nothing more.
    changes = [entry for entry in lab_control.journal(since=started) if entry["backend"] not in NOTIFICATIONS]
    assert changes == []
    if not broken:
        assert lab_control.journal(since=started) == []


def test_datadog_down_still_fails_over_and_names_what_is_missing(healed_lab, lab_control):
    lab_control.break_incident("redis_down")
    before = snapshot(healed_lab)
    started = time.time()
    lab_control.fault("datadog", "down")
    try:
        result, _seconds = run_playbook("redis_down.yml", "--tags", "diagnose,fix")
    finally:
        lab_control.clear_faults()

    text = flat(result)
    assert "Metrics not read" in text
    assert "Missing evidence: Datadog (cache hit rate, CPU)" in text
    assert "Corroborated by:" in text and "Redis error line(s)" in text, text[-6000:]
    assert "Taking option failover" in text, text[-6000:]
    primary_before = [m[0] for m in before["group"]["members"] if m[1] == "primary"]
    primary_after = [m[0] for m in snapshot(healed_lab)["group"]["members"] if m[1] == "primary"]
    assert primary_after != primary_before
    assert result.returncode == 0, text
    assert not [secret for secret in lab_secrets(healed_lab) if secret in text]
    assert [entry["operation"] for entry in lab_control.journal(since=started) if entry["backend"] == "aws"] == ["TestFailover"]


def test_a_probe_the_service_does_not_corroborate_is_refused(healed_lab, lab_control):
    clear_sinks(healed_lab)
    before = snapshot(healed_lab)
    started = time.time()

    # The probe sees a dead endpoint, but the app's hit rate and logs say Redis serves it.
    result, _seconds = run_playbook("redis_down.yml", "--tags", "diagnose,fix", "-e", "redis_url=redis://127.0.0.1:9/0",
                                    "-e", '{"redis_diagnose_member_endpoints": []}')

    text = flat(result)
    assert result.returncode != 0, text
    assert "the service's own signals show no Redis outage" in text
    assert "nothing was changed" in text
    assert "Taking option" not in text
    assert snapshot(healed_lab) == before
    assert sink(healed_lab, "pagerduty") == [] and sink(healed_lab, "slack") == []
    assert lab_control.journal(since=started) == []


@pytest.mark.parametrize("backend, mode, says", [
    ("redis", "auth", "the automation cannot read Redis"),
    ("aws", "access_denied", "the automation cannot read ElastiCache"),
    ("datadog", "403", "the automation cannot read Datadog"),
])
def test_the_automations_own_access_failing_never_fixes(healed_lab, lab_control, backend, mode, says):
    lab_control.break_incident("redis_down")
    started = time.time()
    lab_control.fault(backend, mode)
    try:
        result, _seconds = run_playbook("redis_down.yml", "--tags", "diagnose,fix")
    finally:
        lab_control.clear_faults()
    text = flat(result)
    assert result.returncode != 0, text
    assert says in text and "nothing was changed" in text
    assert "Traceback" not in text
    assert [entry for entry in lab_control.journal(since=started) if entry["backend"] not in NOTIFICATIONS] == []
