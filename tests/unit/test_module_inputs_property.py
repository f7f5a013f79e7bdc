"""Property: for any arguments, every module ends through its own exit_json/fail_json (never a traceback), and an
argument set with a value its type or limits refuse is refused before any backend is reached (module_inputs.py)."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from module_inputs import MODULES, cases, run_in_process

RUNNER = run_in_process
SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", MODULES)
@SETTINGS
@given(data=st.data())
def test_a_module_refuses_before_any_call_and_never_crashes(name, data):
    case = data.draw(cases(name), label="case")
    outcome = RUNNER(name, case.args, case.check_mode)
    assert outcome.kind != "crash", outcome.result
    if case.must_refuse():
        assert outcome.kind == "fail", "%s accepted %s (%s)" % (name, case.bad, outcome.kind)
        assert outcome.calls == [], outcome.calls
    if outcome.kind == "fail":
        assert outcome.result.get("msg") and not outcome.result.get("changed"), outcome.result
