"""A Datadog API emulator for the real datadog-api-client (``Configuration(host=datadog.url)``).

* ``GET /api/v1/query`` (MetricsApi.query_metrics): one series per comma-separated query, points from the
  metric store inside [from, to], rolled up to at most ``MAX_POINTS`` points (avg, or sum for ``sum:``).
* ``POST /api/v1/events`` (EventsApi.create_event), ``GET /api/v1/events`` (list_events).
* ``GET /api/v1/validate`` (AuthenticationApi.validate).
* ``GET /_lab/events`` / ``DELETE /_lab/events``: what was posted, for tests.

Scopes: the lab's untagged series are Sample Service's. A query whose scope names ``service:<name>`` of the lab's
fleet (``python -m lab fleet N``) reads that service's series only; ``service:sample-service``, ``{*}`` and any
other scope read Sample Service's. Unlike Datadog, ``{*}`` does not aggregate the fleet's series in: in the lab
``{*}`` means "the main service", so everything written against ``{*}`` keeps its meaning.

Auth as Datadog does it: every endpoint needs the right ``DD-API-KEY``; endpoints for which the client sends
an application key (metric queries, event reads) also need the right ``DD-APPLICATION-KEY``. Otherwise
403 ``{"errors": ["Forbidden"]}``.
"""

from __future__ import annotations

import bisect
import math
import re
import threading
import time
from array import array
from collections import deque
from typing import Any, Mapping, Sequence

from werkzeug.wrappers import Request, Response

from .http_util import json_response, request_json, wsgi

RETENTION_SECONDS = 2 * 3600 + 300
BATCH_RETENTION_SECONDS = 3600 + 300  # the fleet's series (many services: kept for an hour)
MAX_POINTS = 300
MAIN_SERVICE = "sample-service"

QUERY_RE = re.compile(
    r"^\s*(?:(?P<aggr>avg|sum|min|max):)?(?P<metric>[A-Za-z][\w.]*)"
    r"\s*\{(?P<scope>[^}]*)\}(?P<rest>.*)$"
)


def scope_service(scope: str) -> str | None:
    """The value of the ``service:`` tag of a scope (``service:svc-007,env:prod`` -> ``svc-007``), else None."""
    for tag in scope.split(","):
        tag = tag.strip()
        if tag.startswith("service:"):
            return tag[len("service:"):].strip() or None
    return None


class BatchSeries:
    """Series of many services recorded together (the lab's fleet), stored compactly: one row per recording
    with its timestamp, the services' index (shared by every row of one seeding) and one float32 array per
    metric (NaN: no point), read back at 7 significant digits (the lab records no more).
    N=200 services x 8 metrics every 2 s for an hour is ~15 MB."""

    def __init__(self, retention: float = BATCH_RETENTION_SECONDS) -> None:
        self.retention = retention
        self._times: list[float] = []
        self._rows: list[tuple[Mapping[str, int], dict[str, array]]] = []
        self._lock = threading.Lock()

    def record(self, ts: float, index: Mapping[str, int], columns: Mapping[str, Sequence[float]]) -> None:
        row = (index, {metric: array("f", values) for metric, values in columns.items()})
        with self._lock:
            if self._times and ts < self._times[-1]:  # keep the rows sorted (backfill, clock steps)
                pos = bisect.bisect_right(self._times, ts)
                self._times.insert(pos, ts)
                self._rows.insert(pos, row)
            else:
                self._times.append(ts)
                self._rows.append(row)
            cutoff = self._times[-1] - self.retention
            if self._times[0] < cutoff - 60:  # trim in chunks, not on every row
                drop = bisect.bisect_left(self._times, cutoff)
                del self._times[:drop]
                del self._rows[:drop]

    def points(self, service: str, metric: str, start: float, end: float) -> list[tuple[float, float]]:
        with self._lock:
            lo, hi = bisect.bisect_left(self._times, start), bisect.bisect_right(self._times, end)
            times, rows = self._times[lo:hi], self._rows[lo:hi]
        out = []
        for ts, (index, columns) in zip(times, rows):
            i, column = index.get(service), columns.get(metric)
            if i is None or column is None:
                continue
            value = column[i]
            if not math.isnan(value):  # float32 back to the (<= 7 significant digits) value recorded
                out.append((ts, float(f"{value:.7g}")))
        return out

    def services(self) -> list[str]:
        with self._lock:
            return list(self._rows[-1][0]) if self._rows else []

    def clear(self) -> None:
        with self._lock:
            self._times.clear()
            self._rows.clear()


class MetricStore:
    """(ts, value) points per metric, ~2 h kept: the main service's (Sample Service, untagged), plus the fleet's
    per-service series (``record_batch``, read through a ``service:<name>`` scope)."""

    def __init__(self, main_service: str = MAIN_SERVICE) -> None:
        self.main_service = main_service
        self._points: dict[str, deque] = {}
        self._lock = threading.Lock()
        self.batches = BatchSeries()

    def record(self, metric: str, value: float, ts: float | None = None) -> None:
        ts = time.time() if ts is None else ts
        with self._lock:
            series = self._points.setdefault(metric, deque())
            series.append((ts, float(value)))
            cutoff = ts - RETENTION_SECONDS
            while series and series[0][0] < cutoff:
                series.popleft()

    def record_batch(self, ts: float, index: Mapping[str, int], columns: Mapping[str, Sequence[float]]) -> None:
        """One point per service and metric: ``columns[metric][index[service]]`` (NaN: no point)."""
        self.batches.record(ts, index, columns)

    def _is_main(self, scope: str) -> bool:
        service = scope_service(scope)
        return service is None or service == self.main_service

    def points(self, metric: str, start: float, end: float, scope: str = "*") -> list[tuple[float, float]]:
        if not self._is_main(scope):
            return self.batches.points(scope_service(scope) or "", metric, start, end)
        with self._lock:
            series = list(self._points.get(metric, ()))
        return [(t, v) for t, v in series if start <= t <= end]

    def latest(self, metric: str, scope: str = "*") -> float | None:
        if not self._is_main(scope):
            points = self.batches.points(scope_service(scope) or "", metric, 0, math.inf)
            return points[-1][1] if points else None
        with self._lock:
            series = self._points.get(metric)
            return series[-1][1] if series else None

    def metrics(self) -> list[str]:
        with self._lock:
            return sorted(self._points)


def split_queries(query: str) -> list[str]:
    """Split ``a{x:1,y:2},b{*}`` on the commas that are not inside braces or parentheses."""
    parts, depth, current = [], 0, ""
    for ch in query:
        if ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


class DatadogEmulator:
    def __init__(self, store: MetricStore, api_key: str, app_key: str) -> None:
        self.store = store
        self.api_key = api_key
        self.app_key = app_key
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._next_event_id = int(time.time() * 1000)
        self.app = wsgi(self.handle)

    # --- auth --------------------------------------------------------------------------------
    def _authorized(self, request: Request, need_app_key: bool) -> bool:
        if request.headers.get("DD-API-KEY") != self.api_key:
            return False
        app_key = request.headers.get("DD-APPLICATION-KEY")
        if need_app_key or app_key is not None:
            return app_key == self.app_key
        return True

    # --- routing -----------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        path, method = request.path.rstrip("/"), request.method
        if path == "/_lab/events":
            if method == "DELETE":
                with self._lock:
                    self.events.clear()
                return json_response({"ok": True})
            return json_response(self.events)
        routes = {
            ("GET", "/api/v1/validate"): (False, self.validate),
            ("GET", "/api/v1/query"): (True, self.query),
            ("POST", "/api/v1/events"): (False, self.create_event),
            ("GET", "/api/v1/events"): (True, self.list_events),
        }
        if (method, path) not in routes:
            return json_response({"errors": ["Not found"]}, 404)
        need_app_key, fn = routes[(method, path)]
        if not self._authorized(request, need_app_key):
            return json_response({"errors": ["Forbidden"]}, 403)
        return fn(request)

    def validate(self, request: Request) -> Response:
        return json_response({"valid": True})

    # --- metrics -----------------------------------------------------------------------------
    def query(self, request: Request) -> Response:
        args = request.args
        missing = [k for k in ("from", "to", "query") if not args.get(k)]
        if missing:
            return json_response({"errors": [f"Missing required parameter(s): {', '.join(missing)}"]}, 400)
        try:
            start, end = int(args["from"]), int(args["to"])
        except ValueError:
            return json_response({"errors": ["from and to must be POSIX timestamps in seconds"]}, 400)
        if end < start:
            return json_response({"errors": ["'to' must be later than 'from'"]}, 400)
        query = args["query"]
        series = []
        for index, expression in enumerate(split_queries(query)):
            m = QUERY_RE.match(expression)
            if not m:
                return json_response({"errors": [f"Error parsing query: unable to parse {expression}"]}, 400)
            s = self._series(index, expression, m, start, end)
            if s is not None:
                series.append(s)
        return json_response({
            "status": "ok",
            "res_type": "time_series",
            "resp_version": 1,
            "query": query,
            "from_date": start * 1000,
            "to_date": end * 1000,
            "series": series,
            "values": [],
            "times": [],
            "message": "",
            "group_by": [],
        })

    def _series(self, index: int, expression: str, m: re.Match, start: int, end: int) -> dict | None:
        metric, aggr, scope = m.group("metric"), m.group("aggr"), m.group("scope").strip() or "*"
        points = self.store.points(metric, start, end, scope)
        if not points:
            return None  # Datadog returns no series for a metric without data
        # ``sum:``/``avg:`` aggregate across sources (one per scope in the lab); over time, points roll up by avg
        # unless the query counts (``.as_count()``) or names a rollup (``.rollup(sum, 60)``).
        rest = m.group("rest")
        rollup = re.search(r"\.rollup\(\s*(avg|sum|min|max|count)\s*(?:,\s*(\d+))?\s*\)", rest)
        method = rollup.group(1) if rollup else ("sum" if ".as_count()" in rest else "avg")
        span = max(1, end - start)
        interval = max(1, -(-span // MAX_POINTS))  # ceil
        if rollup and rollup.group(2):
            interval = max(interval, int(rollup.group(2)))
        buckets: dict[int, list[float]] = {}
        for ts, value in points:
            buckets.setdefault(int(ts) // interval * interval, []).append(value)
        reducers = {"avg": lambda v: sum(v) / len(v), "sum": sum, "min": min, "max": max, "count": len}
        pointlist = []
        # [from, to] includes both ends: whole-second windows can touch one bucket more than MAX_POINTS
        for bucket_ts in sorted(buckets)[-MAX_POINTS:]:
            pointlist.append([float(bucket_ts * 1000), round(float(reducers[method](buckets[bucket_ts])), 6)])
        return {
            "metric": metric,
            "display_name": metric,
            "expression": expression,
            "scope": scope,
            "tag_set": [] if scope == "*" else [t.strip() for t in scope.split(",")],
            "aggr": aggr,
            "query_index": index,
            "interval": interval,
            "length": len(pointlist),
            "start": int(pointlist[0][0]),
            "end": int(pointlist[-1][0]) + interval * 1000 - 1,
            "pointlist": pointlist,
            "unit": None,
            "attributes": {},
        }

    # --- events ------------------------------------------------------------------------------
    def create_event(self, request: Request) -> Response:
        body = request_json(request)
        if not isinstance(body, dict) or not body.get("title") or "text" not in body:
            return json_response({"errors": ["Event requires 'title' and 'text'"]}, 400)
        with self._lock:
            self._next_event_id += 1
            event_id = self._next_event_id
            event = {
                "id": event_id,
                "id_str": str(event_id),
                "title": body["title"],
                "text": body["text"],
                "date_happened": int(body.get("date_happened") or time.time()),
                "tags": list(body.get("tags") or []),
                "alert_type": body.get("alert_type", "info"),
                "priority": body.get("priority", "normal"),
                "url": f"https://app.datadoghq.com/event/event?id={event_id}",
            }
            for key in ("host", "source_type_name", "device_name"):
                if body.get(key) is not None:
                    event[key] = body[key]
            # kept for tests (GET /_lab/events), not part of Datadog's Event shape
            event_record = {**event, "request": body}
            self.events.append(event_record)
        return json_response({"status": "ok", "event": event}, 202)

    def list_events(self, request: Request) -> Response:
        try:
            start, end = int(request.args["start"]), int(request.args["end"])
        except (KeyError, ValueError):
            return json_response({"errors": ["start and end are required POSIX timestamps"]}, 400)
        with self._lock:
            events = [e for e in self.events if start <= e["date_happened"] <= end]
        return json_response({"status": "ok", "events": [
            {k: v for k, v in e.items() if k != "request"} for e in reversed(events)
        ]})
