"""python -m lab fault: each backend x mode as the automation's own clients see it, then cleared and working again."""

from __future__ import annotations

import socket
import time

import botocore.exceptions
import pytest

from lab import client as lab_client
from lab.scenarios import LabError

from labhelpers import http, redis_client

CLUSTER, SERVICE = "sample-service-prod", "sample-service"
FLAG = "/sample-service/prod/feature-flags/new-checkout"


@pytest.fixture(autouse=True)
def no_faults_after(lab):
    yield
    lab_client.clear_faults()


def _error(call):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


READS = {
    "ecs": lambda aws: aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE]),
    "elasticache": lambda aws: aws("elasticache").describe_replication_groups(),
    "s3": lambda aws: aws("s3").list_objects_v2(Bucket="sample-service-heapdumps"),
    "ssm": lambda aws: aws("ssm").get_parameter(Name=FLAG),
    "logs": lambda aws: aws("logs").describe_log_groups(logGroupNamePrefix="/aws/ecs/"),
}
# What AWS answers, per protocol: JSON (ECS, SSM, Logs), query (ElastiCache), rest-xml (S3).
EXPECTED = {
    "access_denied": {"json": ("AccessDeniedException", 400), "query": ("AccessDenied", 403),
                      "rest-xml": ("AccessDenied", 403)},
    "throttling": {"json": ("ThrottlingException", 400), "query": ("Throttling", 400), "rest-xml": ("SlowDown", 503)},
    "500": {"json": ("InternalFailure", 500), "query": ("InternalFailure", 500), "rest-xml": ("InternalError", 500)},
    "503": {"json": ("ServiceUnavailable", 503), "query": ("ServiceUnavailable", 503),
            "rest-xml": ("ServiceUnavailable", 503)},
}
PROTOCOL = {"ecs": "json", "ssm": "json", "logs": "json", "elasticache": "query", "s3": "rest-xml"}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_aws_error_modes_look_like_aws_to_boto3(lab, aws, mode):
    lab_client.fault("aws", mode)
    for service, read in READS.items():
        code, status, message = _error(lambda: read(aws))
        assert (code, status) == EXPECTED[mode][PROTOCOL[service]], service
    lab_client.clear_faults()
    for read in READS.values():
        read(aws)


def test_access_denied_names_the_action_as_iam_does(lab, aws):
    lab_client.fault("aws", "access_denied", operation="UpdateService")
    READS["ecs"](aws)  # other operations answer
    code, status, message = _error(lambda: aws("ecs").update_service(cluster=CLUSTER, service=SERVICE,
                                                                     desiredCount=4))
    assert (code, status) == ("AccessDeniedException", 400)
    assert message.startswith("User: arn:aws:iam::123456789012:user/")
    assert f"is not authorized to perform: ecs:UpdateService on resource: arn:aws:ecs:us-east-1:123456789012:" \
           f"service/{CLUSTER}/{SERVICE}" in message
    assert lab_client.status()["faults"] == [
        {"backend": "aws", "mode": "access_denied", "operation": "UpdateService", "seconds": None}]


def test_aws_down_refuses_connections_and_down_for_one_operation_resets_it(lab, aws):
    lab_client.fault("aws", "down")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        READS["ssm"](aws)
    lab_client.clear_faults()
    READS["ssm"](aws)
    lab_client.fault("aws", "down", operation="GetParameter")
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        READS["ssm"](aws)
    READS["ecs"](aws)


def test_aws_slow_answers_after_the_seconds(lab, aws):
    lab_client.fault("aws", "slow", operation="DescribeServices", seconds=1)
    start = time.monotonic()
    READS["ecs"](aws)
    assert time.monotonic() - start >= 1.0
    start = time.monotonic()
    READS["ssm"](aws)
    assert time.monotonic() - start < 1.0


# --- Datadog ---------------------------------------------------------------------------------------------
def _datadog_query(lab):
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.v1.api.metrics_api import MetricsApi

    cfg = Configuration(host=lab["datadog"]["url"])
    cfg.api_key["apiKeyAuth"] = lab["datadog"]["api_key"]
    cfg.api_key["appKeyAuth"] = lab["datadog"]["app_key"]
    now = int(time.time())
    with ApiClient(cfg) as api:
        return MetricsApi(api).query_metrics(_from=now - 60, to=now, query="avg:sample.cache.hit_rate{*}")


@pytest.mark.parametrize("mode,status", [("403", 403), ("429", 429), ("500", 500), ("503", 503), ("5xx", 500)])
def test_datadog_error_modes(lab, mode, status):
    from datadog_api_client.exceptions import ApiException

    lab_client.fault("datadog", mode)
    with pytest.raises(ApiException) as info:
        _datadog_query(lab)
    assert info.value.status == status
    if mode == "403":
        assert info.value.body == {"errors": ["Forbidden"]}
    if mode == "429":
        headers = {k.lower(): v for k, v in info.value.headers.items()}
        assert {"x-ratelimit-limit", "x-ratelimit-period", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(headers)
        assert headers["x-ratelimit-remaining"] == "0"
    lab_client.clear_faults()
    assert _datadog_query(lab).series


def test_datadog_down_and_slow(lab):
    lab_client.fault("datadog", "down")
    with pytest.raises(Exception) as info:
        _datadog_query(lab)
    assert "refused" in str(info.value).lower()
    lab_client.fault("datadog", "slow", seconds=1)
    start = time.monotonic()
    assert _datadog_query(lab).series
    assert time.monotonic() - start >= 1.0


# --- Slack, PagerDuty ------------------------------------------------------------------------------------
def _slack(lab):
    from slack_sdk import WebClient

    return WebClient(token=lab["slack"]["token"], base_url=lab["slack"]["url"] + "/api/", timeout=5,
                     retry_handlers=[])


@pytest.mark.parametrize("mode,status,error", [("bad_token", 200, "invalid_auth"), ("5xx", 500, "fatal_error"),
                                               ("503", 503, "service_unavailable")])
def test_slack_error_modes(lab, mode, status, error):
    from slack_sdk.errors import SlackApiError

    lab_client.fault("slack", mode)
    with pytest.raises(SlackApiError) as info:
        _slack(lab).auth_test()
    assert (info.value.response.status_code, info.value.response["error"]) == (status, error)
    lab_client.clear_faults()
    assert _slack(lab).auth_test()["ok"]


def test_slack_down_refuses_and_down_for_one_method_resets_it(lab):
    import urllib.error

    lab_client.fault("slack", "down")
    with pytest.raises(urllib.error.URLError) as info:
        _slack(lab).auth_test()
    assert isinstance(info.value.reason, ConnectionRefusedError)
    lab_client.clear_faults()
    lab_client.fault("slack", "down", operation="chat.postMessage")
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        _slack(lab).chat_postMessage(channel="incidents", text="lab fault test")
    assert _slack(lab).auth_test()["ok"]


def _trigger(lab, key=None):
    return http("POST", lab["pagerduty"]["url"] + "/v2/enqueue", {
        "routing_key": key or lab["pagerduty"]["routing_key"], "event_action": "trigger",
        "payload": {"summary": "lab fault test", "source": "tests", "severity": "info"}})


@pytest.mark.parametrize("mode,status", [("bad_token", 400), ("5xx", 500), ("503", 503)])
def test_pagerduty_error_modes(lab, mode, status):
    lab_client.fault("pagerduty", mode)
    code, body = _trigger(lab)
    assert code == status
    if mode == "bad_token":
        assert body == {"status": "invalid event", "message": "Event object is invalid",
                        "errors": ["Invalid routing key"]}
    lab_client.clear_faults()
    assert _trigger(lab)[0] == 202


def test_pagerduty_down_refuses(lab):
    import urllib.error

    lab_client.fault("pagerduty", "down")
    with pytest.raises(urllib.error.URLError) as info:
        _trigger(lab)
    assert isinstance(info.value.reason, ConnectionRefusedError)


# --- PostgreSQL ------------------------------------------------------------------------------------------
def _pg(dsn):
    import psycopg

    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        return conn.execute("SELECT 1").fetchone()[0]


def test_postgres_down_wrong_password_slow(lab):
    import psycopg

    pg = lab["postgres"]
    lab_client.fault("postgres", "down")
    with pytest.raises(psycopg.OperationalError, match="Connection refused"):
        _pg(pg["automation_dsn"])
    lab_client.fault("postgres", "wrong_password")
    with pytest.raises(psycopg.OperationalError, match='password authentication failed for user "sre_automation"'):
        _pg(pg["automation_dsn"])
    assert _pg(pg["admin_dsn"]) == 1  # the lab's own access keeps working
    lab_client.clear_faults()
    assert _pg(pg["automation_dsn"]) == 1
    lab_client.fault("postgres", "slow", seconds=1)
    start = time.monotonic()
    assert _pg(pg["automation_dsn"]) == 1
    assert time.monotonic() - start >= 1.0


# --- Redis -----------------------------------------------------------------------------------------------
def _endpoints(lab):
    return [lab["redis"]["port"]] + [m["port"] for m in lab["redis"]["members"]]


def test_redis_down_auth_slow_on_the_endpoint_and_every_member(lab):
    import redis

    lab_client.fault("redis", "down")
    for port in _endpoints(lab):
        with pytest.raises(redis.ConnectionError, match="refused"):
            redis_client(lab, port).ping()
    lab_client.fault("redis", "auth")
    for port in _endpoints(lab):
        with pytest.raises(redis.AuthenticationError):
            redis_client(lab, port).ping()
    lab_client.clear_faults()
    for port in _endpoints(lab):
        assert redis_client(lab, port).ping()
    lab_client.fault("redis", "slow", seconds=0.5)
    c = redis_client(lab, lab["redis"]["port"])
    c.ping()  # connected (AUTH, CLIENT SETINFO: each round trip is delayed too)
    start = time.monotonic()
    assert c.ping()
    assert time.monotonic() - start >= 0.5
    c.close()


def test_the_service_does_not_see_the_automations_auth_fault(lab):
    """The app simulator is the lab's own client: its Redis keeps answering, so the health stays ok."""
    lab_client.fault("redis", "auth")
    time.sleep(1.5)
    code, body = http("GET", lab["health"]["url"])
    assert code == 200 and body.get("checks", {}).get("redis") != "down"


# --- the contract ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (("nosuch", "down"), "unknown fault backend 'nosuch'"),
    (("redis", "500"), "unknown redis fault mode '500'"),
    (("postgres", "down", "X"), "--operation applies to aws and slack faults only"),
    (("aws", "500", None, 3), "--seconds applies to the slow mode only"),
    (("aws", "slow", None, 0), "--seconds must be more than 0"),
    (("aws", "slow", "two words"), "--operation must be one aws operation name"),
    (("aws", "throttling", "UpdateSevice"), "unknown AWS operation 'UpdateSevice'"),
    (("slack", "down", "postMessage"), "--operation for slack is a Web API method such as chat.postMessage"),
])
def test_a_wrong_fault_is_refused_and_changes_nothing(lab, args, message):
    with pytest.raises(LabError) as info:
        lab_client.fault(*args)
    assert info.value.exit_code == 2 and message in str(info.value) and "\n" not in str(info.value)
    assert lab_client.faults() == []


def test_faults_stay_until_cleared_and_heal_clears_them(lab):
    lab_client.fault("aws", "throttling", operation="UpdateService")
    lab_client.fault("redis", "slow", seconds=2)
    lab_client.fault("redis", "auth")
    assert sorted((f["backend"], f["mode"]) for f in lab_client.faults()) == [
        ("aws", "throttling"), ("redis", "auth")]  # one fault per backend and operation: auth replaced slow
    result = lab_client.heal()
    assert any(c.startswith("faults cleared") for c in result["changes"])
    assert result["status"]["faults"] == []
    assert lab_client.faults() == []


def test_the_listener_really_closes(lab):
    lab_client.fault("pagerduty", "down")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", lab["port_base"] + 4), timeout=2)
    lab_client.clear_faults()
    socket.create_connection(("127.0.0.1", lab["port_base"] + 4), timeout=2).close()
