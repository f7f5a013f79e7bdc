"""Event-driven triage for real: an ansible-rulebook process runs rulebooks/alerts.yml on its own loopback ports
and this test posts Datadog, PagerDuty (v3 webhook) and Alertmanager payloads to it, against the lab.

What a run did is read back from the lab: the PagerDuty sink (the acknowledgment carries the alert's dedup key),
the Slack sink and the incident store (each playbook run appends to the record's ``runs``), plus the rulebook's
own output. The rulebook process runs in its own process group, killed at teardown.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import redis
import yaml

from helpers import BIN, REPO, ansible_env, clear_sinks, incident_dirs, sink

SAMPLES = Path(REPO) / "rulebooks" / "samples"
DATADOG = json.loads((SAMPLES / "datadog.json").read_text())
PAGERDUTY = json.loads((SAMPLES / "pagerduty.json").read_text())
ALERTMANAGER = json.loads((SAMPLES / "alertmanager.json").read_text())

pytestmark = pytest.mark.skipif(shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
                                reason="ansible-rulebook needs Java 17 (java on PATH or JAVA_HOME)")


def free_ports(count):
    sockets = []
    try:
        while len(sockets) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Rulebook:
    """ansible-rulebook -r rulebooks/alerts.yml with a vars file of its own (ports, auto-fix list)."""

    def __init__(self, workdir, **overrides):
        self.ports = dict(zip(("datadog", "pagerduty", "alertmanager"), free_ports(3)))
        variables = yaml.safe_load((Path(REPO) / "rulebooks" / "vars" / "alerts.yml").read_text())
        variables.update({"sre_alerts_%s_port" % name: port for name, port in self.ports.items()}, **overrides)
        self.vars_file = workdir / "alerts-vars.yml"
        self.vars_file.write_text(yaml.safe_dump(variables))
        self.log = workdir / "ansible-rulebook.log"
        self.process = None

    def start(self, timeout=60):
        command = [os.path.join(BIN, "ansible-rulebook"), "-r", "rulebooks/alerts.yml", "--vars", str(self.vars_file),
                   "-i", "inventories/lab"]
        from lab import config

        # ansible-rulebook copies the inventory into each run's private data dir, where the lab inventory can no
        # longer find <repo>/.lab next to itself: name the lab's state dir (as docs/event-driven.md says).
        env = ansible_env(SRE_LAB_DIR=str(config.state_dir()))
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        pending = set(self.ports.values())
        while pending:
            assert self.process.poll() is None, "ansible-rulebook exited (rc %s):\n%s" % (self.process.returncode, self.text())
            assert time.monotonic() < deadline, "ansible-rulebook did not listen within %s s:\n%s" % (timeout, self.text())
            for port in list(pending):
                with socket.socket() as sock:
                    sock.settimeout(0.5)
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        pending.discard(port)
            time.sleep(0.2)
        return self

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass

    def post(self, source, payload, path="/"):
        request = urllib.request.Request("http://127.0.0.1:%d%s" % (self.ports[source], path), method="POST",
                                         data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count(self, needle):
        return self.text().count(needle)

    def wait_for(self, needle, times=1, timeout=60):
        deadline = time.monotonic() + timeout
        while self.count(needle) < times:
            assert self.process.poll() is None, "ansible-rulebook exited (rc %s):\n%s" % (self.process.returncode, self.text())
            assert time.monotonic() < deadline, "%r not seen %d time(s) within %s s:\n%s" % (
                needle, times, timeout, self.text())
            time.sleep(0.25)


@pytest.fixture
def rulebooks(tmp_path):
    started = []

    def start(**overrides):
        workdir = tmp_path / ("rulebook-%d" % len(started))
        workdir.mkdir()
        rulebook = Rulebook(workdir, **overrides)
        started.append(rulebook)
        return rulebook.start()

    yield start
    for rulebook in started:
        rulebook.stop()
        assert rulebook.process.poll() is not None


@pytest.fixture
def store(healed_lab):
    from lab import config

    clear_sinks(healed_lab)
    return Path(config.state_dir()) / "incidents"


def acknowledgments(status):
    return [r["body"] for r in sink(status, "pagerduty") if r["body"].get("event_action") == "acknowledge"]


def runs(store):
    return [run for incident in incident_dirs(store)
            for run in json.loads((incident / "record.json").read_text()).get("runs", [])]


def with_service(payload, service):
    return json.loads(json.dumps(payload).replace("sample-service", service))


def test_alert_runs_triage_once_a_storm_runs_nothing_more_and_unknown_services_are_ignored(
        healed_lab, lab_control, store, rulebooks):
    lab_control.break_incident("redis_down")
    rulebook = rulebooks()
    started = time.monotonic()

    rulebook.post("datadog", DATADOG, "/datadog")
    rulebook.wait_for("Triage of sample-service:", timeout=90)
    first_run = time.monotonic() - started

    text = rulebook.text()
    assert "datadog alert '%s' for sample-service (incident redis_down, dedup key %s)" % (
        DATADOG["title"], DATADOG["aggreg_key"]) in text
    assert rulebook.count("Running triage on sample-service for the datadog alert") == 1
    assert rulebook.count("PLAY RECAP") == 1
    assert "Triage of sample-service: SEV3, suspected incident redis_down" in text
    assert "not auto-fixable here" in text  # nothing is auto-fixable by default: no fix ran
    assert rulebook.count("PLAY [Redis Cache Down]") == 0
    # The run's effects: the PagerDuty alert acknowledged under the alert's dedup key, one incident, one run.
    assert [ack["dedup_key"] for ack in acknowledgments(healed_lab)] == [DATADOG["aggreg_key"]]
    [incident] = incident_dirs(store)
    record = json.loads((incident / "record.json").read_text())
    assert [(run["playbook"], run["by"]) for run in record["runs"]] == [("Triage", "ansible-rulebook (datadog alert)")]
    assert record["status"] == "investigating" and not record["actions"]
    posts = [r["body"]["text"] for r in sink(healed_lab, "slack") if r.get("method") == "chat.postMessage"]
    assert posts[0] == "Investigating - ansible-rulebook (datadog alert)"

    # An alert storm: ten identical alerts within a few seconds, the same incident from PagerDuty and
    # Alertmanager, and alerts for services that are not under care.
    storm = time.monotonic()
    for _copy in range(10):
        rulebook.post("datadog", DATADOG, "/datadog")
    assert time.monotonic() - storm < 5
    rulebook.post("pagerduty", PAGERDUTY)
    rulebook.post("alertmanager", ALERTMANAGER)
    rulebook.post("datadog", with_service(DATADOG, "payments"), "/datadog")
    rulebook.post("pagerduty", {"event": dict(PAGERDUTY["event"], data=dict(
        PAGERDUTY["event"]["data"], service={"id": "PCHECK", "summary": "checkout"}))})

    rulebook.wait_for("datadog alert '%s' for sample-service" % DATADOG["title"], times=11)
    rulebook.wait_for("pagerduty alert '%s' for sample-service (incident db_pool_exhausted, dedup key %s)" % (
        PAGERDUTY["event"]["data"]["title"], PAGERDUTY["event"]["data"]["incident_key"]))
    firing, resolved = ALERTMANAGER["alerts"]
    rulebook.wait_for("alertmanager alert '%s' for sample-service (incident high_error_rate, dedup key %s)" % (
        firing["annotations"]["summary"], firing["fingerprint"]))
    rulebook.wait_for("Ignored alertmanager event for 'checkout': resolved, not a firing alert")
    rulebook.wait_for("unknown service 'payments', not in sre_known_services; no run")
    rulebook.wait_for("unknown service 'checkout', not in sre_known_services; no run")
    time.sleep(3)  # a run the storm might have started would have shown up by now

    assert rulebook.count("Running ") == 1, rulebook.text()
    assert rulebook.count("PLAY [") == 1 and rulebook.count("PLAY RECAP") == 1
    assert len(acknowledgments(healed_lab)) == 1
    assert incident_dirs(store) == [incident] and len(runs(store)) == 1
    assert rulebook.process.poll() is None
    print("first alert -> triage done in %.1f s; storm of 14 alerts handled, no second run" % first_run)


def test_alert_for_an_auto_fixable_incident_runs_its_playbook(healed_lab, lab_control, store, rulebooks):
    lab_control.break_incident("redis_down")
    rulebook = rulebooks(sre_auto_fix_incidents=["redis_down"])
    started = time.monotonic()

    rulebook.post("datadog", DATADOG, "/datadog")
    rulebook.wait_for("redis_down on sample-service: option ", timeout=120)
    seconds = time.monotonic() - started

    text = rulebook.text()
    assert rulebook.count("Running redis_down on sample-service for the datadog alert %s" % DATADOG["aggreg_key"]) == 1
    assert "redis_down on sample-service: option failover, changed True, verified True" in text
    assert rulebook.count("PLAY [Triage]") == 0  # the incident playbook starts with triage itself
    [incident] = incident_dirs(store)
    record = json.loads((incident / "record.json").read_text())
    assert record["status"] == "resolved" and record["actions"][0]["option"] == "failover"
    assert [run["playbook"] for run in record["runs"]] == ["Redis Cache Down"]
    assert [ack["dedup_key"] for ack in acknowledgments(healed_lab)] == [DATADOG["aggreg_key"]]
    client = redis.Redis.from_url(healed_lab["redis"]["url"], socket_connect_timeout=2, socket_timeout=2)
    try:
        assert client.ping() and client.info("replication")["role"] == "master"  # the failover really happened
    finally:
        client.close()
    print("auto-fixable alert -> redis_down fixed and verified in %.1f s" % seconds)
