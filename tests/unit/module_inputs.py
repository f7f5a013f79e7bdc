"""Argument sets for every sre.incident module, generated from the module's own argument spec and limits, and a
runner that executes a module in-process with every backend blocked.

cases(name) is a hypothesis strategy of Case(args, check_mode, bad): a valid baseline with one to three options
replaced, each by a value its limits or its type refuse (the option is then named in `bad`) or by an arbitrary
value (unicode, huge or negative numbers, NUL, injection-like strings) whose outcome is not foretold.
A runner takes (name, args, check_mode) and returns an Outcome; run_in_process is the unit one. The lab runner
(same signature, asserting the lab journal is empty) can reuse cases() as it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import json
import socket
from unittest import mock

from hypothesis import strategies as st

from ansible.module_utils.testing import patch_module_args
from ansible_collections.sre.incident.plugins.module_utils import validate

PACKAGE = "ansible_collections.sre.incident.plugins.modules."
AWS = {"region": "us-east-1"}
ECS = dict(AWS, cluster="sample-service-prod", service="sample-service")
DATADOG = {"api_url": "http://127.0.0.1:9", "api_key": "k", "app_key": "k"}
SLACK = {"api_url": "http://127.0.0.1:9/api", "token": "xoxb-test"}
PAGERDUTY = {"api_url": "http://127.0.0.1:9", "routing_key": "k"}

# A valid call of each module: the property tests vary one to three of its options.
BASELINE = {
    "cloudwatch_logs_insights_query": dict(AWS, log_group="/aws/ecs/sample-service-prod", query="fields @message | limit 5"),
    "cloudwatch_logs_search": dict(AWS, log_group="/aws/ecs/sample-service-prod", filter_pattern="ERROR"),
    "datadog_event": dict(DATADOG, title="Incident opened", text="SEV2 on sample-service"),
    "datadog_metric_query": dict(DATADOG, query="avg:aws.ecs.cpuutilization{service:sample-service}"),
    "ecs_service_info": dict(ECS),
    "ecs_service_restart": dict(ECS),
    "ecs_service_rollback": dict(ECS),
    "ecs_service_scale": dict(ECS, desired_count=6, max_desired_count=12),
    "ecs_taskdef_deploy": dict(ECS, environment={"CACHE_ENABLED": "false"}),
    "elasticache_failover": dict(AWS, replication_group_id="sample-service-redis-prod"),
    "elasticache_info": dict(AWS, replication_group_id="sample-service-redis-prod"),
    "elasticache_reboot": dict(AWS, cache_cluster_id="sample-service-redis-prod-001", confirm_last_resort=True),
    "http_probe": {"urls": {"health": "http://127.0.0.1:9/health"}},
    "incident_record": {"store": "/nonexistent/sre-incident-property-store", "service": "sample-service"},
    "pagerduty_event": dict(PAGERDUTY, summary="sample-service down", source="sample-service", severity="critical"),
    "postgres_activity_info": {"host": "127.0.0.1"},
    "postgres_terminate": {"host": "127.0.0.1", "states": ["idle"], "idle_longer_than": 600},
    "redis_probe": {"host": "127.0.0.1"},
    "run_concurrently": {"steps": [{"id": "health", "name": "Check health", "module": "sre.incident.http_probe",
                                    "args": {"urls": {"health": "http://127.0.0.1:9/health"}}}]},
    "s3_heapdump_info": dict(AWS, bucket="sample-service-heapdumps"),
    "slack_channel": dict(SLACK, name="inc-sample-service"),
    "slack_message": dict(SLACK, channel="#incidents", text="SEV2 on sample-service"),
    "ssm_parameter_info": dict(AWS, names=["/sample-service/prod/feature-flags/new-checkout"]),
    "ssm_parameter_set": dict(AWS, name="/sample-service/prod/feature-flags/new-checkout", value="off"),
}
MODULES = sorted(BASELINE)

INJECTIONS = ("'; DROP TABLE x; --", "$(reboot)", "`reboot`", "{{ lookup('pipe','id') }}", "../../etc/passwd",
              "a\x00b", "\u202egnp.exe", "ｓａｍｐｌｅ", "🔥" * 10, "x" * 100000, " ", "\n", "null", "0001", "-1", "1e308")
# Values the type alone refuses (AnsibleModule itself, or StrictModule for what AnsibleModule would coerce).
WRONG_TYPE = {
    "int": (True, False, 1.5, "", "ten", {"a": 1}),
    "float": (True, "nan", "inf", "", "fast", {"a": 1}),
    "str": (True, False, {"a": 1}, ["a"], "a\x00b"),
    "path": (True, {"a": 1}, ["a"], "a\x00b"),
    "bool": ("maybe", "", 2, {"a": 1}),
    "dict": (5, True, ["a"]),
    "list": ({"a": 1},),
}
INTERNAL = ("_ansible_", )


@dataclasses.dataclass
class Case:
    args: dict
    check_mode: bool
    bad: list  # options given a value that must be refused

    def must_refuse(self):
        return bool(self.bad)


@dataclasses.dataclass
class Outcome:
    kind: str  # exit, fail, backend (a backend was reached) or crash (an uncaught exception)
    result: dict
    calls: list  # what reached a backend: (kind, target)


class _Captured(Exception):
    def __init__(self, kwargs):
        super().__init__("captured")
        self.kwargs = kwargs


def load_module(name):
    return importlib.import_module(PACKAGE + name)


def module_spec(name):
    """(argument_spec, limits, rules) of a module, as its main() hands them to StrictModule."""
    def capture(self, *args, **kwargs):
        raise _Captured(kwargs)

    kwargs = {}
    with mock.patch.object(validate.StrictModule, "__init__", capture):
        try:
            load_module(name).main()
        except _Captured as captured:
            kwargs = captured.kwargs
    return kwargs["argument_spec"], kwargs.get("limits") or {}, kwargs


def _rules(limits, name):
    rule = limits.get(name, validate.SHARED_LIMITS.get(name))
    return () if rule is None else (rule if isinstance(rule, tuple) else (rule,))


def refused_values(name, spec, limits):
    """Values that option `name` must refuse, whatever the other options say."""
    values = list(WRONG_TYPE.get(spec.get("type", "str"), ()))
    if spec.get("choices"):
        values.append("not-one-of-the-choices")
    if spec.get("type") == "list" and spec.get("elements") in ("int", "str"):
        values.extend([[True], [{"a": 1}]] if spec["elements"] == "str" else [[True], [1.5]])
    for rule in _rules(limits, name):
        values.extend(rule.bad)
    if spec.get("type") == "raw":  # raw values only have their rule's bad ones
        values = [value for rule in _rules(limits, name) for value in rule.bad]
    return values


def _any_value():
    return st.one_of(
        st.none(), st.booleans(), st.integers(-10 ** 15, 10 ** 15), st.floats(allow_nan=False),
        st.text(max_size=40), st.sampled_from(INJECTIONS),
        st.lists(st.one_of(st.text(max_size=10), st.integers()), max_size=3),
        st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=10), st.integers(), st.booleans()), max_size=3),
    )


@st.composite
def cases(draw, name):
    """Case strategy for module `name` (see the module docstring)."""
    spec, limits, _kwargs = module_spec(name)
    options = sorted(option for option in spec if not option.startswith(INTERNAL))
    args = dict(BASELINE[name])
    bad = []
    for option in draw(st.lists(st.sampled_from(options), min_size=1, max_size=3, unique=True)):
        refused = refused_values(option, spec[option], limits)
        if refused and draw(st.booleans()):
            args[option] = draw(st.sampled_from(refused))
            bad.append(option)
        else:
            args[option] = draw(_any_value())
    return Case(args=args, check_mode=draw(st.booleans()), bad=bad)


class BackendReached(BaseException):
    """Raised by every blocked backend entry: no module's `except Exception` may swallow it."""


@contextlib.contextmanager
def blocked_backends(calls):
    """Every network connection (AWS, Datadog, Slack, PagerDuty, HTTP, Redis), PostgreSQL connection and incident
    store write is recorded in `calls` and stopped with BackendReached."""
    def stop(kind):
        def blocked(*args, **_kwargs):
            calls.append((kind, repr(args[1:] if kind == "socket" else args)[:200]))
            raise BackendReached(kind)
        return blocked

    patches = [mock.patch.object(socket.socket, "connect", stop("socket")),
               mock.patch.object(socket.socket, "connect_ex", stop("socket")),
               mock.patch.object(socket, "getaddrinfo", stop("dns")),
               mock.patch.object(socket, "create_connection", stop("socket"))]
    try:
        import psycopg
        patches.append(mock.patch.object(psycopg, "connect", stop("postgres")))
    except ImportError:  # pragma: no cover
        pass
    from ansible_collections.sre.incident.plugins.module_utils import incident_store
    patches += [mock.patch.object(incident_store, attr, stop("store"))
                for attr in ("ensure_dir", "write_json_atomic", "StoreLock")]
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def run_in_process(name, args, check_mode):
    """Run module `name`'s main() in this process with every backend blocked; its Outcome."""
    calls, out = [], io.StringIO()
    try:
        with patch_module_args(dict(args, _ansible_check_mode=check_mode)), blocked_backends(calls), \
                contextlib.redirect_stdout(out):
            load_module(name).main()
    except SystemExit:
        result = json.loads(out.getvalue())
        return Outcome("fail" if result.get("failed") else "exit", result, calls)
    except BackendReached:
        return Outcome("backend", {}, calls)
    except Exception as exc:  # noqa: BLE001 - what the property tests look for
        return Outcome("crash", {"exception": "%s: %s" % (type(exc).__name__, exc)}, calls)
    return Outcome("crash", {"exception": "main() returned without exit_json or fail_json"}, calls)
