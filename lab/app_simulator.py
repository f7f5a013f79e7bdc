"""Sample Service, simulated once a second from the lab's real state (not from scenario flags).

Each tick it reads the task definition that serves traffic (``CACHE_ENABLED``), PINGs Redis through the
replication group's primary endpoint exactly as the app would, then records Datadog metrics, writes
application log lines to the ECS log group and sets what the health endpoint answers.

Later incidents drive other signals through ``overrides`` (metric name -> value) and ``health_override``.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import redis
from werkzeug.wrappers import Request, Response

from . import config
from .aws_emulator import backend
from .datadog_emulator import MetricStore
from .ecs_controller import EcsController, task_env
from .http_util import json_response, wsgi

log = logging.getLogger("lab.app")

LOG_RETENTION_MS = 2 * 3600 * 1000

ENDPOINTS = (("GET", "/api/orders"), ("POST", "/api/orders"), ("GET", "/api/users/me"), ("GET", "/api/products"))


@dataclass
class AppState:
    cache_enabled: bool = True
    redis_ok: bool = True
    redis_error: str | None = None  # "ECONNREFUSED", "ETIMEDOUT", ...
    serving_task_definition: str | None = None
    running_tasks: int = 0
    checks: dict[str, str] = field(default_factory=dict)


def baseline_metrics(state: AppState, rng: random.Random) -> dict[str, float]:
    """What Datadog shows for the service in this state (before incident overrides)."""
    cache_hit = state.cache_enabled and state.redis_ok
    return {
        "sample.cache.hit_rate": round(0.93 + rng.uniform(-0.004, 0.004), 4) if cache_hit else 0.0,
        "aws.elasticache.cpuutilization": round(14 + rng.uniform(-1.5, 1.5), 2) if state.redis_ok else 0.0,
        "sample.errors": float(rng.choice((1, 2, 2, 2, 3))),
        "sample.requests.success_rate": round(99.6 + rng.uniform(-0.1, 0.1), 3),
        "sample.active_users": float(1200 + rng.randint(-40, 40)),
        "sample.db.pool.size": 20.0,
        "sample.db.pool.available": float(14 + rng.randint(-1, 1)),
        "aws.ecs.memory_utilization": round(55 + rng.uniform(-2, 2), 2),
    }


class AppSimulator:
    def __init__(self, cfg: config.LabConfig, store: MetricStore, ecs: EcsController,
                 interval: float = 1.0) -> None:
        self.cfg = cfg
        self.store = store
        self.ecs = ecs
        self.interval = interval
        self.state = AppState()
        self.overrides: dict[str, float | Callable[[AppState], float]] = {}
        self.health_override: Callable[[AppState], tuple[int, dict]] | None = None
        self.on_tick: list[Callable[[], None]] = []
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._tick_no = 0
        self._last_cache_enabled = True
        self._redis = self._redis_client()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="app-simulator", daemon=True)
        self.health_app = wsgi(self.handle_health)

    def _redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.cfg.redis_url, socket_connect_timeout=0.3, socket_timeout=0.3,
                                    retry=None, retry_on_error=[], health_check_interval=0)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.tick()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("app simulator tick failed")

    # --- one second of Sample Service ------------------------------------------------------
    def observe(self) -> AppState:
        state = AppState()
        try:
            service = self.ecs.service()
            td = self.ecs.serving_task_definition(service)
            state.running_tasks = int(service.running_count or 0)
        except Exception:
            td = None
        if td is not None:
            state.serving_task_definition = td.arn
            state.cache_enabled = str(task_env(td).get("CACHE_ENABLED", "true")).lower() == "true"
        try:
            state.redis_ok = bool(self._redis.ping())
        except redis.ConnectionError as exc:
            state.redis_ok = False
            text = str(exc).lower()
            state.redis_error = "ECONNREFUSED" if "refused" in text else (
                "ETIMEDOUT" if "timeout" in text or "timed out" in text else "ECONNRESET")
            self._redis.connection_pool.disconnect()
        except redis.TimeoutError:
            state.redis_ok, state.redis_error = False, "ETIMEDOUT"
            self._redis.connection_pool.disconnect()
        except redis.RedisError as exc:
            state.redis_ok, state.redis_error = False, type(exc).__name__
            self._redis.connection_pool.disconnect()
        if state.cache_enabled and not state.redis_ok:
            state.checks["redis"] = "down"
        elif state.cache_enabled:
            state.checks["redis"] = "ok"
        else:
            state.checks["redis"] = "disabled"
        return state

    def refresh(self) -> AppState:
        """Observe the real state now (health answers from it) without recording a metric point."""
        with self._lock:
            self.state = self.observe()
            return self.state

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._tick_locked(now)
        for fn in list(self.on_tick):
            try:
                fn()
            except Exception:
                log.exception("on_tick hook failed")

    def _tick_locked(self, now: float) -> None:
        state = self.observe()
        self.state = state
        for name, value in baseline_metrics(state, self._rng).items():
            override = self.overrides.get(name)
            if override is not None:
                value = override(state) if callable(override) else override
            self.store.record(name, value, now)
        self._write_logs(state, now)
        self._tick_no += 1
        if self._tick_no % 60 == 0:
            self._trim_logs(now)

    def backfill(self, seconds: int = 7200) -> None:
        """Two hours of healthy history, so dashboards and 'last 15 minutes' queries have data at once."""
        healthy = AppState()
        now = time.time()
        for i in range(seconds, 0, -1):
            for name, value in baseline_metrics(healthy, self._rng).items():
                self.store.record(name, value, now - i)

    # --- logs ------------------------------------------------------------------------------
    def _log_stream(self, index: int = 0) -> str | None:
        try:
            tasks = self.ecs.service_tasks(self.ecs.service())
        except Exception:
            return None
        if not tasks:
            return None
        task = sorted(tasks, key=lambda t: t.id)[index % len(tasks)]
        return f"ecs/{config.CONTAINER_NAME}/{task.id}"

    def _write_logs(self, state: AppState, now: float) -> None:
        lines: list[dict[str, Any]] = []
        port = self.cfg.port("redis_proxy")
        if state.cache_enabled and not state.redis_ok:
            if state.redis_error == "ECONNREFUSED":
                message = f"Redis connection to {config.HOST}:{port} failed - connect ECONNREFUSED"
            elif state.redis_error == "ETIMEDOUT":
                message = "Redis connection timeout"
            else:
                message = f"Redis connection to {config.HOST}:{port} failed - {state.redis_error}"
            lines.append({"level": "error", "message": message,
                          "error": {"code": state.redis_error, "syscall": "connect",
                                    "address": config.HOST, "port": port}})
        elif self._tick_no % 2 == 0:
            lines.append(request_line(self._rng, cached=state.cache_enabled))
        if not state.cache_enabled and (self._tick_no % 5 == 0 or self._last_cache_enabled):
            lines.append({"level": "info", "message": "cache disabled, serving from database"})
        self._last_cache_enabled = state.cache_enabled
        if lines:
            self.write_lines(lines, now)

    def write_lines(self, lines: list[dict[str, Any]], now: float | None = None, stream: str | None = None) -> None:
        now = time.time() if now is None else now
        stream = stream or self._log_stream(self._tick_no)
        if stream is None:
            return
        logs = backend("logs")
        logs.ensure_log_stream(config.LOG_GROUP, stream)
        events = []
        for i, line in enumerate(lines):
            entry = {"timestamp": _iso(now), "service": config.ECS_SERVICE, **line}
            events.append({"timestamp": int(now * 1000) + i, "message": json.dumps(entry)})
        logs.put_log_events(config.LOG_GROUP, stream, events)

    def _trim_logs(self, now: float) -> None:
        cutoff = int(now * 1000) - LOG_RETENTION_MS
        group = backend("logs").groups.get(config.LOG_GROUP)
        if group is None:
            return
        for stream in list(group.streams.values()):
            if stream.events and stream.events[0].timestamp < cutoff:
                stream.events = [e for e in stream.events if e.timestamp >= cutoff]

    # --- health endpoint -------------------------------------------------------------------
    def handle_health(self, request: Request) -> Response:
        if request.path.rstrip("/") not in ("/v1/health", "/health"):
            return json_response({"error": "not found"}, 404)
        if self.health_override is not None:
            status, body = self.health_override(self.state)
            return json_response(body, status)
        state = self.state
        if state.cache_enabled and not state.redis_ok:
            return json_response({"status": "degraded", "checks": {"redis": "down"}}, 200)
        return json_response({"status": "ok"}, 200)


def request_line(rng: random.Random, cached: bool = True) -> dict[str, Any]:
    method, path = rng.choice(ENDPOINTS)
    duration = rng.randint(8, 40) if cached else rng.randint(40, 160)
    status = 201 if method == "POST" else 200
    return {"level": "info", "message": f"{method} {path} {status} {duration}ms",
            "http": {"method": method, "path": path, "status": status, "duration_ms": duration},
            "request_id": str(uuid.uuid4())}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
