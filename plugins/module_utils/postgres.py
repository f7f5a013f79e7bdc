# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL connection handling for every sre.incident PostgreSQL module, written once (psycopg 3).

Connections carry a connect timeout, a statement timeout and an application_name, so the automation's own
session is easy to tell apart in pg_stat_activity. Error lines name host and port, never the password.
"""

from __future__ import annotations

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
    from psycopg.rows import dict_row
    HAS_PSYCOPG = True
    PSYCOPG_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover
    HAS_PSYCOPG = False
    PSYCOPG_IMPORT_ERROR = exc

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.sre.incident.plugins.module_utils.common import (
    DEADLINE_ARGUMENT_SPEC,
    DeadlinePassed,
    bounded,
    check_deadline,
    time_left,
)

POSTGRES_ARGUMENT_SPEC = dict(
    dsn=dict(type="str", no_log=True),
    host=dict(type="str"),
    port=dict(type="int", default=5432),
    database=dict(type="str", aliases=["db"]),
    user=dict(type="str"),
    password=dict(type="str", no_log=True),
    sslmode=dict(type="str", default="prefer", choices=["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
    connect_timeout=dict(type="int", default=5),
    statement_timeout=dict(type="int", default=10),
    application_name=dict(type="str", default="sre.incident"),
    **DEADLINE_ARGUMENT_SPEC
)


def postgres_argument_spec(**extra):
    spec = dict(POSTGRES_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def conninfo(params):
    """The connection string for the options; discrete options override what the DSN says."""
    base = conninfo_to_dict(params["dsn"]) if params.get("dsn") else {}
    pairs = (("host", "host"), ("dbname", "database"), ("user", "user"), ("password", "password"))
    overrides = {key: params.get(option) for key, option in pairs}
    if params.get("host") or not base.get("port"):
        overrides["port"] = params.get("port")
    base.update({key: value for key, value in overrides.items() if value is not None})
    # The statement timeout is the server's: it cancels a read that runs too long.
    base.update(sslmode=params["sslmode"], connect_timeout=connect_seconds(params),
                application_name=params["application_name"],
                options="-c statement_timeout=%d" % int(bounded(params["statement_timeout"], params) * 1000))
    return make_conninfo(**base)


def connect_seconds(params):
    """connect_timeout cut to the time left before the run's deadline, as libpq counts it (whole seconds, >= 2)."""
    return max(2, int(bounded(params["connect_timeout"], params)))


def endpoint(params):
    info = conninfo_to_dict(params["dsn"]) if params.get("dsn") else {}
    host = params.get("host") or info.get("host") or "localhost"
    port = (params.get("port") if params.get("host") or not info.get("port") else info.get("port")) or 5432
    return "%s:%s" % (host, port)


def describe_error(exc, params, call="query", timeout=None):
    """One line naming PostgreSQL, host and port, the call (connect or query) and the reason; never the password."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if params.get("password"):
        text = text.replace(params["password"], "********")
    if params.get("dsn"):
        secret = conninfo_to_dict(params["dsn"]).get("password")
        if secret:
            text = text.replace(secret, "********")
    return "PostgreSQL %s %s: %s%s" % (endpoint(params), call, _kind(exc, text, timeout or connect_seconds(params)), text)


def _kind(exc, text, connect_timeout):
    """'timed out ... - ' / 'connection refused - ' / ... ahead of libpq's own words; '' when they say it all."""
    lowered = text.lower()
    if type(exc).__name__ == "ConnectionTimeout" or "timeout expired" in lowered:
        return "timed out after %d s (connect_timeout) - the server is slow or unreachable: " % connect_timeout
    if "statement timeout" in lowered:
        return "timed out (statement_timeout) - the query ran too long or the server is overloaded: "
    if "refused" in lowered:
        return "connection refused - check host/port and that PostgreSQL listens there: "
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return "DNS lookup failed - check the host name: "
    if "ssl" in lowered or "certificate" in lowered:
        return "TLS handshake failed - check sslmode and the server's certificate: "
    return ""


def connect(module):
    """An autocommit connection, or the module fails with one readable line within connect_timeout."""
    if not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib("psycopg (3)"), exception=str(PSYCOPG_IMPORT_ERROR))
    params = module.params
    if not params.get("dsn") and not params.get("host"):
        module.fail_json(msg="PostgreSQL: set dsn or host")
    check_deadline(module, "PostgreSQL %s" % endpoint(params))
    timeout = connect_seconds(params)
    try:
        return psycopg.connect(conninfo(params), autocommit=True)
    except Exception as exc:  # noqa: BLE001 - one line, no traceback, no password
        module.fail_json(msg=describe_error(exc, params, "connect", timeout))


def query(module, connection, sql, args=None):
    """Rows as dicts; a failing statement fails the module with one line, as does one past the run's deadline."""
    left = time_left(module.params)
    if left is not None and left <= 0:
        module.fail_json(msg="PostgreSQL %s query: %s" % (endpoint(module.params), DeadlinePassed(-left)), deadline_passed=True)
    try:
        with connection.cursor(row_factory=dict_row) as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall() if cursor.description else []
    except Exception as exc:  # noqa: BLE001
        module.fail_json(msg=describe_error(exc, module.params))
