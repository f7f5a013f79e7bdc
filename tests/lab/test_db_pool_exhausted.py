"""break db_pool_exhausted: real leaked sample_app sessions up to the role's limit (or, --pool-only, an app pool
too small for its demand); the runbook's fixes work on them; heal closes only what the lab opened."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest
from labhelpers import CLUSTER, SERVICE, health, last_value, register_variant, wait_rollout, wait_until

from lab import client

LOG_GROUP = "/aws/ecs/sample-service-prod"
TOO_MANY = 'too many connections for role "sample_app"'
KNEX = "KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full."


def automation(lab) -> psycopg.Connection:
    return psycopg.connect(lab["postgres"]["automation_dsn"], autocommit=True, connect_timeout=10)


def app_connect(lab, **kwargs) -> psycopg.Connection:
    return psycopg.connect(lab["postgres"]["app_dsn"], autocommit=True, connect_timeout=10, **kwargs)


def app_sessions(lab) -> list[dict]:
    """sample_app's client sessions as sre_automation sees them (ages in seconds)."""
    with automation(lab) as conn:
        cur = conn.execute("""
            SELECT pid, application_name, state, query, backend_start,
                   extract(epoch FROM clock_timestamp() - state_change)::float8 AS idle_for,
                   extract(epoch FROM clock_timestamp() - query_start)::float8 AS running_for
            FROM pg_stat_activity WHERE usename = 'sample_app' AND backend_type = 'client backend'""")
        names = [c.name for c in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def log_lines(aws, text: str, since_ms: int) -> list[dict]:
    """The log group's lines since ``since_ms`` whose message contains ``text``."""
    events = aws("logs").filter_log_events(logGroupName=LOG_GROUP, startTime=since_ms,
                                           filterPattern=f'"{text.split(chr(34))[0].strip()}"')["events"]
    return [line for line in (json.loads(e["message"]) for e in events) if text in line["message"]]


def pool(query_metric) -> tuple[float | None, float | None]:
    resp = query_metric("avg:sample.db.pool.size{*},avg:sample.db.pool.available{*}", seconds=10)
    return last_value(resp, 0), last_value(resp, 1)


def lab_log_from(lab, offset: int) -> str:
    with open(lab["log_file"], "rb") as fh:
        fh.seek(offset)
        return fh.read().decode(errors="replace")


def test_break_leaks_sessions_up_to_the_role_limit_and_heal_closes_only_those(healed_lab, aws, query_metric):
    assert healed_lab["postgres"]["app_connection_limit"] == 24
    assert healed_lab["postgres"]["app_application_name"] == "sample-service"
    assert app_sessions(healed_lab) == []
    since = int(time.time() * 1000)
    own = [app_connect(healed_lab, application_name="pytest-own") for _n in range(2)]  # they count toward the limit
    try:
        result = client.break_incident("db_pool_exhausted")
        options = result["options"]
        assert {k: options[k] for k in ("pool_only", "idle", "idle_in_transaction", "long_running", "limit",
                                        "app_sessions_before", "age")} == {
            "pool_only": False, "idle": 15, "idle_in_transaction": 4, "long_running": 3, "limit": 24,
            "app_sessions_before": 2, "age": 4.0}
        assert result["status"]["scenario"]["active"] == ["db_pool_exhausted"]
        assert result["status"]["scenario"]["options"]["db_pool_exhausted"] == options
        arns = aws("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE)["taskArns"]
        assert set(options["tasks"]) == {arn.rsplit("/", 1)[-1] for arn in arns}

        with pytest.raises(psycopg.OperationalError, match=TOO_MANY):
            app_connect(healed_lab)
        sessions = app_sessions(healed_lab)  # sre_automation still gets in
        assert len(sessions) == 24
        leaked = [s for s in sessions if s["application_name"] == "sample-service"]
        assert len(leaked) == 22
        states = {state: [s for s in leaked if s["state"] == state]
                  for state in ("idle", "idle in transaction", "active")}
        assert (len(states["idle"]), len(states["idle in transaction"]), len(states["active"])) == (15, 4, 3)
        assert sorted(s["pid"] for s in states["idle"]) == sorted(options["pids"]["idle"])
        assert all(s["idle_for"] >= 4.0 for s in states["idle"] + states["idle in transaction"])
        assert all(s["running_for"] >= 4.0 and "pg_sleep" in s["query"] for s in states["active"])
        assert all(s["query"].endswith("FOR UPDATE") for s in states["idle in transaction"])

        wait_until(lambda: pool(query_metric) == (20.0, 0.0), timeout=3, what="pool.size 20, pool.available 0")
        lines = wait_until(lambda: log_lines(aws, TOO_MANY, since), timeout=3, what="'too many connections' lines")
        assert lines[-1]["level"] == "error" and lines[-1]["error"] == {"code": "53300", "severity": "FATAL"}
        assert lines[-1]["message"] == f"Error: {TOO_MANY}"
        knex = log_lines(aws, "KnexTimeoutError", since)
        assert knex and knex[-1]["message"].startswith(KNEX) and knex[-1]["pool"]["size"] == 20
        assert log_lines(aws, "Checkout failed", since) == []  # the checkout flow is not what fails
        assert health(healed_lab) == (200, {"status": "degraded", "checks": {"database": "pool exhausted"}})
        success = last_value(query_metric("avg:sample.requests.success_rate{*}", seconds=3))
        assert 80 < success < 95

        healed = client.heal()
        assert "postgres: 22 leaked sample_app sessions closed" in healed["changes"]
        assert healed["status"]["scenario"] == {"active": [], "options": {}}
        remaining = app_sessions(healed_lab)
        assert {s["application_name"] for s in remaining} == {"pytest-own"} and len(remaining) == 2
        for conn in own:  # the test's own sessions were not touched
            assert conn.execute("SELECT 1").fetchone() == (1,)
        app_connect(healed_lab).close()
        assert health(healed_lab) == (200, {"status": "ok"})
        wait_until(lambda: (pool(query_metric)[1] or 0) >= 12, timeout=3, what="pool available again")
        again = client.heal()
        assert again["changed"] is False and not any(c.startswith("postgres") for c in again["changes"])
    finally:
        for conn in own:
            conn.close()


def test_break_makes_up_for_sessions_that_end_while_it_waits(healed_lab):
    """Other sessions count toward the limit; when they end during the age wait, break opens more (and lets
    those age too), so it still returns with sample_app at its limit."""
    import threading

    own = [app_connect(healed_lab, application_name="pytest-own") for _n in range(3)]
    closer = threading.Timer(0.5, lambda: [conn.close() for conn in own])
    closer.start()
    try:
        options = client.break_incident("db_pool_exhausted", age=1.5)["options"]
    finally:
        closer.join()
    assert options["app_sessions_before"] == 3 and options["idle"] == 24 - 7
    with pytest.raises(psycopg.OperationalError, match=TOO_MANY):
        app_connect(healed_lab)
    sessions = app_sessions(healed_lab)
    assert len(sessions) == 24 and {s["application_name"] for s in sessions} == {"sample-service"}
    assert min(s["idle_for"] for s in sessions) >= 1.5
    assert client.heal()["changes"][0] == "postgres: 24 leaked sample_app sessions closed"


def test_terminating_the_stale_sessions_frees_the_pool(healed_lab, aws, query_metric):
    """The runbook's option 1/2: pg_terminate_backend as sre_automation (idle and long-running sessions)."""
    offset = Path(healed_lab["log_file"]).stat().st_size
    options = client.break_incident("db_pool_exhausted", age=0.5)["options"]
    with automation(healed_lab) as conn:
        ended = conn.execute("""
            SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE usename = 'sample_app' AND application_name = 'sample-service' AND state IN ('idle', 'active')
        """).fetchall()
    assert len(ended) == options["idle"] + 3 and all(ok for _pid, ok in ended)
    wait_until(lambda: len(app_sessions(healed_lab)) == 4, timeout=3, what="the terminated backends gone")
    fixed = int(time.time() * 1000)
    app_connect(healed_lab).close()
    wait_until(lambda: (pool(query_metric)[1] or 0) > 0, timeout=4, what="pool.available > 0")
    wait_until(lambda: health(healed_lab) == (200, {"status": "ok"}), timeout=3, what="health ok")
    time.sleep(2.2)  # two more ticks
    assert log_lines(aws, TOO_MANY, fixed) == []
    assert [s["state"] for s in app_sessions(healed_lab)] == ["idle in transaction"] * 4
    assert client.heal()["changes"][0] == "postgres: 4 leaked sample_app sessions closed"
    text = lab_log_from(healed_lab, offset)
    assert "Traceback" not in text and " ERROR " not in text, text


def test_a_restart_closes_the_old_tasks_leaked_sessions(healed_lab, aws, query_metric):
    """The runbook's option 3: UpdateService forceNewDeployment; the new tasks do not have the old ones' sessions."""
    from test_cli import run_cli

    broken = run_cli("break", "db_pool_exhausted", "--age", "0.2")
    assert broken.returncode == 0, broken.stderr
    assert broken.stdout.startswith("broke db_pool_exhausted (pool_only=False, idle=17,")
    assert len(app_sessions(healed_lab)) == 24
    aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, forceNewDeployment=True)
    wait_rollout(aws, timeout=healed_lab["ecs"]["deploy_seconds"] + 4)
    wait_until(lambda: app_sessions(healed_lab) == [], timeout=3, what="the leaked sessions closed")
    wait_until(lambda: (pool(query_metric)[1] or 0) >= 12, timeout=3, what="pool available again")
    assert health(healed_lab) == (200, {"status": "ok"})
    healed = client.heal()
    assert not any(c.startswith("postgres") for c in healed["changes"])


def test_pool_only_is_fixed_by_a_bigger_pool(healed_lab, aws, query_metric):
    """--pool-only: the app wants 26 connections from a pool of 20 while PostgreSQL has room; the runbook's
    option 4 (MAX_DB_CONNECTIONS 20 -> 30 through a new revision) fixes it."""
    since = int(time.time() * 1000)
    result = client.break_incident("db_pool_exhausted", pool_only=True)
    assert result["options"] == {"pool_only": True, "demand": 26, "pool_size": 20}
    assert health(healed_lab) == (200, {"status": "degraded", "checks": {"database": "pool exhausted"}})
    wait_until(lambda: pool(query_metric) == (20.0, 0.0), timeout=3, what="pool.available 0")
    knex = wait_until(lambda: log_lines(aws, "KnexTimeoutError", since), timeout=3, what="Knex timeout lines")
    assert knex[-1]["pool"] == {"size": 20, "used": 20, "pending": 6}
    assert app_sessions(healed_lab) == []
    app_connect(healed_lab).close()
    assert log_lines(aws, TOO_MANY, since) == []

    bigger = register_variant(aws, env={"MAX_DB_CONNECTIONS": "30"})
    aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=bigger)
    wait_rollout(aws, timeout=healed_lab["ecs"]["deploy_seconds"] + 4)
    fixed = int(time.time() * 1000)
    wait_until(lambda: (p := pool(query_metric))[0] == 30.0 and p[1] > 0, timeout=3, what="pool 30, available > 0")
    assert health(healed_lab) == (200, {"status": "ok"})
    time.sleep(1.2)
    assert log_lines(aws, "KnexTimeoutError", fixed) == []

    healed = client.heal()
    assert "app: database connection demand back to 6" in healed["changes"]
    assert healed["status"]["scenario"] == {"active": [], "options": {}}
    wait_until(lambda: (p := pool(query_metric))[0] == 20.0 and p[1] >= 12, timeout=3, what="baseline pool")


def test_break_options_are_checked(healed_lab):
    from test_cli import run_cli

    for args, message in ((("db_pool_exhausted", "--replica-down"),
                           "unknown option(s) for db_pool_exhausted: replica_down (valid: pool_only, age)"),
                          (("memory_leak", "--age", "3"), "unknown option(s) for memory_leak: age"),
                          (("db_pool_exhausted", "--age", "-1"), "age must be between 0 and"),
                          (("db_pool_exhausted", "--age", "soon"), "invalid float value")):
        result = run_cli("break", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert client.status()["scenario"] == {"active": [], "options": {}}
