"""Logs Insights through the real API (StartQuery / GetQueryResults / StopQuery), over a log group of known
JSON lines (moto alone ignores filter and returns empty stats)."""

from __future__ import annotations

import json
import time

import pytest
from botocore.exceptions import ClientError
from labhelpers import insights, rows

GROUP = "/lab-test/insights"
CODES = ["CHECKOUT_TIMEOUT"] * 6 + ["PAYMENT_PROVIDER_5XX"] * 3 + ["VALIDATION_FAILED"]


@pytest.fixture(scope="module")
def window(lab, aws):
    """30 lines one second apart ending a minute ago: every 5th an info request line, the rest errors."""
    logs = aws("logs")
    try:
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="ecs/sample-service/abc")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    end = int(time.time()) - 60
    events = []
    for i in range(30):
        ts = (end - 29 + i) * 1000
        if i % 5 == 0:
            doc = {"level": "info", "message": f"GET /api/orders 200 {10 + i}ms",
                   "http": {"method": "GET", "status": 200, "duration_ms": 10 + i}}
        else:
            doc = {"level": "error", "message": "Checkout failed", "error": {"code": CODES[i % 10]},
                   "http": {"method": "POST", "status": 504, "duration_ms": 10003}}
        events.append({"timestamp": ts, "message": json.dumps(doc)})
    logs.put_log_events(logGroupName=GROUP, logStreamName="ecs/sample-service/abc", logEvents=events)
    return end - 29, end


def test_the_runbook_query_counts_errors_by_code(window, aws):
    start, end = window
    result = insights(aws, """
       fields @timestamp, level, message, error
       | filter level = "error"
       | stats count() by error.code
     """, group=GROUP, start=start, end=end)
    assert result["status"] == "Complete"
    assert sorted(rows(result), key=lambda r: r["error.code"]) == [
        {"error.code": "CHECKOUT_TIMEOUT", "count()": "12"},
        {"error.code": "PAYMENT_PROVIDER_5XX", "count()": "9"},
        {"error.code": "VALIDATION_FAILED", "count()": "3"}]  # stats rows come in no particular order
    assert result["statistics"]["recordsMatched"] == 24 and result["statistics"]["recordsScanned"] == 30


def test_filters_fields_sort_limit_and_aliases(window, aws):
    start, end = window
    sorted_counts, newest, regex = insights(aws, [
        "stats count(*) as n by error.code | sort n desc",
        'fields @timestamp, message, http.duration_ms | filter level != "error" and http.duration_ms > 20 '
        '| sort @timestamp desc | limit 2',
        'filter message like /(?i)checkout/ and error.code != "CHECKOUT_TIMEOUT" | stats count() as n',
    ], group=GROUP, start=start, end=end)
    assert [(r.get("error.code"), r["n"]) for r in rows(sorted_counts)] == [
        ("CHECKOUT_TIMEOUT", "12"), ("PAYMENT_PROVIDER_5XX", "9"), (None, "6"), ("VALIDATION_FAILED", "3")]
    got = rows(newest)
    assert [r["http.duration_ms"] for r in got] == ["35", "30"]
    assert got[0]["@timestamp"] == time.strftime("%Y-%m-%d %H:%M:%S.000", time.gmtime(end - 4))
    assert all(row[-1]["field"] == "@ptr" for row in newest["results"])
    assert rows(regex) == [{"n": "12"}]


def test_a_query_runs_then_completes_and_can_be_stopped(window, aws):
    logs = aws("logs")
    start, end = window
    query_id = logs.start_query(logGroupName=GROUP, startTime=start, endTime=end, queryString="fields @message")["queryId"]
    first = logs.get_query_results(queryId=query_id)
    assert first["status"] == "Running" and first["results"] == []
    assert logs.stop_query(queryId=query_id)["success"] is True
    assert logs.get_query_results(queryId=query_id)["status"] == "Cancelled"
    with pytest.raises(ClientError) as err:
        logs.stop_query(queryId=query_id)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as err:
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize("query, says", [
    ('parse @message "* *" as a, b', "not supported"),
    ("filter level =", "expected"),
    ("stats by level", "aggregate"),
    ("frobnicate level", "unknown command"),
])
def test_unsupported_or_broken_queries_are_malformed(window, aws, query, says):
    with pytest.raises(ClientError) as err:
        aws("logs").start_query(logGroupName=GROUP, startTime=0, endTime=int(time.time()), queryString=query)
    error = err.value.response["Error"]
    assert error["Code"] == "MalformedQueryException" and says in error["Message"]
    location = err.value.response["queryCompileError"]["location"]
    assert 0 <= location["startCharOffset"] <= location["endCharOffset"] <= len(query)


def test_unknown_log_group_is_not_found(lab, aws):
    with pytest.raises(ClientError) as err:
        aws("logs").start_query(logGroupName="/no/such/group", startTime=0, endTime=1, queryString="fields @message")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
