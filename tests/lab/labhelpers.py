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
    """The tcp_port of the Redis server that answers on the primary endpoint (None if it refuses)."""
    import redis

    c = redis_client(lab)
    try:
        info = c.info("server")
        return int(info["tcp_port"])
    except redis.ConnectionError:
        return None
    finally:
        c.close()
