"""Plain helpers for the lab tests (real clients pointed at the lab)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any, Callable

import pytest


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    """Poll until predicate() is truthy; return its value or fail with ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what} (last value: {last!r})")


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         form: bool = False) -> tuple[int, Any]:
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        if form:
            from urllib.parse import urlencode

            data = urlencode(body).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw, status = resp.read(), resp.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def last_value(response, index: int = 0) -> float | None:
    series = response.series
    if len(series) <= index or not series[index].pointlist:
        return None
    return series[index].pointlist[-1].value[1]


def redis_client(lab, port: int | None = None):
    """redis-py without its default retries (3, with backoff: ~5 s before a refused connection is reported)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis(host="127.0.0.1", port=port or lab["redis"]["port"], password=lab["redis"]["password"],
                       socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))


def endpoint_port(lab) -> int | None:
    """The member port of the Redis server that answers on the primary endpoint (None if it refuses). Each node
    listens behind its member port (a lab proxy), so the node is known by its run_id, not its tcp_port."""
    import redis

    c = redis_client(lab)
    try:
        run_id = c.info("server")["run_id"]
    except redis.ConnectionError:
        return None
    finally:
        c.close()
    for member in lab["redis"]["members"]:
        m = redis_client(lab, member["port"])
        try:
            if m.info("server")["run_id"] == run_id:
                return member["port"]
        except redis.ConnectionError:
            continue
        finally:
            m.close()
    return None


CLUSTER, SERVICE = "sample-service-prod", "sample-service"


def describe_service(aws) -> dict:
    return aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]


def primary(aws) -> dict:
    return describe_service(aws)["deployments"][0]


def wait_rollout(aws, state: str = "COMPLETED", timeout: float = 8.0) -> dict:
    """Wait until the PRIMARY deployment's rolloutState is ``state``; return the service."""
    return wait_until(lambda: (s := describe_service(aws))["deployments"][0]["rolloutState"] == state and s,
                      timeout=timeout, what=f"PRIMARY deployment {state}")


def register_variant(aws, base: str = "sample-service:5", env: dict[str, str] | None = None,
                     memory: int | None = None) -> str:
    """Register a new revision from ``base`` with extra environment / container memory; its ARN."""
    ecs = aws("ecs")
    td = ecs.describe_task_definition(taskDefinition=base)["taskDefinition"]
    container = td["containerDefinitions"][0]
    merged = {e["name"]: e["value"] for e in container["environment"]}
    merged.update(env or {})
    container["environment"] = [{"name": k, "value": v} for k, v in merged.items()]
    kwargs: dict[str, Any] = {"cpu": td.get("cpu", "512"), "memory": td.get("memory", "1024")}
    if memory is not None:
        container["memory"] = memory
        kwargs["memory"] = str(memory)
    return ecs.register_task_definition(family=td["family"], containerDefinitions=[container],
                                        **kwargs)["taskDefinition"]["taskDefinitionArn"]


def stopped_tasks(aws, started_by: str | None = None) -> list[dict]:
    ecs = aws("ecs")
    kwargs = {"startedBy": started_by} if started_by else {}
    arns = ecs.list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="STOPPED", **kwargs)["taskArns"]
    tasks = []
    for i in range(0, len(arns), 100):
        tasks += ecs.describe_tasks(cluster=CLUSTER, tasks=arns[i:i + 100])["tasks"]
    return tasks


def health(lab) -> tuple[int, Any]:
    return http("GET", lab["health"]["url"])


def insights(aws, query: str | list[str], group: str = "/aws/ecs/sample-service-prod", seconds: int = 900,
             start: int | None = None, end: int | None = None, timeout: float = 6.0) -> Any:
    """Run Logs Insights queries through the real API (all started at once) and wait for them to finish;
    the last GetQueryResults response (a list of them for a list of queries)."""
    logs = aws("logs")
    now = int(time.time())
    queries = [query] if isinstance(query, str) else query
    ids = [logs.start_query(logGroupName=group, startTime=start if start is not None else now - seconds,
                            endTime=end if end is not None else now + 1, queryString=q)["queryId"] for q in queries]
    results = [wait_until(lambda: (r := logs.get_query_results(queryId=query_id))["status"] not in
                          ("Running", "Scheduled") and r, timeout=timeout, interval=0.1, what="query to finish")
               for query_id in ids]
    return results[0] if isinstance(query, str) else results


def rows(result: dict) -> list[dict[str, str]]:
    """Insights rows as dicts (field -> value), without @ptr."""
    return [{c["field"]: c["value"] for c in row if c["field"] != "@ptr"} for row in result["results"]]
