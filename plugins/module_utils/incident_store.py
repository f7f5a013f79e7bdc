# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident store: one directory per incident, shared by the incident_record module, the timeline callback and
whatever reads an incident later (post-mortem, lookups).

Layout::

    <store>/.lock                               flock'ed for every read-modify-write and timeline append
    <store>/<service>-<YYYYmmddTHHMMSSZ>/       one incident (the id: service + detected_at in UTC)
        record.json                             the record (written atomically: temp file, fsync, rename)
        timeline.jsonl                          one JSON object a line, appended by the timeline callback

Rules of a record ("updated, never overwritten"): detected_at, acknowledged_at, resolved_at, created_by and
created_at are set once; lists only grow; severity and status may change, and every change is appended to
severity_history / status_history.

Everything but the file handling is a pure function of its arguments (see apply_update), so it is unit-tested
without a file system. Errors are IncidentStoreError with a message meant for the user, never a traceback.
"""

from __future__ import annotations

import copy
import datetime
import errno
import fcntl
import json
import os
import re
import tempfile
import time

from ansible_collections.sre.incident.plugins.module_utils.common import ID_STAMP, parse_time

DIR_MODE = 0o750
FILE_MODE = 0o640
LOCK_NAME = ".lock"
RECORD_NAME = "record.json"
TIMELINE_NAME = "timeline.jsonl"
DEFAULT_LOCK_TIMEOUT = 10.0

STATUSES = ("investigating", "identified", "mitigated", "resolved")
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
LIST_FIELDS = ("runs", "actions", "notifications", "escalations", "severity_history", "status_history")
# Set once, never replaced (set_once may fill them when they are still empty).
WRITE_ONCE = ("detected_at", "acknowledged_at", "resolved_at", "created_by", "created_at")
# Keys only incident_record's own options may set.
MANAGED = ("id", "service", "incident_type", "status", "severity", "severity_reason", "details", "updated_at",
           "updated_by", "severity_history", "status_history")

_ID_STAMP = ID_STAMP
_SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class IncidentStoreError(Exception):
    """A readable, one-line reason; the store was left as it was."""


# ---------------------------------------------------------------------------------------------------------------
# time
# ---------------------------------------------------------------------------------------------------------------

def iso_utc(epoch):
    """Epoch seconds -> 2026-11-27T18:15:00Z (whole seconds, as every record time stamp)."""
    return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_utc_ms(epoch):
    """Epoch seconds -> 2026-11-27T18:15:00.123Z (the timeline's precision)."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (moment.microsecond // 1000)


def normalize_time(value, now=None):
    """Any time parse_time reads -> ISO UTC string; None stays None."""
    if value is None:
        return None
    return iso_utc(parse_time(value, now))


# ---------------------------------------------------------------------------------------------------------------
# ids and paths
# ---------------------------------------------------------------------------------------------------------------

def check_service(service):
    if not isinstance(service, str) or not _SERVICE.match(service):
        raise IncidentStoreError("service %r cannot name an incident: use letters, digits, '.', '_' and '-' "
                                 "(it is part of a directory name)" % (service,))
    return service


def make_incident_id(service, detected_epoch):
    """sample-service + 2026-11-27T18:15:00Z -> sample-service-20261127T181500Z."""
    stamp = datetime.datetime.fromtimestamp(int(detected_epoch), tz=datetime.timezone.utc).strftime(_ID_STAMP)
    return "%s-%s" % (check_service(service), stamp)


def _id_pattern(service):
    return re.compile(r"^%s-(\d{8}T\d{6}Z)$" % re.escape(service))


def id_detected_at(service, incident_id):
    """The detected_at (ISO UTC) an id of this service encodes, or None when the id is not <service>-<stamp>."""
    match = _id_pattern(service).match(incident_id or "")
    if not match:
        return None
    try:
        return iso_utc(parse_time(match.group(1)))
    except ValueError:
        return None


def check_incident_id(incident_id):
    if not isinstance(incident_id, str) or not _SERVICE.match(incident_id):
        raise IncidentStoreError("incident_id %r is not an incident id (expected <service>-<YYYYmmddTHHMMSSZ>)" % (incident_id,))
    return incident_id


def incident_dir(store, incident_id):
    return os.path.join(store, check_incident_id(incident_id))


def record_path(store, incident_id):
    return os.path.join(incident_dir(store, incident_id), RECORD_NAME)


def timeline_path(store, incident_id):
    return os.path.join(incident_dir(store, incident_id), TIMELINE_NAME)


def store_of_timeline(path):
    """<store>/<id>/timeline.jsonl -> <store>."""
    return os.path.dirname(os.path.dirname(os.path.abspath(path)))


# ---------------------------------------------------------------------------------------------------------------
# locking and writing
# ---------------------------------------------------------------------------------------------------------------

class StoreLock:
    """Exclusive (or shared) flock on <store>/.lock, waited for up to `timeout` seconds.

    shared=True never creates the lock file: when it does not exist yet there is nothing to read consistently, and
    a check-mode run must write nothing, not even a lock file.
    """

    def __init__(self, store, timeout=DEFAULT_LOCK_TIMEOUT, shared=False, interval=0.05):
        self.path = os.path.join(store, LOCK_NAME)
        self.timeout = float(timeout)
        self.shared = shared
        self.interval = interval
        self._fd = None

    def __enter__(self):
        try:
            if self.shared:
                try:
                    self._fd = os.open(self.path, os.O_RDONLY)
                except OSError as exc:
                    if exc.errno == errno.ENOENT:
                        return self
                    raise
            else:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise IncidentStoreError("incident store: cannot open the lock file %s: %s" % (self.path, exc.strerror or exc))
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self._fd, mode | fcntl.LOCK_NB)
                return self
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    self._close()
                    raise IncidentStoreError("incident store: cannot lock %s: %s" % (self.path, exc.strerror or exc))
            if time.monotonic() >= deadline:
                self._close()
                raise IncidentStoreError(
                    "incident store: could not lock %s within %g s - another run is writing incidents (find it with "
                    "`fuser %s`); nothing was changed, run again when it has finished" % (self.path, self.timeout, self.path))
            time.sleep(self.interval)

    def _close(self):
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    def __exit__(self, *exc_info):
        self._close()
        return False


def ensure_dir(path):
    """mkdir -p with 0o750 for every directory this creates (whatever the umask)."""
    if os.path.isdir(path):
        return
    parent = os.path.dirname(os.path.abspath(path))
    if parent != path:
        ensure_dir(parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return
    os.chmod(path, DIR_MODE)


def write_json_atomic(path, data):
    """Write data as JSON to path: temp file in the same directory, fsync, rename over, fsync the directory."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = None
            json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        tmp = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


def append_lines(path, lines, timeout=DEFAULT_LOCK_TIMEOUT):
    """Append text lines (each without its newline) to path under the store lock, in one O_APPEND write.

    Concurrent writers (two playbook runs, several hosts) interleave whole lines only. Creates the file 0o640; the
    incident's directory must exist (incident_record created it).
    """
    if not lines:
        return 0
    data = "".join(line.rstrip("\n") + "\n" for line in lines).encode("utf-8")
    with StoreLock(store_of_timeline(path), timeout=timeout):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    return len(lines)


# ---------------------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------------------

def load_record(path):
    """The record at path, None when there is none. A file that is not a JSON object fails, naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IncidentStoreError("incident store: cannot read %s: %s" % (path, exc.strerror or exc))
    try:
        record = json.loads(text)
    except ValueError as exc:
        raise IncidentStoreError("incident store: %s is not valid JSON (%s); it was left untouched - repair it or move "
                                 "it aside" % (path, exc))
    if not isinstance(record, dict):
        raise IncidentStoreError("incident store: %s holds a %s, not an incident record (a JSON object); it was left "
                                 "untouched - repair it or move it aside" % (path, type(record).__name__))
    return record


def is_open(record):
    return record.get("status") != "resolved"


def find_open(store, service):
    """(incident_id, record) of the newest unresolved incident of service, or (None, None).

    Newest = latest detected_at, which the id encodes, so ids sort in time order.
    """
    check_service(service)
    pattern = _id_pattern(service)
    try:
        names = os.listdir(store)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise IncidentStoreError("incident store: cannot list %s: %s" % (store, exc.strerror or exc))
    for name in sorted((n for n in names if pattern.match(n)), reverse=True):
        record = load_record(os.path.join(store, name, RECORD_NAME))
        if record is not None and record.get("service") == service and is_open(record):
            return name, record
    return None, None


# ---------------------------------------------------------------------------------------------------------------
# merge rules (pure)
# ---------------------------------------------------------------------------------------------------------------

def new_record(incident_id, service, detected_at, by, now_iso):
    return {
        "id": incident_id, "service": service, "incident_type": None, "status": None, "severity": None,
        "severity_reason": None, "detected_at": detected_at, "acknowledged_at": None, "resolved_at": None,
        "created_by": by, "created_at": now_iso, "updated_at": now_iso, "updated_by": by, "details": {},
        "runs": [], "actions": [], "notifications": [], "escalations": [], "severity_history": [], "status_history": [],
    }


def deep_merge(base, update):
    """base updated with update, recursively for dicts; other values replace; None never erases a value."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        elif value is None:
            continue
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _empty(value):
    return value is None or value == "" or value == [] or value == {}


SET_ONCE_RESERVED = {
    "id": "the id never changes", "service": "the service never changes", "created_by": "set when the record is created",
    "created_at": "set when the record is created", "updated_at": "kept by the module", "updated_by": "kept by the module",
    "incident_type": "use the incident_type option", "status": "use the status option",
    "severity": "use the severity option", "severity_reason": "use the severity_reason option",
    "resolved_at": "use resolved=true (it also sets the status)", "details": "use the fields option",
}
SET_ONCE_RESERVED.update((name, "it is a list: use the append option") for name in LIST_FIELDS)
APPEND_RESERVED = dict((key, "it is not a list") for key in MANAGED + WRITE_ONCE)
APPEND_RESERVED.update(severity_history="kept by the module (use the severity option)",
                       status_history="kept by the module (use the status or resolved option)")


def _reserved(name, reserved):
    if not isinstance(name, str) or not _NAME.match(name):
        return "use a lower_case name (letters, digits, _)"
    return reserved.get(name)


def apply_update(record, update, now, by):
    """The record after one incident_record call, and the top-level keys that changed. record is not modified.

    update keys (all optional): incident_type, status, severity, severity_reason, detected_at, fields, append,
    set_once, resolved. now is epoch seconds. Raises IncidentStoreError for contradictory or reserved input.
    """
    now_iso = iso_utc(now)
    after = copy.deepcopy(record)
    for name in LIST_FIELDS:
        if not isinstance(after.get(name), list):
            if after.get(name) is not None:
                raise IncidentStoreError("record field %s is a %s, not a list; refusing to change it"
                                         % (name, type(after[name]).__name__))
            after[name] = []
    if not isinstance(after.get("details"), dict):
        if after.get("details") is not None:
            raise IncidentStoreError("record field details is not an object; refusing to change it")
        after["details"] = {}

    status = update.get("status")
    if update.get("resolved"):
        if status not in (None, "resolved"):
            raise IncidentStoreError("resolved=true contradicts status=%s" % status)
        status = "resolved"
    if status is not None and status not in STATUSES:
        raise IncidentStoreError("status %r is not one of %s" % (status, ", ".join(STATUSES)))
    severity = update.get("severity")
    if severity is not None and severity not in SEVERITIES:
        raise IncidentStoreError("severity %r is not one of %s" % (severity, ", ".join(SEVERITIES)))
    current = after.get("severity")
    if (severity is not None and update.get("severity_only_up") and current in SEVERITIES
            and SEVERITIES.index(severity) > SEVERITIES.index(current)):
        severity = None  # a triage while the incident recovers must not lower what it was
        update = dict(update, severity_reason=None)

    if _empty(after.get("detected_at")) and update.get("detected_at") is not None:
        after["detected_at"] = normalize_time(update["detected_at"], now)
    if update.get("incident_type") is not None:
        after["incident_type"] = update["incident_type"]
    if status is not None and status != after.get("status"):
        after["status_history"].append({"at": now_iso, "from": after.get("status"), "to": status, "by": by})
        after["status"] = status
    if status == "resolved" and _empty(after.get("resolved_at")):
        after["resolved_at"] = now_iso
    if severity is not None and severity != after.get("severity"):
        after["severity_history"].append({"at": now_iso, "from": after.get("severity"), "to": severity,
                                          "reason": update.get("severity_reason"), "by": by})
        after["severity"] = severity
        after["severity_reason"] = update.get("severity_reason")  # the old reason was the old severity's
    elif update.get("severity_reason") is not None:
        after["severity_reason"] = update["severity_reason"]

    for key, value in (update.get("set_once") or {}).items():
        reason = _reserved(key, SET_ONCE_RESERVED)
        if reason:
            raise IncidentStoreError("set_once cannot set %r: %s" % (key, reason))
        if not _empty(after.get(key)) or value is None:
            continue
        if key.endswith("_at"):
            try:
                value = normalize_time(value, now)
            except ValueError as exc:
                raise IncidentStoreError("set_once %s: %s" % (key, exc))
        after[key] = copy.deepcopy(value)

    if update.get("fields"):
        after["details"] = deep_merge(after["details"], update["fields"])

    for name, items in (update.get("append") or {}).items():
        reason = _reserved(name, APPEND_RESERVED)
        if reason:
            raise IncidentStoreError("append cannot add to %r: %s" % (name, reason))
        current = after.get(name)
        if current is None:
            current = after[name] = []
        elif not isinstance(current, list):
            raise IncidentStoreError("append: record field %s is a %s, not a list" % (name, type(current).__name__))
        if not isinstance(items, list):
            items = [items]
        known_ids = {item.get("id") for item in current if isinstance(item, dict) and item.get("id") is not None}
        for item in items:
            if isinstance(item, dict):
                if item.get("id") is not None and item["id"] in known_ids:
                    continue  # an item with an id is appended once (idempotent re-runs)
                item = dict(item)
                item.setdefault("at", now_iso)
                item.setdefault("by", by)
                if item.get("id") is not None:
                    known_ids.add(item["id"])
            current.append(copy.deepcopy(item))

    changed = sorted(key for key in set(record) | set(after) if record.get(key) != after.get(key))
    if changed:
        after["updated_at"] = now_iso
        after["updated_by"] = by
    return after, changed


def diff(before, after, keys):
    """--diff of the top-level keys that changed."""
    before = before or {}
    return {"before": {key: before.get(key) for key in keys if key in before},
            "after": {key: after.get(key) for key in keys if key in after}}
