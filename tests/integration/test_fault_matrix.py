"""The fault matrix: each backend x each fault mode (python -m lab fault) x each incident playbook that reads it,
--check and fix. Every run ends within its deadline, names the backend and the fault, shows no traceback, and the
lab's journal shows either the playbook's whole fix or no change to the service (notifications aside).

One test per playbook walks its cells in order and prints its row of the matrix with the times; a cell whose fix
ran leaves the lab to be broken again, a refused one leaves it broken for the next cell."""

import math
import re
import time

import pytest

from helpers import output, report, run_playbook

# -e incident_deadline: a --check reads and plans within a few seconds; a fix also waits on its change, so its
# deadline is at least 1.5 x the fault-free fix on this machine: the fault, not the deadline, is what a cell meets.
DEADLINE = {"check": 12, "fix": 30}
FIX_DEADLINE_FACTOR = 1.5
ENGINE_MARGIN = 15  # ansible-playbook's start before the deadline is set, and the record/report steps after it
SLOW_SECONDS = 40  # longer than any call's timeout: "slow" is a hang for the automation
NOTIFICATIONS = ("slack", "pagerduty", "datadog")
# The verification's polls, short: the matrix asks whether the run is bounded and safe, not whether it heals.
QUICK_VERIFY = ("-e", "verify_retries=2", "-e", "verify_delay=1")

MODES = {
    "aws": ("down", "slow", "500", "503", "throttling", "access_denied"),
    "datadog": ("down", "slow", "500", "503", "429", "403"),
    "postgres": ("down", "slow", "wrong_password"),
    "redis": ("down", "slow", "auth"),
    "slack": ("down", "500", "bad_token"),
    "pagerduty": ("down", "500", "bad_token"),
}
# Which backends each playbook reads; Slack and PagerDuty only in a real run (--check sends nothing).
READS = {
    "service_down": ("aws", "datadog", "slack", "pagerduty"),
    "high_error_rate": ("aws", "datadog", "slack", "pagerduty"),
    "memory_leak": ("aws", "datadog", "slack", "pagerduty"),
    "redis_down": ("aws", "datadog", "redis", "slack", "pagerduty"),
    "db_pool_exhausted": ("aws", "datadog", "postgres", "slack", "pagerduty"),
}
# How each backend's failure is named in a message, and how each fault is said.
BACKEND_WORDS = {
    "aws": r"AWS|ECS|ElastiCache|CloudWatch|SSM|S3", "datadog": r"Datadog", "postgres": r"PostgreSQL",
    "redis": r"Redis", "slack": r"Slack", "pagerduty": r"PagerDuty",
}
FAULT_WORDS = {
    "down": r"refused|cannot reach|closed|reset", "slow": r"timed out|deadline", "500": r"500|InternalFailure|Internal",
    "503": r"503|ServiceUnavailable|Unavailable", "throttling": r"[Tt]hrottl", "access_denied": r"access denied",
    "429": r"429|rate limit", "403": r"403|key is wrong", "wrong_password": r"password authentication failed",
    "auth": r"authentication failed", "bad_token": r"invalid_auth|[Ii]nvalid routing key|token",
}


# Each runbook option's whole fix as the journal sees it (a cell may take another option than the fault-free
# run: with every Redis node unreachable from the automation, option 3 instead of a failover).
WHOLE_FIXES = {
    "redis_down": ({("aws", "TestFailover")}, {("aws", "RegisterTaskDefinition"), ("aws", "UpdateService")}),
    "service_down": ({("aws", "UpdateService")},),
    "high_error_rate": ({("aws", "UpdateService")}, {("aws", "PutParameter")}),
    "memory_leak": ({("aws", "UpdateService")}, {("aws", "RegisterTaskDefinition"), ("aws", "UpdateService")}),
    "db_pool_exhausted": ({("postgres", "pg_terminate_backend")}, {("aws", "UpdateService")},
                          {("aws", "RegisterTaskDefinition"), ("aws", "UpdateService")}),
}


# Faults that end the lab's own sessions too (the proxies drop every connection): the incident they held is gone.
DISRUPTIVE = {("postgres", "down"), ("postgres", "slow"), ("postgres", "wrong_password"), ("redis", "down")}


def destructive(entries):
    return sorted({(entry["backend"], entry["operation"]) for entry in entries if entry["backend"] not in NOTIFICATIONS})


def cells(playbook):
    for backend in READS[playbook]:
        for mode in MODES[backend]:
            for check in (True, False):
                if check and backend in ("slack", "pagerduty"):
                    continue
                yield backend, mode, check


def run_cell(lab_control, playbook, backend, mode, check, deadline):
    started = time.time()
    lab_control.fault(backend, mode, seconds=SLOW_SECONDS if mode == "slow" else None)
    try:
        args = ["-e", "incident_deadline=%d" % deadline] + (["--check"] if check else list(QUICK_VERIFY))
        result, seconds = run_playbook(playbook + ".yml", *args, timeout=deadline + 4 * ENGINE_MARGIN)
    finally:
        lab_control.clear_faults()
    time.sleep(0.4)  # the PostgreSQL recorder reads the server's log
    return result, seconds, lab_control.journal(since=started)


def problems_of(backend, mode, check, result, seconds, deadline, journal, whole_fixes):
    text = output(result)
    found = []
    if seconds > deadline + ENGINE_MARGIN:
        found.append("took %.1f s (deadline %d s)" % (seconds, deadline))
    if "Traceback" in text:
        found.append("a traceback")
    # One message names both (the output wraps long messages over lines).
    flat = " ".join(text.split())
    named = re.search(r"(%s).{0,400}?(%s)" % (BACKEND_WORDS[backend], FAULT_WORDS[mode]), flat)
    if not named:
        found.append("no line names %s and %s" % (backend, mode))
    changes = destructive(journal)
    if check and changes:
        found.append("--check changed %s" % changes)
    if not check and changes and set(changes) not in whole_fixes:
        found.append("a partial fix: %s (a whole fix is one of %s)" % (changes, [sorted(fix) for fix in whole_fixes]))
    return found


@pytest.mark.parametrize("playbook", sorted(READS))
def test_fault_matrix(playbook, healed_lab, lab_control):
    # The whole fix, as the journal sees it on a lab without faults.
    lab_control.break_incident(playbook)
    started = time.time()
    reference, reference_seconds = run_playbook(playbook + ".yml", *QUICK_VERIFY)
    whole_fix = set(destructive(lab_control.journal(since=started)))
    assert whole_fix in WHOLE_FIXES[playbook], "the fault-free fix of %s: %s\n%s" % (playbook, whole_fix, output(reference))

    deadlines = {True: DEADLINE["check"], False: max(DEADLINE["fix"], math.ceil(FIX_DEADLINE_FACTOR * reference_seconds))}
    rows = ["%s: the fault-free fix took %.1f s; deadlines --check %d s, fix %d s" % (
        playbook, reference_seconds, deadlines[True], deadlines[False])]
    failed = []
    broken = False
    for backend, mode, check in cells(playbook):
        if not broken:
            lab_control.heal()
            lab_control.break_incident(playbook)
            broken = True
        result, seconds, journal = run_cell(lab_control, playbook, backend, mode, check, deadlines[check])
        if destructive(journal) or (backend, mode) in DISRUPTIVE:
            broken = False  # the fix ran, or the fault ended the incident's sessions: break the service again
        found = problems_of(backend, mode, check, result, seconds, deadlines[check], journal, WHOLE_FIXES[playbook])
        rows.append("%-17s %-9s %-14s %-6s rc=%-2d %5.1f s  %s" % (
            playbook, backend, mode, "check" if check else "fix", result.returncode, seconds,
            "fix ran" if destructive(journal) else "no change"))
        if found:
            cell = "%s %s %s" % (backend, mode, "check" if check else "fix")
            failed.append("%s: %s\n%s" % (cell, "; ".join(found), output(result)[-3000:]))
    report("fault-matrix-" + playbook, rows)
    assert not failed, "\n\n".join(failed)
