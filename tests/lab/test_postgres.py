"""The lab's own PostgreSQL: roles, privileges and limits the db_pool_exhausted playbooks rely on."""

from __future__ import annotations

import psycopg
import pytest


def test_roles_and_limits(lab):
    pg = lab["postgres"]
    with psycopg.connect(pg["admin_dsn"], connect_timeout=3) as conn:
        assert conn.execute("SHOW max_connections").fetchone()[0] == "30"
        # the lab's server (behind its proxy on pg["port"]), not another one
        assert conn.execute("SELECT current_database(), inet_server_port()").fetchone() == ("sample", pg["server_port"])
        rows = {name: (superuser, limit) for name, superuser, limit in conn.execute(
            "SELECT rolname, rolsuper, rolconnlimit FROM pg_roles WHERE rolname IN "
            "('postgres', 'sample_app', 'sre_automation')").fetchall()}
    # sample_app's limit keeps slots for operators and automation when the application exhausts its share
    assert rows == {"postgres": (True, -1), "sample_app": (False, 24), "sre_automation": (False, -1)}
    assert (pg["app_connection_limit"], pg["app_application_name"]) == (24, "sample-service")
    assert pg["server_port"] == lab["port_base"] + 21
    with psycopg.connect(pg["automation_dsn"], connect_timeout=3) as conn:
        granted = conn.execute("SELECT pg_has_role('pg_read_all_stats', 'MEMBER'), "
                               "pg_has_role('pg_signal_backend', 'MEMBER')").fetchone()
        assert granted == (True, True)
        assert conn.execute("SELECT count(*) FROM pg_stat_activity").fetchone()[0] >= 1
    with psycopg.connect(pg["app_dsn"], connect_timeout=3) as conn:
        assert conn.execute("SELECT count(*) > 0 FROM orders").fetchone()[0] is True


def test_wrong_password_is_rejected(lab):
    dsn = lab["postgres"]["app_dsn"].replace("sample_app:", "sample_app:wrong", 1)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dsn, connect_timeout=3)
