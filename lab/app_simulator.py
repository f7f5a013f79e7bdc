"""Sample Service, simulated once a second from the lab's real state (not from scenario flags).

Each tick it reads what really runs (the service's RUNNING tasks and their task definitions: image,
``CACHE_ENABLED``, ``FEATURE_NEW_CHECKOUT``, container memory), the feature flag in SSM, the external
dependencies' state, and PINGs Redis through the replication group's primary endpoint exactly as the app
would; then it records Datadog metrics, writes application log lines to the ECS log group and sets what the
health endpoint answers:

* no RUNNING task: the load balancer answers 502 and every request fails (``sample.errors`` = requests,
  ``sample.requests.success_rate`` 0); crashing tasks log why they died (``on_task_stopped``);
* the new checkout flow (task definition env ``FEATURE_NEW_CHECKOUT=on`` *and* flag ``on``) fails while Stripe
  is degraded: ~8 % of requests fail (per running task that has it), with CHECKOUT_TIMEOUT /
  PAYMENT_PROVIDER_5XX / VALIDATION_FAILED error lines; otherwise ~0.35 %;
* ``aws.ecs.memory_utilization`` is the running tasks' average (see EcsController.task_memory_pct);
* Redis refusing while the cache is enabled: hit rate 0, ECONNREFUSED lines, health "degraded";
* the database pool: its size is ``MAX_DB_CONNECTIONS`` of the serving task definition (20 without it), in use
  are the simulated demand (6; ``db_demand``) plus the lab's leaked sessions still alive in PostgreSQL (see
  lab/app_database.py), at most the size. ``sample.db.pool.size`` / ``.available`` follow; while none is
  available ~12 % more requests fail, KnexTimeoutError lines are logged and health is "degraded"; while
  ``sample_app`` is at its role's CONNECTION LIMIT (whoever holds the sessions) "too many connections for
  role" lines are logged.

Later incidents can still force signals through ``overrides`` (metric name -> value) and ``health_override``.
The lab's fleet of simulated services (lab/fleet.py) records its rows from this tick and answers its health
checks under ``/fleet/<name>/v1/health``.
"""

from __future__ import annotations

import json
import logging
import math
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
from .ecs_controller import Crash, EcsController, container_image, container_memory, task_env
from .http_util import json_response, wsgi

log = logging.getLogger("lab.app")

LOG_RETENTION_MS = 2 * 3600 * 1000
REQUESTS_PER_SECOND = 500
BASE_ERROR_RATE = 0.0035
NEW_CHECKOUT_ERROR_RATE = 0.08
POOL_EXHAUSTED_ERROR_RATE = 0.12  # added while the app's pool has no connection available
DEFAULT_POOL_SIZE = 20  # knex pool max without MAX_DB_CONNECTIONS
BASELINE_DB_DEMAND = 6  # connections the app's traffic keeps busy
TOO_MANY_CONNECTIONS = {"level": "error", "message": f'Error: too many connections for role "{config.PG_APP_ROLE}"',
                        "error": {"code": "53300", "severity": "FATAL"}}
KNEX_TIMEOUT = ("KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full. "
                "Are you missing a .transacting(trx) call?")
CHECKOUT_ERRORS = (  # (weight, error line) of the new checkout flow while Stripe is degraded
    (60, {"message": "Checkout failed: payment authorization timed out after 10000ms",
          "error": {"code": "CHECKOUT_TIMEOUT", "provider": "stripe", "timeout_ms": 10000},
          "http": {"method": "POST", "path": "/api/checkout", "status": 504}}),
    (28, {"message": "Checkout failed: payment provider returned 503 Service Unavailable",
          "error": {"code": "PAYMENT_PROVIDER_5XX", "provider": "stripe", "status": 503},
          "http": {"method": "POST", "path": "/api/checkout", "status": 502}}),
    (12, {"message": "Checkout failed: payment_method_types rejected by checkout session validation",
          "error": {"code": "VALIDATION_FAILED", "field": "payment_method_types"},
          "http": {"method": "POST", "path": "/api/checkout", "status": 422}}),
)
BAD_GATEWAY = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
               "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")

ENDPOINTS = (("GET", "/api/orders"), ("POST", "/api/orders"), ("GET", "/api/users/me"), ("GET", "/api/products"))


@dataclass
class AppState:
    cache_enabled: bool = True
    redis_ok: bool = True
    redis_error: str | None = None  # "ECONNREFUSED", "ETIMEDOUT", ...
    serving_task_definition: str | None = None
    running_tasks: int = config.BASELINE_DESIRED_COUNT
    checks: dict[str, str] = field(default_factory=dict)
    feature_flag: str = "off"  # SSM /sample-service/prod/feature-flags/new-checkout
    new_checkout_fraction: float = 0.0  # running tasks whose task definition has FEATURE_NEW_CHECKOUT=on
    stripe_ok: bool = True
    error_rate: float = BASE_ERROR_RATE
    checkout_error_rate: float = BASE_ERROR_RATE  # the part of error_rate the checkout error lines stand for
    memory_pct: float | None = 45.0
    memory_limit_mb: int = 1024
    pool_size: int = DEFAULT_POOL_SIZE  # MAX_DB_CONNECTIONS of the serving task definition
    pool_in_use: int = BASELINE_DB_DEMAND  # min(size, demand + leaked sessions alive)
    pool_pending: int = 0  # acquisitions waiting for a connection
    db_leaked: int = 0  # the lab's leaked sessions still alive
    db_app_sessions: int | None = None  # sample_app's sessions in PostgreSQL (None: not observed)
    db_at_limit: bool = False  # sample_app is at its role's CONNECTION LIMIT

    @property
    def pool_available(self) -> int:
        return self.pool_size - self.pool_in_use

    @property
    def pool_exhausted(self) -> bool:
        return self.pool_available <= 0


def baseline_metrics(state: AppState, rng: random.Random) -> dict[str, float]:
    """What Datadog shows for the service in this state (before incident overrides)."""
    cache_hit = state.cache_enabled and state.redis_ok
    requests = REQUESTS_PER_SECOND + rng.randint(-25, 25)
    if state.running_tasks <= 0:
        errors, success = requests, 0.0  # the load balancer has no target: every request fails
    else:
        expected = requests * state.error_rate
        errors = max(0, round(rng.gauss(expected, math.sqrt(expected) * 0.7)))
        success = round(100.0 * (1 - errors / requests), 3)
    active = float(1200 + rng.randint(-40, 40))
    metrics = {
        "sample.cache.hit_rate": round(0.93 + rng.uniform(-0.004, 0.004), 4) if cache_hit else 0.0,
        "aws.elasticache.cpuutilization": round(14 + rng.uniform(-1.5, 1.5), 2) if state.redis_ok else 0.0,
        "sample.errors": float(errors),
        "sample.requests": float(requests),
        "sample.requests.success_rate": success,
        "sample.active_users": active,
        "sample.users.affected": float(round(active * affected_share(state))),
        "sample.db.pool.size": float(state.pool_size),
        "sample.db.pool.available": float(pool_available_sample(state, rng)),
    }
    if state.memory_pct is not None:  # no running task, no container metrics
        metrics["aws.ecs.memory_utilization"] = round(state.memory_pct + rng.uniform(-0.5, 0.5), 2)
    return metrics


def affected_share(state: AppState) -> float:
    """Share of active users who saw a failed or very slow request in the last minute (the triage's "% affected").

    No running task: everyone. Failing requests beyond the normal background rate: each user makes several
    requests a minute, so a failure rate f reaches about 7 f of them. A cache outage or a service near its memory
    limit makes pages slow for some users.
    """
    if state.running_tasks <= 0:
        return 1.0
    share = min(1.0, max(0.0, state.error_rate - BASE_ERROR_RATE) * 7)
    if state.cache_enabled and not state.redis_ok:
        share = max(share, 0.35)
    if state.memory_pct is not None and state.memory_pct >= 90:
        share = max(share, 0.10)
    return share


def pool_available_sample(state: AppState, rng: random.Random) -> int:
    """The available connections Datadog sees: traffic jitters by one connection, an empty pool stays 0."""
    available = state.pool_available
    if available <= 1:
        return max(0, available)
    return min(state.pool_size, available + rng.randint(-1, 1))


def pool_size(task_definition: Any) -> int:
    """MAX_DB_CONNECTIONS of the task definition's container (the default without a usable value)."""
    try:
        return max(1, int(str(task_env(task_definition).get("MAX_DB_CONNECTIONS", DEFAULT_POOL_SIZE)).strip()))
    except ValueError:
        return DEFAULT_POOL_SIZE


def runtime_config_blocker(service: Any, deployment: dict, task_definition: Any) -> Crash | None:
    """Sample Service reads its runtime configuration from SSM at start-up and exits without it."""
    if getattr(task_definition, "family", None) != config.TASK_FAMILY:
        return None
    try:
        missing = backend("ssm").get_parameter(config.RUNTIME_CONFIG_PARAMETER) is None
    except Exception:
        missing = True
    if missing:
        return Crash(message=f"Error: Missing required configuration: SSM parameter "
                             f"{config.RUNTIME_CONFIG_PARAMETER} not found", code="CONFIG_NOT_FOUND")
    return None


class AppSimulator:
    def __init__(self, cfg: config.LabConfig, store: MetricStore, ecs: EcsController,
                 dependencies: Any = None, interval: float = 1.0, db: Any = None, fleet: Any = None) -> None:
        self.cfg = cfg
        self.fleet = fleet  # lab.fleet.Fleet: its rows are recorded from this tick, its health served here
        self.store = store
        self.ecs = ecs
        self.dependencies = dependencies
        self.db = db  # lab.app_database.AppDatabase (None: no PostgreSQL to observe)
        self.db_demand = BASELINE_DB_DEMAND
        self.interval = interval
        self.state = AppState()
        self.overrides: dict[str, float | Callable[[AppState], float]] = {}
        self.health_override: Callable[[AppState], tuple[int, dict]] | None = None
        self.on_tick: list[Callable[[], None]] = []
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._tick_no = 0
        self._last_cache_enabled = True
        self.last_tick = 0.0  # when the last metric point was recorded
        self._redis = self._redis_client()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="app-simulator", daemon=True)
        self.health_app = wsgi(self.handle_health)
        ecs.on_task_stopped.append(self.task_stopped)

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
        td = None
        running_ids: set[str] | None = None
        try:
            service = self.ecs.service()
            with self.ecs.lock:
                running = self.ecs.running_tasks(service)
                td = self.ecs.serving_task_definition(service)
                state.memory_pct = self.ecs.service_memory_pct(service)
                tds = [getattr(t, "lab_td", None) for t in running]
            state.running_tasks = len(running)
            running_ids = {t.id for t in running}
            if running:
                with_feature = sum(1 for t in tds if task_env(t).get("FEATURE_NEW_CHECKOUT") == "on")
                state.new_checkout_fraction = with_feature / len(running)
        except Exception:
            log.exception("observing the ECS service failed")
        if td is not None:
            state.serving_task_definition = td.arn
            state.cache_enabled = str(task_env(td).get("CACHE_ENABLED", "true")).lower() == "true"
            state.memory_limit_mb = container_memory(td)
            state.pool_size = pool_size(td)
        self._observe_database(state, running_ids)
        state.feature_flag = self._flag()
        state.stripe_ok = self.dependencies.ok("stripe") if self.dependencies is not None else True
        state.error_rate = BASE_ERROR_RATE
        if state.feature_flag == "on" and not state.stripe_ok:
            state.error_rate += (NEW_CHECKOUT_ERROR_RATE - BASE_ERROR_RATE) * state.new_checkout_fraction
        state.checkout_error_rate = state.error_rate
        if state.pool_exhausted:
            state.error_rate += POOL_EXHAUSTED_ERROR_RATE
            state.checks["database"] = "pool exhausted"
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

    def _observe_database(self, state: AppState, running_ids: set[str] | None) -> None:
        """The pool from real state: the leaked sessions PostgreSQL still has (those of tasks that stopped are
        closed first), sample_app's session count and limit."""
        if self.db is not None:
            try:
                db = self.db.observe(running_ids)
            except Exception:
                log.exception("observing the database failed")
            else:
                state.db_leaked = db.leaked
                state.db_app_sessions = db.app_sessions if db.ok else None
                state.db_at_limit = db.at_limit
        wanted = self.db_demand + state.db_leaked
        state.pool_in_use = min(state.pool_size, wanted)
        state.pool_pending = max(1, wanted - state.pool_size) if state.pool_exhausted else 0

    @staticmethod
    def _flag() -> str:
        try:
            param = backend("ssm").get_parameter(config.FEATURE_FLAG_NEW_CHECKOUT)
        except Exception:
            return "off"
        return str(param.value).strip().lower() if param is not None else "off"

    def refresh(self) -> AppState:
        """Observe the real state now (health answers from it) without recording a metric point."""
        with self._lock:
            self.state = self.observe()
            return self.state

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self._lock:
            self._tick_locked(now)
        if self.fleet is not None:
            try:
                self.fleet.tick(now)
            except Exception:
                log.exception("fleet tick failed")
        for fn in list(self.on_tick):
            try:
                fn()
            except Exception:
                log.exception("on_tick hook failed")

    def _tick_locked(self, now: float) -> None:
        state = self.observe()
        self.state = state
        self.last_tick = now
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
            healthy.memory_pct = 45.0 + self._rng.uniform(-1, 1)
            for name, value in baseline_metrics(healthy, self._rng).items():
                self.store.record(name, value, now - i)

    # --- logs ------------------------------------------------------------------------------
    def _log_stream(self, index: int = 0) -> str | None:
        try:
            tasks = self.ecs.running_tasks(self.ecs.service())
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
        if state.checkout_error_rate >= 0.01:
            count = max(1, round(self._rng.randint(3, 5) * state.checkout_error_rate / NEW_CHECKOUT_ERROR_RATE))
            lines.extend(checkout_error_line(self._rng) for _n in range(count))
        if state.memory_pct is not None and state.memory_pct >= 85 and self._tick_no % 10 == 0:
            used = round(state.memory_limit_mb * state.memory_pct / 100)
            lines.append({"level": "warn", "message": f"Heap usage high: {round(state.memory_pct)}% of container "
                                                      f"memory ({used} MB of {state.memory_limit_mb} MB)",
                          "memory": {"rss_mb": used, "limit_mb": state.memory_limit_mb}})
        if state.db_at_limit:  # the app's new connections are refused by PostgreSQL
            lines.extend(dict(TOO_MANY_CONNECTIONS) for _n in range(self._rng.randint(1, 3)))
        if state.pool_exhausted:
            lines.extend({"level": "error", "message": KNEX_TIMEOUT,
                          "pool": {"size": state.pool_size, "used": state.pool_in_use, "pending": state.pool_pending}}
                         for _n in range(self._rng.randint(1, 3)))
        if not state.cache_enabled and (self._tick_no % 5 == 0 or self._last_cache_enabled):
            lines.append({"level": "info", "message": "cache disabled, serving from database"})
        self._last_cache_enabled = state.cache_enabled
        if lines:
            self.write_lines(lines, now)

    def task_stopped(self, task: Any, crash: Crash) -> None:
        """A task of the service died on its own: what its container logged (OOM kills log nothing)."""
        if not str(getattr(task, "group", "")).startswith("service:") or crash.exit_code == 137:
            return
        td = getattr(task, "lab_td", None)
        if getattr(td, "family", None) != config.TASK_FAMILY:
            return
        version = container_image(td).rpartition(":")[2] or "unknown"
        started = task.started_at.timestamp() if task.started_at else time.time()
        stopped = task.stopped_at.timestamp() if task.stopped_at else time.time()
        stream = f"ecs/{config.CONTAINER_NAME}/{task.id}"
        self.write_lines([{"level": "info", "message": f"sample-service {version} starting "
                                                       f"(node v20.11.1, NODE_ENV=production)"}], started, stream)
        error: dict[str, Any] = {"code": crash.code}
        if crash.code == "MODULE_NOT_FOUND":
            error["requireStack"] = ["/app/dist/server.js"]
            error["stack"] = (f"{crash.message}\n    at Module._resolveFilename (node:internal/modules/cjs/loader:"
                              f"1145:15)\n    at Module._load (node:internal/modules/cjs/loader:986:27)\n"
                              f"    at Module.require (node:internal/modules/cjs/loader:1233:19)\n"
                              f"    at Object.<anonymous> (/app/dist/server.js:14:16)")
        self.write_lines([{"level": "error", "message": crash.message, "error": error, "exit_code": crash.exit_code}],
                         stopped, stream)

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
        path = request.path.rstrip("/")
        if path.startswith("/fleet/") and self.fleet is not None:  # /fleet/<name>/v1/health
            name, _sep, rest = path[len("/fleet/"):].partition("/")
            if "/" + rest in ("/v1/health", "/health"):
                return self.fleet.health(name)
            return json_response({"error": "not found"}, 404)
        if path not in ("/v1/health", "/health"):
            return json_response({"error": "not found"}, 404)
        if self.health_override is not None:
            status, body = self.health_override(self.state)
            return json_response(body, status)
        state = self.state
        return health_response(state.running_tasks <= 0, state.cache_enabled and not state.redis_ok, state.pool_exhausted)


def health_response(down: bool, cache_down: bool, pool_exhausted: bool) -> Response:
    """What the service's health endpoint answers: 502 from the load balancer with no task, else its checks."""
    if down:  # the load balancer has no healthy target
        return Response(BAD_GATEWAY, status=502, mimetype="text/html", headers={"Server": "awselb/2.0"})
    checks = {}
    if cache_down:
        checks["redis"] = "down"
    if pool_exhausted:
        checks["database"] = "pool exhausted"
    if checks:
        return json_response({"status": "degraded", "checks": checks}, 200)
    return json_response({"status": "ok"}, 200)


def request_line(rng: random.Random, cached: bool = True) -> dict[str, Any]:
    method, path = rng.choice(ENDPOINTS)
    duration = rng.randint(8, 40) if cached else rng.randint(40, 160)
    status = 201 if method == "POST" else 200
    return {"level": "info", "message": f"{method} {path} {status} {duration}ms",
            "http": {"method": method, "path": path, "status": status, "duration_ms": duration},
            "request_id": str(uuid.uuid4())}


_wrr_current = [0] * len(CHECKOUT_ERRORS)


def checkout_error_line(rng: random.Random) -> dict[str, Any]:
    """The next error of the mix: smooth weighted round robin, so any run of lines has the weights' shape."""
    total = sum(weight for weight, _line in CHECKOUT_ERRORS)
    for i, (weight, _line) in enumerate(CHECKOUT_ERRORS):
        _wrr_current[i] += weight
    pick = max(range(len(CHECKOUT_ERRORS)), key=lambda i: _wrr_current[i])
    _wrr_current[pick] -= total
    line = json.loads(json.dumps(CHECKOUT_ERRORS[pick][1]))
    line["http"]["duration_ms"] = 10003 if line["error"]["code"] == "CHECKOUT_TIMEOUT" else rng.randint(120, 900)
    return {"level": "error", **line, "feature": "new-checkout", "request_id": str(uuid.uuid4())}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"
