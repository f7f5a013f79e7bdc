"""The timeline recorder for real: ansible-playbook with the sre.incident.timeline callback enabled runs a small
playbook that opens an incident with incident_record, and the incident's timeline.jsonl must hold its steps in order,
hide the no_log step, contain no secret, and stay untouched by --check runs. Needs no lab; runs on whichever
ansible-core the interpreter running pytest has (2.19 in .venv, 2.21 in .venv-2.21)."""

import json
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)
SECRET = "FakeSecret-4242-do-not-record"
URL_SECRET = "FakeUrlPass-1717"
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

PLAYBOOK = """
- name: Timeline recorder test
  hosts: sample-service
  gather_facts: false
  tasks:
    - name: Quick check before the incident is known
      ansible.builtin.debug:
        msg: health 502, error rate 8 %

    - name: Open the incident
      sre.incident.incident_record:
        store: "{{ incident_store }}"
        service: sample-service
        incident_type: db_pool_exhausted
        severity: SEV2
        severity_reason: orders failing
        set_once:
          acknowledged_at: now

    - name: Remember something
      ansible.builtin.set_fact:
        remembered: true

    - name: Print the diagnosis
      ansible.builtin.debug:
        msg:
          - "Diagnosis: connection pool exhausted (100/100)"
          - "idle sessions: 80"
          - "suspected cause: connection leak"
          - "this fourth line is not in the summary"

    - name: Kill idle connections
      ansible.builtin.command: "true"

    - name: Rotate the application password
      ansible.builtin.command: echo "password={{ app_password }}"
      no_log: true

    - name: Tell the channel
      ansible.builtin.debug:
        msg: "posted with postgresql://app:{{ url_password }}@db:5432/app"

    - name: Restart that fails
      ansible.builtin.command: /bin/false
      ignore_errors: true
"""

TASKS = ["Quick check before the incident is known", "Open the incident", "Print the diagnosis", "Kill idle connections",
         "Rotate the application password", "Tell the channel", "Restart that fails"]


def ansible_env():
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, "collections"),
               ANSIBLE_CALLBACKS_ENABLED="sre.incident.timeline", ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=BIN + os.pathsep + env.get("PATH", ""))
    env.pop("SRE_INCIDENT_TIMELINE_CHECK_MODE", None)
    return env


def play(tmp_path, store, *args):
    playbook = tmp_path / "incident.yml"
    playbook.write_text(PLAYBOOK)
    extra = {"incident_store": str(store), "app_password": SECRET, "url_password": URL_SECRET,
             "ansible_python_interpreter": sys.executable}
    command = [os.path.join(BIN, "ansible-playbook"), "-i", "sample-service,", "-c", "local", str(playbook),
               "-e", json.dumps(extra), *args]
    result = subprocess.run(command, cwd=str(tmp_path), env=ansible_env(), capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "sre.incident.timeline" not in result.stderr, result.stderr  # no warning from the recorder
    return result


def incident_files(store):
    (incident,) = [name for name in os.listdir(store) if not name.startswith(".")]
    return os.path.join(store, incident, "record.json"), os.path.join(store, incident, "timeline.jsonl")


def read_lines(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("timeline")
    store = tmp_path / "store"
    play(tmp_path, store)
    return tmp_path, store


def test_timeline_holds_the_runs_steps_in_order(recorded):
    store = recorded[1]
    record_path, timeline_path = incident_files(str(store))
    items = read_lines(timeline_path)
    assert [item["event"] for item in items] == ["playbook_start"] + ["task"] * len(TASKS) + ["playbook_end"]
    steps = items[1:-1]
    assert [item["task"] for item in steps] == TASKS  # the step before the incident was known included, set_fact not
    for item in items:
        assert ISO_MS.match(item["ts"]) and ISO_MS.match(item["end"]) and item["end"] >= item["ts"]
        assert item["host"] == "sample-service" and item["playbook"] == "incident.yml"
    assert len({item["run_id"] for item in items}) == 1
    assert [item["ts"] for item in steps] == sorted(item["ts"] for item in steps)
    by_task = {item["task"]: item for item in steps}
    assert by_task["Open the incident"]["status"] == "changed" and by_task["Open the incident"]["action"] == "sre.incident.incident_record"
    assert by_task["Print the diagnosis"]["summary"] == ("Diagnosis: connection pool exhausted (100/100) | idle sessions: 80 | "
                                                         "suspected cause: connection leak")
    assert by_task["Kill idle connections"]["status"] == "changed" and by_task["Kill idle connections"]["changed"] is True
    assert by_task["Rotate the application password"]["summary"] == "(output hidden: no_log)"
    assert by_task["Tell the channel"]["summary"] == "posted with postgresql://app:****@db:5432/app"
    assert by_task["Restart that fails"]["status"] == "failed" and by_task["Restart that fails"]["ignored"] is True
    assert all(item["check_mode"] is False for item in items[:-1])
    assert items[-1]["stats"]["ignored"] == 1 and items[-1]["stats"]["failures"] == 0
    record = json.loads(open(record_path).read())
    assert record["severity"] == "SEV2" and record["acknowledged_at"] and record["status"] == "investigating"


def test_no_secret_reaches_the_store(recorded):
    store = recorded[1]
    for root, _dirs, files in os.walk(str(store)):
        for name in files:
            text = open(os.path.join(root, name), encoding="utf-8").read()
            assert SECRET not in text and URL_SECRET not in text, name
    for path in incident_files(str(store)):
        assert oct(os.stat(path).st_mode & 0o777) == "0o640"


def test_check_runs_record_nothing(recorded):
    tmp_path, store = recorded
    record_path, timeline_path = incident_files(str(store))
    before = (open(record_path).read(), open(timeline_path).read())
    result = play(tmp_path, store, "--check")
    assert "Open the incident" in result.stdout
    assert (open(record_path).read(), open(timeline_path).read()) == before

    empty = tmp_path / "check-store"
    play(tmp_path, empty, "--check")
    assert not empty.exists()


def test_a_later_run_appends_to_the_same_incident(recorded):
    tmp_path, store = recorded
    timeline_path = incident_files(str(store))[1]
    first = read_lines(timeline_path)
    play(tmp_path, store)
    again = incident_files(str(store))[1]  # still one incident: the open one was found
    items = read_lines(again)
    assert items[:len(first)] == first
    assert len({item["run_id"] for item in items}) == 2
    assert [item["event"] for item in items[len(first):]] == ["playbook_start"] + ["task"] * len(TASKS) + ["playbook_end"]


@pytest.mark.parametrize("args", [["-t", "callback", "sre.incident.timeline"], ["sre.incident.incident_record"]])
def test_docs_render(args):
    result = subprocess.run([os.path.join(BIN, "ansible-doc"), *args], cwd=REPO, env=ansible_env(), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0 and "ERROR" not in result.stderr, result.stderr
    assert args[-1] in result.stdout
