# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read steps ahead of the task that needs them, in a process of their own (sre.incident.run_concurrently's
read_ahead option).

An incident playbook's triage knows every read its diagnosis will make. The triage's worker starts them in a
forked process and returns without waiting; the diagnosis task, a dozen tasks later, redeems the ticket: the
answers are usually there by then, read on the machine's other core while the incident record, messages and
escalations were being worked out on this one.

A ticket is two files in a private directory: <name>.lock, locked (flock) by the reading process for as long as it
lives, and <name>.json, written (atomically) once every step has answered. The lock tells a redeemer whether the
reader is still at work without a pid that could be reused; a reader that died without answering releases it.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import tempfile
import time
import uuid

from ansible_collections.sre.incident.plugins.module_utils.in_process import run_steps

STALE_SECONDS = 3600  # tickets nobody redeemed (a run that ended early) are removed by a later run
POLL_SECONDS = 0.01


def _directory():
    """This user's private ticket directory, or None when it cannot be trusted (then nothing is read ahead)."""
    path = os.path.join(tempfile.gettempdir(), "sre-incident-read-ahead-%d" % os.getuid())
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return None
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


def _remove_stale(directory):
    cutoff = time.time() - STALE_SECONDS
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        try:
            if os.stat(path).st_mtime < cutoff:
                os.unlink(path)
        except OSError:
            pass


def start(steps, check_mode, max_workers):
    """Start reading steps ([(id, module, args)]) in a forked process; return the ticket ({'path': ...}) that
    redeem() takes, or None when reading ahead is not possible here (then the caller reads them itself)."""
    directory = _directory()
    if directory is None or not hasattr(os, "fork"):
        return None
    _remove_stale(directory)
    base = os.path.join(directory, uuid.uuid4().hex)
    lock = os.open(base + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.fork() == 0:  # the reader: holds the lock (inherited) until it exits
            _read(base, steps, check_mode, max_workers)
    except (OSError, Warning):  # no fork, or (warnings as errors) Python 3.12+'s warning about forking with threads
        os.unlink(base + ".lock")
        return None
    finally:
        os.close(lock)
    return {"path": base}


def _read(base, steps, check_mode, max_workers):
    """The forked reader: answer every step into <base>.json, then leave without running the worker's exit
    handlers (they belong to the worker)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        answers = run_steps([(module, args) for _step_id, module, args in steps], check_mode, max_workers)
        data = dict((step_id, {"answer": answer, "seconds": seconds}) for (step_id, _module, _args), (answer, seconds)
                    in zip(steps, answers))
        partial = base + ".part"
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            json.dump(data, handle, default=str)  # as a module's JSON answer would carry it
        os.replace(partial, base + ".json")
        code = 0
    finally:
        os._exit(code)  # pylint: disable=protected-access


def redeem(ticket, wait_seconds):
    """{id: {'answer': ..., 'seconds': ...}} of a ticket, waiting for the reader up to wait_seconds; None when the
    reader died without answering, took too long, or the ticket is not this machine's (the caller then reads)."""
    base = ticket.get("path") if isinstance(ticket, dict) else None
    directory = _directory()
    if not base or directory is None or os.path.dirname(base) != directory:
        return None
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            with open(base + ".json") as handle:
                answers = json.load(handle)
        except FileNotFoundError:
            answers = None
        except ValueError:
            answers = {}
        if answers is not None or not _reader_alive(base) or time.monotonic() > deadline:
            for suffix in (".json", ".lock", ".part"):
                try:
                    os.unlink(base + suffix)
                except OSError:
                    pass
            return answers or None
        time.sleep(POLL_SECONDS)


def _reader_alive(base):
    try:
        handle = os.open(base + ".lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return os.path.exists(base + ".json")  # lock free: the reader is gone; answered only if it wrote
    except BlockingIOError:
        return True
    finally:
        os.close(handle)
