"""PostgreSQL modules against the lab's own PostgreSQL, as the least-privilege role sre_automation."""

import threading
import time

import psycopg
import pytest

from helpers import adhoc


def session(dsn, application, autocommit=True):
    return psycopg.connect(dsn, application_name=application, autocommit=autocommit, connect_timeout=10)


def activity(status):
    with psycopg.connect(status["postgres"]["admin_dsn"], autocommit=True) as conn:
        return sorted(conn.execute("SELECT pid, application_name, state FROM pg_stat_activity "
                                   "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
                                   "AND application_name <> 'sre-lab-monitor'").fetchall())


@pytest.fixture
def sessions(healed_lab):
    """3 idle app sessions, 1 long query (run by a thread; its pid in ``long_pid``), 1 superuser, 1 protected app;
    closed afterwards."""
    pg = healed_lab["postgres"]
    opened = {
        "idle": [session(pg["app_dsn"], "sample-worker") for _index in range(3)],
        "superuser": session(pg["admin_dsn"], "dba-console"),
        "protected": session(pg["app_dsn"], "pg_dump"),
        "long": session(pg["app_dsn"], "sample-report"),
    }
    for conn in opened["idle"] + [opened["superuser"], opened["protected"]]:
        conn.execute("SELECT 1")
    # The long query's connection is its thread's alone from here on: no other thread reads it.
    opened["long_pid"] = opened["long"].info.backend_pid
    backends = [conn.info.backend_pid for conn in opened["idle"] + [opened["superuser"], opened["protected"]]]
    backends.append(opened["long_pid"])
    long_query = threading.Thread(target=_run_then_close, args=(opened["long"], "SELECT pg_sleep(20)"), daemon=True)
    long_query.start()
    time.sleep(1.5)
    yield opened
    # End the backends first (the long query's thread then closes its own connection): a connection closed
    # while another thread waits on it can crash the interpreter inside psycopg's C code, or hand its socket to
    # the next connection while the thread still reads from it.
    with psycopg.connect(pg["admin_dsn"], autocommit=True, connect_timeout=10) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)",
                      (backends,))
    long_query.join(30)
    assert not long_query.is_alive(), "the long query's thread did not end after its backend was terminated"
    for conn in opened["idle"] + [opened["superuser"], opened["protected"]]:
        try:
            conn.close()
        except psycopg.Error:
            pass


def _run_then_close(conn, sql):
    try:
        conn.execute(sql)
    except psycopg.Error:
        pass
    finally:
        conn.close()


def pids(conns):
    return sorted(conn.info.backend_pid for conn in conns)


def test_activity_info_reports_usage_states_and_long_queries(healed_lab, sessions):
    result, text = adhoc("postgres_activity_info", {"dsn": "{{ secret }}", "idle_longer_than": 1},
                         secret=healed_lab["postgres"]["automation_dsn"])
    assert result.returncode == 0, text
    assert "max_connections: 30" in text and "usage_percent:" in text
    assert "idle: " in text or "idle:\n" in text
    assert "sample-report" in text and "pg_sleep(20)" in text
    assert "can_signal_backends: true" in text and "superuser: false" in text


def test_terminate_check_mode_lists_exactly_what_it_would_end_and_ends_nothing(healed_lab, sessions):
    before = activity(healed_lab)
    args = {"dsn": "{{ secret }}", "states": ["idle"], "idle_longer_than": 1, "users": ["sample_app"],
            "protected_applications": ["pg_dump"], "max_terminate": 10}
    result, text = adhoc("postgres_terminate", args, check=True, secret=healed_lab["postgres"]["automation_dsn"])
    assert result.returncode == 0, text
    listed = sorted(int(line.split("-")[-1]) for line in text.split("pids:")[1].split("spared:")[0].split() if line.strip("-").isdigit())
    assert listed == pids(sessions["idle"])
    assert activity(healed_lab) == before


def test_terminate_ends_exactly_the_selected_sessions_and_spares_the_guarded_ones(healed_lab, sessions):
    pg = healed_lab["postgres"]
    args = {"dsn": "{{ secret }}", "states": ["idle"], "idle_longer_than": 1, "users": ["sample_app"],
            "protected_applications": ["pg_dump"]}
    result, text = adhoc("postgres_terminate", args, secret=pg["automation_dsn"])
    assert result.returncode == 0, text
    alive = {row[0] for row in activity(healed_lab)}
    assert not alive & set(pids(sessions["idle"]))
    for name in ("superuser", "protected"):
        assert sessions[name].info.backend_pid in alive, name
    assert sessions["long_pid"] in alive
    with session(pg["app_dsn"], "sample-new") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    rerun, text = adhoc("postgres_terminate", args, secret=pg["automation_dsn"])
    assert rerun.returncode == 0 and "changed: false" in text


def test_terminate_refuses_above_the_cap_and_ends_none(healed_lab, sessions):
    before = activity(healed_lab)
    args = {"dsn": "{{ secret }}", "states": ["idle"], "users": ["sample_app"], "protected_applications": ["pg_dump"],
            "max_terminate": 2}
    result, text = adhoc("postgres_terminate", args, secret=healed_lab["postgres"]["automation_dsn"])
    assert result.returncode != 0
    assert "3 sessions match, more than max_terminate=2; ended none" in text
    assert activity(healed_lab) == before


def test_terminate_without_pg_signal_backend_fails_clearly(healed_lab, sessions):
    before = activity(healed_lab)
    # Its own role's sessions are spared unless asked (the app role is the only one it could signal here).
    args = {"dsn": "{{ secret }}", "states": ["idle"], "applications": ["sample-worker"], "end_own_role_sessions": True}
    result, text = adhoc("postgres_terminate", args, secret=healed_lab["postgres"]["app_dsn"])
    assert result.returncode != 0
    assert "role sample_app may not end other sessions: grant it pg_signal_backend" in text
    assert activity(healed_lab) == before


def test_unreachable_postgres_is_one_line_within_the_timeout_and_hides_the_password(healed_lab):
    started = time.monotonic()
    result, text = adhoc("postgres_activity_info", {"host": "127.0.0.1", "port": 9, "user": "sre_automation",
                                                    "password": "{{ secret }}", "connect_timeout": 2},
                         secret="pw-Never-Shown-77")
    assert result.returncode != 0
    assert "PostgreSQL 127.0.0.1:9 connect: connection refused - check host/port and that PostgreSQL listens there: connection failed" in text
    assert "pw-Never-Shown-77" not in text and "Traceback" not in text
    assert time.monotonic() - started < 15
