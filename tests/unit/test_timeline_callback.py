"""The sre.incident.timeline callback driven directly: what is recorded, in which order, where, and what never is."""

import fcntl
import json
import os
import time
import uuid

import pytest
from ansible import context
from ansible.module_utils.common.collections import ImmutableDict

from ansible_collections.sre.incident.plugins.callback import timeline
from ansible_collections.sre.incident.plugins.callback.timeline import CallbackModule, redact, shorten, summarize
from ansible_collections.sre.incident.plugins.module_utils import incident_store as store

INCIDENT = "sample-service-20261127T153500Z"


# --- minimal stand-ins for what ansible-core hands a callback (Host, Task, CallbackTaskResult, stats) ---------

class Host:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Role:
    def get_name(self, include_role_fqcn=True):
        return "sre.incident.postgres_diagnose" if include_role_fqcn else "postgres_diagnose"


class Task:
    def __init__(self, name, action, no_log=False, check_mode=False, role=None):
        self._uuid = str(uuid.uuid4())
        self.name, self.action, self.resolved_action = name, action, action
        self.no_log, self.check_mode, self._role = no_log, check_mode, role

    def get_name(self):
        return self.name


class Result:
    def __init__(self, host, task, data):
        self.host, self.task, self.result = host, task, data

    @property
    def task_name(self):
        return self.task.get_name()

    def is_changed(self):
        return bool(self.result.get("changed"))


class Stats:
    def summarize(self, host):
        return {"ok": 3, "changed": 1, "failures": 0, "unreachable": 0, "skipped": 1, "rescued": 0, "ignored": 1}


class Display:
    verbosity = 0

    def __init__(self):
        self.warnings = []

    def warning(self, msg, *args, **kwargs):
        self.warnings.append(msg)


class Playbook:
    _file_name = "/repo/playbooks/db_pool_exhausted.yml"


class Play:
    def get_name(self):
        return "Database Connection Pool Exhausted"


@pytest.fixture
def incident(tmp_path):
    """A store with one incident: (timeline path, incident_record-like result data)."""
    directory = tmp_path / INCIDENT
    store.ensure_dir(str(directory))
    store.write_json_atomic(str(directory / "record.json"), store.new_record(INCIDENT, "sample-service", None, "t", None))
    path = str(directory / "timeline.jsonl")
    return path, {"changed": True, "msg": "opened incident %s" % INCIDENT, "incident_id": INCIDENT, "found": False,
                  "incident_dir": str(directory), "timeline_path": path}


@pytest.fixture
def callback(monkeypatch):
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(check=False))
    plugin = CallbackModule(display=Display())
    plugin._plugin_options = {"enabled_in_check_mode": False, "lock_timeout": 0.2}
    plugin.v2_playbook_on_start(Playbook())
    plugin.v2_playbook_on_play_start(Play())
    return plugin


def run_task(plugin, host, task, data, outcome="ok", **kwargs):
    plugin.v2_playbook_on_task_start(task, False)
    plugin.v2_runner_on_start(host, task)
    getattr(plugin, "v2_runner_on_" + outcome)(Result(host, task, data), **kwargs)


def lines(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle]


# --- redaction and summaries ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text,secret,kept", [
    ("connect postgresql://app:Pa55word@db:5432/app", "Pa55word", "postgresql://app:****@db:5432/app"),
    ("redis://:t0psecret@cache:6379/0", "t0psecret", "redis://:****@cache:6379/0"),
    ("login failed: password=hunter2 for app", "hunter2", "password=****"),
    ("PGPASSWORD='hunter 2' psql", "hunter 2", "PGPASSWORD=****"),
    ('{"api_key": "dd-abc123", "site": "x"}', "dd-abc123", '"api_key": ****'),
    ("token xoxb-1234-5678-abcdEFGH posted", "1234-5678-abcdEFGH", "xoxb-****"),
    ("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig", "eyJhbGciOi", "Bearer ****"),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz", "Basic ****"),
])
def test_redact_masks_secrets(text, secret, kept):
    masked = redact(text)
    assert secret not in masked and kept in masked


def test_redact_keeps_ordinary_text():
    for text in ("Killed 12 idle connections older than 10 minutes on https://db.example.com:5432/app (pool 80/100)",
                 "basic health check passed; the token bucket is full; author: bob; password rotation is due",
                 "Service unavailable (HTTP 503) for 5 min"):
        assert redact(text) == text


@pytest.mark.parametrize("text", ["a." * 20000, "a" * 200000, "password." * 5000, "x://" * 20000, "u://a:" * 20000])
def test_redaction_takes_linear_time(text):
    started = time.monotonic()
    redact(text)
    summarize({"msg": text}, "ok", "x", False)
    assert time.monotonic() - started < 1


def test_a_cut_never_leaves_half_a_secret():
    # long secrets before the cut shrink to ****, which would pull a half URL (no "@" left to match) into the summary
    text = ("password=%s " % ("P" * 300)) * 3 + "postgresql://app:%s@db/app" % ("S" * 200)
    summary = shorten([text, "next"])
    assert "PPP" not in summary and "SSS" not in summary
    assert summary == "password=**** password=**** password=**** ... | next"


def test_summary_rules():
    assert summarize({"msg": ["Diagnosis: pool exhausted", "", "idle: 80", "cause: leak", "line 4"]}, "ok",
                     "ansible.builtin.debug", False) == "Diagnosis: pool exhausted | idle: 80 | cause: leak"
    long = summarize({"msg": "x" * 1000}, "ok", "sre.incident.http_probe", False)
    assert len(long) == 300 and long.endswith("...")
    assert summarize({"changed": True, "rc": 0, "stdout": "password=hunter2"}, "changed", "ansible.builtin.command", False) == "changed (rc 0)"
    assert summarize({"msg": "non-zero return code", "rc": 2}, "failed", "ansible.builtin.command", False) == "non-zero return code (rc 2)"
    assert summarize({"msg": "hunter2"}, "ok", "x", True) == "(output hidden: no_log)"
    assert summarize({"censored": "the output has been hidden", "changed": True}, "changed", "x", False) == "(output hidden: no_log)"
    assert summarize({"results": [{"changed": True}, {"failed": True}, {}]}, "failed", "x", False) == "3 items: 1 changed, 1 failed"
    assert summarize({"results": [{"_ansible_no_log": True, "msg": "hunter2"}]}, "ok", "x", False) == "(output hidden: no_log)"
    assert summarize({"diagnosis": {"cause": "leak"}, "_ansible_verbose_always": True, "changed": False}, "ok",
                     "ansible.builtin.debug", False) == 'diagnosis: {"cause": "leak"}'
    assert summarize({"changed": False}, "ok", "sre.incident.redis_probe", False) == "ok"


# --- recording ------------------------------------------------------------------------------------------------

def test_steps_before_the_incident_is_known_are_buffered_then_written_in_order(callback, incident):
    path, record_result = incident
    host = Host("sample-service")
    run_task(callback, host, Task("Validate inputs", "ansible.builtin.validate_argument_spec"), {"changed": False})
    run_task(callback, host, Task("Check connections by state", "sre.incident.postgres_activity_info", role=Role()),
             {"changed": False, "msg": "82 of 100 connections in use"})
    assert not os.path.exists(path)
    run_task(callback, host, Task("Open the incident", "sre.incident.incident_record"), record_result)
    run_task(callback, host, Task("Remember", "ansible.builtin.set_fact"), {"changed": False, "ansible_facts": {"a": 1}})
    run_task(callback, host, Task("Inputs hold", "ansible.builtin.assert"), {"changed": False, "msg": "All assertions passed"})
    run_task(callback, host, Task("Print the diagnosis", "ansible.builtin.debug"),
             {"msg": ["Pool exhausted: 82/100", "idle: 60", "long-running: 3", "more"]})
    run_task(callback, host, Task("Kill idle connections", "sre.incident.postgres_terminate"),
             {"changed": True, "msg": "ended 12 sessions"})
    run_task(callback, host, Task("Bounce", "ansible.builtin.command"), {"changed": True, "rc": 1, "msg": "non-zero return code"},
             outcome="failed", ignore_errors=True)
    written = lines(path)  # written as the run goes, not only at the end
    assert [item["task"] for item in written[1:]] == ["Check connections by state", "Open the incident", "Print the diagnosis",
                                                      "Kill idle connections", "Bounce"]
    callback.v2_playbook_on_stats(Stats())
    items = lines(path)
    assert [item["event"] for item in items] == ["playbook_start"] + ["task"] * 5 + ["playbook_end"]
    start, check, opened, debug, kill, bounce, end = items
    assert start["playbook"] == "db_pool_exhausted.yml" and start["play"] == "Database Connection Pool Exhausted"
    assert len({item["run_id"] for item in items}) == 1
    assert check["role"] == "postgres_diagnose" and check["status"] == "ok" and check["summary"] == "82 of 100 connections in use"
    assert opened["status"] == "changed" and opened["changed"] is True and opened["action"] == "sre.incident.incident_record"
    assert debug["summary"] == "Pool exhausted: 82/100 | idle: 60 | long-running: 3"
    assert bounce["status"] == "failed" and bounce["ignored"] is True and bounce["summary"] == "non-zero return code (rc 1)"
    assert end["stats"]["changed"] == 1 and end["status"] == "ok"
    for item in items:
        assert item["ts"].endswith("Z") and item["end"] >= item["ts"] and item["duration_s"] >= 0 and item["host"] == "sample-service"
    assert [item["ts"] for item in items[1:-1]] == sorted(item["ts"] for item in items[1:-1])
    assert callback._display.warnings == []


def test_no_log_results_and_arguments_never_reach_the_file(callback, incident):
    path, record_result = incident
    host = Host("sample-service")
    run_task(callback, host, Task("Open the incident", "sre.incident.incident_record"), record_result)
    run_task(callback, host, Task("Rotate the app password", "ansible.builtin.command", no_log=True),
             {"changed": True, "msg": "password=hunter2", "_ansible_no_log": True})
    run_task(callback, host, Task("Connect to postgresql://app:hunter3@db/app", "ansible.builtin.debug"),
             {"msg": "dsn postgresql://app:hunter4@db/app"})
    callback.v2_playbook_on_stats(Stats())
    text = open(path).read()
    for secret in ("hunter2", "hunter3", "hunter4"):
        assert secret not in text
    assert lines(path)[2]["summary"] == "(output hidden: no_log)"


def test_hosts_that_never_learn_a_timeline_are_dropped(callback, incident, tmp_path):
    path, record_result = incident
    run_task(callback, Host("other-service"), Task("Check", "sre.incident.http_probe"), {"msg": "healthy"})
    run_task(callback, Host("sample-service"), Task("Open", "sre.incident.incident_record"), record_result)
    callback.v2_playbook_on_stats(Stats())
    assert {item["host"] for item in lines(path)} == {"sample-service"}
    assert sorted(os.listdir(tmp_path)) == [".lock", INCIDENT]


def test_check_mode_run_records_nothing(callback, incident, monkeypatch):
    path, record_result = incident
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(check=True))
    host = Host("sample-service")
    run_task(callback, host, Task("Open", "sre.incident.incident_record", check_mode=True), record_result)
    run_task(callback, host, Task("Kill idle", "sre.incident.postgres_terminate", check_mode=True), {"changed": True})
    callback.v2_playbook_on_stats(Stats())
    assert not os.path.exists(path)


def test_enabled_in_check_mode_uses_an_existing_incident(callback, incident, monkeypatch):
    path, record_result = incident
    monkeypatch.setattr(context, "CLIARGS", ImmutableDict(check=True))
    callback._plugin_options["enabled_in_check_mode"] = True
    host = Host("sample-service")
    run_task(callback, host, Task("Open", "sre.incident.incident_record", check_mode=True),
             dict(record_result, found=True, changed=False, timeline_path=None))
    run_task(callback, host, Task("Kill idle", "sre.incident.postgres_terminate", check_mode=True),
             {"changed": True, "msg": "would end 12 sessions"})
    callback.v2_playbook_on_stats(Stats())
    items = lines(path)
    assert [item["event"] for item in items] == ["playbook_start", "task", "task", "playbook_end"]
    assert all(item["check_mode"] for item in items[:-1])


def test_check_mode_task_in_a_real_run_is_marked(callback, incident):
    path, record_result = incident
    host = Host("sample-service")
    run_task(callback, host, Task("Open", "sre.incident.incident_record"), record_result)
    run_task(callback, host, Task("Plan", "sre.incident.postgres_terminate", check_mode=True), {"changed": True, "msg": "would end 3"})
    assert lines(path)[-1]["check_mode"] is True and lines(path)[-2]["check_mode"] is False


def test_a_failing_bookkeeping_step_is_recorded(callback, incident):
    path, record_result = incident
    host = Host("sample-service")
    run_task(callback, host, Task("Open", "sre.incident.incident_record"), record_result)
    run_task(callback, host, Task("Pool must be exhausted", "ansible.builtin.assert"),
             {"msg": "Assertion failed", "failed": True}, outcome="failed")
    assert lines(path)[-1]["status"] == "failed" and lines(path)[-1]["summary"] == "Assertion failed"


def test_a_path_that_is_not_an_incident_timeline_is_ignored(callback, tmp_path):
    host = Host("sample-service")
    run_task(callback, host, Task("Odd", "some.other.module"), {"timeline_path": str(tmp_path / "notes.txt")})
    run_task(callback, host, Task("Odd2", "some.other.module"), {"timeline_path": str(tmp_path / "x" / "timeline.jsonl")})
    callback.v2_playbook_on_stats(Stats())
    assert os.listdir(tmp_path) == []
    assert len(callback._display.warnings) == 2 and "not a timeline.jsonl" in callback._display.warnings[0]


def test_write_failures_warn_once_and_are_retried_at_the_end(callback, incident, tmp_path):
    path, record_result = incident
    host = Host("sample-service")
    holder = os.open(str(tmp_path / ".lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        run_task(callback, host, Task("Open", "sre.incident.incident_record"), record_result)
        run_task(callback, host, Task("Kill idle", "sre.incident.postgres_terminate"), {"changed": True})
    finally:
        os.close(holder)
    assert len(callback._display.warnings) == 1 and "could not lock" in callback._display.warnings[0]
    assert not os.path.exists(path)
    callback.v2_playbook_on_stats(Stats())
    assert [item["event"] for item in lines(path)] == ["playbook_start", "task", "task", "playbook_end"]


def test_a_lost_timeline_never_fails_the_run(callback, incident):
    path, record_result = incident
    host = Host("sample-service")
    run_task(callback, host, Task("Open", "sre.incident.incident_record"), record_result)
    os.remove(path)
    os.remove(os.path.join(os.path.dirname(path), "record.json"))
    os.rmdir(os.path.dirname(path))
    run_task(callback, host, Task("Kill idle", "sre.incident.postgres_terminate"), {"changed": True})
    callback.v2_playbook_on_stats(Stats())
    assert len(callback._display.warnings) == 2
    assert "will retry" in callback._display.warnings[0] and "were not written" in callback._display.warnings[1]


def test_an_unexpected_error_is_one_warning(callback):
    callback.v2_runner_on_ok(object())
    callback.v2_runner_on_ok(object())
    assert len(callback._display.warnings) == 1 and callback._display.warnings[0].startswith("sre.incident.timeline: not recording")


def test_buffer_is_bounded(callback, monkeypatch):
    monkeypatch.setattr(timeline, "BUFFER_MAX", 5)
    host = Host("sample-service")
    for index in range(8):
        run_task(callback, host, Task("Step %d" % index, "sre.incident.http_probe"), {"msg": "ok"})
    queue = callback.pending["sample-service"]
    assert len(queue) == 5 and queue[0]["event"] == "playbook_start" and queue[-1]["task"] == "Step 7"
    assert len(callback._display.warnings) == 1
