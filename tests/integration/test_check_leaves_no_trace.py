"""--check changes nothing: every playbook, in every state the lab can be broken into (and healthy), leaves the lab's
journal empty - no AWS write, no session ended, no Redis change, nothing posted to Slack, PagerDuty or Datadog."""

import time

import pytest

from helpers import output, report, run_playbook

PLAYBOOKS = ("triage", "service_down", "high_error_rate", "memory_leak", "redis_down", "db_pool_exhausted",
             "verify_deploy", "postmortem")
STATES = {
    "healthy": None,
    "service_down": {},
    "service_down-no_good_revision": {"no_good_revision": True},
    "high_error_rate": {},
    "memory_leak": {},
    "redis_down": {},
    "redis_down-replica_down": {"replica_down": True},
    "db_pool_exhausted": {},
    "db_pool_exhausted-pool_only": {"pool_only": True},
}


@pytest.mark.parametrize("state", sorted(STATES))
def test_check_leaves_the_journal_empty(healed_lab, lab_control, state):
    if STATES[state] is not None:
        lab_control.break_incident(state.split("-")[0], **STATES[state])
    started = time.time()
    ran = {}
    for playbook in PLAYBOOKS:
        result, seconds = run_playbook(playbook + ".yml", "--check")
        assert "Traceback" not in output(result), output(result)
        ran[playbook] = (result.returncode, round(seconds, 1))
    time.sleep(0.4)  # the PostgreSQL recorder reads the server's log
    assert lab_control.journal(since=started) == [], ran
    report("check-leaves-no-trace-" + state, ["%-30s %-18s rc=%-2d %5.1f s" % (state, name, rc, seconds)
                                              for name, (rc, seconds) in ran.items()])
