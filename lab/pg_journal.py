"""PostgreSQL sessions that a client other than the lab ended, read from the server's own log.

The server logs every statement of every role but the lab's admin (``log_statement = all``, ``postgres``:
``none``) to ``<state>/pg-log/postgresql.json`` (jsonlog). A backend that is terminated logs its own
"terminating connection due to administrator command" (57P01) with its pid, user and application_name; one
whose query is cancelled logs 57014. Each is journaled with the last ``pg_terminate_backend`` /
``pg_cancel_backend`` statement logged before it within ``WINDOW`` seconds (who did it). With no such
statement it was the lab (its admin role) or a shutdown: not journaled.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .journal import JOURNAL

log = logging.getLogger("lab.pg_journal")

WINDOW = 5.0
STATEMENT = re.compile(r"(statement|execute [^:]*): ")  # simple and extended query protocol
SIGNALLING = re.compile(r"\bpg_(terminate|cancel)_backend\s*\(", re.I)
VICTIMS = {"57P01": ("terminate", "pg_terminate_backend"), "57014": ("cancel", "pg_cancel_backend")}


class PgJournal:
    def __init__(self, path: Path, admin_roles: tuple[str, ...] = ("postgres",), interval: float = 0.3) -> None:
        self.path = path
        self.admin_roles = admin_roles
        self.interval = interval
        self._offset: int | None = None
        self._rest = b""
        self._signallers: list[dict[str, Any]] = []  # recent pg_terminate/cancel_backend statements
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-journal", daemon=True)

    def start(self) -> None:
        try:
            self._offset = self.path.stat().st_size  # what was logged before this daemon is not ours to report
        except OSError:
            self._offset = 0
        JOURNAL.before_read.append(self.poll)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self.poll in JOURNAL.before_read:
            JOURNAL.before_read.remove(self.poll)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:
                log.exception("reading the PostgreSQL log failed")

    def poll(self) -> None:
        with self._lock:
            try:
                with open(self.path, "rb") as fh:
                    fh.seek(self._offset or 0)
                    data = fh.read()
            except OSError:
                return
            self._offset = (self._offset or 0) + len(data)
            lines = (self._rest + data).split(b"\n")
            self._rest = lines.pop()
            for line in lines:
                if line.strip():
                    try:
                        self._line(json.loads(line))
                    except ValueError:
                        continue

    def _line(self, rec: dict[str, Any]) -> None:
        ts = _timestamp(rec.get("timestamp", ""))
        message = str(rec.get("message", ""))
        user = rec.get("user")
        statement = STATEMENT.match(message)
        if statement and user not in self.admin_roles and SIGNALLING.search(message):
            self._signallers.append({"ts": ts, "pid": rec.get("pid"), "user": user,
                                     "application_name": rec.get("application_name", ""),
                                     "statement": message[statement.end():]})
            self._signallers = [s for s in self._signallers if s["ts"] > ts - WINDOW]
            return
        victim = VICTIMS.get(rec.get("state_code", ""))
        if victim is None or rec.get("backend_type") != "client backend":
            return
        kind, operation = victim
        by = next((s for s in reversed(self._signallers)
                   if ts - WINDOW <= s["ts"] <= ts and kind in s["statement"].lower() and s["pid"] != rec.get("pid")),
                  None)
        if by is None:
            return
        JOURNAL.add("postgres", operation, f"pid {rec.get('pid')}", {
            "pid": rec.get("pid"), "user": user, "database": rec.get("dbname"),
            "application_name": rec.get("application_name", ""), "client": rec.get("remote_host"),
            "by": {k: by[k] for k in ("pid", "user", "application_name", "statement")}}, ts=ts)


def _timestamp(text: str) -> float:
    try:
        return datetime.strptime(text[:23], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return time.time()
