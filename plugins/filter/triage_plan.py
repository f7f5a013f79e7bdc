# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.sre.incident.plugins.filter.severity import severity
from ansible_collections.sre.incident.plugins.module_utils.common import metric_value
from ansible_collections.sre.incident.plugins.plugin_utils.incident_types import incident_types, matches

DOCUMENTATION = r"""
name: triage_plan
short_description: Which incident playbook fits the symptoms of a quick triage
version_added: 0.1.0
description:
  - Matches the runbook's symptoms against the quick checks - the health endpoint down (Service Down / 502), the
    cache hit rate at zero (Redis Cache Down), no free pool connection (Database Connection Pool Exhausted), memory
    near the limit (Memory Leak / OOM), and an error rate above the threshold (High Error Rate).
  - Returns every match, the most specific first, and the playbook of the first one; none when nothing matches.
author:
  - sre.incident maintainers (@sre-incident)
options:
  _input:
    description: C(health_status) (HTTP status or null) and C(metrics) (name to latest value or to a
      datadog_metric_query summary) with C(errors), C(requests), C(cache_hit_rate), C(pool_available), C(memory).
    type: dict
    required: true
  error_rate_percent:
    description: Error rate above which the error rate is high.
    type: float
    default: 5
  memory_percent:
    description: Memory utilisation above which a leak is suspected.
    type: float
    default: 90
  hit_rate_min:
    description: Cache hit rate (0..1) below which the cache is considered down.
    type: float
    default: 0.05
  host:
    description: When the metrics of many services come in one dict keyed C(<host>|<name>) (see
      P(sre.incident.fleet_queries#filter)), the service whose metrics to read.
    type: str
  affected_numerator:
    description: Metric name of the users affected; "% of users affected" = 100 x numerator / denominator (latest
      values), unless the metrics hold C(affected_percent) itself.
    type: str
    default: affected_users
  affected_denominator:
    description: Metric name of the active users.
    type: str
    default: active_users
  levels:
    description: When given (the runbook's severity table), the result also holds C(severity) as
      P(sre.incident.severity#filter) decides it, with C(severity_options) passed on.
    type: dict
  severity_options:
    description: all_users_percent, major_percent, impact_floor_percent for the severity decision.
    type: dict
    default: {}
  hosts:
    description:
      - Decide for all these services at once; the input then holds C(metrics) keyed C(<host>|<name>) and C(health)
        (service to HTTP status, or to its M(sre.incident.http_probe) endpoint result), and the result is a dict of
        service to its result.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Say which playbook fits
  ansible.builtin.debug:
    msg: "{{ ({'health_status': 200, 'metrics': triage_metrics.by_name} | sre.incident.triage_plan).playbook }}"
"""

RETURN = r"""
_value:
  description: suspected (list of incident, playbook, reason - most specific first), incident and playbook of the
    first (C(none) and null when nothing matches), error_rate_percent (over the window),
    current_error_rate_percent (the last point, which the decision uses), affected_percent, active_users,
    health_status, service, and severity when O(levels) is given.
  type: dict
"""


def error_rate(metrics, key="latest"):
    """Errors / requests in percent: of the last point (what is happening now), or "avg" over the window."""
    errors, requests = metric_value(metrics, "errors", key), metric_value(metrics, "requests", key)
    if errors is None or not requests:
        return None
    return round(100.0 * errors / requests, 2)


def _status(answer):
    """An HTTP status, given as a number or as an http_probe endpoint result."""
    return answer.get("status") if isinstance(answer, dict) else answer


def host_metrics(metrics, host):
    """The metrics of one service out of a fleet-wide dict keyed <host>|<name>."""
    prefix = "%s|" % host
    return {name[len(prefix):]: value for name, value in (metrics or {}).items() if name.startswith(prefix)}


def affected(metrics, numerator="affected_users", denominator="active_users"):
    """% of users affected: a metric that already is one, else 100 x numerator / denominator; None without data."""
    direct = metric_value(metrics, "affected_percent")
    if direct is not None:
        return round(direct, 1)
    part, whole = metric_value(metrics, numerator), metric_value(metrics, denominator)
    return round(100.0 * part / whole, 1) if part is not None and whole else None


def triage_plan(evidence, error_rate_percent=5, memory_percent=90, hit_rate_min=0.05, host=None,
                affected_numerator="affected_users", affected_denominator="active_users", levels=None, severity_options=None,
                hosts=None):
    evidence = evidence or {}
    options = dict(error_rate_percent=error_rate_percent, memory_percent=memory_percent, hit_rate_min=hit_rate_min,
                   affected_numerator=affected_numerator, affected_denominator=affected_denominator, levels=levels,
                   severity_options=severity_options)
    if hosts is not None:
        # A whole fleet in one call: evidence holds "metrics" keyed <host>|<name> and "health" (host -> status).
        health = evidence.get("health") or {}
        return {name: triage_plan({"metrics": evidence.get("metrics"), "health_status": _status(health.get(name))}, host=name, **options)
                for name in hosts}
    metrics = evidence.get("metrics") or {}
    if host is not None:
        metrics = host_metrics(metrics, host)
    status = evidence.get("health_status")
    # Decide from now (a rerun after a fix must not suspect what the window still remembers); report both.
    rate = error_rate(metrics)
    suspected = []

    signals = {"health_status": status, "error_rate_percent": rate}
    for incident, entry in incident_types().items():
        rule = entry["symptom"]
        value = signals[rule["signal"]] if rule["signal"] in signals else metric_value(metrics, rule["signal"])
        hit, limit = matches(rule, value, options)
        if hit:
            shown = ("unreachable" if value is None else "answers %s" % value) if rule.get("unhealthy") else value
            suspected.append({"incident": incident, "playbook": entry["playbook"],
                              "reason": rule["reason"].format(value=shown, limit=limit)})
    first = suspected[0] if suspected else {"incident": "none", "playbook": None}
    result = {"service": host, "health_status": status, "suspected": suspected, "incident": first["incident"],
              "playbook": first["playbook"], "error_rate_percent": error_rate(metrics, "avg"), "current_error_rate_percent": rate,
              "affected_percent": affected(metrics, affected_numerator, affected_denominator),
              "active_users": metric_value(metrics, affected_denominator)}
    if levels is not None:
        result["severity"] = severity(result, levels, **(severity_options or {}))
    return result


class FilterModule:
    def filters(self):
        return {"triage_plan": triage_plan}
