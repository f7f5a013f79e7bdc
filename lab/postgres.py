"""The lab's own throwaway PostgreSQL 15 (never the system one on 5432).

initdb runs once per state dir (the data dir is reused by later ``up``); the server listens on 127.0.0.1 at
the lab port with its unix socket in the state dir, ``max_connections`` 30, scram-sha-256 over TCP. Run as
root, every PostgreSQL binary runs as the ``postgres`` user. Roles: ``postgres`` (superuser, password),
``sample_app`` (the application, not superuser, ``CONNECTION LIMIT`` 24) and ``sre_automation``
(pg_read_all_stats + pg_signal_backend, not superuser); database ``sample``.

The server listens on its internal port (base +21); the lab's port (+20) is a proxy (lab/redis_proxy.py) that
carries the ``postgres`` faults. The server log is jsonlog in ``<state>/pg-log`` (lab/pg_journal.py reads it).
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

import psycopg
from psycopg import sql

from . import config
from .faults import TABLE
from .process_util import command_line_has, signal_and_wait, tail_file

log = logging.getLogger("lab.postgres")

PG_BIN = Path(os.environ.get("SRE_LAB_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_OS_USER = "postgres"

TUNING = """
# --- sre.incident lab (throwaway instance: durability traded for speed) ---
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
log_min_messages = warning
log_connections = off
"""


class PostgresError(RuntimeError):
    pass


class LabPostgres:
    def __init__(self, cfg: config.LabConfig) -> None:
        self.cfg = cfg
        self.data_dir = cfg.state_dir / "postgres"
        self.socket_dir = cfg.state_dir / "pg-run"
        self.log_file = cfg.state_dir / "postgres.log"
        self.port = cfg.port("postgres")  # the lab's proxy: what clients use
        self.listen_port = cfg.port("postgres" + config.INTERNAL)  # the server itself
        self.log_dir = cfg.state_dir / "pg-log"
        self.proxy = None
        self.journal = None
        self.as_root = os.geteuid() == 0
        self.postmaster_pid: int | None = None  # of the server start() started or found

    # --- running binaries as the right user -------------------------------------------------
    def _own(self, path: Path) -> None:
        if self.as_root:
            pw = pwd.getpwnam(PG_OS_USER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def _run(self, args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        if self.as_root:
            kwargs.update(user=PG_OS_USER, group=PG_OS_USER, extra_groups=[])
        try:
            return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False,
                                  cwd=str(self.cfg.state_dir), stdin=subprocess.DEVNULL, **kwargs)
        except subprocess.TimeoutExpired:
            raise PostgresError(f"{Path(args[0]).name} did not finish within {timeout:.0f} s") from None

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def ensure_initdb(self) -> None:
        if self.initialized:
            return
        if not (PG_BIN / "initdb").exists():
            raise PostgresError(f"initdb not found in {PG_BIN} (set SRE_LAB_PG_BIN)")
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made data dir from an interrupted initdb
        self.data_dir.mkdir(mode=0o700, parents=True)
        self._own(self.data_dir)
        self._prepare_runtime_dirs()
        pwfile = self.socket_dir / "initdb.pw"
        pwfile.write_text(self.cfg.secrets.pg_admin_password + "\n")
        os.chmod(pwfile, 0o600)
        self._own(pwfile)
        try:
            result = self._run([
                str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8",
                "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}", "--no-sync", "--no-instructions",
            ], timeout=120)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise PostgresError(f"initdb failed: {_last_line(result.stderr or result.stdout)}")
        with open(self.data_dir / "postgresql.conf", "a") as fh:
            fh.write(TUNING)
        log.info("initdb done in %s", self.data_dir)

    def _prepare_runtime_dirs(self) -> None:
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.socket_dir, 0o700)
        self._own(self.socket_dir)
        self.log_file.touch(exist_ok=True)
        self._own(self.log_file)
        self.log_dir.mkdir(mode=0o700, exist_ok=True)
        self._own(self.log_dir)

    def is_running(self) -> bool:
        if not self.initialized:
            return False
        return self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "status"], timeout=10).returncode == 0

    def start(self, before_bind: Callable[[], None] | None = None) -> None:
        """Start (initdb first if needed); ``before_bind`` releases the daemon's hold on the port."""
        self.ensure_initdb()
        self._prepare_runtime_dirs()
        if before_bind is not None:
            before_bind()
        if self.is_running():
            log.info("postgres already running on port %s", self.listen_port)
        else:
            # every statement but the admin's (setup_roles) goes to a jsonlog file: who ended which session
            options = (f"-p {self.listen_port} -k {self.socket_dir} -c listen_addresses={config.HOST} "
                       f"-c max_connections={config.PG_MAX_CONNECTIONS} -c logging_collector=on "
                       f"-c log_destination=jsonlog -c log_directory={self.log_dir} -c log_filename=postgresql.log "
                       f"-c log_rotation_age=0 -c log_rotation_size=0 -c log_timezone=UTC -c log_statement=all")
            for attempt in range(3):
                result = self._run([
                    str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file),
                    "-o", options, "-w", "-t", "30", "start",
                ], timeout=40)
                if result.returncode == 0:
                    break
                if attempt < 2 and "already in use" in tail_file(self.log_file):
                    time.sleep(0.3)  # the port was briefly an outgoing connection's ephemeral port
                    continue
                raise PostgresError(
                    f"pg_ctl start failed ({_last_line(result.stderr or result.stdout)}); see {self.log_file}"
                )
            log.info("postgres started on port %s", self.listen_port)
        self.postmaster_pid = self._postmaster_pid()
        self.setup_roles()
        self._start_front()

    def _start_front(self) -> None:
        """The client-facing port (faults) and the journal of sessions ended by clients."""
        from .pg_journal import PgJournal
        from .redis_proxy import PrimaryEndpointProxy

        self.journal = PgJournal(self.log_dir / "postgresql.json", admin_roles=("postgres",))
        self.journal.start()
        self.proxy = PrimaryEndpointProxy(self.port, lambda: self.listen_port, label="postgres", backend="postgres")
        self.proxy.start()
        TABLE.on_change("postgres", self._apply_password_fault)

    def _apply_password_fault(self) -> None:
        """wrong_password: sre_automation's password changes to one nobody knows; clearing puts it back."""
        import secrets as random

        wrong = TABLE.backend_wide("postgres", "wrong_password") is not None
        password = random.token_hex(16) if wrong else self.cfg.secrets.pg_automation_password
        with self.connect_socket() as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(config.PG_AUTOMATION_ROLE), sql.Literal(password)))

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        for front in (self.proxy, self.journal):
            if front is not None:
                front.stop()
        if not (self.data_dir / "postmaster.pid").exists():
            self._stop_without_data_dir()
            return
        if not self.initialized:
            return
        result = self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "20",
                            "stop"], timeout=30)
        if result.returncode != 0 and self.is_running():
            raise PostgresError(f"pg_ctl stop failed: {_last_line(result.stderr or result.stdout)}")
        log.info("postgres stopped")

    def _stop_without_data_dir(self) -> None:
        """The server this object started, when its data directory was deleted under it (pg_ctl needs the
        directory): fast shutdown by signal, then immediate. PostgreSQL would stop by itself only at its next
        lock-file check, up to a minute later, holding the lab's port until then."""
        pid = self.postmaster_pid
        if pid is None or not command_line_has(pid, str(self.data_dir)):
            return  # gone, or never ours
        if signal_and_wait(pid, signal.SIGINT, 10) or signal_and_wait(pid, signal.SIGQUIT, 10):
            log.info("postgres stopped without its data directory")

    # --- schema & roles --------------------------------------------------------------------
    def connect_socket(self, dbname: str = "postgres", application_name: str = "") -> psycopg.Connection:
        """Superuser connection over the private unix socket (trust), for setup and the lab's monitor."""
        return psycopg.connect(host=str(self.socket_dir), port=self.listen_port, user="postgres", dbname=dbname,
                               autocommit=True, connect_timeout=5, application_name=application_name)

    def setup_roles(self) -> None:
        s = self.cfg.secrets
        with self.connect_socket() as conn:
            conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(s.pg_admin_password)))
            conn.execute("ALTER ROLE postgres SET log_statement = 'none'")  # the lab's own statements
            for role, password in ((config.PG_APP_ROLE, s.pg_app_password),
                                   (config.PG_AUTOMATION_ROLE, s.pg_automation_password)):
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                verb = "ALTER" if exists else "CREATE"
                conn.execute(sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)))
            # A per-role limit below max_connections keeps slots free for operators and automation when the
            # application exhausts its share (PostgreSQL 15 reserves slots for superusers only).
            conn.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(
                sql.Identifier(config.PG_APP_ROLE), sql.Literal(config.PG_APP_CONNECTION_LIMIT)))
            conn.execute(sql.SQL("GRANT pg_read_all_stats, pg_signal_backend TO {}").format(
                sql.Identifier(config.PG_AUTOMATION_ROLE)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (config.PG_DATABASE,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER postgres").format(sql.Identifier(config.PG_DATABASE)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}, {}").format(
                sql.Identifier(config.PG_DATABASE), sql.Identifier(config.PG_APP_ROLE),
                sql.Identifier(config.PG_AUTOMATION_ROLE)))
        with self.connect_socket(config.PG_DATABASE) as conn:
            app = sql.Identifier(config.PG_APP_ROLE)
            conn.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(app))
            conn.execute("""
                CREATE TABLE IF NOT EXISTS orders (
                    id bigserial PRIMARY KEY,
                    customer_id integer NOT NULL,
                    amount_cents integer NOT NULL,
                    status text NOT NULL DEFAULT 'created',
                    created_at timestamptz NOT NULL DEFAULT now()
                )""")
            conn.execute(sql.SQL("ALTER TABLE orders OWNER TO {}").format(app))
            if conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 0:
                conn.execute("""
                    INSERT INTO orders (customer_id, amount_cents, status, created_at)
                    SELECT (g % 500) + 1, 500 + (g * 37) % 20000,
                           (ARRAY['created','paid','shipped'])[1 + g % 3], now() - (g || ' minutes')::interval
                    FROM generate_series(1, 1000) AS g""")

    def describe(self) -> dict:
        return {
            "host": config.HOST,
            "port": self.port,
            "server_port": self.listen_port,  # where the server itself listens, behind the lab's proxy on port
            "database": config.PG_DATABASE,
            "max_connections": config.PG_MAX_CONNECTIONS,
            "app_connection_limit": config.PG_APP_CONNECTION_LIMIT,
            "app_application_name": config.PG_APP_APPLICATION_NAME,
            "admin_dsn": self.cfg.admin_dsn,
            "app_dsn": self.cfg.app_dsn,
            "automation_dsn": self.cfg.automation_dsn,
            "app_user": config.PG_APP_ROLE,
            "automation_user": config.PG_AUTOMATION_ROLE,
            "socket_dir": str(self.socket_dir),
            "data_dir": str(self.data_dir),
        }


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
