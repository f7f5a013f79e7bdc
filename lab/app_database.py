"""Sample Service's side of the lab's PostgreSQL: what the app simulator reads every tick, and the sessions
``break db_pool_exhausted`` leaks.

* ``observe(running_task_ids)``: one query over a persistent superuser connection (unix socket,
  ``application_name`` ``sre-lab-monitor``) returns ``sample_app``'s client sessions and its
  ``rolconnlimit``. Leaked sessions that are gone (ended with ``pg_terminate_backend``, say) are forgotten;
  leaked sessions whose ECS task no longer runs are closed: a new deployment replaced the task, and a process
  that goes away takes its connections with it.
* ``leak(task_ids, age)``: real psycopg connections as ``sample_app`` over TCP with ``application_name``
  ``sample-service``, each tagged with one of the given task ids (round robin): 4 idle in transaction
  (``SELECT ... FOR UPDATE``, never committed), 3 long-running queries (``pg_sleep``, each run by a thread),
  then idle ones until the role is at its ``CONNECTION LIMIT``; returns once every one of them is ``age``
  seconds old.
* ``close_all()``: ends the sessions the lab holds (pid + backend_start, never anybody else's).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from . import config

log = logging.getLogger("lab.appdb")

MONITOR_APPLICATION = "sre-lab-monitor"
IDLE_IN_TRANSACTION = 4
LONG_RUNNING = 3
LONG_RUNNING_QUERY = ("/* orders-export */ SELECT customer_id, sum(amount_cents) FROM orders "
                      "CROSS JOIN pg_sleep(3600) GROUP BY customer_id")
FOR_UPDATE_QUERY = "SELECT id, status FROM orders WHERE id = {} FOR UPDATE"
LOCKED_ORDER_IDS = (417, 418, 731, 902)
CONNECT_TIMEOUT = 10  # SCRAM on a loaded 2-core host can take a while
FILL_ROUNDS = 3  # age waits after which sample_app must still be at its limit

# sample_app's client sessions (one row with NULLs when there are none) and the role's limit
ACTIVITY = """
SELECT r.rolconnlimit, a.pid, a.backend_start
FROM pg_roles r
LEFT JOIN pg_stat_activity a ON a.usesysid = r.oid AND a.backend_type = 'client backend'
WHERE r.rolname = %s
"""
TERMINATE = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE pid = %s AND backend_start = %s AND usename = %s")


class AppDatabaseError(RuntimeError):
    """break could not leak the sessions (one line, for LabError)."""


@dataclass
class LeakedSession:
    kind: str  # "idle" | "idle_in_transaction" | "long_running"
    conn: psycopg.Connection
    pid: int
    backend_start: datetime | None
    task_id: str
    thread: threading.Thread | None = None
    closing: bool = False  # the lab ends it: the long-running thread's error is expected

    @property
    def key(self) -> tuple[int, datetime | None]:
        return (self.pid, self.backend_start)


@dataclass
class DbObservation:
    ok: bool = False  # the monitor query answered
    app_sessions: int = 0  # sample_app's client sessions, whoever opened them
    app_limit: int = -1  # its rolconnlimit (-1: none)
    leaked: int = 0  # the lab's leaked sessions still alive

    @property
    def at_limit(self) -> bool:
        return self.ok and self.app_limit >= 0 and self.app_sessions >= self.app_limit


class AppDatabase:
    def __init__(self, cfg: config.LabConfig, pg: Any) -> None:
        self.cfg = cfg
        self.pg = pg
        self.lock = threading.RLock()
        self.sessions: list[LeakedSession] = []
        self._monitor: psycopg.Connection | None = None
        self._monitor_failed = False

    # --- the monitor connection ----------------------------------------------------------------
    def _query(self, query: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self.lock:
            for attempt in (0, 1):
                if self._monitor is None or self._monitor.closed:
                    self._monitor = self.pg.connect_socket(config.PG_DATABASE, application_name=MONITOR_APPLICATION)
                try:
                    rows = self._monitor.execute(query, tuple(params)).fetchall()
                    self._monitor_failed = False
                    return rows
                except psycopg.OperationalError:
                    self._drop_monitor()
                    if attempt:
                        raise
            return []  # not reached

    def _drop_monitor(self) -> None:
        if self._monitor is not None:
            _close_quietly(self._monitor)
        self._monitor = None

    def _activity(self) -> tuple[int, set[tuple[int, datetime]]]:
        rows = self._query(ACTIVITY, (config.PG_APP_ROLE,))
        limit = rows[0][0] if rows else -1
        return limit, {(pid, start) for _limit, pid, start in rows if pid is not None}

    def _backend_start(self, pid: int) -> datetime | None:
        rows = self._query("SELECT backend_start FROM pg_stat_activity WHERE pid = %s", (pid,))
        return rows[0][0] if rows else None

    # --- every tick ----------------------------------------------------------------------------
    def observe(self, running_task_ids: set[str] | None = None) -> DbObservation:
        """sample_app's sessions and limit; forgets leaked sessions that ended, closes those whose task stopped
        (``running_task_ids`` None: the tasks are unknown, close nothing)."""
        with self.lock:
            try:
                limit, alive = self._activity()
            except (psycopg.Error, OSError) as exc:
                if not self._monitor_failed:
                    log.warning("observing PostgreSQL failed: %s", _one_line(exc))
                    self._monitor_failed = True
                return DbObservation(leaked=len(self.sessions))
            self._forget_ended(alive)
            if running_task_ids is not None:
                orphans = [s for s in self.sessions if s.task_id not in running_task_ids]
                if orphans:
                    self.sessions = [s for s in self.sessions if s not in orphans]
                    self._close(orphans)
                    alive -= {s.key for s in orphans}
                    log.info("closed %d leaked sample_app sessions: their tasks (%s) stopped", len(orphans),
                             ", ".join(sorted({s.task_id for s in orphans})))
            return DbObservation(ok=True, app_sessions=len(alive), app_limit=limit, leaked=len(self.sessions))

    def _forget_ended(self, alive: set[tuple[int, datetime]]) -> None:
        ended = [s for s in self.sessions if s.key not in alive]
        if not ended:
            return
        for s in ended:
            if s.thread is None:  # a long-running session's thread closes its own connection
                _close_quietly(s.conn)
        self.sessions = [s for s in self.sessions if s.key in alive]
        log.info("%d leaked sample_app sessions were ended from outside the lab (pids %s)", len(ended),
                 ", ".join(str(s.pid) for s in ended))

    # --- break -----------------------------------------------------------------------------------
    def leak(self, task_ids: list[str], age: float) -> dict[str, Any]:
        """Leak sessions until sample_app is at its limit; returns once they are all ``age`` seconds old and a
        new sample_app connection is still refused (sessions of others that ended meanwhile are made up for)."""
        if not task_ids:
            raise AppDatabaseError("no running task to leak connections from")
        tags = itertools.cycle(task_ids)
        opened: list[LeakedSession] = []
        try:
            with self.lock:
                limit, alive = self._activity()
                if limit < 0:
                    raise AppDatabaseError(f"role {config.PG_APP_ROLE} has no connection limit")
                before = len(alive)
                if limit - before < IDLE_IN_TRANSACTION + LONG_RUNNING:
                    raise AppDatabaseError(f"{config.PG_APP_ROLE} already has {before} of its {limit} connections; "
                                           f"close them (or heal) first")
                for order_id in LOCKED_ORDER_IDS[:IDLE_IN_TRANSACTION]:
                    s = self._open("idle_in_transaction", next(tags), autocommit=False)
                    opened.append(s)
                    s.conn.execute(sql.SQL(FOR_UPDATE_QUERY).format(sql.Literal(order_id))).fetchall()
                for _n in range(LONG_RUNNING):
                    s = self._open("long_running", next(tags))
                    opened.append(s)
                    s.thread = threading.Thread(target=_run_long_query, args=(s,), daemon=True,
                                                name=f"leak-{s.pid}")
                    s.thread.start()
                self._wait_active([s.pid for s in opened if s.kind == "long_running"])
                self._fill(opened, tags)
                self.sessions.extend(opened)
            for _round in range(FILL_ROUNDS):
                self._wait_age([s.pid for s in opened], age)
                with self.lock:  # still at the limit? (a session that was there before may have ended)
                    added = self._fill(opened, tags)
                    self.sessions.extend(added)
                if not added:
                    break
            else:
                raise AppDatabaseError(f"{config.PG_APP_ROLE}'s other sessions keep ending: the role does not stay "
                                       f"at its limit")
        except BaseException:
            with self.lock:
                self.sessions = [s for s in self.sessions if s not in opened]
                self._close(opened)
            raise
        counts = {kind: sum(1 for s in opened if s.kind == kind)
                  for kind in ("idle", "idle_in_transaction", "long_running")}
        log.info("leaked %s sample_app sessions (%s already open, limit %s)", counts, before, limit)
        return {**counts, "limit": limit, "app_sessions_before": before, "age": age,
                "tasks": sorted({s.task_id for s in opened}),
                "pids": {kind: [s.pid for s in opened if s.kind == kind] for kind in counts}}

    def _fill(self, opened: list[LeakedSession], tags: Iterator[str]) -> list[LeakedSession]:
        """Idle sessions (``SELECT 1``) until a new sample_app connection is refused with "too many connections";
        the ones opened (also appended to ``opened``)."""
        limit, alive = self._activity()
        added: list[LeakedSession] = []
        for _n in range(max(0, limit - len(alive)) + 5):  # 5 more: sessions of others may end meanwhile
            s = self._open("idle", next(tags), may_be_full=True)
            if s is None:
                return added  # refused: the role is at its limit
            opened.append(s)
            added.append(s)
            s.conn.execute("SELECT 1").fetchall()
        raise AppDatabaseError(f"{config.PG_APP_ROLE} still accepts connections after {len(opened)} leaked sessions")

    def _open(self, kind: str, task_id: str, autocommit: bool = True,
              may_be_full: bool = False) -> LeakedSession | None:
        try:
            conn = psycopg.connect(self.cfg.app_dsn, application_name=config.PG_APP_APPLICATION_NAME,
                                   autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
        except psycopg.OperationalError as exc:
            if may_be_full and "too many connections" in str(exc):
                return None
            raise AppDatabaseError(f"connecting as {config.PG_APP_ROLE} failed: {_one_line(exc)}") from None
        pid = conn.info.backend_pid
        return LeakedSession(kind=kind, conn=conn, pid=pid, backend_start=self._backend_start(pid), task_id=task_id)

    def _wait_active(self, pids: list[int], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self._query("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND state = 'active' "
                               "AND query LIKE '/* orders-export */%%'", (pids,))
            if rows[0][0] == len(pids):
                return
            time.sleep(0.02)
        raise AppDatabaseError("the long-running queries did not start")

    def _wait_age(self, pids: list[int], age: float) -> None:
        """Until the youngest state_change/query_start of these sessions is ``age`` seconds old."""
        deadline = time.monotonic() + age + 10
        while age > 0 and time.monotonic() < deadline:
            rows = self._query("SELECT extract(epoch FROM clock_timestamp() - max(greatest(state_change, "
                               "query_start)))::float8 FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))
            youngest = rows[0][0] if rows else None
            if youngest is None or youngest >= age:
                return
            time.sleep(min(age - youngest + 0.01, 1.0))

    # --- heal / shutdown -------------------------------------------------------------------------
    def close_all(self) -> int:
        """End every leaked session the lab still holds; how many were still alive."""
        with self.lock:
            try:
                _limit, alive = self._activity()
                self._forget_ended(alive)
            except (psycopg.Error, OSError):
                pass
            count = len(self.sessions)
            self._close(self.sessions)
            self.sessions = []
        if count:
            log.info("closed %d leaked sample_app sessions", count)
        return count

    def close(self) -> None:
        """At shutdown: the leaked sessions and the monitor connection."""
        with self.lock:
            try:
                self.close_all()
            except Exception:
                log.exception("closing the leaked sessions failed")
            self._drop_monitor()

    def _close(self, sessions: list[LeakedSession], timeout: float = 3.0) -> None:
        """Idle sessions: the client closes them (the server rolls back an open transaction). Long-running
        ones: pg_terminate_backend for exactly that pid + backend_start; their thread then ends quietly."""
        threaded = []
        for s in sessions:
            s.closing = True
            if s.thread is None:
                _close_quietly(s.conn)
                continue
            threaded.append(s)
            try:
                self._query(TERMINATE, (s.pid, s.backend_start, config.PG_APP_ROLE))
            except (psycopg.Error, OSError) as exc:
                log.warning("terminating leaked session %s failed: %s", s.pid, _one_line(exc))
        deadline = time.monotonic() + timeout
        for s in threaded:
            s.thread.join(max(0.0, deadline - time.monotonic()))
        keys = {s.key for s in sessions}
        while keys and time.monotonic() < deadline:  # the backends exit asynchronously: wait until they did
            try:
                _limit, alive = self._activity()
            except (psycopg.Error, OSError):
                return
            if not keys & alive:
                return
            time.sleep(0.01)


def _run_long_query(s: LeakedSession) -> None:
    try:
        s.conn.execute(LONG_RUNNING_QUERY)
    except psycopg.Error as exc:
        if s.closing:
            log.info("long-running leaked session %s closed by the lab", s.pid)
        else:
            log.info("long-running leaked session %s ended: %s", s.pid, _one_line(exc))
    except Exception as exc:  # noqa: BLE001 - the connection closed under the thread at shutdown, say
        log.info("long-running leaked session %s ended: %s", s.pid, _one_line(exc))
    finally:
        _close_quietly(s.conn)


def _close_quietly(conn: psycopg.Connection) -> None:
    try:
        conn.close()
    except (psycopg.Error, OSError) as exc:
        log.debug("closing a connection: %s", exc)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
