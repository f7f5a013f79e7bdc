"""break high_error_rate: a fresh feature deployment + flag on + Stripe degraded -> ~8 % errors; the flag
off or a rollback fixes it, scaling up does not."""

from __future__ import annotations

import time

from labhelpers import (CLUSTER, SERVICE, describe_service, health, http, insights, rows, wait_rollout,
                        wait_until)

from lab import client


def success_rate(query_metric, seconds: int = 3) -> float:
    """The average success rate over the last few seconds."""
    resp = query_metric("avg:sample.requests.success_rate{*}", seconds=seconds)
    points = [p.value[1] for p in resp.series[0].pointlist]
    return sum(points) / len(points)


def latest(query_metric, query: str) -> float:
    return query_metric(query, seconds=10).series[0].pointlist[-1].value[1]


def test_high_error_rate_symptoms_and_fixes(healed_lab, aws, query_metric):
    ecs, ssm = aws("ecs"), aws("ssm")
    flag = healed_lab["feature_flags"]["new_checkout"]
    assert flag == "/sample-service/prod/feature-flags/new-checkout"
    assert ssm.get_parameter(Name=flag)["Parameter"]["Value"] == "off"
    assert http("GET", healed_lab["dependencies"]["stripe"])[0] == 200

    since = int(time.time())
    result = client.break_incident("high_error_rate")
    feature = result["options"]["task_definition"]
    svc = describe_service(aws)
    assert (svc["taskDefinition"], svc["runningCount"], svc["deployments"][0]["rolloutState"]) == \
        (feature, 4, "COMPLETED")
    env = ecs.describe_task_definition(taskDefinition=feature)["taskDefinition"]["containerDefinitions"][0]
    assert {"name": "FEATURE_NEW_CHECKOUT", "value": "on"} in env["environment"]
    assert ssm.get_parameter(Name=flag)["Parameter"]["Value"] == "on"
    assert health(healed_lab) == (200, {"status": "ok"})
    status, body = http("GET", healed_lab["dependencies"]["stripe"])
    assert status == 503 and body["status"] == "degraded"
    assert http("GET", healed_lab["dependencies"]["sendgrid"]) == (200, {"status": "operational", "service": "sendgrid"})

    rate = wait_until(lambda: (r := success_rate(query_metric, 2)) < 95 and r, timeout=4, what="success rate down")
    assert 89 < rate < 95
    errors = latest(query_metric, "sum:sample.errors{*}.as_count()")
    assert 20 < errors < 70  # per second, of ~500 requests

    # the runbook's error distribution query
    result = insights(aws, 'fields @timestamp, level, message, error\n | filter level = "error"\n'
                           ' | stats count() by error.code', start=since)
    counts = {r["error.code"]: int(r["count()"]) for r in rows(result)}
    assert counts and set(counts) <= {"CHECKOUT_TIMEOUT", "PAYMENT_PROVIDER_5XX", "VALIDATION_FAILED"}
    assert max(counts, key=counts.get) == "CHECKOUT_TIMEOUT"

    # scaling up does not help
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=6)
    wait_until(lambda: describe_service(aws)["runningCount"] == 6, timeout=healed_lab["ecs"]["deploy_seconds"] + 2,
               what="6 running")
    wait_until(lambda: len(query_metric("avg:sample.requests.success_rate{*}", seconds=2).series[0].pointlist) >= 2,
               timeout=3, what="fresh points")
    assert success_rate(query_metric, 2) < 95

    # the feature flag off fixes it
    ssm.put_parameter(Name=flag, Value="off", Type="String", Overwrite=True)
    wait_until(lambda: latest(query_metric, "avg:sample.requests.success_rate{*}") > 99, timeout=3,
               what="success rate back")

    # ... and so does a rollback to revision 5 with the flag on again
    ssm.put_parameter(Name=flag, Value="on", Type="String", Overwrite=True)
    ecs.update_service(cluster=CLUSTER, service=SERVICE, taskDefinition=healed_lab["ecs"]["baseline_task_definition"])
    wait_rollout(aws, timeout=healed_lab["ecs"]["deploy_seconds"] + 3)
    wait_until(lambda: latest(query_metric, "avg:sample.requests.success_rate{*}") > 99, timeout=3,
               what="success rate back after the rollback")

    healed = client.heal()
    assert ssm.get_parameter(Name=flag)["Parameter"]["Value"] == "off"
    assert http("GET", healed_lab["dependencies"]["stripe"])[0] == 200
    assert "dependencies: stripe operational again" in healed["changes"]
