"""A fleet of simulated services for fleet-wide triage: ``python -m lab fleet N [--broken K]``.

The fleet is ``svc-001`` ... ``svc-NNN`` (N <= 200), each a copy of Sample Service's *signals* only: no ECS,
Redis or PostgreSQL per service, just a profile per service. Every ``INTERVAL`` seconds (from the app simulator's
tick) one row of Datadog points is recorded for all of them at once, read back through a ``service:<name>``
scope: ``sample.requests`` and ``sample.errors`` (counts over the interval, so ``.as_count()`` sums match Sample
Service's), ``sample.requests.success_rate``, ``sample.active_users``, ``sample.users.affected``,
``sample.cache.hit_rate``, ``sample.db.pool.available``, ``aws.ecs.memory_utilization`` - healthy values as
Sample Service's baseline. Seeding backfills ``BACKFILL_SECONDS`` of history so window queries have data at once.

K of them are broken (every (N//K)-th: svc-(N//K), svc-2(N//K), ...), cycling through the runbook's incidents
in ``SYMPTOMS`` order, with the symptoms Sample Service shows for each (starting ``SYMPTOM_SECONDS`` before the
seeding): service_down (health 502 from "the load balancer", every request fails, no memory point),
redis_down (hit rate 0, 35 % of users affected, health degraded), db_pool_exhausted (pool available 0, ~12 %
more errors, 84 % affected, health degraded), memory_leak (memory ~95 %, 10 % affected), high_error_rate
(~8 % errors, ~54 % affected). The health endpoint per service is ``GET /fleet/<name>/v1/health`` on the
lab's health port, answering as Sample Service's does in that state.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Response

from .app_simulator import (BASE_ERROR_RATE, BASELINE_DB_DEMAND, DEFAULT_POOL_SIZE, NEW_CHECKOUT_ERROR_RATE,
                            POOL_EXHAUSTED_ERROR_RATE, REQUESTS_PER_SECOND, AppState, affected_share, health_response)
from .datadog_emulator import MetricStore
from .http_util import json_response
from .scenarios import LabError

log = logging.getLogger("lab.fleet")

MAX_SERVICES = 200
INTERVAL = 2.0  # seconds between two rows of fleet points
BACKFILL_SECONDS = 600  # history recorded at seeding
SYMPTOM_SECONDS = 60  # a broken service shows its symptom since this long before the seeding
SYMPTOMS = ("service_down", "redis_down", "db_pool_exhausted", "memory_leak", "high_error_rate")
METRICS = ("sample.requests", "sample.errors", "sample.requests.success_rate", "sample.active_users",
           "sample.users.affected", "sample.cache.hit_rate", "sample.db.pool.available",
           "aws.ecs.memory_utilization")
BASELINE_MEMORY_PCT = 45.0
LEAK_MEMORY_PCT = 95.0
NAN = float("nan")


def service_name(number: int) -> str:
    return f"svc-{number:03d}"


def broken_services(count: int, broken: int) -> dict[str, str]:
    """Which services are broken and how: every (count // broken)-th, symptoms in SYMPTOMS order."""
    if broken <= 0:
        return {}
    step = count // broken
    return {service_name(step * j): SYMPTOMS[(j - 1) % len(SYMPTOMS)] for j in range(1, broken + 1)}


@dataclass(frozen=True)
class Profile:
    """A service's state, in Sample Service's terms (see lab/app_simulator.py)."""

    incident: str | None = None
    down: bool = False  # no running task: 502, every request fails, no memory point
    error_rate: float = BASE_ERROR_RATE
    cache_down: bool = False
    pool_exhausted: bool = False
    memory_pct: float = BASELINE_MEMORY_PCT
    affected: float = 0.0  # share of active users affected (app_simulator.affected_share)

    @classmethod
    def of(cls, incident: str | None) -> "Profile":
        state = AppState()
        kwargs: dict[str, Any] = {}
        if incident == "service_down":
            state.running_tasks, state.memory_pct = 0, None
            kwargs["down"] = True
        elif incident == "redis_down":
            state.redis_ok = False
            kwargs["cache_down"] = True
        elif incident == "db_pool_exhausted":
            state.pool_in_use = state.pool_size
            state.error_rate = BASE_ERROR_RATE + POOL_EXHAUSTED_ERROR_RATE
            kwargs["pool_exhausted"] = True
        elif incident == "memory_leak":
            state.memory_pct = LEAK_MEMORY_PCT
            kwargs["memory_pct"] = LEAK_MEMORY_PCT
        elif incident == "high_error_rate":
            state.error_rate = NEW_CHECKOUT_ERROR_RATE
        elif incident is not None:
            raise ValueError(f"unknown fleet symptom {incident!r}")
        return cls(incident=incident, error_rate=state.error_rate, affected=affected_share(state), **kwargs)


HEALTHY = Profile.of(None)


class Fleet:
    """The fleet's state (services and their profiles), its metric rows and its health answers."""

    def __init__(self, store: MetricStore, health_url: str, interval: float = INTERVAL) -> None:
        self.store = store
        self.health_url = health_url.rstrip("/")  # the lab's health server, e.g. http://127.0.0.1:27102
        self.interval = interval
        self.services: list[str] = []
        self.broken: dict[str, str] = {}
        self._profiles: list[Profile] = []
        self._index: dict[str, int] = {}
        self._by_name: dict[str, Profile] = {}
        self._rng = random.Random()
        self._lock = threading.Lock()
        self._last = 0.0
        self.last_tick_seconds = 0.0  # cost of the last recorded row (for measurements)

    # --- seeding ---------------------------------------------------------------------------
    def seed(self, count: int, broken: int = 0, now: float | None = None) -> dict[str, Any]:
        """Replace the fleet with ``count`` services, ``broken`` of them broken; 0 removes it."""
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_SERVICES:
            raise LabError(f"fleet size must be an integer from 0 to {MAX_SERVICES}, got {count!r}", exit_code=2)
        if isinstance(broken, bool) or not isinstance(broken, int) or not 0 <= broken <= count:
            raise LabError(f"--broken must be an integer from 0 to the fleet size ({count}), got {broken!r}",
                           exit_code=2)
        now = time.time() if now is None else now
        services = [service_name(i) for i in range(1, count + 1)]
        broken_map = broken_services(count, broken)
        healthy_profiles = [HEALTHY] * count
        profiles = [Profile.of(broken_map.get(name)) for name in services]
        index = {name: i for i, name in enumerate(services)}
        with self._lock:
            self.store.batches.clear()
            self.services, self.broken, self._profiles = services, broken_map, profiles
            self._index, self._by_name = index, dict(zip(services, profiles))
            if count:
                # history: healthy until SYMPTOM_SECONDS before now, then each service's symptom
                steps = int(BACKFILL_SECONDS // self.interval)
                for k in range(steps, 0, -1):
                    ts = now - k * self.interval
                    self._record(ts, profiles if now - ts <= SYMPTOM_SECONDS else healthy_profiles)
                self._record(now, profiles)
            self._last = now
        log.info("fleet: %d services, broken: %s", count, broken_map or "none")
        return self.describe()

    def remove(self) -> int:
        """Remove the fleet and its series; how many services there were."""
        count = len(self.services)
        if count:
            self.seed(0)
        return count

    # --- one row of points -----------------------------------------------------------------
    def tick(self, now: float | None = None) -> bool:
        """Record a row if ``interval`` has passed since the last one (called from the app simulator's tick)."""
        now = time.time() if now is None else now
        with self._lock:
            if not self.services or now - self._last < self.interval - 0.1:
                return False
            started = time.perf_counter()
            self._record(now, self._profiles)
            self._last = now
            self.last_tick_seconds = time.perf_counter() - started
        return True

    def _record(self, ts: float, profiles: list[Profile]) -> None:
        n = len(profiles)
        rand, gauss = self._rng.random, self._rng.gauss
        dt = self.interval
        base_requests, spread = REQUESTS_PER_SECOND * dt, 25 * dt
        pool_available = DEFAULT_POOL_SIZE - BASELINE_DB_DEMAND
        requests, errors, success, active, affected, hit, pool, memory = ([0.0] * n for _column in range(8))
        for i, p in enumerate(profiles):
            req = round(base_requests + (2 * rand() - 1) * spread)
            if p.down:
                err, ok = req, 0.0
            else:
                expected = req * p.error_rate
                err = max(0, round(gauss(expected, math.sqrt(expected) * 0.7)))
                ok = round(100.0 * (1 - err / req), 3)
            users = float(1200 + int(rand() * 81) - 40)
            requests[i], errors[i], success[i], active[i] = float(req), float(err), ok, users
            affected[i] = float(round(users * p.affected))
            hit[i] = 0.0 if p.cache_down else round(0.93 + (2 * rand() - 1) * 0.004, 4)
            pool[i] = 0.0 if p.pool_exhausted else float(pool_available + int(rand() * 3) - 1)
            memory[i] = NAN if p.down else round(p.memory_pct + rand() - 0.5, 2)
        columns = (requests, errors, success, active, affected, hit, pool, memory)
        self.store.record_batch(ts, self._index, dict(zip(METRICS, columns)))

    # --- status and health -----------------------------------------------------------------
    def service_health_url(self, name: str) -> str:
        return f"{self.health_url}/fleet/{name}/v1/health"

    def describe(self) -> dict[str, Any]:
        return {"count": len(self.services), "broken": dict(self.broken),
                "services": [{"name": name, "health_url": self.service_health_url(name)} for name in self.services]}

    def health(self, name: str) -> Response:
        """What ``GET /fleet/<name>/v1/health`` answers: as Sample Service's health endpoint in that state."""
        profile = self._by_name.get(name)
        if profile is None:
            return json_response({"error": f"no fleet service {name!r}"}, 404)
        return health_response(profile.down, profile.cache_down, profile.pool_exhausted)
