"""No credential leaks: at -vvv, through AWX's engine (ansible-runner), a fix, its record, timeline and post-mortem,
and what the lab's Slack, PagerDuty and Datadog received hold none of the credentials the lab handed out.

The lab's credentials are generated per state dir (random tokens), so each one is a sentinel: any occurrence of
its text is a leak."""

import json
from pathlib import Path

from helpers import lab_secrets, output, run_playbook, sink
from test_ansible_runner import awx_extravars, run_job
# private_data_dir is a fixture: imported so that pytest finds it here.
from test_ansible_runner import private_data_dir  # noqa: F401  # pylint: disable=unused-import


def leaks(text, secrets):
    return sorted({secret for secret in secrets if secret and secret in text})


def test_no_credential_in_verbose_runs_events_records_or_sinks(private_data_dir, healed_lab, lab_control):  # noqa: F811
    # Under IAM enforcement the modules get the policy user's generated keys: its secret is a sentinel too.
    was_enforced = lab_control.status()["iam"]["enforced"]
    lab_control.iam(enforce=True, reset_policy=True)
    try:
        _run_and_search(private_data_dir, lab_control.status(), lab_control)
    finally:
        lab_control.iam(enforce=was_enforced, reset_policy=True)


def _run_and_search(private_data_dir, healed_lab, lab_control):  # noqa: F811
    from lab import config

    secrets = lab_secrets(healed_lab)
    assert healed_lab["iam"]["policy_user"]["secret_access_key"] in secrets
    assert all(len(secret) >= 12 for secret in secrets), "the lab's credentials are not distinctive enough to search for"
    store = Path(config.state_dir()) / "incidents"

    lab_control.break_incident("db_pool_exhausted")
    runner = run_job(private_data_dir, 4301, "playbooks/db_pool_exhausted.yml",
                     awx_extravars(4301, "sre.incident fix db_pool_exhausted"), cmdline="-vvv")
    stdout = runner.stdout.read()
    assert runner.rc == 0, stdout
    assert leaks(stdout, secrets) == []
    events = "\n".join(json.dumps(event) for event in runner.events)
    assert leaks(events, secrets) == []
    artifacts = private_data_dir / "artifacts" / "4301"
    assert leaks("\n".join(path.read_text(errors="replace") for path in artifacts.rglob("*") if path.is_file()), secrets) == []

    lab_control.heal()
    lab_control.break_incident("redis_down")
    fix, _seconds = run_playbook("redis_down.yml", "-vvv")
    assert fix.returncode == 0, output(fix)
    assert leaks(output(fix), secrets) == []
    postmortem, _seconds = run_playbook("postmortem.yml", "-vvv")
    assert postmortem.returncode == 0, output(postmortem)
    assert leaks(output(postmortem), secrets) == []

    written = [path for path in store.rglob("*") if path.is_file()]
    assert any(path.name.startswith("postmortem") for path in written), [path.name for path in written]
    assert leaks("\n".join(path.read_text(errors="replace") for path in written), secrets) == []
    received = json.dumps([sink(healed_lab, name) for name in ("slack", "pagerduty", "datadog")])
    assert "Investigating" in received or "incident" in received.lower()
    assert leaks(received, secrets) == []
