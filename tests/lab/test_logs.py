"""FilterLogEvents with CloudWatch filter patterns (the lab evaluates them; moto alone matches everything)."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from labhelpers import wait_until

from lab import client

LOG_GROUP = "/aws/ecs/sample-service-prod"


def messages(aws, pattern: str, since_ms: int) -> list[dict]:
    events = aws("logs").filter_log_events(logGroupName=LOG_GROUP, startTime=since_ms, filterPattern=pattern)["events"]
    return [json.loads(e["message"]) for e in events]


def test_filter_patterns_select_the_redis_errors(healed_lab, aws):
    since = int(time.time() * 1000)
    client.break_incident("redis_down")
    wait_until(lambda: messages(aws, "ECONNREFUSED", since), timeout=5, what="ECONNREFUSED lines")
    wait_until(lambda: messages(aws, '{ $.level = "info" }', since - 10_000), timeout=5, what="info lines")
    # The first failed PING on a pooled connection may be a reset (the server went away under it).
    for pattern in ('{ $.level = "error" }', '{ $.error.code = "ECONN*" }', "Redis connection"):
        found = messages(aws, pattern, since)
        assert found and all(m["error"]["code"] in ("ECONNREFUSED", "ECONNRESET") for m in found), pattern
    for pattern in ("?ECONNREFUSED ?timeout", '"connect ECONNREFUSED"'):
        found = messages(aws, pattern, since)
        assert found and all(m["error"]["code"] == "ECONNREFUSED" for m in found), pattern
    assert all(m["level"] == "info" for m in messages(aws, '{ $.level != "error" }', since - 10_000))
    assert messages(aws, "?nothing ?matches", since) == []
    # "-term" excludes: what is left of the Redis lines is at most the reset of a dying connection
    assert not any("ECONNREFUSED" in json.dumps(m) for m in messages(aws, "Redis -ECONNREFUSED", since))


def test_invalid_filter_pattern_is_rejected(lab, aws):
    with pytest.raises(ClientError) as err:
        aws("logs").filter_log_events(logGroupName=LOG_GROUP, filterPattern="{ $.level = }")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
