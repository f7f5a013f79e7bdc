# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers every sre.incident module shares: durations, waiting, time stamps."""

from __future__ import annotations

import datetime
import re
import time

# Options of every module that waits (documented once in the sre.incident.wait doc fragment).
WAIT_ARGUMENT_SPEC = dict(
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=600),
    wait_interval=dict(type="float", default=5),
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value):
    """Turn 600, "600", "10m", "1.5h" into seconds (float). Raises ValueError with a readable reason."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("duration must not be negative, got %s" % value)
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError("cannot read %r as a duration; use seconds or a number with ms/s/m/h/d, e.g. 10m" % (value,))
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def module_duration(module, name):
    """parse_duration for a module option; fails the module with the option's name on bad input."""
    try:
        return parse_duration(module.params[name])
    except ValueError as exc:
        module.fail_json(msg="option %s: %s" % (name, exc))


# An incident id's stamp (sample-service-20261127T181500Z), also accepted as a time.
ID_STAMP = "%Y%m%dT%H%M%SZ"


def parse_time(value, now=None):
    """ISO 8601 (Z, an offset, or naive = UTC), epoch seconds (number or digits) or "now" -> epoch seconds.

    Raises ValueError with a readable reason.
    """
    if isinstance(value, bool):
        raise ValueError("cannot read %r as a time" % (value,))
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.lower() == "now":
        return time.time() if now is None else float(now)
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    iso = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        parsed = datetime.datetime.fromisoformat(iso)
    except ValueError:
        try:  # 20261127T181500Z, the id's own form
            parsed = datetime.datetime.strptime(text, ID_STAMP)
        except ValueError:
            raise ValueError("cannot read %r as a time; use ISO 8601 (2026-11-27T18:15:00Z), epoch seconds or now" % (text,))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


def to_epoch(value):
    """parse_time, but None (or "") for no time at all - for records whose times may not be set yet."""
    return None if value in (None, "") else parse_time(value)


def metric_value(metrics, name, key="latest"):
    """A metric given as a number or as a datadog_metric_query summary (its "latest", "avg", ...) -> float or None."""
    value = (metrics or {}).get(name)
    if isinstance(value, dict):
        value = value.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def utc_iso(epoch_seconds):
    return datetime.datetime.fromtimestamp(epoch_seconds, tz=datetime.timezone.utc).isoformat().replace("+00:00", "Z")


class WaitTimeout(Exception):
    """Raised by wait_for when the condition did not hold in time; carries the last observation."""

    def __init__(self, message, last=None):
        super().__init__(message)
        self.last = last


def wait_for(fetch, done, timeout, interval=2.0, clock=time.monotonic, sleep=time.sleep, first_interval=None):
    """Call fetch() until done(result) is true; return (result, seconds waited).

    done() may raise to stop early (e.g. a deployment that FAILED). On timeout, WaitTimeout
    carries the last result so the caller can say what it saw. With first_interval, the pauses start there and
    double up to interval: an answer that is often ready within a second is seen when it is.
    """
    start = clock()
    pause = min(first_interval or interval, interval)
    while True:
        result = fetch()
        if done(result):
            return result, round(clock() - start, 1)
        if clock() - start >= timeout:
            raise WaitTimeout("not done after %ss" % int(timeout), last=result)
        sleep(min(pause, max(0.05, timeout - (clock() - start))))
        pause = min(pause * 2, interval)


# The run's deadline (epoch seconds): the incident frame gives it to every module (sre.incident.deadline fragment).
DEADLINE_ARGUMENT_SPEC = dict(deadline=dict(type="float"))


class DeadlinePassed(Exception):
    """A call that was not sent because the run's deadline had passed."""

    def __init__(self, seconds_ago):
        super().__init__("the run's deadline passed %d s ago; not sent, nothing changed by this call" % max(0, seconds_ago))
        self.seconds_ago = seconds_ago


def time_left(params, now=None):
    """Seconds until the run's deadline (negative once passed), or None when the module has no deadline."""
    deadline = (params or {}).get("deadline")
    if deadline is None:
        return None
    return float(deadline) - (time.time() if now is None else now)


def bounded(seconds, params, now=None):
    """seconds, or the time left before the run's deadline when that is shorter (a call then fails as timed out)."""
    left = time_left(params, now)
    return seconds if left is None else min(seconds, max(left, 0.1))


def check_deadline(module, backend):
    """Fails the module before it does anything once the run's deadline passed; cuts its waits (wait_timeout, and
    timeout where a module waits with it) to the time left."""
    left = time_left(module.params)
    if left is None:
        return
    if left <= 0:
        module.fail_json(msg="%s: the run's deadline passed %d s ago; nothing changed" % (backend, -left), deadline_passed=True)
    if module.params.get("wait_timeout") is not None:
        module.params["wait_timeout"] = max(1, min(module.params["wait_timeout"], int(left)))
    if isinstance(module.params.get("timeout"), (int, float)) and not isinstance(module.params["timeout"], bool):
        module.params["timeout"] = min(module.params["timeout"], round(left, 1))


def deadline_note(params):
    """' - the run's deadline came first' when a wait ended at the deadline rather than its own wait_timeout."""
    left = time_left(params)
    return " - the run's deadline came first" if left is not None and left < 1 else ""
