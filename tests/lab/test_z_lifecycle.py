"""down/up cycle (runs last: the file name sorts last). The lab is up again afterwards, same credentials."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
import redis

from lab import client

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_down_is_idempotent_and_up_reuses_the_state_dir(lab):
    assert client.down() is True
    assert client.status() == {"running": False, "state_dir": lab["state_dir"]}
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(lab["redis"]["url"], socket_connect_timeout=1).ping()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(lab["postgres"]["app_dsn"], connect_timeout=2)
    assert client.down() is False

    started = time.monotonic()
    status = client.up()
    elapsed = time.monotonic() - started
    assert status.pop("already_running") is False
    assert elapsed < 10, f"up took {elapsed:.1f} s"
    for key in ("postgres", "datadog", "slack", "pagerduty", "aws", "ecs"):
        assert status[key] == lab[key], key
    # Only the addresses and credentials: node roles and endpoint state depend on what ran before.
    for key in ("url", "host", "port", "password", "members"):
        assert status["redis"][key] == lab["redis"][key], key
    assert redis.Redis.from_url(lab["redis"]["url"], socket_connect_timeout=1).ping() is True
    with psycopg.connect(lab["postgres"]["app_dsn"], connect_timeout=3) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_up_replaces_a_daemon_whose_state_dir_was_deleted_under_it(lab):
    """A checkout removed while its lab ran, then cloned again in the same place: the old daemon still answers for
    the path with secrets the new state dir does not know. up stops it and starts this state dir's lab."""
    # Not pytest's tmp_path: initdb runs as the postgres user, who cannot enter root's 0700 pytest directory.
    tmp_path = Path(tempfile.mkdtemp(prefix="sre-lab-orphan-"))
    os.chmod(tmp_path, 0o755)
    env = dict(os.environ, SRE_LAB_DIR=str(tmp_path / "lab"), SRE_LAB_PORT_BASE=str(lab["port_base"] + 300))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    def status():
        return json.loads(cli("status", "--json").stdout)

    try:
        assert cli("up").returncode == 0
        orphan = status()
        shutil.rmtree(tmp_path / "lab")

        result = cli("up")

        assert result.returncode == 0, result.stdout + result.stderr
        assert "stopping lab daemon %d" % orphan["pid"] in result.stderr
        fresh = status()
        assert fresh["running"] is True and fresh["pid"] != orphan["pid"]
        assert fresh["datadog"]["api_key"] != orphan["datadog"]["api_key"]
        assert json.loads((tmp_path / "lab" / "status.json").read_text())["pid"] == fresh["pid"]
        answer = urllib.request.urlopen(urllib.request.Request(  # the emulator on the port knows the new key
            fresh["datadog"]["url"] + "/api/v1/validate", headers={"DD-API-KEY": fresh["datadog"]["api_key"]}), timeout=5)
        assert answer.status == 200
        assert cli("down").returncode == 0
        assert status()["running"] is False
        assert processes_mentioning(tmp_path) == []  # the orphan's PostgreSQL and Redis too
    finally:
        cli("down")
        shutil.rmtree(tmp_path, ignore_errors=True)


def processes_mentioning(path):
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(path).encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass  # ended meanwhile
    return found
