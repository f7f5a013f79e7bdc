"""The lab's fault table: ``python -m lab fault BACKEND MODE [--operation NAME] [--seconds N]``.

A fault stays until ``fault clear`` or ``heal``. Each backend's layer reads the table on every request or
connection (lab/http_faults.py for the HTTP APIs, lab/tcp_proxy.py for PostgreSQL and Redis); backends with
state to switch (a listener to close, a password to change) register an effect that runs on every change.
Only the automation sees a fault: connections from the lab itself (lab/peers.py) pass untouched.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from .scenarios import LabError

log = logging.getLogger("lab.faults")

MODES: dict[str, tuple[str, ...]] = {
    "aws": ("down", "slow", "500", "503", "throttling", "access_denied"),
    "datadog": ("down", "slow", "5xx", "500", "503", "429", "403"),
    "postgres": ("down", "slow", "wrong_password"),
    "redis": ("down", "slow", "auth"),
    "slack": ("down", "slow", "5xx", "500", "503", "bad_token"),
    "pagerduty": ("down", "slow", "5xx", "500", "503", "bad_token"),
}
OPERATION_BACKENDS = ("aws", "slack")  # where --operation names something (an AWS operation, a Slack method)
AWS_SERVICES = ("ecs", "elasticache", "logs", "s3", "ssm", "dynamodb", "sts", "iam", "cloudwatch", "secretsmanager")
SLACK_METHOD = re.compile(r"^[a-z]+(\.[A-Za-z]+)+$")
DEFAULT_SLOW_SECONDS = 30.0
MAX_SLOW_SECONDS = 600.0


@dataclass
class Fault:
    backend: str
    mode: str
    operation: str | None = None
    seconds: float | None = None
    cleared: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, "mode": self.mode, "operation": self.operation, "seconds": self.seconds}

    def delay(self) -> None:
        """Sleep the slow fault's seconds (cut short when the fault is cleared)."""
        self.cleared.wait(self.seconds or 0)


def check(backend: Any, mode: Any, operation: Any = None,
          seconds: Any = None) -> tuple[str, str, str | None, float | None]:
    """The fault's normalized (backend, mode, operation, seconds), or LabError (exit 2) saying what is wrong."""
    if backend not in MODES:
        raise LabError(f"unknown fault backend {backend!r}; valid: {', '.join(MODES)}", exit_code=2)
    if mode not in MODES[backend]:
        raise LabError(f"unknown {backend} fault mode {mode!r}; valid: {', '.join(MODES[backend])}", exit_code=2)
    if operation is not None:
        if backend not in OPERATION_BACKENDS:
            raise LabError(f"--operation applies to {' and '.join(OPERATION_BACKENDS)} faults only, not {backend}",
                           exit_code=2)
        if not isinstance(operation, str) or not operation.strip() or any(c.isspace() for c in operation):
            raise LabError(f"--operation must be one {backend} operation name, got {operation!r}", exit_code=2)
        if backend == "aws" and operation not in aws_operations():
            raise LabError(f"unknown AWS operation {operation!r} (an operation name of {', '.join(AWS_SERVICES)}, "
                           f"e.g. UpdateService)", exit_code=2)
        if backend == "slack" and not SLACK_METHOD.match(operation):
            raise LabError(f"--operation for slack is a Web API method such as chat.postMessage, got {operation!r}",
                           exit_code=2)
    if seconds is not None:
        if mode != "slow":
            raise LabError(f"--seconds applies to the slow mode only, not {mode}", exit_code=2)
        if isinstance(seconds, bool):
            raise LabError(f"--seconds must be a number, got {seconds!r}", exit_code=2)
        try:
            value = float(seconds)
        except (TypeError, ValueError):
            raise LabError(f"--seconds must be a number, got {seconds!r}", exit_code=2) from None
        if not (0 < value <= MAX_SLOW_SECONDS) or math.isnan(value):
            raise LabError(f"--seconds must be more than 0 and at most {MAX_SLOW_SECONDS:g}, got {seconds!r}",
                           exit_code=2)
        seconds = value
    elif mode == "slow":
        seconds = DEFAULT_SLOW_SECONDS
    return backend, mode, operation, seconds


@functools.lru_cache(maxsize=1)
def aws_operations() -> frozenset[str]:
    """The operation names of the AWS services the lab answers for (botocore's models)."""
    import botocore.session

    session = botocore.session.get_session()
    return frozenset(op for service in AWS_SERVICES for op in session.get_service_model(service).operation_names)


class FaultTable:
    def __init__(self) -> None:
        self._faults: dict[tuple[str, str | None], Fault] = {}
        self._effects: dict[str, list[Callable[[], None]]] = {}
        self._lock = threading.RLock()

    def on_change(self, backend: str, effect: Callable[[], None]) -> None:
        """Run ``effect()`` after every change to ``backend``'s faults (it reads the table itself)."""
        self._effects.setdefault(backend, []).append(effect)

    def set(self, backend: Any, mode: Any, operation: Any = None, seconds: Any = None) -> dict[str, Any]:
        backend, mode, operation, seconds = check(backend, mode, operation, seconds)
        fault = Fault(backend, mode, operation, seconds)
        with self._lock:
            previous = self._faults.get((backend, operation))
            self._faults[(backend, operation)] = fault
            if previous is not None:
                previous.cleared.set()
            try:
                self._run_effects(backend, strict=True)
            except Exception as exc:
                self._faults.pop((backend, operation), None)
                if previous is not None:
                    self._faults[(backend, operation)] = previous
                self._run_effects(backend, strict=False)
                raise LabError(f"could not inject the {backend} {mode} fault: {' '.join(str(exc).split())}") from None
        log.info("fault injected: %s", fault.describe())
        return fault.describe()

    def clear(self) -> list[dict[str, Any]]:
        """Remove every fault; returns what was active."""
        with self._lock:
            faults, self._faults = list(self._faults.values()), {}
            for fault in faults:
                fault.cleared.set()
            for backend in sorted({f.backend for f in faults}):
                self._run_effects(backend, strict=False)
        if faults:
            log.info("faults cleared: %s", [f.describe() for f in faults])
        return [f.describe() for f in faults]

    def find(self, backend: str, operation: str | None = None) -> Fault | None:
        """The fault for this backend's operation: the operation's own, else the backend-wide one."""
        faults = self._faults
        if operation is not None:
            fault = faults.get((backend, operation))
            if fault is not None:
                return fault
        return faults.get((backend, None))

    def backend_wide(self, backend: str, mode: str | None = None) -> Fault | None:
        fault = self._faults.get((backend, None))
        return fault if fault is not None and (mode is None or fault.mode == mode) else None

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults.values()]

    def _run_effects(self, backend: str, strict: bool) -> None:
        for effect in self._effects.get(backend, []):
            try:
                effect()
            except Exception:
                if strict:
                    raise
                log.exception("%s fault effect failed", backend)


TABLE = FaultTable()
