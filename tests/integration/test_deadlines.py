"""Bounded time: --check of every incident finishes within its deadline whatever one backend does, and a run past
its deadline changes nothing further and says so. A backend "hangs" here by pointing its endpoint at a local port
that accepts connections and never answers."""

import contextlib
import json
import socket
import threading
import time

import pytest

from helpers import adhoc, aws_args, ecs_service, ecs_snapshot, incident_dirs, output, run_playbook, sink, snapshot
from lab import config

# What the tests give each run (-e incident_deadline); the playbooks' own default for --check is 120 s.
DEADLINE = 20
# ansible-playbook's start before the deadline is set, and the steps that record and report after it.
ENGINE_MARGIN = 10


@contextlib.contextmanager
def hanging_port():
    """A port that accepts every connection and never answers (holding the connections open)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for connection in held:
            connection.close()
        listener.close()


# The backend each incident's --check reads, the variable that points at it, and the name its failure gives.
BACKENDS = {
    "aws": ("aws_endpoint_url", "http://127.0.0.1:{port}", "the AWS API"),
    "datadog": ("datadog_api_url", "http://127.0.0.1:{port}", "Datadog http://127.0.0.1:{port}"),
    "redis": ("redis_url", "redis://127.0.0.1:{port}/0", "Redis 127.0.0.1:{port}"),
    "postgres": ("postgres_dsn", "postgresql://sre_automation:x@127.0.0.1:{port}/sample", "PostgreSQL 127.0.0.1:{port}"),
}
READS = {
    "service_down.yml": ["aws", "datadog"],
    "memory_leak.yml": ["aws", "datadog"],
    "high_error_rate.yml": ["aws", "datadog"],
    "redis_down.yml": ["aws", "datadog", "redis"],
    "db_pool_exhausted.yml": ["aws", "datadog", "postgres"],
}
CASES = [(playbook, backend) for playbook, backends in READS.items() for backend in backends]


@pytest.mark.parametrize("playbook,backend", CASES, ids=["%s-%s" % (p[:-4], b) for p, b in CASES])
def test_check_ends_within_its_deadline_when_one_backend_hangs(healed_lab, playbook, backend):
    variable, endpoint, named = BACKENDS[backend]
    with hanging_port() as port:
        result, seconds = run_playbook(playbook, "--check", "-e", "incident_deadline=%d" % DEADLINE,
                                       "-e", "%s=%s" % (variable, endpoint.format(port=port)), timeout=DEADLINE * 4)
    text = output(result)
    print("%s with %s hanging: %.1f s (rc %d)" % (playbook, backend, seconds, result.returncode))
    assert seconds < DEADLINE + ENGINE_MARGIN, (seconds, text[-3000:])
    assert "timed out" in text and named.format(port=port) in text, text[-3000:]
    assert "Traceback" not in text


def test_check_stops_at_a_deadline_shorter_than_the_timeouts(healed_lab):
    """AWS's own read timeout is 10 s; a 6 s deadline cuts every read and the run says where it stopped."""
    deadline = 6
    with hanging_port() as port:
        result, seconds = run_playbook("redis_down.yml", "--check", "-e", "incident_deadline=%d" % deadline,
                                       "-e", "aws_endpoint_url=http://127.0.0.1:%d" % port, timeout=120)
    text = output(result)
    assert result.returncode != 0
    assert seconds < deadline + ENGINE_MARGIN, (seconds, text[-3000:])
    assert 'deadline of %d s passed at step "' % deadline in text and "cut to the run's deadline" in text, text[-3000:]
    assert "Traceback" not in text


def test_a_run_past_its_deadline_records_why_and_changes_nothing(healed_lab, lab_control):
    """A real run: the incident is opened, the diagnosis's AWS reads hang until the deadline, and the run stops
    there - the record says at which step, ECS is as it was and no fix was made."""
    lab_control.break_incident("service_down")
    status = lab_control.status()
    before = ecs_snapshot(status)
    deadline = 8  # the triage, the record and the initial response fit before it; the AWS reads do not
    with hanging_port() as port:
        result, seconds = run_playbook("service_down.yml", "-e", "incident_deadline=%d" % deadline,
                                       "-e", "aws_endpoint_url=http://127.0.0.1:%d" % port, timeout=120)
    text = output(result)
    assert result.returncode != 0
    assert seconds < deadline + ENGINE_MARGIN, (seconds, text[-3000:])
    assert "Traceback" not in text
    assert ecs_snapshot(status) == before
    incidents = incident_dirs(config.state_dir() / "incidents")
    records = [json.loads((path / "record.json").read_text()) for path in incidents]
    assert len(records) == 1, records
    failure = records[0]["details"].get("last_failure", "")
    assert failure.startswith('deadline of %d s passed at step "' % deadline), (records[0], text[-4000:])
    assert "nothing further changed" in failure and "timed out" in failure
    assert not records[0].get("actions") and records[0]["details"]["option"] == "not run", records[0]
    timeline = [json.loads(line) for line in (incidents[0] / "timeline.jsonl").read_text().splitlines()]
    assert [step for step in timeline if 'deadline of %d s passed at step "' % deadline in step.get("summary", "")], timeline


@pytest.mark.parametrize("module,args", [
    ("ecs_service_scale", lambda s: dict(cluster=s["ecs"]["cluster"], service=s["ecs"]["service"], desired_count=5,
                                         max_desired_count=6)),
    ("elasticache_failover", lambda s: dict(replication_group_id=s["elasticache"]["replication_group_id"])),
    ("ssm_parameter_set", lambda s: dict(name=s["feature_flags"]["new_checkout"], value="off-by-deadline")),
], ids=["ecs_service_scale", "elasticache_failover", "ssm_parameter_set"])
def test_a_mutating_module_past_its_deadline_refuses_before_any_change(healed_lab, module, args):
    before_ecs, before_group = ecs_snapshot(healed_lab), snapshot(healed_lab)["group"]
    result, text = adhoc(module, dict(aws_args(healed_lab), deadline=time.time() - 2, **args(healed_lab)))
    assert result.returncode != 0
    assert "the run's deadline passed" in text and "nothing changed" in text, text
    assert "Traceback" not in text
    assert ecs_snapshot(healed_lab) == before_ecs and snapshot(healed_lab)["group"] == before_group
    assert ecs_service(healed_lab)["desiredCount"] == before_ecs["desired"]


def test_a_message_past_the_deadline_is_not_sent(healed_lab):
    conf = healed_lab["slack"]
    before = len(sink(healed_lab, "slack"))
    result, text = adhoc("slack_message", {"channel": "C0123456789", "text": "late", "api_url": conf["url"] + "/api",
                                           "token": conf["token"], "deadline": time.time() - 1}, secret=conf["token"])
    assert result.returncode != 0 and "the run's deadline passed" in text, text
    assert len(sink(healed_lab, "slack")) == before
