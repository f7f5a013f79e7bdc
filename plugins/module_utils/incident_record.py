# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What sre.incident.incident_record does, shared by its action plugin (which runs it on the controller, where the
timeline callback writes the same incident directory) and its module."""

from __future__ import annotations

import getpass
import os
import time

from ansible_collections.sre.incident.plugins.module_utils import incident_store as store_utils
from ansible_collections.sre.incident.plugins.module_utils.incident_store import IncidentStoreError
from ansible_collections.sre.incident.plugins.module_utils.validate import Text, Time

UPDATE_KEYS = ("incident_type", "status", "severity", "severity_only_up", "severity_reason", "detected_at", "fields", "append",
               "set_once", "resolved")


def default_user(awx_user=""):
    """Who responds: SRE_INCIDENT_USER, else the AWX user who launched the job (when given), else the OS user."""
    user = os.environ.get("SRE_INCIDENT_USER") or awx_user
    if user:
        return user
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry (containers): the uid is still who it was
        return "uid:%d" % os.getuid()


def locate(store, params, now):
    """(incident_id, record or None, creating) for the parameters; raises IncidentStoreError."""
    service = params["service"]
    if params["incident_id"]:
        incident_id = store_utils.check_incident_id(params["incident_id"])
        record = store_utils.load_record(store_utils.record_path(store, incident_id))
        if record is not None:
            if record.get("service") != service:
                raise IncidentStoreError("incident %s belongs to service %s, not %s" % (incident_id, record.get("service"), service))
            return incident_id, record, False
        if not params["open"]:
            return None, None, False
        if store_utils.id_detected_at(service, incident_id) is None:
            raise IncidentStoreError("incident %s does not exist, and cannot be opened under that id: the form is "
                                     "%s-<YYYYmmddTHHMMSSZ>" % (incident_id, service))
        return incident_id, None, True
    incident_id, record = store_utils.find_open(store, service)
    if record is not None:
        return incident_id, record, False
    if not params["open"]:
        return None, None, False
    detected = store_utils.parse_time(params["detected_at"], now) if params["detected_at"] is not None else now
    incident_id = store_utils.make_incident_id(service, detected)
    # Same service, same detection second: the same incident (for example resolved, and its playbook run again).
    record = store_utils.load_record(store_utils.record_path(store, incident_id))
    return incident_id, record, record is None


def plan(store, params, now, by):
    """Everything the module returns, without writing; raises IncidentStoreError."""
    incident_id, before, creating = locate(store, params, now)
    if incident_id is None:
        return dict(changed=False, found=False, created=False, incident_id=None, record=None, path=None,
                    incident_dir=None, timeline_path=None, changed_fields=[], msg="no open incident for %s" % params["service"])
    update = {key: params[key] for key in UPDATE_KEYS}
    if creating:
        base = store_utils.new_record(incident_id, params["service"], None, by, store_utils.iso_utc(now))
        # the id encodes detected_at: an id given by the caller wins over the detected_at option
        update["detected_at"] = store_utils.id_detected_at(params["service"], incident_id)
        if update["status"] is None and not update["resolved"]:
            update["status"] = "investigating"
    else:
        base = before
    after, changed_fields = store_utils.apply_update(base, update, now, by)
    if creating:
        changed_fields = sorted(after)
    result = dict(changed=creating or bool(changed_fields), found=not creating, created=creating,
                  incident_id=incident_id, record=after, path=store_utils.record_path(store, incident_id),
                  incident_dir=store_utils.incident_dir(store, incident_id),
                  timeline_path=store_utils.timeline_path(store, incident_id), changed_fields=changed_fields,
                  diff=store_utils.diff(before, after, changed_fields))
    verb = "opened" if creating else ("updated" if changed_fields else "unchanged:")
    result["msg"] = "%s incident %s (%s, %s)" % (verb, incident_id, after.get("status"), after.get("severity") or "severity not set")
    return result


ARGUMENT_SPEC = dict(
    store=dict(type="path", required=True),
    service=dict(type="str", required=True),
    incident_id=dict(type="str"),
    open=dict(type="bool", default=True),
    incident_type=dict(type="str"),
    status=dict(type="str", choices=list(store_utils.STATUSES)),
    severity=dict(type="str", choices=list(store_utils.SEVERITIES)),
    severity_only_up=dict(type="bool", default=False),
    severity_reason=dict(type="str"),
    detected_at=dict(type="raw"),
    by=dict(type="str"),
    fields=dict(type="dict"),
    append=dict(type="dict"),
    set_once=dict(type="dict"),
    resolved=dict(type="bool", default=False),
    lock_timeout=dict(type="float", default=store_utils.DEFAULT_LOCK_TIMEOUT),
)
# Bounds beyond the types (module_utils/validate.py); lock_timeout has the shared one.
LIMITS = dict(store=Text(None, "a directory path of at most 4096 characters", max_length=4096),
              incident_id=Text(r"[A-Za-z0-9._-]{1,255}", "letters, digits and ._- (at most 255)", max_length=255),
              detected_at=Time())


def record(params, check_mode):
    """The result of one incident_record call with validated params; raises IncidentStoreError with one line."""
    store = os.path.abspath(params["store"])
    by = params["by"] or default_user()
    now = time.time()
    try:
        store_utils.check_service(params["service"])
        if params["detected_at"] is not None:
            try:
                store_utils.parse_time(params["detected_at"], now)
            except ValueError as exc:
                raise IncidentStoreError("option detected_at: %s" % exc)
        if os.path.exists(store) and not os.path.isdir(store):
            raise IncidentStoreError("incident store: %s is not a directory" % store)
        if check_mode:
            with store_utils.StoreLock(store, timeout=params["lock_timeout"], shared=True):
                result = plan(store, params, now, by)
            result["timeline_path"] = None
            if result["changed"]:
                result["msg"] = "would have " + result["msg"].replace("unchanged:", "updated")
            return result
        if not os.path.isdir(store):
            result = plan(store, params, now, by)  # an empty store: nothing to lock or read yet
            if not result["changed"]:
                return result  # open=false and no incident: not even the store is created
            store_utils.ensure_dir(store)
        with store_utils.StoreLock(store, timeout=params["lock_timeout"]):
            result = plan(store, params, now, by)
            if result["changed"]:
                store_utils.ensure_dir(result["incident_dir"])
                store_utils.write_json_atomic(result["path"], result["record"])
        return result
    except OSError as exc:
        raise IncidentStoreError("incident store %s: %s (%s); check that the directory exists and is writable by %s"
                                 % (store, exc.strerror or exc, exc.filename or store, by))
