"""Every backend's call ends within its timeout and the run's deadline, and says what happened as what it is:
timed out, refused, DNS or TLS - never one for the other. Real sockets on loopback, no lab needed."""

import os
import time

import pytest
import yaml
from ansible.module_utils.urls import open_url

from backend_sockets import NO_SUCH_HOST, plain_text_port, refused_port, silent_port
from ansible_collections.sre.incident.plugins.module_utils import aws, common, datadog, pagerduty, postgres, slack
from ansible_collections.sre.incident.plugins.module_utils.in_process import StepExit, StepModule, run_steps
from ansible_collections.sre.incident.plugins.module_utils.steps import http_probe, redis_probe

KINDS = ("timed out", "refused", "DNS lookup failed", "TLS handshake failed")


def only(kind, line):
    """The line says `kind` and none of the other kinds."""
    assert kind in line, line
    assert not [other for other in KINDS if other != kind and other in line], line
    assert "\n" not in line and "Traceback" not in line


def module_for(spec, **args):
    return StepModule("test", {"argument_spec": spec}, args, check_mode=False)


def failure(action):
    """The msg a module would fail with, and how long it took."""
    started = time.monotonic()
    with pytest.raises(StepExit) as info:
        action()
    return info.value.result["msg"], time.monotonic() - started


# --- the deadline itself -----------------------------------------------------------------------------------

def test_time_left_and_bounded_follow_the_deadline():
    assert common.time_left({}) is None
    assert common.time_left({"deadline": 100.0}, now=90.0) == 10.0
    assert common.bounded(20, {"deadline": 100.0}, now=90.0) == 10.0
    assert common.bounded(5, {"deadline": 100.0}, now=90.0) == 5
    assert common.bounded(5, {}, now=90.0) == 5
    assert common.bounded(5, {"deadline": 100.0}, now=120.0) == 0.1  # past it: a call fails at once, as timed out


def test_a_module_past_its_deadline_fails_before_anything_and_its_wait_is_cut():
    module = module_for(dict(common.DEADLINE_ARGUMENT_SPEC, **common.WAIT_ARGUMENT_SPEC), deadline=time.time() - 3)
    msg, _seconds = failure(lambda: common.check_deadline(module, "ECS"))
    assert msg == "ECS: the run's deadline passed 3 s ago; nothing changed"
    module = module_for(dict(common.DEADLINE_ARGUMENT_SPEC, **common.WAIT_ARGUMENT_SPEC), deadline=time.time() + 42.5)
    common.check_deadline(module, "ECS")
    assert module.params["wait_timeout"] == 42
    module = module_for(dict(common.DEADLINE_ARGUMENT_SPEC, timeout=dict(type="float", default=60)), deadline=time.time() + 12.3)
    common.check_deadline(module, "CloudWatch Logs Insights")
    assert 12 <= module.params["timeout"] <= 12.3
    assert common.deadline_note(module.params) == ""
    assert "deadline came first" in common.deadline_note({"deadline": time.time()})


def test_every_module_of_a_backend_group_gets_the_deadline():
    """group/sre.incident.all carries the deadline: it must hold exactly the modules of the backend groups (whose
    shared argument specs have the option)."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "meta", "runtime.yml")) as handle:
        groups = yaml.safe_load(handle)["action_groups"]
    backends = set(module for name, modules in groups.items() if name != "all" for module in modules)
    assert sorted(groups["all"]) == sorted(backends)
    for spec in (aws.AWS_ARGUMENT_SPEC, datadog.DATADOG_ARGUMENT_SPEC, postgres.POSTGRES_ARGUMENT_SPEC,
                 redis_probe.SPEC["argument_spec"], slack.SLACK_ARGUMENT_SPEC, pagerduty.PAGERDUTY_ARGUMENT_SPEC,
                 http_probe.SPEC["argument_spec"]):
        assert spec["deadline"] == {"type": "float"}


def test_every_module_that_takes_the_deadline_documents_it_from_the_deadline_fragment():
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "meta", "runtime.yml")) as handle:
        modules = yaml.safe_load(handle)["action_groups"]["all"]
    for name in modules:
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "modules", name + ".py")) as handle:
            documentation = yaml.safe_load(handle.read().split('DOCUMENTATION = r"""', 1)[1].split('"""', 1)[0])
        assert "sre.incident.deadline" in documentation["extends_documentation_fragment"], name


# --- AWS -------------------------------------------------------------------------------------------------

def aws_module(url, **args):
    return module_for(aws.AWS_ARGUMENT_SPEC, region="us-east-1", endpoint_url=url, access_key="x", secret_key="y", **args)


def aws_call(module):
    api = aws.client(module, "ecs")
    return failure(lambda: aws.call(module, "ECS", api, "describe_services", cluster="c", services=["s"]))


def test_aws_hang_times_out_once_not_once_per_attempt():
    with silent_port() as port:
        msg, seconds = aws_call(aws_module("http://127.0.0.1:%d" % port, read_timeout=0.5, max_attempts=3))
    only("timed out", msg)
    assert msg.startswith("ECS DescribeServices: timed out after 0.5 s (read_timeout) - the AWS API is slow or unreachable")
    assert seconds < 1.5, seconds  # three attempts would take 1.5 s and more


def test_aws_attempt_is_cut_at_the_deadline():
    with silent_port() as port:
        msg, seconds = aws_call(aws_module("http://127.0.0.1:%d" % port, read_timeout=10, deadline=time.time() + 0.8))
    only("timed out", msg)
    assert "read_timeout, cut to the run's deadline" in msg
    assert seconds < 2, seconds


def test_aws_past_the_deadline_sends_nothing():
    with silent_port() as port:
        msg, seconds = failure(lambda: aws.client(aws_module("http://127.0.0.1:%d" % port, deadline=time.time() - 1), "ecs"))
    assert msg == "AWS ecs: the run's deadline passed 1 s ago; nothing changed"
    assert seconds < 0.5


@pytest.mark.parametrize("case,kind", [("refused", "refused"), ("dns", "DNS lookup failed"), ("tls", "TLS handshake failed")])
def test_aws_refused_dns_and_tls_are_told_apart(case, kind):
    with plain_text_port() as plain:
        url = {"refused": "http://127.0.0.1:%d" % refused_port(), "dns": "http://%s" % NO_SUCH_HOST,
               "tls": "https://127.0.0.1:%d" % plain}[case]
        msg, seconds = aws_call(aws_module(url, read_timeout=2, max_attempts=1))
    only(kind, msg)
    assert msg.startswith("ECS DescribeServices: ")
    assert seconds < 2, seconds


# --- Datadog ---------------------------------------------------------------------------------------------

def datadog_query(url, **args):
    from datadog_api_client.v1.api.metrics_api import MetricsApi

    module = module_for(datadog.DATADOG_ARGUMENT_SPEC, api_url=url, api_key="k", app_key="a", **args)
    client, base = datadog.api_client(module)
    started = time.monotonic()
    try:
        MetricsApi(client).query_metrics(_from=1, to=2, query="avg:x{*}")
    except Exception as exc:  # noqa: BLE001 - what the step turns into its line
        return datadog.describe_error(exc, base, "query_metrics(avg:x{*})"), time.monotonic() - started
    raise AssertionError("the query did not fail")


def test_datadog_hang_is_timed_out_not_connection_refused():
    with silent_port() as port:
        msg, seconds = datadog_query("http://127.0.0.1:%d" % port, request_timeout=0.5)
    only("timed out", msg)
    assert msg == "Datadog http://127.0.0.1:%d query_metrics(avg:x{*}): timed out after 0.5 s (request_timeout) - " \
                  "the API is slow or unreachable" % port
    assert seconds < 1.5, seconds  # not retried


def test_datadog_request_is_cut_at_the_deadline():
    with silent_port() as port:
        msg, seconds = datadog_query("http://127.0.0.1:%d" % port, request_timeout=10, deadline=time.time() + 0.8)
    only("timed out", msg)
    assert seconds < 2, seconds


def test_datadog_past_the_deadline_sends_nothing():
    module = module_for(datadog.DATADOG_ARGUMENT_SPEC, api_url="http://127.0.0.1:9", api_key="k", app_key="a",
                        deadline=time.time() - 2)
    msg, _seconds = failure(lambda: datadog.api_client(module))
    assert msg == "Datadog: the run's deadline passed 2 s ago; nothing changed"


@pytest.mark.parametrize("case,kind", [("refused", "refused"), ("dns", "DNS lookup failed"), ("tls", "TLS handshake failed")])
def test_datadog_refused_dns_and_tls_are_told_apart(case, kind):
    with plain_text_port() as plain:
        url = {"refused": "http://127.0.0.1:%d" % refused_port(), "dns": "http://%s" % NO_SUCH_HOST,
               "tls": "https://127.0.0.1:%d" % plain}[case]
        msg, seconds = datadog_query(url, request_timeout=2)
    only(kind, msg)
    assert seconds < 2, seconds


# --- Redis -----------------------------------------------------------------------------------------------

def redis_params(url, **args):
    return module_for(redis_probe.SPEC["argument_spec"], url=url, password="pw", connect_timeout=0.5, **args).params


def test_redis_hang_names_the_command_and_times_out():
    with silent_port() as port:
        started = time.monotonic()
        result = redis_probe.probe(redis_params("redis://127.0.0.1:%d/0" % port), "127.0.0.1", port, False)
    only("timed out", result["error"])
    assert result["error"].startswith("Redis 127.0.0.1:%d PING: timed out after 0.5 s (connect_timeout)" % port)
    assert time.monotonic() - started < 1.5


def test_redis_past_the_deadline_sends_nothing():
    result = redis_probe.probe(redis_params("redis://127.0.0.1:9/0", deadline=time.time() - 5), "127.0.0.1", 9, False)
    assert result["error"] == "Redis 127.0.0.1:9 PING: the run's deadline passed 5 s ago; not sent, nothing changed by this call"


@pytest.mark.parametrize("case,kind", [("refused", "refused"), ("dns", "DNS lookup failed"), ("tls", "TLS handshake failed")])
def test_redis_refused_dns_and_tls_are_told_apart(case, kind):
    with plain_text_port() as plain:
        url = {"refused": "redis://127.0.0.1:%d/0" % refused_port(), "dns": "redis://%s:6379/0" % NO_SUCH_HOST,
               "tls": "rediss://127.0.0.1:%d/0" % plain}[case]
        result = redis_probe.probe(dict(redis_params(url), tls_verify=False), "h", 1, False)
    only(kind, result["error"])


# --- PostgreSQL ------------------------------------------------------------------------------------------

def postgres_connect(**args):
    module = module_for(postgres.POSTGRES_ARGUMENT_SPEC, user="u", password="pw-secret", database="d", connect_timeout=2, **args)
    return failure(lambda: postgres.connect(module))


def test_postgres_hang_times_out_on_connect():
    with silent_port() as port:
        msg, seconds = postgres_connect(host="127.0.0.1", port=port, sslmode="disable")
    only("timed out", msg)
    assert msg.startswith("PostgreSQL 127.0.0.1:%d connect: timed out after 2 s (connect_timeout)" % port)
    assert seconds < 3.5, seconds


def test_postgres_past_the_deadline_connects_to_nothing():
    msg, _seconds = postgres_connect(host="127.0.0.1", port=9, deadline=time.time() - 4)
    assert msg == "PostgreSQL 127.0.0.1:9: the run's deadline passed 4 s ago; nothing changed"


def test_postgres_statement_timeout_is_cut_at_the_deadline():
    params = module_for(postgres.POSTGRES_ARGUMENT_SPEC, host="h", statement_timeout=10, deadline=time.time() + 3.5).params
    assert "statement_timeout=3" in postgres.conninfo(params)


@pytest.mark.parametrize("case,kind", [("refused", "refused"), ("dns", "DNS lookup failed"), ("tls", "TLS handshake failed")])
def test_postgres_refused_dns_and_tls_are_told_apart(case, kind):
    with plain_text_port() as plain:
        target = {"refused": dict(host="127.0.0.1", port=refused_port(), sslmode="disable"),
                  "dns": dict(host=NO_SUCH_HOST, sslmode="disable"),
                  "tls": dict(host="127.0.0.1", port=plain, sslmode="require")}[case]
        msg, _seconds = postgres_connect(**target)
    only(kind, msg)
    assert "pw-secret" not in msg


# --- Slack, PagerDuty and health probes (urllib) -------------------------------------------------------------

def urllib_error(url, timeout=0.5):
    started = time.monotonic()
    try:
        open_url(url, timeout=timeout, validate_certs=False)
    except Exception as exc:  # noqa: BLE001
        return exc, time.monotonic() - started
    raise AssertionError("no error")


@pytest.mark.parametrize("case,kind", [("silent", "timed out"), ("refused", "refused"), ("dns", "DNS lookup failed"),
                                       ("tls", "TLS handshake failed")])
def test_pagerduty_and_slack_tell_each_failure_apart(case, kind):
    with silent_port() as silent, plain_text_port() as plain:
        url = {"silent": "http://127.0.0.1:%d/" % silent, "refused": "http://127.0.0.1:%d/" % refused_port(),
               "dns": "http://%s/" % NO_SUCH_HOST, "tls": "https://127.0.0.1:%d/" % plain}[case]
        exc, seconds = urllib_error(url)
    only(kind, pagerduty.describe_network_error("PagerDuty Events API v2 enqueue at x", exc, 0.5))
    only(kind, slack.describe_error(exc, "http://s/api", "chat.postMessage", 0.5))
    assert seconds < 1.5


def test_slack_call_is_cut_at_the_deadline_and_refused_after_it():
    with silent_port() as port:
        module = module_for(slack.SLACK_ARGUMENT_SPEC, token="xoxb-1", api_url="http://127.0.0.1:%d/api" % port, timeout=10,
                            deadline=time.time() + 0.8)
        api = slack.Slack(module)
        msg, seconds = failure(lambda: api.call("chat.postMessage", channel="C1", text="x"))
        only("timed out", msg)
        assert seconds < 2, seconds
        msg, seconds = failure(lambda: api.call("chat.postMessage", channel="C1", text="x"))
    assert msg.startswith("Slack chat.postMessage at http://127.0.0.1:%d/api: the run's deadline passed" % port)
    assert seconds < 0.5


def test_health_probe_hang_is_one_line_naming_the_url():
    with silent_port() as port:
        params = module_for(http_probe.SPEC["argument_spec"], urls={"app": "http://127.0.0.1:%d/health" % port}, timeout=0.5).params
        outcome = http_probe.check("http://127.0.0.1:%d/health" % port, params)
    only("timed out", outcome["error"])
    assert outcome["error"].startswith("HTTP GET http://127.0.0.1:%d/health: timed out after 0.5 s" % port)


# --- steps read together --------------------------------------------------------------------------------

def test_a_step_that_hangs_fails_alone_by_the_deadline_and_the_others_answer():
    with silent_port() as silent, plain_text_port() as plain:
        deadline = time.time() + 1.5
        started = time.monotonic()
        answers = run_steps([
            ("sre.incident.datadog_metric_query", dict(api_url="http://127.0.0.1:%d" % silent, api_key="k", app_key="a",
                                                       query="avg:x{*}", deadline=deadline)),
            ("sre.incident.http_probe", dict(urls={"app": "http://127.0.0.1:%d/" % plain}, deadline=deadline)),
        ], check_mode=True, max_workers=4)
        seconds = time.monotonic() - started
    (hung, _s1), (probe, _s2) = answers
    assert hung["failed"] and "timed out" in hung["msg"]
    assert not probe.get("failed") and probe["endpoints"]["app"]["status"] == 400
    assert seconds < 3, seconds


def test_the_engines_task_timeout_is_whats_left_of_the_deadline_plus_the_grace():
    from ansible_collections.sre.incident.plugins.filter.task_timeout import task_timeout
    assert task_timeout(None, 30) == 0  # before the deadline is set: no limit for the first steps
    assert task_timeout(1000.0, 30, now=880.4) == 149
    assert task_timeout("1000", 30, now=2000.0) == 30  # past it: the grace only
