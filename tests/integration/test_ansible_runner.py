"""The incident playbooks the way AWX runs them: ansible-runner with a private data dir laid out as AWX lays it out.

    <private data dir>/
      project/          the project as AWX syncs it (the repository's tracked and new files, symlinks kept)
      inventory/        the inventory (the lab's: hosts.yml + group_vars)
      env/extravars     the job's extra vars, with the awx_* variables AWX adds
      env/envvars       environment (the lab's state dir; in AWX a credential type or the EE would set these)
      env/settings      runner settings AWX writes
      artifacts/<job id>/   what runner leaves: status, rc, stdout, job_events/

Checked: the run's status, its job events (the tasks AWX would show) and the stats the playbook publishes with
set_stats (``artifact_data`` of the playbook_on_stats event: what AWX stores as the job's artifacts and what
EDA/workflows read), against the incident record on disk and the lab's PostgreSQL.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import ansible_runner
import psycopg
import pytest
import yaml

from helpers import BIN, REPO, clear_sinks, incident_dirs, snapshot

# What a `git clone` of the project holds never includes these (gitignored or machine-local).
NOT_SYNCED = shutil.ignore_patterns(".git", ".venv", ".venv-*", ".lab", ".cache", ".ansible", "build", "output",
                                    "__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache", "*.tar.gz")


def sync_project(destination):
    """Copy the project as an AWX project sync would see it: git's tracked and new (not ignored) files."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                                capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: copy the tree without local state
        shutil.copytree(REPO, destination, symlinks=True, ignore=NOT_SYNCED)
        return
    for name in filter(None, listed):
        source, target = Path(REPO, name), Path(destination, name)
        if not source.is_symlink() and not source.exists():
            continue  # tracked but deleted in the working tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)


@pytest.fixture
def private_data_dir(tmp_path, healed_lab, monkeypatch):
    from lab import config

    # AWX runs ansible-playbook in project/ and its ansible.cfg is the one found there; nothing from this shell.
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS", "ANSIBLE_INVENTORY"):
        monkeypatch.delenv(name, raising=False)
    # The execution environment's ansible-playbook: this venv's.
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ.get("PATH", ""))
    clear_sinks(healed_lab)
    root = tmp_path / "awx_job"
    sync_project(root / "project")
    shutil.copytree(Path(REPO, "inventories", "lab"), root / "inventory")
    (root / "env").mkdir()
    (root / "env" / "envvars").write_text(yaml.safe_dump({"SRE_LAB_DIR": str(config.state_dir()),
                                                          "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}))
    (root / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 600, "suppress_ansible_output": True}))
    return root


def awx_extravars(job_id, template, **extra):
    """The variables AWX adds to every job (a subset), plus the template's own."""
    return dict({"awx_job_id": job_id, "awx_job_template_name": template, "awx_user_name": "jane-oncall",
                 "awx_user_email": "jane@example.com", "awx_inventory_name": "lab", "awx_project_revision": "HEAD",
                 "tower_job_id": job_id, "tower_user_name": "jane-oncall"}, **extra)


def run_job(root, job_id, playbook, extravars, cmdline=None):
    (root / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    return ansible_runner.run(private_data_dir=str(root), ident=str(job_id), playbook=playbook,
                              limit="sample-service", cmdline=cmdline, quiet=True)


def events_of(runner, kind):
    return [event for event in runner.events if event["event"] == kind]


def stats_artifact(runner):
    [stats] = events_of(runner, "playbook_on_stats")
    return stats["event_data"]["artifact_data"]


def app_can_connect(status):
    """Can a new application session get in (the pool-exhausted symptom is "too many connections")?"""
    try:
        with psycopg.connect(status["postgres"]["app_dsn"], application_name="test-new-connection",
                             connect_timeout=10) as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError as exc:
        assert "too many connections" in str(exc), exc
        return False


def test_fix_job_reports_status_events_and_set_stats(private_data_dir, healed_lab, lab_control):
    from lab import config

    lab_control.break_incident("db_pool_exhausted")
    store = Path(config.state_dir()) / "incidents"
    assert not app_can_connect(healed_lab)

    runner = run_job(private_data_dir, 4201, "playbooks/db_pool_exhausted.yml",
                     awx_extravars(4201, "sre.incident fix db_pool_exhausted"))

    stdout = runner.stdout.read()
    assert (runner.status, runner.rc) == ("successful", 0), stdout
    artifacts = private_data_dir / "artifacts" / "4201"
    assert (artifacts / "status").read_text() == "successful" and (artifacts / "rc").read_text() == "0"
    assert len(list((artifacts / "job_events").glob("*.json"))) == len(list(runner.events))

    # The job events AWX shows: the play, its tasks, per-host results with the runbook's task names.
    kinds = {event["event"] for event in runner.events}
    assert {"playbook_on_start", "playbook_on_play_start", "playbook_on_task_start", "runner_on_ok",
            "playbook_on_stats"} <= kinds
    [play] = events_of(runner, "playbook_on_play_start")
    assert play["event_data"]["play"] == "Database Connection Pool Exhausted"
    started = [event["event_data"]["task"] for event in events_of(runner, "playbook_on_task_start")]
    ok = {event["event_data"]["task"]: event["event_data"] for event in events_of(runner, "runner_on_ok")}
    assert all(data["host"] == "sample-service" for data in ok.values())
    for task in ["Quick checks - service health, error rate in the last 5 minutes, active users",
                 "Open or continue the incident record", "Acknowledge PagerDuty alert",
                 "Check active connections, the application connection pool and the logs",
                 "Mark the verification passed", "Publish the result for AWX, event rules and CI"]:
        assert task in started and task in ok, (task, sorted(ok))
    killed = [task for task in ok if task.startswith(("Kill idle connections older than", "Kill queries running longer"))]
    assert len(killed) == 2 and all(ok[task]["res"]["changed"] for task in killed), killed
    assert not events_of(runner, "runner_on_failed")

    # What the playbook published with set_stats, as AWX keeps it for the job (and runner for EDA).
    stats = stats_artifact(runner)
    assert {"incident", "incident_id", "severity", "service", "option", "changed", "planned_only", "verified"} <= set(stats)
    assert stats["incident"] == "db_pool_exhausted" and stats["service"] == "sample-service"
    assert stats["severity"] == "SEV2"
    assert stats["option"] == "kill_idle+kill_long_running"
    assert stats["changed"] is True and stats["verified"] is True and stats["planned_only"] is False
    assert "failure" not in stats
    # The same data on the set_stats task's own event (what ansible-rulebook's run_playbook reads).
    published = ok["Publish the result for AWX, event rules and CI"]["res"]["ansible_stats"]
    assert published["data"] == stats and published["aggregate"] is True and published["per_host"] is False
    # ... and they are the truth: the record on disk, the launcher AWX named, the pool usable again.
    [incident] = incident_dirs(store)
    record = json.loads((incident / "record.json").read_text())
    assert stats["incident_id"] == record["id"] == incident.name
    assert record["severity"] == stats["severity"] and record["status"] == "resolved"
    assert record["actions"][0]["option"] == stats["option"]
    assert [run["by"] for run in record["runs"]] == ["jane-oncall"]
    assert app_can_connect(healed_lab)


def test_check_job_publishes_the_plan_and_changes_nothing(private_data_dir, healed_lab, lab_control):
    from lab import config

    lab_control.break_incident("redis_down")
    store = Path(config.state_dir()) / "incidents"
    before = snapshot(healed_lab)

    # A "diagnose" job template: job type check, which AWX passes to ansible-playbook as --check.
    runner = run_job(private_data_dir, 4202, "playbooks/redis_down.yml",
                     awx_extravars(4202, "sre.incident diagnose redis_down"), cmdline="--check")

    stdout = runner.stdout.read()
    assert (runner.status, runner.rc) == ("successful", 0), stdout
    assert "Would take option failover" in stdout
    stats = stats_artifact(runner)
    assert stats["incident"] == "redis_down" and stats["service"] == "sample-service"
    assert stats["planned_only"] is True and stats["option"] == "failover" and stats["verified"] is False
    assert stats["severity"] in {"SEV1", "SEV2", "SEV3", "SEV4"}
    assert stats["incident_id"].startswith("sample-service-")  # the id the incident would get ...
    assert incident_dirs(store) == []  # ... but --check writes no record
    assert snapshot(healed_lab) == before  # ElastiCache, task definitions, the ECS service: untouched
