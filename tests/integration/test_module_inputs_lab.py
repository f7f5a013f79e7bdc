"""Property, against the lab: any arguments a module refuses change nothing, and nothing it accepts in check mode
does either - the lab's journal, which records every mutating call the backends accept, stays empty. The argument
sets come from each module's own spec (tests/unit/module_inputs.py); here they point at the lab's real backends."""

import contextlib
import io
import json
import os
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The collection as Ansible imports it, and the unit tests' case generator.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "collections"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "unit"))

from module_inputs import BASELINE, MODULES, Outcome, cases, load_module  # noqa: E402

from ansible.module_utils.testing import patch_module_args  # noqa: E402

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def lab_connection(status):
    """The options that point a module at the lab, by the names the baseline uses."""
    aws = {"region": status["aws"]["region"], "endpoint_url": status["aws"]["endpoint_url"],
           "access_key": status["aws"]["access_key_id"], "secret_key": status["aws"]["secret_access_key"]}
    return {
        "aws": aws,
        "datadog": {"api_url": status["datadog"]["url"], "api_key": status["datadog"]["api_key"],
                    "app_key": status["datadog"]["app_key"]},
        "slack": {"api_url": status["slack"]["url"] + "/api", "token": status["slack"]["token"]},
        "pagerduty": {"api_url": status["pagerduty"]["url"], "routing_key": status["pagerduty"]["routing_key"]},
        "postgres": {"dsn": status["postgres"]["automation_dsn"]},
        "redis": {"url": status["redis"]["url"]},
        "http": {"urls": {"health": status["health"]["url"]}},
    }


def backend_of(name):
    """Which lab backend a module's baseline points at (by the options it has)."""
    baseline = BASELINE[name]
    if name.startswith("postgres_"):
        return "postgres"
    if name == "redis_probe":
        return "redis"
    for key, backend in (("region", "aws"), ("app_key", "datadog"), ("token", "slack"), ("routing_key", "pagerduty"),
                         ("urls", "http")):
        if key in baseline:
            return backend
    return None


def at_the_lab(name, args, connection):
    """args with the baseline's endpoint options the case left alone pointed at the lab instead of 127.0.0.1:9."""
    baseline, backend = BASELINE[name], backend_of(name)
    moved = dict(args)
    if backend in ("postgres", "redis") and args.get("host") == baseline.get("host"):
        moved.pop("host")  # the lab's DSN or URL says where, with its credentials
    for key, value in connection.get(backend, {}).items():
        if key in baseline and args.get(key) != baseline[key]:
            continue  # the case varies this option
        if key in baseline or key not in moved:
            moved[key] = value
    return moved


def run_against_lab(name, args, check_mode):
    out = io.StringIO()
    try:
        with patch_module_args(dict(args, _ansible_check_mode=check_mode)), contextlib.redirect_stdout(out):
            load_module(name).main()
    except SystemExit:
        result = json.loads(out.getvalue())
        return Outcome("fail" if result.get("failed") else "exit", result, [])
    except Exception as exc:  # noqa: BLE001 - what the property looks for
        return Outcome("crash", {"exception": "%s: %s" % (type(exc).__name__, exc)}, [])
    return Outcome("crash", {"exception": "main() returned without exit_json or fail_json"}, [])


@pytest.fixture(scope="module")
def connection(lab):
    return lab_connection(lab)


@pytest.mark.parametrize("name", [name for name in MODULES if name not in ("incident_record", "run_concurrently")])
@SETTINGS
@given(data=st.data())
def test_refused_or_checked_arguments_leave_the_journal_empty(name, data, connection, lab_control):
    case = data.draw(cases(name), label="case")
    # What a module accepts runs in check mode only: a real change is not this test's to make.
    check_mode = case.check_mode or not case.must_refuse()
    started = time.time()
    outcome = run_against_lab(name, at_the_lab(name, case.args, connection), check_mode)
    assert outcome.kind != "crash", outcome.result
    if case.must_refuse():
        assert outcome.kind == "fail", "%s accepted %s" % (name, case.bad)
    time.sleep(0.4 if backend_of(name) == "postgres" else 0)  # the PostgreSQL recorder reads the server log
    changes = lab_control.journal(since=started)
    assert changes == [], (name, case.bad, check_mode, changes)
