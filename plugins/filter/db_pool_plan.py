# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json

from ansible_collections.sre.incident.plugins.module_utils.common import metric_value
from ansible_collections.sre.incident.plugins.plugin_utils.evidence import Evidence

DOCUMENTATION = r"""
name: db_pool_plan
short_description: Turn a connection-pool diagnosis into findings and the runbook options to take
version_added: 0.1.0
description:
  - Reads M(sre.incident.postgres_activity_info), the pool metrics and the count of "too many connections" log
    lines, and decides as the runbook's "Database Connection Pool Exhausted" section does.
  - Nothing exhausted (the application's role below its connection limit, server usage under O(usage_percent),
    pool connections available) gives C(none). Past errors in the logs are reported, never acted on.
  - The database side exhausted - options 1 C(kill_idle) and/or 2 C(kill_long_running) for the application's stale
    sessions (the least harm first, both when both kinds exist); with none stale, 3 C(restart) resets the
    application's pool.
  - Only the application's pool at its maximum while the database has room - 4 C(raise_pool) (MAX_DB_CONNECTIONS up
    to O(raise_to)) when the extra connections fit into the free slots; otherwise C(restart).
author:
  - sre.incident maintainers (@sre-incident)
positional: app_user
options:
  _input:
    description: Evidence - C(activity) (postgres_activity_info result), C(metrics) (C(pool_size), C(pool_available)
      as numbers or datadog_metric_query summaries), C(errors) (count of "too many connections" log lines),
      C(errors_truncated) (more lines matched than were read), C(error_sample) (one such line or null).
    type: dict
    required: true
  app_user:
    description: The application's database role; only its sessions are candidates.
    type: str
    required: true
  usage_percent:
    description: Server connection usage at or above which the database counts as exhausted.
    type: float
    default: 80
  raise_to:
    description: The pool size option 4 raises MAX_DB_CONNECTIONS to.
    type: int
    default: 30
  pool_instances:
    description: How many pools of that size share the database (the task count when every task has its own pool).
    type: int
    default: 1
"""

EXAMPLES = r"""
- name: Decide the resolution options
  ansible.builtin.set_fact:
    postgres_diagnose_result: "{{ evidence | sre.incident.db_pool_plan('sample_app', usage_percent=80) }}"
"""

RETURN = r"""
_value:
  description: healthy, findings, suspected_cause, recommended_options (list), recommended_option (joined with +),
    option_labels, option_reason, candidates (kill_idle and kill_long_running counts), pool (size, available),
    pool_raise (to, extra, free, fits, why), thresholds (idle_seconds, running_seconds), incident, refused (why no
    fix is recommended although one may be needed, else empty), corroborated_by, automation_errors,
    missing_evidence, missing_reads.
  type: dict
"""

READ_LABELS = {"activity": "PostgreSQL (pg_stat_activity)", "pool": "Datadog (pool metrics)",
               "logs": "CloudWatch Logs (connection errors)"}

LABELS = {
    "kill_idle": "1 (kill idle connections)",
    "kill_long_running": "2 (kill long-running queries)",
    "restart": "3 (restart the application)",
    "raise_pool": "4 (raise the connection pool, temporary)",
    "none": "none",
}


def _counts(mapping):
    return ", ".join("%s %s" % (key, value) for key, value in sorted((mapping or {}).items(), key=lambda kv: -kv[1])) or "none"


def _free_slots(activity, app_user):
    """Connections the application's role could still open: the server's free non-reserved slots, and its own limit."""
    free = (activity.get("max_connections") or 0) - (activity.get("reserved_connections") or 0) - (activity.get("connections") or 0)
    limit = (activity.get("user_limits") or {}).get(app_user) or {}
    if (limit.get("limit") if limit.get("limit") is not None else -1) >= 0:
        free = min(free, limit["limit"] - limit.get("connections", 0))
    return max(free, 0)


def _pool_raise(activity, app_user, size, raise_to, pool_instances):
    """Whether option 4 fits: the extra connections a bigger pool may open must fit into the free slots."""
    free = _free_slots(activity, app_user)
    if size is None:
        return {"to": raise_to, "extra": None, "free": free, "fits": False, "why": "the pool size metric is missing"}
    extra = int((raise_to - size) * max(pool_instances, 1))
    if size >= raise_to:
        return {"to": raise_to, "extra": 0, "free": free, "fits": False,
                "why": "the pool is already %d, not below %d" % (size, raise_to)}
    if extra > free:
        return {"to": raise_to, "extra": extra, "free": free, "fits": False,
                "why": "%d more connection(s) needed, the database has %d free: it would turn pool waits into "
                       "'too many connections' errors" % (extra, free)}
    return {"to": raise_to, "extra": extra, "free": free, "fits": True, "why": ""}


def _message(line):
    """The message of a JSON log line, else the line."""
    try:
        data = json.loads(line)
    except (TypeError, ValueError):
        return str(line)
    return str(data.get("message") or line) if isinstance(data, dict) else str(line)


def _findings(activity, app_user, size, available, errors, truncated, sample, idle, long_running):
    thresholds = activity.get("thresholds") or {}
    findings = [
        "Connections: %s of max_connections %s (%s %%)" % (
            activity.get("connections"), activity.get("max_connections"), activity.get("usage_percent")),
        "By state: %s" % _counts(activity.get("by_state")),
        "By application: %s" % _counts(activity.get("by_application")),
        "By user: %s" % _counts(activity.get("by_user")),
    ]
    limit = (activity.get("user_limits") or {}).get(app_user)
    if limit and limit.get("limit", -1) >= 0:
        findings.append("Role %s: %s of its connection limit %s%s" % (
            app_user, limit.get("connections"), limit.get("limit"),
            " - new connections fail with 'too many connections'" if limit.get("at_limit") else ""))
    findings.append("Idle longer than %s s: %d session(s) of %s; idle in transaction longer than that: %d" % (
        thresholds.get("idle_seconds"), len(idle), app_user,
        len([row for row in activity.get("idle_in_transaction") or [] if row.get("user") == app_user])))
    findings.append("Running longer than %s s (any non-idle state): %d session(s) of %s" % (
        thresholds.get("running_seconds"), len(long_running), app_user))
    for row in (activity.get("long_running") or [])[:5]:
        findings.append("Long-running: pid %s (%s, %s, %s s) %s" % (
            row.get("pid"), row.get("user"), row.get("state"), row.get("seconds"), " ".join(str(row.get("query") or "").split())[:120]))
    findings.append("Pool (metrics): %s of %s available" % (
        "unknown" if available is None else int(available), "unknown" if size is None else int(size)))
    findings.append("'too many connections' errors in the logs: %s%s%s" % (
        errors, " or more" if truncated else "", " - latest: %s" % _message(sample)[:200] if errors and sample else ""))
    privileges = activity.get("privileges") or {}
    if privileges and not privileges.get("can_signal_backends"):
        findings.append("Role %s cannot end other sessions (no pg_signal_backend): options 1 and 2 would be refused"
                        % privileges.get("role"))
    return findings


def _weigh(reads):
    weighed = Evidence()
    for read_id, result in (reads or {}).items():
        weighed.read(read_id, READ_LABELS.get(read_id, read_id), result)
    return weighed


def _refusal(options, weighed, corroborated_by):
    """Why the options cannot be taken on this evidence ("" when they can)."""
    missing = weighed.missing_reads()
    if "activity" in missing:
        return "no fix: every option decides from %s, which could not be read" % weighed.unread(["activity"], READ_LABELS)
    if options == ["none"]:
        return ("no fix: nothing is exhausted in the database, and whether the pool is cannot be told without %s"
                % weighed.unread(["pool"], READ_LABELS)) if "pool" in missing else ""
    if "pool" in missing and ("raise_pool" in options or "restart" in options):
        return "no fix: %s needs %s, which could not be read" % (" and ".join(options), weighed.unread(["pool"], READ_LABELS))
    if not corroborated_by:
        return ("no fix: the application's own signals (%s) do not show the exhaustion pg_stat_activity shows"
                % ", ".join(READ_LABELS[read] for read in ("pool", "logs")))
    return ""


def db_pool_plan(evidence, app_user, usage_percent=80, raise_to=30, pool_instances=1, reads=None):
    evidence = evidence or {}
    weighed = _weigh(reads)
    activity = evidence.get("activity") or {}
    metrics = evidence.get("metrics") or {}
    size, available = metric_value(metrics, "pool_size"), metric_value(metrics, "pool_available")
    errors = evidence.get("errors") or 0
    idle = [row for row in activity.get("idle") or [] if row.get("user") == app_user]
    long_running = [row for row in activity.get("running_over") or [] if row.get("user") == app_user]
    limit = (activity.get("user_limits") or {}).get(app_user) or {}
    usage = activity.get("usage_percent") or 0
    role_full = bool(limit.get("at_limit"))
    db_exhausted = role_full or usage >= usage_percent
    pool_full = available is not None and available <= 0

    role = "%s/%s" % (limit.get("connections", 0), limit["limit"]) if limit.get("limit", -1) >= 0 else (
        "%s (no role limit)" % limit.get("connections", 0))
    state = "usage %s %%, role %s %s, pool %s of %s available" % (
        usage, app_user, role,
        "unknown" if available is None else int(available), "unknown" if size is None else int(size))
    if not db_exhausted and not pool_full:
        options, reason, cause = ["none"], "nothing exhausted now (%s)" % state, "none found"
    elif db_exhausted:
        cause = "the application's sessions exhaust the database (%s)" % state
        options = (["kill_idle"] if idle else []) + (["kill_long_running"] if long_running else [])
        if options:
            reason = "%d idle and %d long-running session(s) of %s are stale; ending them frees the slots without a restart" % (
                len(idle), len(long_running), app_user)
        else:
            options = ["restart"]
            reason = "no session of %s is stale: the application holds its connections; a restart resets its pool" % app_user
    else:
        cause = "the application's pool is at its maximum while the database has room (%s)" % state
        raise_ = _pool_raise(activity, app_user, size, raise_to, pool_instances)
        if raise_["fits"]:
            options = ["raise_pool"]
            reason = "pool %s -> %s needs %s more connection(s); the database has %s free" % (
                size, raise_to, raise_["extra"], raise_["free"])
        else:
            options = ["restart"]
            reason = "raising the pool is not possible (%s); a restart resets the pool" % raise_["why"]
    # The application's own view: its pool at its maximum, or connection errors in its logs.
    corroborated_by = (["pool %s of %s available" % (int(available), "?" if size is None else int(size))] if pool_full else []) + (
        ["%d connection error line(s) in the application's logs" % errors] if errors and "logs" not in weighed.missing_reads() else [])
    refused = ""
    if weighed.automation_errors:
        options, reason, cause = ["none"], "the automation's own reads failed; nothing is decided from them", (
            "unknown: " + "; ".join(weighed.automation_errors))
    elif reads is not None:
        refused = _refusal(options, weighed, corroborated_by)
        if refused:
            options, reason = ["none"], refused
    return {
        "incident": "db_pool_exhausted",
        "healthy": options == ["none"] and not refused and not weighed.automation_errors,
        "refused": refused,
        "corroborated_by": corroborated_by,
        **weighed.summary(),
        "findings": _findings(activity, app_user, size, available, errors, evidence.get("errors_truncated"),
                              evidence.get("error_sample"), idle, long_running),
        "suspected_cause": cause,
        "recommended_options": options,
        "recommended_option": "+".join(options),
        "option_labels": [LABELS[option] for option in options],
        "option_reason": reason,
        "candidates": {"kill_idle": len(idle), "kill_long_running": len(long_running)},
        "pool": {"size": size, "available": available},
        "pool_raise": _pool_raise(activity, app_user, size, raise_to, pool_instances),
        "thresholds": activity.get("thresholds") or {},
    }


class FilterModule:
    def filters(self):
        return {"db_pool_plan": db_pool_plan}
