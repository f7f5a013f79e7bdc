"""Sample Service's external dependencies, as the runbook checks them (``curl -i .../v1/health``).

Served on the lab's "dependencies" port: ``GET /stripe/v1/health`` and ``GET /sendgrid/v3/health`` answer
200 ``{"status": "operational", ...}`` or, while the lab has a dependency degraded, 503
``{"status": "degraded", ...}``. The app simulator reads the same state (the new checkout flow fails while
Stripe is degraded).
"""

from __future__ import annotations

import threading

from werkzeug.wrappers import Request, Response

from . import config
from .http_util import json_response, wsgi

MESSAGES = {
    "stripe": "Elevated error rates and latency on the Payments API (PaymentIntents confirm).",
    "sendgrid": "Delays in mail delivery.",
}


class Dependencies:
    def __init__(self) -> None:
        self._status = {name: "operational" for name in config.DEPENDENCIES}
        self._lock = threading.Lock()
        self.app = wsgi(self.handle)

    def status(self, name: str) -> str:
        with self._lock:
            return self._status[name]

    def ok(self, name: str) -> bool:
        return self.status(name) == "operational"

    def set(self, name: str, status: str) -> bool:
        """Set "operational" or "degraded"; True if it changed."""
        if status not in ("operational", "degraded"):
            raise ValueError(f"unknown dependency status {status!r}")
        with self._lock:
            changed = self._status[name] != status
            self._status[name] = status
            return changed

    def reset(self) -> list[str]:
        """Everything operational again; the names that changed."""
        return [name for name in config.DEPENDENCIES if self.set(name, "operational")]

    def describe(self) -> dict[str, str]:
        with self._lock:
            return dict(self._status)

    def handle(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        for name, health_path in config.DEPENDENCIES.items():
            if path == health_path:
                status = self.status(name)
                if status == "operational":
                    return json_response({"status": "operational", "service": name})
                return json_response({"status": status, "service": name, "message": MESSAGES[name]}, 503)
        return json_response({"error": "not found"}, 404)
