"""Read steps run in threads of the worker (module_utils/in_process.py, as run_concurrently's action runs them):
argument checks as the module's own, secrets masked, one step's failure kept to that step."""

import json
import threading
import time
import types

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sre.incident.plugins.module_utils import in_process
from ansible_collections.sre.incident.plugins.module_utils.in_process import IN_PROCESS, load, load_or_error, run_step, run_steps
from ansible_collections.sre.incident.plugins.modules import run_concurrently


def by_id(steps, check_mode=False):
    """{id: answer} of steps given as run_concurrently's, run as its action runs them in the worker."""
    answers = run_steps([(step["module"], step["args"]) for step in steps], check_mode, 8)
    return {step["id"]: answer for step, (answer, _seconds) in zip(steps, answers)}


def fake_step(run, **spec):
    spec.setdefault("argument_spec", dict(
        name=dict(type="str", required=True),
        token=dict(type="str", no_log=True),
        count=dict(type="int", default=3),
    ))
    spec.setdefault("supports_check_mode", True)
    return types.SimpleNamespace(SPEC=spec, run=run)


def test_a_step_answers_as_its_module_would_with_defaults_and_check_mode():
    def run(module):
        module.exit_json(name=module.params["name"], count=module.params["count"], check=module.check_mode)

    result, secrets, seconds = run_step("sre.incident.fake", fake_step(run), {"name": "x"}, True)
    assert result == {"name": "x", "count": 3, "check": True, "changed": False}
    assert secrets == set() and seconds >= 0


@pytest.mark.parametrize("args", [{"count": "many", "colour": "red"}, {"name": "x", "colour": "red"}, {"name": "x", "count": "many"}])
def test_bad_arguments_fail_as_the_module_would_and_never_run_the_step(args, capsys):
    ran = []
    step = fake_step(lambda module: ran.append(1))
    result, _secrets, _seconds = run_step("sre.incident.fake", step, args, False)
    assert result["failed"] is True and ran == []
    # The module process's own refusal, named: what _execute_module would answer for the same arguments.
    with patch_module_args(dict(args, _ansible_module_name="sre.incident.fake")), pytest.raises(SystemExit):
        AnsibleModule(argument_spec=step.SPEC["argument_spec"])
    assert result["msg"] == "sre.incident.fake: " + json.loads(capsys.readouterr().out)["msg"]


def test_required_one_of_and_mutually_exclusive_come_from_the_spec():
    step = fake_step(lambda module: module.exit_json(), argument_spec=dict(a=dict(type="str"), b=dict(type="str")),
                     required_one_of=[("a", "b")], mutually_exclusive=[("a", "b")])
    assert "one of the following is required: a, b" in run_step("m", step, {}, False)[0]["msg"]
    assert "mutually exclusive: a|b" in run_step("m", step, {"a": "1", "b": "2"}, False)[0]["msg"]
    assert run_step("m", step, {"a": "1"}, False)[0] == {"changed": False}


def test_no_log_values_are_reported_even_when_arguments_are_wrong():
    step = fake_step(lambda module: module.fail_json(msg="cannot log in with %s" % module.params["token"]))
    result, secrets, _seconds = run_step("m", step, {"name": "x", "token": "s3cret-token"}, False)
    assert secrets == {"s3cret-token"} and result["failed"] is True
    _result, secrets, _seconds = run_step("m", step, {"token": "s3cret-token", "count": "x"}, False)
    assert secrets == {"s3cret-token"}


def test_an_unexpected_exception_is_one_line_for_that_step():
    def run(module):
        raise KeyError("endpoint")

    result, _secrets, _seconds = run_step("sre.incident.fake", fake_step(run), {"name": "x"}, False)
    assert result == {"failed": True, "changed": False, "msg": "sre.incident.fake: KeyError: 'endpoint'"}


def test_a_step_that_returns_without_an_answer_is_a_failure():
    result, _secrets, _seconds = run_step("m", fake_step(lambda module: None), {"name": "x"}, False)
    assert result["failed"] is True and "returned without an answer" in result["msg"]


def test_every_in_process_module_loads_and_has_a_spec():
    for name in IN_PROCESS:
        step = load(name)
        assert step.SPEC["supports_check_mode"] is True and step.SPEC["argument_spec"]
        assert callable(step.run)
    with pytest.raises(KeyError):
        load("elasticache_failover")  # fix modules never run this way


def test_steps_overlap_in_threads(monkeypatch):
    """Two steps run at the same time (each waits for the other at a barrier; one after the other would fail)."""
    barrier = threading.Barrier(2, timeout=5)

    def run(module):
        barrier.wait()  # both must be running at the same time to pass
        time.sleep(0.2)
        module.exit_json(name=module.params["name"])

    monkeypatch.setattr(in_process, "load_or_error", lambda _name: fake_step(run))
    steps = [{"id": "a", "name": "A", "module": "sre.incident.http_probe", "args": {"name": "a"}},
             {"id": "b", "name": "B", "module": "sre.incident.redis_probe", "args": {"name": "b"}}]
    assert by_id(steps) == {"a": {"name": "a", "changed": False}, "b": {"name": "b", "changed": False}}


def test_every_steps_secrets_are_masked_and_failures_kept_per_step():
    secret = "p4ss-w0rd-for-redis"
    steps = [
        {"id": "ping", "name": "Test Redis", "module": "sre.incident.redis_probe",
         "args": {"url": "redis://:%s@127.0.0.1:9/0" % secret, "connect_timeout": 1}},
        {"id": "health", "name": "Check health", "module": "sre.incident.http_probe",
         "args": {"urls": {"health": "http://127.0.0.1:9/health"}, "timeout": 1}},
        {"id": "bad", "name": "Bad args", "module": "sre.incident.http_probe", "args": {"url": "x"}},
    ]
    result = by_id(steps)
    assert secret not in json.dumps(result)
    assert result["ping"]["ping"] is False and "127.0.0.1:9" in result["ping"]["error"]
    assert result["health"]["unhealthy"] == ["health"]
    assert result["bad"]["failed"] is True and "sre.incident.http_probe: " in result["bad"]["msg"]


def test_the_module_process_says_it_runs_as_an_action(capsys):
    args = {"steps": [{"id": "x", "name": "X", "module": "sre.incident.http_probe", "args": {}}]}
    with patch_module_args(args), pytest.raises(SystemExit):
        run_concurrently.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "action plugin" in result["msg"]


def test_in_process_names_only_read_modules():
    assert all(name.endswith(("_info", "_probe", "_query", "_search")) for name in in_process.IN_PROCESS)


def test_each_answer_is_masked_with_its_own_steps_secrets_only(monkeypatch):
    """A short secret of one step (the lab's AWS secret is "testing") must not blank out the same word elsewhere."""
    def run(module):
        module.exit_json(echo="%s and testing" % module.params["name"])

    monkeypatch.setattr(in_process, "load_or_error", lambda _name: fake_step(run))
    result = by_id([{"id": "a", "name": "A", "module": "sre.incident.http_probe", "args": {"name": "a", "token": "testing"}},
                    {"id": "b", "name": "B", "module": "sre.incident.redis_probe", "args": {"name": "b"}}])
    assert result["a"]["echo"] == "a and ********"
    assert result["b"]["echo"] == "b and testing"


def test_a_step_whose_code_cannot_load_fails_alone(monkeypatch):
    def loader(name):
        return ImportError("no module named redis") if name == "redis_probe" else fake_step(lambda m: m.exit_json(ok=1))

    monkeypatch.setattr(in_process, "load_or_error", loader)
    result = by_id([{"id": "ping", "name": "Test Redis", "module": "sre.incident.redis_probe", "args": {}},
                    {"id": "health", "name": "Health", "module": "sre.incident.http_probe", "args": {"name": "h"}}])
    assert result["ping"]["failed"] is True
    assert result["ping"]["msg"] == "sre.incident.redis_probe: cannot load its code: ImportError: no module named redis"
    assert result["health"] == {"ok": 1, "changed": False}
    assert isinstance(load_or_error("no_such_module"), KeyError)


def test_spec_defaults_are_not_shared_between_steps():
    shared = []

    def run(module):
        module.params["items"].append(module.params["name"])
        module.exit_json(items=module.params["items"])

    step = fake_step(run, argument_spec=dict(name=dict(type="str"), items=dict(type="list", default=shared)))
    assert run_step("m", step, {"name": "a"}, False)[0]["items"] == ["a"]
    assert run_step("m", step, {"name": "b"}, False)[0]["items"] == ["b"]
    assert shared == []


def test_a_fix_modules_plan_in_the_worker_answers_one_line_when_its_code_breaks():
    """PlanInWorker runs a fix module's main() in the worker: a bug there is that task's failed answer, as in a
    module process, and an exit_json answer is what the module printed."""
    from ansible_collections.sre.incident.plugins.plugin_utils.in_worker import printed_answer

    def broken():
        raise KeyError("desired_count")

    def planning():
        module = AnsibleModule(argument_spec=dict(service=dict(type="str", required=True)), supports_check_mode=True)
        module.exit_json(changed=True, msg="would scale %s" % module.params["service"])

    failed = json.loads(printed_answer("sre.incident.ecs_service_scale", types.SimpleNamespace(main=broken), {}))
    assert failed == {"failed": True, "changed": False,
                      "msg": "sre.incident.ecs_service_scale: KeyError: 'desired_count'"}
    planned = json.loads(printed_answer("x.y.z", types.SimpleNamespace(main=planning), {"service": "api", "_ansible_check_mode": True}))
    assert planned["changed"] is True and planned["msg"] == "would scale api"
