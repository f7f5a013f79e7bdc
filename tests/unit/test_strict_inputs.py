"""Strict inputs (module_utils/validate.py): every refusal names the option, what is wrong, what is allowed and that
nothing was changed, and happens before any backend call (no client is even made)."""

import datetime
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sre.incident.plugins.module_utils import validate
from ansible_collections.sre.incident.plugins.module_utils.in_process import load, run_step
from ansible_collections.sre.incident.plugins.modules import (
    ecs_service_rollback,
    ecs_service_scale,
    ecs_taskdef_deploy,
    elasticache_failover,
    postgres_terminate,
    redis_probe,
    ssm_parameter_set,
)
from module_harness import run_module, stubbed_client

ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/sample-service:%d"
ECS = {"cluster": "sample-service-prod", "service": "sample-service", "region": "us-east-1"}
NOW = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.timezone.utc)


def run_refused(module, args, monkeypatch, capsys, backend="client"):
    """The module's answer to args, which it must refuse without making a client or connection."""
    made = []
    monkeypatch.setattr(module, backend, lambda *args, **kwargs: made.append(args) or pytest.fail("backend reached"))
    with patch_module_args(dict(args)), pytest.raises(SystemExit):
        module.main()
    result = json.loads(capsys.readouterr().out)
    assert made == [] and result["failed"] is True and not result.get("changed"), result
    assert "\n" not in result["msg"]
    return result["msg"]


def assert_refusal(msg, option, *words):
    assert msg.startswith("option %s: " % option), msg
    assert "; allowed: " in msg and msg.endswith("Nothing was changed."), msg
    for word in words:
        assert word in msg, msg


@pytest.mark.parametrize("args,option,words", [
    ({"desired_count": True}, "desired_count", ["true is a boolean", "0 to 500"]),
    ({"desired_count": 10 ** 12}, "desired_count", ["above the maximum 500"]),
    ({"desired_count": -1}, "desired_count", ["below the minimum 0"]),
    ({"max_desired_count": 5000}, "max_desired_count", ["5000 is above the maximum 500"]),
    ({"max_desired_count": False}, "max_desired_count", ["false is a boolean"]),
    ({"bounce_hold": 1e308}, "bounce_hold", ["more than 10m"]),
    ({"bounce_hold": "-5m"}, "bounce_hold", ["cannot read '-5m' as a duration"]),
    ({"bounce_hold": True}, "bounce_hold", ["boolean"]),
    ({"connect_timeout": -1}, "connect_timeout", ["not more than 0", "at most 5m"]),
    ({"read_timeout": float("inf")}, "read_timeout", ["not a finite number"]),
    ({"max_attempts": -1}, "max_attempts", ["from 1 to 10"]),
    ({"max_attempts": 11}, "max_attempts", ["above the maximum 10"]),
    ({"max_attempts": float("inf")}, "max_attempts", ["inf is not a whole number"]),
    ({"wait_timeout": 0}, "wait_timeout", ["not more than 0"]),
    ({"wait_interval": "nan"}, "wait_interval", ["not a finite number"]),
    ({"cluster": ""}, "cluster", ["it is empty"]),
    ({"service": "a b"}, "service", ["not of that form"]),
    ({"endpoint_url": "$(reboot)"}, "endpoint_url", ["scheme"]),
    ({"region": "'; DROP TABLE x; --"}, "region", ["not of that form"]),
])
def test_scale_refuses_before_any_call(monkeypatch, capsys, args, option, words):
    msg = run_refused(ecs_service_scale, dict(dict(ECS, desired_count=6, max_desired_count=12), **args), monkeypatch, capsys)
    assert_refusal(msg, option, *words)


def test_digit_strings_from_templates_are_still_numbers():
    problems = validate.input_problems({"n": {"type": "int"}}, {"n": "4"}, {"n": 4}, {"n": validate.Whole(0, 9)})
    assert problems == []


def test_what_ansible_cannot_convert_is_refused_in_its_words_before_any_call(monkeypatch, capsys):
    for value in ("", "4.5", "many"):
        msg = run_refused(ecs_service_scale, dict(ECS, desired_count=value, max_desired_count=12), monkeypatch, capsys)
        assert "desired_count" in msg and "convert to int" in msg


def service(current, desired=4, deployments=None):
    return {"services": [{
        "serviceName": "sample-service", "status": "ACTIVE", "taskDefinition": ARN % current, "launchType": "FARGATE",
        "desiredCount": desired, "runningCount": desired, "pendingCount": 0,
        "deployments": deployments or [{"id": "ecs-svc/1", "status": "PRIMARY", "taskDefinition": ARN % current,
                                         "rolloutState": "COMPLETED", "desiredCount": desired, "runningCount": desired}],
    }], "failures": []}


@pytest.mark.parametrize("current,wanted,refused", [(4, 8, False), (4, 9, True), (0, 4, False), (0, 5, True), (10, 20, False)])
def test_one_run_scales_to_at_most_twice_or_four_more(monkeypatch, capsys, current, wanted, refused):
    api, stub = stubbed_client("ecs")
    stub.add_response("describe_services", service(5, desired=current))
    with stub:  # only the read is stubbed: an update_service would fail the test
        result = run_module(ecs_service_scale, dict(ECS, desired_count=wanted, max_desired_count=30), api, monkeypatch, capsys,
                            check_mode=True)
    stub.assert_no_pending_responses()
    if refused:
        assert result["failed"] is True and result["changed"] is False
        assert "at most max(2 x %d, %d + 4)" % (current, current) in result["msg"] and "Nothing was changed" in result["msg"]
    else:
        assert result["changed"] is True and result["msg"].startswith("would scale")


@pytest.mark.parametrize("value,words", [("", ["it is empty"]), ("sample-service", ["not of that form", "family:revision"]),
                                         ("sample-service:0", ["not of that form"]), (True, ["boolean"]),
                                         ({"a": 1}, ["mapping"])])
def test_rollback_refuses_a_malformed_revision_before_any_call(monkeypatch, capsys, value, words):
    assert_refusal(run_refused(ecs_service_rollback, dict(ECS, to_revision=value), monkeypatch, capsys), "to_revision", *words)


def history(*revisions):
    briefs = [{"serviceDeploymentArn": "arn:sd/%d" % i, "targetServiceRevisionArn": "arn:rev/%d" % rev,
               "status": "SUCCESSFUL", "finishedAt": NOW - datetime.timedelta(days=i)} for i, rev in enumerate(revisions)]
    revs = [{"serviceRevisionArn": "arn:rev/%d" % rev, "taskDefinition": ARN % rev} for rev in set(revisions)]
    return {"serviceDeployments": briefs}, {"serviceRevisions": revs}


def rollback_to(revision, monkeypatch, capsys, stable=(6, 5), **extra):
    api, stub = stubbed_client("ecs")
    stub.add_response("describe_services", service(6))
    stub.add_response("describe_task_definition", {"taskDefinition": {"taskDefinitionArn": ARN % revision}})
    if not extra.get("allow_unproven_revision"):
        listed, described = history(*stable)
        stub.add_response("list_service_deployments", listed)
        stub.add_response("describe_service_revisions", described)
    with stub:  # reads only: an update_service would fail the test
        result = run_module(ecs_service_rollback, dict(ECS, to_revision="sample-service:%d" % revision, **extra), api,
                            monkeypatch, capsys, check_mode=True)
    stub.assert_no_pending_responses()
    return result


def test_rollback_refuses_a_revision_that_never_ran_stable(monkeypatch, capsys):
    result = rollback_to(3, monkeypatch, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert "refusing to roll sample-service back to sample-service:3: revision 3 never ran stable" in result["msg"]
    assert "allow_unproven_revision=true" in result["msg"] and "Nothing was changed" in result["msg"]


def test_rollback_goes_to_a_revision_of_the_successful_history(monkeypatch, capsys):
    result = rollback_to(5, monkeypatch, capsys)
    assert result["changed"] is True and result["task_definition"] == ARN % 5 and result["source"] == "to_revision"


def test_rollback_to_an_unproven_revision_only_on_explicit_override(monkeypatch, capsys):
    result = rollback_to(3, monkeypatch, capsys, allow_unproven_revision=True)
    assert result["changed"] is True and result["task_definition"] == ARN % 3


@pytest.mark.parametrize("args,option,words", [
    ({"only_if_primary": ""}, "only_if_primary", ["it is empty"]),
    ({"node_group_id": 1}, "node_group_id", ["not of that form", "quote it"]),
    ({"replication_group_id": ""}, "replication_group_id", ["it is empty"]),
    ({"replication_group_id": "{{ lookup('pipe','id') }}"}, "replication_group_id", ["not of that form"]),
    ({"wait": ""}, "wait", []),
])
def test_failover_refuses_before_any_call(monkeypatch, capsys, args, option, words):
    msg = run_refused(elasticache_failover, dict({"region": "us-east-1", "replication_group_id": "sample-service-redis-prod"},
                                                 **args), monkeypatch, capsys)
    if words:
        assert_refusal(msg, option, *words)
    else:  # Ansible's own bool check refuses an empty string
        assert option in msg


SSM = {"region": "us-east-1", "name": "/sample-service/prod/feature-flags/new-checkout"}


@pytest.mark.parametrize("args,option,words", [
    ({"value": {"new-checkout": "off"}}, "value", ["a mapping is not text"]),
    ({"value": ["off"]}, "value", ["a list is not text"]),
    ({"value": True}, "value", ["true is a boolean"]),
    ({"value": ""}, "value", ["it is empty"]),
    ({"value": "x" * 100000}, "value", ["100000 characters is more than 8192"]),
    ({"value": "é" * 2500}, "value", ["5000 bytes is more than the standard tier's 4096"]),
    ({"value": "x" * 8193, "tier": "advanced"}, "value", ["more than 8192"]),
    ({"value": "{'a': 1}", "value_format": "json"}, "value", ["not valid JSON"]),
    ({"value": "a\x00b"}, "value", ["NUL"]),
    ({"name": "aws/reserved"}, "name", ["not of that form"]),
    ({"name": ""}, "name", ["it is empty"]),
])
def test_ssm_set_refuses_before_any_call(monkeypatch, capsys, args, option, words):
    assert_refusal(run_refused(ssm_parameter_set, dict(dict(SSM, value="off"), **args), monkeypatch, capsys), option, *words)


def ssm_set(current, value, monkeypatch, capsys, **extra):
    api, stub = stubbed_client("ssm")
    stub.add_response("get_parameter", {"Parameter": {"Name": SSM["name"], "Type": "String", "Value": current, "Version": 3}})
    with stub:  # only the read is stubbed: a put_parameter would fail the test
        result = run_module(ssm_parameter_set, dict(SSM, value=value, **extra), api, monkeypatch, capsys, check_mode=True)
    stub.assert_no_pending_responses()
    return result


def test_ssm_set_keeps_a_json_parameter_json(monkeypatch, capsys):
    result = ssm_set('{"new_checkout": true}', "{'new_checkout': False}", monkeypatch, capsys)
    assert_refusal(result["msg"], "value", "holds JSON", "not valid JSON")
    assert result["previous_value"] == '{"new_checkout": true}'
    assert ssm_set('{"new_checkout": true}', '{"new_checkout": false}', monkeypatch, capsys)["changed"] is True
    assert ssm_set('{"a": 1}', "plain", monkeypatch, capsys, value_format="text")["changed"] is True
    assert ssm_set("on", "off", monkeypatch, capsys)["changed"] is True


@pytest.mark.parametrize("args,option,words", [
    ({"memory": 10 ** 9}, "memory", ["above the maximum 122880"]),
    ({"memory": 5}, "memory", ["below ECS's minimum of 6"]),
    ({"cpu": -256}, "cpu", ["below the minimum 1"]),
    ({"environment": {"": "x"}}, "environment", ["key '': it is empty"]),
    ({"environment": {"A" * 5000: "x"}}, "environment", ["5000 characters is more than 255"]),
    ({"environment": {"CACHE_ENABLED": "a\x00b"}}, "environment", ["NUL"]),
    ({"environment": {"CACHE_ENABLED": False}}, "environment", ["false is a boolean"]),
    ({"environment": {"1ABC": "x"}}, "environment", ["not of that form"]),
    ({"environment": {"A%d" % i: "x" for i in range(51)}}, "environment", ["51 entries is more than 50"]),
    ({"remove_environment": [""]}, "remove_environment", ["it is empty"]),
    ({"container": ""}, "container", ["it is empty"]),
])
def test_taskdef_deploy_refuses_before_any_call(monkeypatch, capsys, args, option, words):
    assert_refusal(run_refused(ecs_taskdef_deploy, dict(ECS, **args), monkeypatch, capsys), option, *words)


def deploy_memory(memory, monkeypatch, capsys):
    api, stub = stubbed_client("ecs")
    stub.add_response("describe_services", service(6))
    stub.add_response("describe_task_definition", {"taskDefinition": {
        "taskDefinitionArn": ARN % 6, "family": "sample-service", "cpu": "512", "memory": "1024",
        "requiresCompatibilities": ["FARGATE"], "containerDefinitions": [{"name": "app", "image": "x", "memory": 1024}]}})
    with stub:  # reads only: a register_task_definition would fail the test
        result = run_module(ecs_taskdef_deploy, dict(ECS, memory=memory), api, monkeypatch, capsys, check_mode=True)
    stub.assert_no_pending_responses()
    return result


def test_taskdef_deploy_keeps_to_fargate_sizes(monkeypatch, capsys):
    result = deploy_memory(3000, monkeypatch, capsys)
    assert result["failed"] is True and result["changed"] is False
    assert "Fargate task cpu 512 runs with memory 1024, 2048, 3072, 4096 MiB, not 3000" in result["msg"]
    assert "Nothing was changed" in result["msg"]
    assert "not 16384" in deploy_memory(16384, monkeypatch, capsys)["msg"]
    assert deploy_memory(2048, monkeypatch, capsys)["changed"] is True


PG = {"host": "db.example.com", "states": ["idle"]}


@pytest.mark.parametrize("args,option,words", [
    ({"dsn": "host='unterminated password=hunter2"}, "dsn", ["psycopg cannot read it"]),
    ({"dsn": "postgresql://u:hunter2@h:notaport/db"}, "dsn", ["port"]),
    ({"dsn": "mysql://u:hunter2@h/db"}, "dsn", ["another scheme"]),
    ({"connect_timeout": -1}, "connect_timeout", ["not more than 0"]),
    ({"statement_timeout": 10 ** 6}, "statement_timeout", ["more than 1h"]),
    ({"port": 0}, "port", ["below the minimum 1"]),
    ({"max_terminate": 0}, "max_terminate", ["below the minimum 1"]),
    ({"max_terminate": 10 ** 6}, "max_terminate", ["above the maximum 200"]),
    ({"max_terminate": True}, "max_terminate", ["boolean"]),
    ({"states": ["idle", "'; DROP TABLE x; --"]}, "states", ["item 2", "not of that form"]),
    ({"idle_longer_than": -1}, "idle_longer_than", ["0 or more"]),
    ({"idle_longer_than": "30d"}, "idle_longer_than", ["more than 7d"]),
    ({"users": [""]}, "users", ["it is empty"]),
    ({"password": "hunter2\x00"}, "password", ["wrong type"]),
])
def test_terminate_refuses_before_connecting(monkeypatch, capsys, args, option, words):
    msg = run_refused(postgres_terminate, dict(PG, **args), monkeypatch, capsys, backend="connect")
    assert_refusal(msg, option, *words)
    assert "hunter2" not in msg


def row(**overrides):
    base = dict(pid=1, own=False, own_role=False, backend_type="client backend", superuser=False, user="sample_app",
                application="sample-worker", state="idle")
    return dict(base, **overrides)


PARAMS = dict(protected_applications=[], end_own_role_sessions=False, end_backup_sessions=False)


@pytest.mark.parametrize("session,why", [
    (row(own=True), "own session"),
    (row(own_role=True, user="sre_automation"), "own role sre_automation"),
    (row(backend_type="walsender", user="replicator"), "not a client backend (walsender)"),
    (row(backend_type="autovacuum worker"), "not a client backend"),
    (row(superuser=True, user="postgres"), "superuser"),
    (row(application="pg_dump"), "backup tool pg_dump"),
    (row(application="pg_basebackup"), "backup tool"),
    (row(application="pgBackRest [backup]"), "backup tool"),
    (row(application="pg_dumpall"), "backup tool"),
])
def test_terminate_spares_by_default_whatever_the_filters(session, why):
    assert why in postgres_terminate.guardrail(session, PARAMS)
    assert postgres_terminate.selected(session, dict(states=["idle"], idle_longer_than=None, running_longer_than=None,
                                                     applications=None, users=None, databases=None)) is not None


def test_terminate_widens_only_on_purpose():
    widened = dict(PARAMS, end_own_role_sessions=True, end_backup_sessions=True)
    assert postgres_terminate.guardrail(row(own_role=True), widened) is None
    assert postgres_terminate.guardrail(row(application="pg_dump"), widened) is None
    assert postgres_terminate.guardrail(row(own=True, own_role=True), widened) == "the automation's own session"
    assert postgres_terminate.guardrail(row(superuser=True), widened).startswith("superuser")
    assert postgres_terminate.guardrail(row(application="sample-worker"), PARAMS) is None


@pytest.mark.parametrize("args,option,words", [
    ({"url": "redis://h:99999"}, "url", ["port"]),
    ({"url": "http://h:6379"}, "url", ["scheme"]),
    ({"host": "h", "db": 99}, "db", ["above the maximum 15"]),
    ({"host": "h", "connect_timeout": -1}, "connect_timeout", ["not more than 0"]),
    ({"host": "h", "also_probe": [{"name": "replica", "host": "r", "port": 0}]}, "also_probe", ["item 1, port"]),
    ({"host": "h", "also_probe": [{"name": True, "host": "r"}]}, "also_probe[0].name", ["boolean"]),
])
def test_redis_probe_refuses_before_connecting(monkeypatch, capsys, args, option, words):
    from ansible_collections.sre.incident.plugins.module_utils.steps import redis_probe as step

    made = []
    monkeypatch.setattr(step, "connect", lambda *a, **k: made.append(a) or pytest.fail("backend reached"))
    with patch_module_args(args), pytest.raises(SystemExit):
        redis_probe.main()
    result = json.loads(capsys.readouterr().out)
    assert made == [] and result["failed"] is True
    assert_refusal(result["msg"], option, *words)


def test_a_step_run_concurrently_refuses_as_its_module_does(monkeypatch):
    step = load("ecs_service_info")
    monkeypatch.setattr(step, "client", lambda *a: pytest.fail("backend reached"))
    result, _secrets, _seconds = run_step("sre.incident.ecs_service_info", step,
                                          dict(ECS, revisions=True), False)
    assert result["failed"] is True
    assert result["msg"].startswith("sre.incident.ecs_service_info: option revisions: true is a boolean")
    result, _secrets, _seconds = run_step("sre.incident.ecs_service_info", step, dict(ECS, max_attempts=-1), False)
    assert "option max_attempts: -1 is below the minimum 1" in result["msg"]


def test_a_secret_is_never_repeated_in_a_refusal():
    spec = {"token": {"type": "str", "no_log": True}}
    lines = validate.input_problems(spec, {"token": "x" * 5000}, {"token": "x" * 5000}, {})
    assert lines == [validate.refusal("token", "the value given is not valid", validate.SECRET.allowed)]
