"""Helpers for the processes the lab runs (Redis, PostgreSQL)."""

from __future__ import annotations

import os
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
