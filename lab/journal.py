"""The lab's journal: every mutating call the backends accepted from a client that is not the lab itself.

Entries are kept in memory in time order (and appended to ``<state>/journal.jsonl``); ``heal`` leaves them,
``journal --clear`` empties them. A call a backend or a fault refused is not a change and is not recorded.
Values that could be secrets never get here: each backend's recorder passes its params through ``redact``.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("lab.journal")

BACKENDS = ("aws", "postgres", "redis", "slack", "pagerduty", "datadog")
REDACTED = "<redacted>"
SECRET_NAME = re.compile(r"pass(word|wd)?|secret|token|credential|auth|api[_-]?key|app[_-]?key|routing[_-]?key|"
                         r"private[_-]?key|session[_-]?key|signature|cookie", re.I)
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<password>[^@/\s]+)@", re.I)
MAX_TEXT = 300
MAX_ITEMS = 50


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_since(value: Any) -> float | None:
    """``--since``: epoch seconds, or ISO 8601 (a trailing Z or an offset; naive means UTC). None: everything."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"since must be epoch seconds or ISO 8601, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ValueError(f"since must be epoch seconds or ISO 8601 (2026-12-02T16:30:00Z), got {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def redact(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy without secrets: secret-named keys, passwords in URLs, name/value pairs with a secret
    name; long texts cut, deep or long structures summarized."""
    if isinstance(value, dict):
        if depth > 5:
            return "<…>"
        if {"name", "value"} <= set(value) and isinstance(value.get("name"), str) and SECRET_NAME.search(value["name"]):
            return {**{k: redact(v, depth + 1) for k, v in value.items() if k != "value"}, "value": REDACTED}
        out = {}
        for key, item in list(value.items())[:MAX_ITEMS]:
            secret = SECRET_NAME.search(str(key)) and item not in (None, "")
            out[str(key)] = REDACTED if secret else redact(item, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        if depth > 5:
            return "<…>"
        items = [redact(item, depth + 1) for item in value[:MAX_ITEMS]]
        return items + [f"<{len(value) - MAX_ITEMS} more>"] if len(value) > MAX_ITEMS else items
    if isinstance(value, str):
        text = URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", value)
        return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return redact(str(value), depth)


class Journal:
    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._times: list[float] = []
        self._seq = 0
        self._lock = threading.Lock()
        self._file: Path | None = None
        self.before_read: list[Callable[[], None]] = []  # recorders that lag (the PostgreSQL log) catch up

    def open(self, path: Path) -> None:
        self._file = path

    def add(self, backend: str, operation: str, target: str, params: dict[str, Any] | None = None,
            ts: float | None = None) -> dict[str, Any]:
        ts = time.time() if ts is None else ts
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, "ts": round(ts, 6), "time": iso(ts), "backend": backend,
                     "operation": operation, "target": target, "params": redact(params or {})}
            pos = bisect.bisect_right(self._times, ts)  # a lagging recorder's entry goes where it happened
            self._times.insert(pos, ts)
            self._entries.insert(pos, entry)
            if self._file is not None:
                try:
                    with open(self._file, "a") as fh:
                        fh.write(json.dumps(entry) + "\n")
                except OSError as exc:
                    log.warning("journal file %s: %s", self._file, exc)
        log.info("journal: %s %s %s", backend, operation, target)
        return entry

    def entries(self, since: float | None = None) -> list[dict[str, Any]]:
        for catch_up in self.before_read:
            try:
                catch_up()
            except Exception:
                log.exception("journal catch-up failed")
        with self._lock:
            start = 0 if since is None else bisect.bisect_left(self._times, since)
            return [dict(e) for e in self._entries[start:]]

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._times.clear()
            if self._file is not None:
                try:
                    self._file.write_text("")
                except OSError:
                    pass
        return count


JOURNAL = Journal()
