"""Database Connection Pool Exhausted end to end: the real playbook against the lab's PostgreSQL, ECS and Datadog.

Outcomes are read back from pg_stat_activity (which sessions really ended), ECS (revisions, deployments) and the
application's own view (can a new app connection get in?).
"""

import threading
import time

import psycopg
import pytest

from helpers import container_environment, ecs_service, ecs_snapshot, lab_secrets, output, recap_counts, run_playbook

LEAKED_APP = "sample-service"  # the application_name of the sessions the lab's break leaks


def connect(dsn, application, **kwargs):
    return psycopg.connect(dsn, application_name=application, autocommit=True, connect_timeout=10, **kwargs)


def sessions(status):
    """Client sessions other than this query's own and the automation's: {pid: (user, application, state)}."""
    with connect(status["postgres"]["admin_dsn"], "test-observer") as conn:
        rows = conn.execute(
            "SELECT pid, usename, application_name, coalesce(state, '') FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND application_name NOT IN ('sre.incident', 'test-observer', 'sre-lab-monitor')").fetchall()
    return {row[0]: tuple(row[1:]) for row in rows}


def leaked_pids(status):
    return {pid for pid, (user, app, _state) in sessions(status).items() if user == "sample_app" and app == LEAKED_APP}


def app_can_connect(status):
    try:
        with connect(status["postgres"]["app_dsn"], "test-new-connection") as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError as exc:
        assert "too many connections" in str(exc), exc
        return False


class Bystanders:
    """Sessions the fix must leave alone: a superuser, a protected application, a short busy query."""

    def __init__(self, status):
        pg = status["postgres"]
        self.superuser = connect(pg["admin_dsn"], "dba-console")
        self.protected = connect(pg["app_dsn"], "pg_dump")
        self.busy = connect(pg["app_dsn"], "sample-service-worker")
        for conn in (self.superuser, self.protected):
            conn.execute("SELECT 1")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run_short_queries, daemon=True)
        self._thread.start()

    def _run_short_queries(self):
        while not self._stop.is_set():
            try:
                self.busy.execute("SELECT pg_sleep(0.2)")
            except psycopg.Error:
                return

    @property
    def pids(self):
        return {conn.info.backend_pid for conn in (self.superuser, self.protected, self.busy)}

    def alive(self):
        """Each bystander's own connection still works."""
        self._stop.set()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the bystander's short queries did not stop"
        return all(conn.execute("SELECT 1").fetchone() == (1,) for conn in (self.superuser, self.protected, self.busy))

    def close(self):
        self._stop.set()
        self._thread.join(30)
        if self._thread.is_alive():  # never close a connection another thread still uses (psycopg's C code)
            return
        for conn in (self.superuser, self.protected, self.busy):
            try:
                conn.close()
            except psycopg.Error:
                pass


@pytest.fixture
def bystanders(healed_lab):
    opened = Bystanders(healed_lab)
    yield opened
    opened.close()


def test_check_reports_usage_states_long_queries_and_pids_and_changes_nothing(healed_lab, lab_control, bystanders):
    lab_control.break_incident("db_pool_exhausted")
    leaked = leaked_pids(healed_lab)
    assert len(leaked) >= 7 and not app_can_connect(healed_lab)
    before_sessions, before_ecs = sessions(healed_lab), ecs_snapshot(healed_lab)

    result, seconds = run_playbook("db_pool_exhausted.yml", "--check")

    text = output(result)
    assert result.returncode == 0, text
    assert "Connections: " in text and "max_connections 30" in text and " %)" in text
    assert "By state: idle" in text and "idle in transaction" in text
    assert "Long-running: pid" in text and "pg_sleep" in text
    assert "Role sample_app: 24 of its connection limit 24" in text
    assert "Pool (metrics): 0 of 20 available" in text
    assert "Would take option(s) kill_idle + kill_long_running" in text
    would_end = {int(word) for line in text.splitlines() if "Would end pid" in line
                 for word in [line.split("Would end pid")[1].split()[0]]}
    assert would_end == leaked
    for pid in bystanders.pids:
        assert "Would end pid %d " % pid not in text
    assert "Review slow queries and add indexes" in text
    assert not [secret for secret in lab_secrets(healed_lab) if secret in text]
    assert sessions(healed_lab).keys() == before_sessions.keys()
    assert ecs_snapshot(healed_lab) == before_ecs
    print("db_pool_exhausted --check took %.2f s" % seconds)


def test_fix_ends_exactly_the_stale_app_sessions_verifies_and_rerun_ends_nothing(healed_lab, lab_control, bystanders):
    lab_control.break_incident("db_pool_exhausted")
    leaked = leaked_pids(healed_lab)
    before = sessions(healed_lab)
    before_ecs = ecs_snapshot(healed_lab)

    result, _seconds = run_playbook("db_pool_exhausted.yml")

    text = output(result)
    assert result.returncode == 0, text
    assert "Taking option(s) kill_idle + kill_long_running" in text
    after = sessions(healed_lab)
    ended = set(before) - set(after)
    assert ended == leaked, (sorted(ended), sorted(leaked))
    assert bystanders.pids <= set(after)
    assert bystanders.alive()
    assert app_can_connect(healed_lab)
    assert "Database Connection Pool Exhausted - verified after option kill_idle+kill_long_running" in text
    assert ecs_snapshot(healed_lab)["task_definitions"] == before_ecs["task_definitions"]
    assert not [secret for secret in lab_secrets(healed_lab) if secret in text]

    still = sessions(healed_lab)
    rerun, _seconds = run_playbook("db_pool_exhausted.yml")
    assert rerun.returncode == 0, output(rerun)
    assert "Taking option(s) none" in output(rerun)
    assert recap_counts(rerun)["changed"] == 0, output(rerun)
    assert set(still) <= set(sessions(healed_lab))


def test_cap_below_the_matches_refuses_and_ends_nothing(healed_lab, lab_control, bystanders):
    lab_control.break_incident("db_pool_exhausted")
    before = sessions(healed_lab)
    idle = sum(1 for user, app, state in before.values() if user == "sample_app" and app == LEAKED_APP and state == "idle")

    result, _seconds = run_playbook("db_pool_exhausted.yml", "-e", "postgres_remediate_max_terminate=5")

    text = output(result)
    assert result.returncode != 0
    assert "%d sessions match, more than max_terminate=5; ended none" % idle in text
    assert "No session was ended" in text
    assert sessions(healed_lab).keys() == before.keys()


def test_a_role_without_pg_signal_backend_fails_clearly_and_ends_nothing(healed_lab, lab_control):
    pg = healed_lab["postgres"]
    password = "ReadOnly-Secret-4711"
    with connect(pg["admin_dsn"], "test-setup") as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'sre_readonly'").fetchone()
        conn.execute("%s ROLE sre_readonly LOGIN PASSWORD '%s'" % ("ALTER" if exists else "CREATE", password))
        conn.execute("GRANT pg_read_all_stats TO sre_readonly")
        conn.execute("GRANT CONNECT ON DATABASE %s TO sre_readonly" % pg["database"])
    lab_control.break_incident("db_pool_exhausted")
    before = sessions(healed_lab)
    dsn = "postgresql://sre_readonly:%s@%s:%s/%s" % (password, pg["host"], pg["port"], pg["database"])

    result, _seconds = run_playbook("db_pool_exhausted.yml", "-e", "postgres_dsn=" + dsn)

    text = output(result)
    assert result.returncode != 0
    assert "role sre_readonly may not end other sessions: grant it pg_signal_backend" in text
    assert "No session was ended" in text
    assert password not in text and "Traceback" not in text
    assert sessions(healed_lab).keys() == before.keys()


def test_unreachable_postgres_fails_in_one_line_naming_host_and_port(healed_lab):
    password = "Unreachable-Secret-99"
    started = time.monotonic()
    result, _seconds = run_playbook("db_pool_exhausted.yml", "--check",
                                    "-e", "postgres_dsn=postgresql://sre_automation:%s@127.0.0.1:9/sample" % password)
    text = output(result)
    assert result.returncode != 0
    assert "PostgreSQL 127.0.0.1:9 connect: connection refused - check host/port and that PostgreSQL listens there: connection failed" in text
    assert password not in text and "Traceback" not in text
    assert time.monotonic() - started < 30


def test_option_3_restart_resets_the_pool(healed_lab, lab_control):
    lab_control.break_incident("db_pool_exhausted")
    revision = ecs_service(healed_lab)["taskDefinition"]

    result, _seconds = run_playbook("db_pool_exhausted.yml", "-e", "db_remediation_option=restart")

    text = output(result)
    assert result.returncode == 0, text
    assert "Taking option(s) restart (forced by db_remediation_option)" in text
    assert not leaked_pids(healed_lab) and app_can_connect(healed_lab)
    service = ecs_service(healed_lab)
    assert service["taskDefinition"] == revision and len(service["deployments"]) == 1
    assert "verified after option restart" in text


def test_option_4_raises_the_pool_when_only_the_app_pool_is_full(healed_lab, lab_control):
    lab_control.break_incident("db_pool_exhausted", pool_only=True)
    before = ecs_snapshot(healed_lab)

    check, _seconds = run_playbook("db_pool_exhausted.yml", "--check")
    assert check.returncode == 0, output(check)
    assert "Would take option(s) raise_pool" in output(check)
    assert ecs_snapshot(healed_lab) == before

    result, _seconds = run_playbook("db_pool_exhausted.yml")

    text = output(result)
    assert result.returncode == 0, text
    service = ecs_service(healed_lab)
    assert service["taskDefinition"] not in before["task_definitions"]
    assert container_environment(healed_lab, service["taskDefinition"])["MAX_DB_CONNECTIONS"] == "30"
    assert "verified after option raise_pool" in text


def test_option_4_is_refused_while_the_database_is_exhausted(healed_lab, lab_control):
    lab_control.break_incident("db_pool_exhausted")
    before = ecs_snapshot(healed_lab)
    before_sessions = sessions(healed_lab)

    result, _seconds = run_playbook("db_pool_exhausted.yml", "-e", "db_remediation_option=raise_pool")

    text = output(result)
    assert result.returncode != 0
    assert "Not raising MAX_DB_CONNECTIONS to 30" in text and "Nothing was changed" in text
    assert ecs_snapshot(healed_lab) == before
    assert sessions(healed_lab).keys() == before_sessions.keys()
