"""The CLI contract: idempotent up/down, status --json == status.json, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lab import config

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=env or dict(os.environ), timeout=60, check=False)


def test_up_when_already_up_says_so_and_exits_0(lab):
    result = run_cli("up")
    assert result.returncode == 0, result.stderr
    assert "already running" in result.stdout


def test_status_json_is_what_status_file_holds(healed_lab):
    result = run_cli("status", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    on_disk = json.loads((Path(printed["state_dir"]) / "status.json").read_text())
    assert printed == on_disk


def test_status_has_the_contract_keys_and_ports(lab):
    base = lab["port_base"]
    assert lab["running"] is True
    assert lab["scenario"] == {"active": [], "options": {}} or isinstance(lab["scenario"]["active"], list)
    assert lab["aws"] == {"endpoint_url": f"http://127.0.0.1:{base}", "region": "us-east-1",
                          "access_key_id": "testing", "secret_access_key": "testing", "account_id": "123456789012"}
    assert lab["ecs"]["cluster"] == "sample-service-prod"
    assert lab["ecs"]["service"] == "sample-service"
    assert lab["ecs"]["task_family"] == "sample-service"
    assert lab["ecs"]["container"] == "sample-service"
    assert lab["ecs"]["baseline_task_definition"].endswith(":task-definition/sample-service:5")
    assert lab["elasticache"]["replication_group_id"] == "sample-service-redis-prod"
    assert lab["elasticache"]["node_group_id"] == "0001"
    assert lab["elasticache"]["members"] == ["sample-service-redis-prod-001", "sample-service-redis-prod-002"]
    assert lab["logs"]["log_group"] == "/aws/ecs/sample-service-prod"
    assert lab["s3"] == {"heapdump_bucket": "sample-service-heapdumps"}
    pg = lab["postgres"]
    assert (pg["host"], pg["port"]) == ("127.0.0.1", base + 20)
    assert pg["app_dsn"].startswith("postgresql://sample_app:") and pg["app_dsn"].endswith(f"@127.0.0.1:{base + 20}/sample")
    assert pg["automation_dsn"].startswith("postgresql://sre_automation:")
    assert pg["admin_dsn"].startswith("postgresql://postgres:")
    redis = lab["redis"]
    assert redis["url"] == f"redis://:{redis['password']}@127.0.0.1:{base + 10}/0"
    assert (redis["host"], redis["port"]) == ("127.0.0.1", base + 10)
    assert redis["nodes"]["sample-service-redis-prod-001"]["port"] == base + 11
    assert redis["nodes"]["sample-service-redis-prod-002"]["port"] == base + 12
    assert lab["datadog"]["url"] == f"http://127.0.0.1:{base + 1}"
    assert lab["health"]["url"] == f"http://127.0.0.1:{base + 2}/v1/health"
    assert lab["slack"]["url"] == f"http://127.0.0.1:{base + 3}"
    assert lab["pagerduty"]["url"] == f"http://127.0.0.1:{base + 4}"
    for secret in (redis["password"], lab["datadog"]["api_key"], lab["datadog"]["app_key"],
                   lab["slack"]["token"], lab["pagerduty"]["routing_key"]):
        assert len(secret) >= 24


def test_unknown_incident_exits_2_and_lists_the_valid_names(lab):
    result = run_cli("break", "disk_full")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    for name in config.INCIDENTS:
        assert name in result.stderr


def test_every_incident_is_implemented():
    from lab.scenarios import IMPLEMENTED, OPTIONS

    assert set(IMPLEMENTED) == set(config.INCIDENTS) == set(OPTIONS)


def test_an_option_of_another_incident_is_a_usage_error(lab):
    result = run_cli("break", "memory_leak", "--no-good-revision")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "unknown option(s) for memory_leak: no_good_revision" in result.stderr


def test_usage_errors_exit_2_in_one_line():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


def test_commands_against_a_lab_that_is_not_up(tmp_path, lab):
    env = dict(os.environ, SRE_LAB_DIR=str(tmp_path / "nolab"), SRE_LAB_PORT_BASE=str(lab["port_base"] + 300))
    down = run_cli("down", env=env)
    assert down.returncode == 0 and "not running" in down.stdout
    status = run_cli("status", "--json", env=env)
    assert status.returncode == 3
    assert json.loads(status.stdout) == {"running": False, "state_dir": str(tmp_path / "nolab")}
    broken = run_cli("break", "redis_down", env=env)
    assert broken.returncode == 1
    assert "not running" in broken.stderr and broken.stderr.count("\n") == 1


def test_up_fails_in_one_line_when_a_port_is_taken(tmp_path, lab):
    import socket

    # below the ephemeral port range: a pooled client connection elsewhere must not hold one of these ports
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    base = lab["port_base"] + 400 if lab["port_base"] + 430 < low else low - 1000 + lab["port_base"] % 500
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", base + 2))
    blocker.listen(1)
    try:
        env = dict(os.environ, SRE_LAB_DIR=str(tmp_path / "blocked"), SRE_LAB_PORT_BASE=str(base))
        result = run_cli("up", env=env)
    finally:
        blocker.close()
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"port {base + 2} (health)" in result.stderr, result.stderr
    assert run_cli("status", env=env).returncode == 3
