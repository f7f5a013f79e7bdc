"""Helpers for the processes the lab runs (Redis, PostgreSQL)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def tail_file(path: Path, size: int = 2000) -> str:
    """The last *size* bytes of a log file, for error messages; "" when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - size))
            return fh.read().decode(errors="replace")
    except OSError:
        return ""


def command_line_has(pid: int, marker: str) -> bool:
    """Whether process *pid* runs and its command line contains *marker* - so that a pid read from a file or an
    answer, perhaps reused by now, is never signalled unless it is still the process meant."""
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """Whether process *pid* runs (a zombie, ended but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def signal_and_wait(pid: int, sig: int, seconds: float) -> bool:
    """Send *sig* to *pid* and wait up to *seconds* for it to end. True when it is gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + seconds
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
