# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: timeline
type: notification
short_description: Record every meaningful step of a run in the incident's timeline
version_added: 0.1.0
description:
  - The runbook's "Document incident timeline", written by the run itself. Appends one JSON object a line to the
    C(timeline.jsonl) of the incident a host works on - every task that ran (not skipped), with its start and end
    time in UTC, duration, host, play, role, task, action, status and a short summary, plus a C(playbook_start) and a
    C(playbook_end) line (with that host's stats) per run.
  - A host's timeline is the one the P(sre.incident.incident_record#module) module returns as C(timeline_path).
    Steps of a host that ran before that task are kept in memory and written once the path is known; steps of a
    host that never learns one are dropped at the end of the run. A check-mode C(incident_record) returns no path,
    so C(--check) runs record nothing.
  - "Left out: skipped tasks and the bookkeeping actions C(set_fact), C(set_stats), C(include_vars),
    C(validate_argument_spec), C(meta), C(include_*)/C(import_*), C(gather_facts)/C(setup) and an C(assert) that
    passed - unless they failed. C(debug) is kept: a diagnosis prints its summary with it."
  - >-
    Never records module arguments. The summary is the result's C(msg) (the first 3 lines, at most 300
    characters) or just the status; the summary of a C(no_log) result only says that its output is hidden. Passwords in
    C(key=value) form, credentials in URLs (C(postgresql://user:****@host)), Slack tokens (C(xoxb-...)) and
    C(Bearer)/C(Basic) authorization values are masked in summaries, task and play names.
  - Writing happens under the incident store's lock with one C(O_APPEND) write, so concurrent runs interleave whole
    lines. A failure to write never fails the playbook; it is reported as one warning.
author:
  - sre.incident maintainers (@sre-incident)
requirements:
  - Enable it in ansible.cfg (C(callbacks_enabled = sre.incident.timeline)) or with
    E(ANSIBLE_CALLBACKS_ENABLED=sre.incident.timeline).
options:
  enabled_in_check_mode:
    description:
      - Also record C(--check) runs, in the timeline of an incident that already exists (C(incident_record) then
        returns no C(timeline_path); its C(incident_dir) is used when C(found) is true). Their lines carry
        C(check_mode=true).
      - By default a C(--check) run records nothing.
    type: bool
    default: false
    env:
      - name: SRE_INCIDENT_TIMELINE_CHECK_MODE
    ini:
      - section: callback_timeline
        key: enabled_in_check_mode
  lock_timeout:
    description: Seconds to wait for the incident store's lock for one append. On a timeout (or any write error) a
      warning says so and the host's lines are kept and tried once more at the end of the run.
    type: float
    default: 5
    env:
      - name: SRE_INCIDENT_TIMELINE_LOCK_TIMEOUT
    ini:
      - section: callback_timeline
        key: lock_timeout
"""

import functools
import json
import os
import re
import time
import uuid

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.sre.incident.plugins.module_utils import incident_store
from ansible_collections.sre.incident.plugins.module_utils.incident_record import default_user

SUMMARY_MAX = 300
SUMMARY_LINES = 3
LINE_MAX = 1000  # longest line looked at; the summary keeps SUMMARY_MAX characters anyway
BUFFER_MAX = 5000  # steps kept per host before its timeline path is known
NO_LOG_SUMMARY = "(output hidden: no_log)"


def _fqcns(*names):
    return frozenset(name for short in names for name in (short, "ansible.builtin." + short, "ansible.legacy." + short))


# Recorded only when they fail.
BOOKKEEPING = _fqcns("set_fact", "set_stats", "include_vars", "validate_argument_spec", "meta", "include_tasks",
                     "include_role", "import_tasks", "import_role", "import_playbook", "include", "assert",
                     "gather_facts", "setup", "add_host", "group_by")

# Word characters only around the key word (\w never crosses a "." or "-"), so that a match is tried at word starts
# only and costs the length of one word: every pattern here runs in linear time on any text.
_SECRET_KEY = r"\w*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|app[_-]?key|authorization|credentials?)\w*"
REDACTIONS = (
    # scheme://user:password@host  ->  scheme://user:****@host
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s:/@]*:)[^\s@/]+@"), r"\1****@"),
    # Bearer <token>, Authorization: Basic <credentials>
    (re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE), r"\1****"),
    (re.compile(r"(Authorization[\"']?\s*[=:]\s*[\"']?Basic\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1****"),
    # Slack tokens: xoxb-..., xoxp-..., xapp-...
    (re.compile(r"\b(xox[abposer]|xapp)-[A-Za-z0-9-]+"), r"\1-****"),
    # password=..., "api_key": "...", PGPASSWORD='...'
    (re.compile(r"(?i)(\b%s\b[\"']?\s*[=:]\s*)(?!(?:Bearer|Basic)\s)(\"[^\"]*\"|'[^']*'|[^\s,;&\"'}\]]+)" % _SECRET_KEY),
     r"\1****"),
)


def redact(text):
    """text with the secrets REDACTIONS recognise masked."""
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(_text(item) for item in value)
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)


def _cut(line):
    """A line of at most LINE_MAX characters; a cut drops the token it would split, so no half secret stays behind."""
    if len(line) <= LINE_MAX:
        return line
    head = line[:LINE_MAX].rsplit(None, 1)
    return (head[0] if len(head) == 2 else "") + " ..."


def shorten(value):
    """The first SUMMARY_LINES non-empty lines joined with ' | ', secrets masked, at most SUMMARY_MAX characters."""
    lines = [_cut(line.strip()) for line in _text(value).splitlines() if line.strip()]
    text = redact(" | ".join(lines[:SUMMARY_LINES]))
    if len(text) > SUMMARY_MAX:
        text = text[:SUMMARY_MAX - 3].rstrip() + "..."
    return text


def summarize(result, status, action, no_log):
    """The short text of one task result for the timeline (never the module's arguments)."""
    if no_log or result.get("_ansible_no_log") or "censored" in result:
        return NO_LOG_SUMMARY
    msg = result.get("msg")
    if msg not in (None, "", []):
        text = shorten(msg)
    elif isinstance(result.get("results"), list):
        items = [item for item in result["results"] if isinstance(item, dict)]
        if any(item.get("_ansible_no_log") for item in items):
            return NO_LOG_SUMMARY
        changed = sum(1 for item in items if item.get("changed"))
        failed = sum(1 for item in items if item.get("failed"))
        text = "%d items: %d changed, %d failed" % (len(result["results"]), changed, failed)
    elif action in _fqcns("debug"):
        shown = [(key, value) for key, value in result.items() if not key.startswith("_") and key not in ("changed", "failed")]
        text = shorten("%s: %s" % (shown[0][0], _text(shown[0][1]))) if shown else status
    else:
        text = status
    if isinstance(result.get("rc"), int) and (status == "failed" or not msg):
        text = "%s (rc %d)" % (text, result["rc"])
    return text


def _safe(method):
    """A callback event never fails the playbook: the first error of each kind becomes one warning."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - recording must never break the run
            self._warn_once("internal", "sre.incident.timeline: not recording (%s: %s)" % (type(exc).__name__, exc))
            return None
    return wrapper


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "sre.incident.timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run_id = str(uuid.uuid4())
        self.playbook = None
        self.play = None
        self.started = time.time()
        self.paths = {}          # host -> timeline path
        self.pending = {}        # host -> [event dict] not written yet
        self.seen = set()        # hosts that have a playbook_start line
        self.task_started = {}   # task uuid -> time the task started
        self.host_started = {}   # (host, task uuid) -> time the task started on that host
        self.warned = set()
        self.write_failed = set()
        self.user = default_user()

    # --- options -------------------------------------------------------------------------------------------------

    def _option(self, name, default):
        try:
            value = self.get_option(name)
        except KeyError:
            return default
        return default if value is None else value

    def _run_in_check_mode(self):
        return bool(context.CLIARGS.get("check", False))

    def _active(self):
        return not self._run_in_check_mode() or self._option("enabled_in_check_mode", False)

    def _warn_once(self, key, message):
        if key not in self.warned:
            self.warned.add(key)
            self._display.warning(message)

    # --- events --------------------------------------------------------------------------------------------------

    @_safe
    def v2_playbook_on_start(self, playbook):
        self.started = time.time()
        self.playbook = os.path.basename(getattr(playbook, "_file_name", None) or "") or None
        self.seen = set()

    @_safe
    def v2_playbook_on_play_start(self, play):
        self.play = redact(_cut(play.get_name().strip())) if play is not None else None

    @_safe
    def v2_playbook_on_task_start(self, task, is_conditional):
        self.task_started[task._uuid] = time.time()

    @_safe
    def v2_playbook_on_handler_task_start(self, task):
        self.task_started[task._uuid] = time.time()

    @_safe
    def v2_runner_on_start(self, host, task):
        self.host_started[(host.get_name(), task._uuid)] = time.time()

    @_safe
    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if result.is_changed() else "ok")

    @_safe
    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed", ignore_errors=ignore_errors)

    @_safe
    def v2_runner_on_skipped(self, result):
        self.host_started.pop((result.host.get_name(), result.task._uuid), None)  # never recorded

    @_safe
    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")

    @_safe
    def v2_playbook_on_stats(self, stats):
        end = time.time()
        for host in sorted(set(self.pending) | set(self.paths)):
            if host not in self.paths:
                continue
            summary = stats.summarize(host)
            status = "failed" if summary.get("failures") or summary.get("unreachable") else "ok"
            self._queue(host, dict(self._base("playbook_end", host, self.started, end), status=status, stats=summary))
        for host in list(self.pending):
            if host in self.paths:
                self._flush(host, final=True)
        self.pending = {}

    # --- recording -----------------------------------------------------------------------------------------------

    def _base(self, event, host, start, end):
        return {"event": event, "ts": incident_store.iso_utc_ms(start), "end": incident_store.iso_utc_ms(end),
                "duration_s": round(max(0.0, end - start), 3), "host": host, "playbook": self.playbook,
                "run_id": self.run_id}

    def _record(self, result, status, ignore_errors=False):
        end = time.time()
        task, host = result.task, result.host.get_name()
        start = self.host_started.pop((host, task._uuid), None) or self.task_started.get(task._uuid) or end
        if not self._active():
            return
        data = result.result if isinstance(result.result, dict) else {}
        action = getattr(task, "resolved_action", None) or task.action
        if status in ("ok", "changed") and action in BOOKKEEPING:
            self._learn_path(host, data)
            return
        no_log = task.no_log is True
        check_mode = task.check_mode if isinstance(task.check_mode, bool) else self._run_in_check_mode()
        event = dict(self._base("task", host, start, end), play=self.play, task=redact(_cut(self._task_name(result))),
                     role=self._role(task), action=action, status=status, changed=result.is_changed(),
                     check_mode=check_mode, summary=summarize(data, status, action, no_log))
        if status == "failed" and ignore_errors:
            event["ignored"] = True
        self._queue(host, event)
        self._learn_path(host, data)
        self._flush(host)

    @staticmethod
    def _task_name(result):
        try:
            name = result.task_name  # the templated name (ansible-core 2.19+)
        except AttributeError:
            name = result.task.get_name()
        return str(name or result.task.get_name()).strip()

    @staticmethod
    def _role(task):
        role = getattr(task, "_role", None)
        if role is None:
            return None
        try:
            return role.get_name(include_role_fqcn=False)
        except TypeError:
            return role.get_name()

    def _queue(self, host, event):
        queue = self.pending.setdefault(host, [])
        if host not in self.seen:
            self.seen.add(host)
            queue.append(dict(self._base("playbook_start", host, self.started, self.started), play=self.play,
                              user=self.user, check_mode=self._run_in_check_mode()))
        if len(queue) >= BUFFER_MAX and host not in self.paths:
            del queue[1]  # keep playbook_start, drop the oldest step
            self._warn_once("buffer:" + host, "sre.incident.timeline: more than %d steps of %s before its incident is "
                            "known; the oldest are dropped" % (BUFFER_MAX, host))
        queue.append(event)

    def _learn_path(self, host, data):
        """Remember the timeline path an incident_record result (or a loop item of one) names for this host."""
        candidates = [data] + [item for item in data.get("results") or [] if isinstance(item, dict)]
        for item in candidates:
            if "timeline_path" not in item:
                continue
            path = item.get("timeline_path")
            if not path and self._run_in_check_mode() and self._option("enabled_in_check_mode", False) and item.get("found"):
                path = os.path.join(item.get("incident_dir") or "", incident_store.TIMELINE_NAME)
            if path and self._valid_path(path):
                self.paths[host] = path

    def _valid_path(self, path):
        """Only ever append to an incident's own timeline: <store>/<id>/timeline.jsonl next to its record.json."""
        if not isinstance(path, str) or os.path.basename(path) != incident_store.TIMELINE_NAME:
            self._warn_once("path:%s" % path, "sre.incident.timeline: ignoring timeline_path %r (not a timeline.jsonl)" % (path,))
            return False
        if not os.path.isfile(os.path.join(os.path.dirname(path), incident_store.RECORD_NAME)):
            self._warn_once("path:%s" % path, "sre.incident.timeline: ignoring timeline_path %s: no record.json next to it" % path)
            return False
        return True

    def _flush(self, host, final=False):
        path = self.paths.get(host)
        queue = self.pending.get(host)
        if not path or not queue:
            return
        if host in self.write_failed and not final:
            return  # retried once more at the end of the run
        lines = [json.dumps(event, sort_keys=False, default=str, ensure_ascii=False) for event in queue]
        try:
            incident_store.append_lines(path, lines, timeout=self._option("lock_timeout", 5.0))
        except (incident_store.IncidentStoreError, OSError) as exc:
            reason = str(exc) if isinstance(exc, incident_store.IncidentStoreError) else "%s: %s" % (path, exc.strerror or exc)
            if final:
                self._display.warning("sre.incident.timeline: %d step(s) of %s were not written to %s - %s"
                                      % (len(queue), host, path, reason))
            else:
                self.write_failed.add(host)
                self._warn_once("write:" + host, "sre.incident.timeline: cannot write %s's timeline now (%s); will retry "
                                "at the end of the run" % (host, reason))
            return
        self.write_failed.discard(host)
        self.pending[host] = []
