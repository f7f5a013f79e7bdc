"""Python API of the lab (used by the CLI and by tests): up(), down(), status(), break_incident(), heal(),
fleet(), fleet_inventory(), iam(), fault(), clear_faults(), faults(), journal(), clear_journal().

All functions read ``SRE_LAB_DIR`` / ``SRE_LAB_PORT_BASE`` like the daemon does. Failures raise
``LabError`` whose message is one line and whose ``exit_code`` is what the CLI exits with.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

from . import config
from .process_util import command_line_has, pid_alive, signal_and_wait
from .scenarios import LabError, check_incident

UP_TIMEOUT = 30.0
DOWN_TIMEOUT = 30.0


# --- control API -----------------------------------------------------------------------------
def _request(cfg: config.LabConfig, method: str, path: str, body: Any = None, timeout: float = 5.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(cfg.url("control") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"{}")
        except ValueError:
            payload = {}
        raise LabError(payload.get("error") or f"control API {method} {path}: HTTP {exc.code}",
                       exit_code=int(payload.get("exit_code", 1))) from None


def _answering_daemon(cfg: config.LabConfig, timeout: float = 2.0) -> dict | None:
    """The status of a daemon that answers on this lab's control port for this state dir's path, else None."""
    try:
        data = _request(cfg, "GET", "/status", timeout=timeout)
    except (LabError, OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("state_dir") != str(cfg.state_dir):
        return None
    return data


def _ours(cfg: config.LabConfig, data: dict | None) -> dict | None:
    """An answering daemon's status if it is *this* state dir's daemon (the one its pid file names), else None.
    One that answers for the same path without being named there is an orphan (see _stop_orphan)."""
    return data if data is not None and data.get("pid") == _daemon_pid(cfg) else None


def _daemon_status(cfg: config.LabConfig, timeout: float = 2.0) -> dict | None:
    """The running daemon's status if this state dir's daemon answers, else None."""
    return _ours(cfg, _answering_daemon(cfg, timeout))


def _stop_orphan(cfg: config.LabConfig, answering: dict | None) -> bool:
    """Stop the answering daemon (_answering_daemon) when it serves this state dir's path although the directory
    was deleted under it and made anew (a checkout removed while its lab ran, then cloned again in the same place):
    it holds the lab's ports with secrets the new state dir does not know. Returns True if there was one."""
    pid = answering.get("pid") if answering else None
    if not isinstance(pid, int) or _ours(cfg, answering) or not command_line_has(pid, "lab.daemon"):
        return False
    sys.stderr.write(f"stopping lab daemon {pid}: it serves {cfg.state_dir}, but that directory no longer names it\n")
    _terminate(pid, 10)
    return True


def _daemon_pid(cfg: config.LabConfig) -> int | None:
    try:
        pid = int(cfg.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


# --- public API ------------------------------------------------------------------------------
def status() -> dict[str, Any]:
    cfg = config.LabConfig.load()
    data = _daemon_status(cfg)
    if data is None or not data.get("ready"):
        return {"running": False, "state_dir": str(cfg.state_dir)}
    return data


def is_running() -> bool:
    return bool(status().get("running"))


@contextlib.contextmanager
def _lifecycle_lock(cfg: config.LabConfig) -> Iterator[None]:
    """Serialize up/down for one state dir (two test sessions starting the same lab, say)."""
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    with open(cfg.state_dir / "lifecycle.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def up(timeout: float = UP_TIMEOUT) -> dict[str, Any]:
    """Start the lab (idempotent). Returns the status; ``status["already_running"]`` tells which case."""
    try:
        cfg = config.LabConfig.load(create=True)
    except ValueError as exc:
        raise LabError(str(exc)) from None
    with _lifecycle_lock(cfg):
        return _up(cfg, timeout)


def _up(cfg: config.LabConfig, timeout: float) -> dict[str, Any]:
    answering = _answering_daemon(cfg)
    current = _ours(cfg, answering)
    if current is not None and current.get("ready"):
        return {**current, "already_running": True}
    _stop_orphan(cfg, answering)
    pid = _daemon_pid(cfg)
    if pid is not None:
        if current is None:  # a daemon that does not answer: stuck start or half dead; replace it
            _terminate(pid, 10)
        else:
            return _wait_ready(cfg, pid, timeout)
    down_leftovers(cfg)  # Redis/PostgreSQL of a daemon that died would hold the lab's ports
    cfg.error_file.unlink(missing_ok=True)
    env = dict(os.environ, SRE_LAB_DIR=str(cfg.state_dir), SRE_LAB_PORT_BASE=str(cfg.port_base))
    with open(cfg.log_file, "ab") as log:
        log.write(f"\n==== lab up {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode())
        log.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "lab.daemon"],
            cwd=str(config.REPO_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True,
        )
    return _wait_ready(cfg, proc.pid, timeout, proc)


def _wait_ready(cfg: config.LabConfig, pid: int, timeout: float,
                proc: subprocess.Popen | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exited = proc.poll() is not None if proc is not None else not pid_alive(pid)
        if exited:
            raise LabError(f"lab failed to start: {_daemon_error(cfg)}")
        data = _daemon_status(cfg, timeout=1.0)
        if data is not None and data.get("ready"):
            return {**data, "already_running": False}
        time.sleep(0.1)
    _terminate(pid, 10)
    down_leftovers(cfg)
    raise LabError(f"lab did not become ready within {timeout:.0f} s; see {cfg.log_file}")


def _daemon_error(cfg: config.LabConfig) -> str:
    try:
        text = cfg.error_file.read_text().strip()
    except OSError:
        text = ""
    return text or f"daemon exited; see {cfg.log_file}"


def down(timeout: float = DOWN_TIMEOUT) -> bool:
    """Stop the lab (idempotent). Returns True if something was running."""
    cfg = config.LabConfig.load()
    if not cfg.state_dir.exists():
        return False
    with _lifecycle_lock(cfg):
        return _down(cfg, timeout)


def _down(cfg: config.LabConfig, timeout: float) -> bool:
    answering = _answering_daemon(cfg)
    was_running = _stop_orphan(cfg, answering)
    pid = _daemon_pid(cfg)
    if _ours(cfg, answering) is not None:
        was_running = True
        try:
            _request(cfg, "POST", "/shutdown")
        except (LabError, OSError):
            pass
    if pid is not None:
        was_running = True
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            _terminate(pid, 10)
    if down_leftovers(cfg):
        was_running = True
    if was_running and cfg.state_dir.exists():
        config.write_json_atomic(cfg.status_file, {"running": False, "state_dir": str(cfg.state_dir)})
    cfg.pid_file.unlink(missing_ok=True)
    return was_running


def down_leftovers(cfg: config.LabConfig) -> bool:
    """Stop Redis/PostgreSQL left behind by a daemon that died. Returns True if there were any."""
    from .postgres import LabPostgres
    from .redis_nodes import kill_stale

    found = False
    for name in config.REDIS_NODES:
        pid_file = cfg.state_dir / f"redis-{name.rsplit('-', 1)[-1]}" / "redis.pid"
        if pid_file.exists():
            found = True
            kill_stale(pid_file)
    pg = LabPostgres(cfg)
    if (pg.data_dir / "postmaster.pid").exists():
        found = True
        try:
            pg.stop()
        except Exception as exc:
            raise LabError(f"could not stop the lab's PostgreSQL: {exc}") from None
    return found


def _terminate(pid: int, timeout: float) -> None:
    if not signal_and_wait(pid, signal.SIGTERM, timeout):
        signal_and_wait(pid, signal.SIGKILL, 0)


def _require_running(cfg: config.LabConfig) -> None:
    data = _daemon_status(cfg)
    if data is None or not data.get("ready"):
        raise LabError(f"lab is not running (state dir {cfg.state_dir}); start it with: python -m lab up")


def break_incident(name: str, **options: Any) -> dict[str, Any]:
    """Break ``name`` with its options, e.g. ``no_good_revision=True``, ``pool_only=True``, ``age=4``."""
    check_incident(name)
    cfg = config.LabConfig.load()
    _require_running(cfg)
    try:  # db_pool_exhausted waits until its sessions are ``age`` seconds old
        wait = max(0.0, float(options.get("age") or 0))
    except (TypeError, ValueError):
        wait = 0.0  # the daemon rejects it
    return _request(cfg, "POST", f"/break/{name}", options, timeout=30 + min(wait, 300))


def heal() -> dict[str, Any]:
    cfg = config.LabConfig.load()
    _require_running(cfg)
    return _request(cfg, "POST", "/heal", {}, timeout=60)


def fleet(count: int, broken: int = 0, inventory: str | Path | None = None) -> dict[str, Any]:
    """Seed (replace) the fleet of ``count`` simulated services, ``broken`` of them broken; 0 removes it.
    With ``inventory``, also write its Ansible inventory directory there (``result["inventory"]``)."""
    cfg = config.LabConfig.load()
    _require_running(cfg)
    result = _request(cfg, "POST", "/fleet", {"count": count, "broken": broken}, timeout=60)
    if inventory is not None:
        result["inventory"] = fleet_inventory(inventory, result["status"])
    return result


def fleet_inventory(path: str | Path, status_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the Ansible inventory directory of the seeded fleet at ``path`` (see lab/fleet_inventory.py)."""
    from .fleet_inventory import write_inventory

    if status_data is None:
        cfg = config.LabConfig.load()
        _require_running(cfg)
        status_data = status()
    return write_inventory(path, status_data)


def iam(enforce: bool | None = None, policy: dict[str, Any] | None = None, reset_policy: bool = False) -> dict[str, Any]:
    """Switch IAM enforcement (lab/iam.py) and/or put ``policy`` on the policy user (``reset_policy``: the one in
    docs/iam-policy.json). Returns enforcement, the policy user's keys, the policy in force and the denials seen."""
    cfg = config.LabConfig.load()
    _require_running(cfg)
    body: dict[str, Any] = {"reset_policy": reset_policy}
    if enforce is not None:
        body["enforce"] = enforce
    if policy is not None:
        body["policy"] = policy
    return _request(cfg, "POST", "/iam", body)


def fault(backend: str, mode: str, operation: str | None = None, seconds: float | None = None) -> dict[str, Any]:
    """Inject a fault (lab/faults.py) until clear_faults() or heal(); returns ``{"fault": {...}, "faults": [...]}``.
    A wrong backend/mode/option raises LabError with exit_code 2 and changes nothing."""
    from .faults import check

    check(backend, mode, operation, seconds)  # the same one-line refusal, before asking the daemon
    cfg = config.LabConfig.load()
    _require_running(cfg)
    body = {"backend": backend, "mode": mode, "operation": operation, "seconds": seconds}
    return _request(cfg, "POST", "/faults", body, timeout=15)


def clear_faults() -> dict[str, Any]:
    """Remove every fault; returns ``{"cleared": [...], "faults": []}``."""
    cfg = config.LabConfig.load()
    _require_running(cfg)
    return _request(cfg, "DELETE", "/faults", timeout=15)


def faults() -> list[dict[str, Any]]:
    """The active faults: ``[{"backend", "mode", "operation", "seconds"}]``."""
    cfg = config.LabConfig.load()
    _require_running(cfg)
    return _request(cfg, "GET", "/faults")["faults"]


def journal(since: float | str | None = None) -> list[dict[str, Any]]:
    """Every mutating call the backends accepted from clients other than the lab, oldest first; ``since``: epoch
    seconds or ISO 8601 (entries at or after it)."""
    from urllib.parse import quote

    from .journal import parse_since

    try:
        parsed = parse_since(since)
    except ValueError as exc:
        raise LabError(str(exc), exit_code=2) from None
    cfg = config.LabConfig.load()
    _require_running(cfg)
    query = "" if parsed is None else f"?since={quote(repr(parsed))}"
    return _request(cfg, "GET", "/journal" + query, timeout=10)["entries"]


def clear_journal() -> int:
    """Empty the journal; returns how many entries it held."""
    cfg = config.LabConfig.load()
    _require_running(cfg)
    return int(_request(cfg, "DELETE", "/journal")["cleared"])
