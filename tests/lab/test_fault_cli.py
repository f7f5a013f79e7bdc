"""The fault and journal CLI: one-line errors, exit codes, --json."""

from __future__ import annotations

import json
import time

import pytest

from lab import client as lab_client

from test_cli import run_cli

FLAG = "/sample-service/prod/feature-flags/new-checkout"


@pytest.fixture(autouse=True)
def no_faults_after(lab):
    yield
    lab_client.clear_faults()


@pytest.mark.parametrize("args,start", [
    (("fault", "nosuch", "down"), "lab: unknown fault backend 'nosuch'; valid: aws, datadog, postgres, redis, "),
    (("fault", "aws", "slow", "--seconds", "abc"), "lab: argument --seconds: invalid float value: 'abc'"),
    (("fault", "aws", "500", "--seconds", "2"), "lab: --seconds applies to the slow mode only, not 500"),
    (("fault", "aws", "down", "extra"), "lab: fault takes BACKEND MODE, status or clear"),
    (("fault", "clear", "--operation", "X"), "lab: fault clear takes no options"),
    (("journal", "--since", "yesterday"), "lab: since must be epoch seconds or ISO 8601"),
])
def test_usage_errors_are_one_line_exit_2_and_change_nothing(lab, args, start):
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(start) and result.stderr.count("\n") == 1, result.stderr
    assert lab_client.faults() == []


def test_fault_status_clear(lab):
    result = run_cli("fault", "aws", "throttling", "--operation", "UpdateService")
    assert (result.returncode, result.stdout) == (0, "fault: aws throttling --operation UpdateService\n")
    assert run_cli("fault", "redis", "slow", "--seconds", "2").stdout == "fault: redis slow --seconds 2\n"
    listed = json.loads(run_cli("fault", "--json").stdout)
    assert listed == [{"backend": "aws", "mode": "throttling", "operation": "UpdateService", "seconds": None},
                      {"backend": "redis", "mode": "slow", "operation": None, "seconds": 2.0}]
    assert run_cli("fault", "status").stdout.splitlines() == [
        "fault: aws throttling --operation UpdateService", "fault: redis slow --seconds 2"]
    assert "  faults      aws throttling --operation UpdateService; redis slow --seconds 2" in \
        run_cli("status").stdout.splitlines()
    assert json.loads(run_cli("status", "--json").stdout)["faults"] == listed
    result = run_cli("fault", "clear")
    assert (result.returncode, result.stdout) == (0, "cleared: aws throttling --operation UpdateService, "
                                                     "redis slow --seconds 2\n")
    assert run_cli("fault").stdout == "no faults\n"
    assert run_cli("fault", "clear").stdout == "no faults to clear\n"


def test_journal_human_and_json(lab, aws):
    since = time.time()
    assert run_cli("journal", "--since", str(since)).stdout == "journal: no changes\n"
    aws("ssm").put_parameter(Name=FLAG, Value="off", Type="String", Overwrite=True)
    lines = run_cli("journal", "--since", str(since)).stdout.splitlines()
    assert len(lines) == 1
    assert f"aws       PutParameter {FLAG}  Name=\"{FLAG}\" Value=\"off\"" in lines[0]
    entries = json.loads(run_cli("journal", "--json", "--since", str(since)).stdout)
    assert [e["operation"] for e in entries] == ["PutParameter"]
    assert set(entries[0]) == {"seq", "ts", "time", "backend", "operation", "target", "params"}


def test_journal_clear(lab, aws):
    aws("ssm").put_parameter(Name=FLAG, Value="off", Type="String", Overwrite=True)
    result = run_cli("journal", "--clear")
    assert result.returncode == 0 and result.stdout.startswith("journal cleared (") and result.stdout != \
        "journal cleared (0 entries)\n"
    assert lab_client.journal() == []
