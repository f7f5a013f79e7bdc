"""down/up cycle (runs last: the file name sorts last). The lab is up again afterwards, same credentials."""

from __future__ import annotations

import time

import psycopg
import pytest
import redis

from lab import client


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
