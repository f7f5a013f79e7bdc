# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: redis_diagnosis
short_description: Turn the Redis Cache Down diagnosis into findings and the runbook option to take
version_added: 0.1.0
description:
  - Reads the registered results of M(sre.incident.elasticache_info), M(sre.incident.redis_probe),
    M(sre.incident.datadog_metric_query) and M(sre.incident.cloudwatch_logs_search) and decides, as the
    runbook does - C(none) when the endpoint answers; C(failover) (option 1) when a replica answers and
    automatic failover is enabled; C(reboot) (option 2) only when O(allow_reboot) is true; else
    C(disable_cache) (option 3, CACHE_ENABLED=false); C(wait) while the group is already changing.
author:
  - sre.incident maintainers (@sre-incident)
positional: cluster, probe, metrics, logs
options:
  _input:
    description: The elasticache_info result.
    type: dict
    required: true
  probe:
    description: The redis_probe result (main endpoint plus members in also_probed).
    type: dict
    required: true
  metrics:
    description: The datadog_metric_query result with queries C(cpu) and C(hit_rate).
    type: dict
    required: true
  logs:
    description: The cloudwatch_logs_search result.
    type: dict
    required: true
  allow_reboot:
    description: Whether the last-resort reboot may be recommended.
    type: bool
    default: false
  cpu_high_percent:
    description: CPU above this is reported as overload.
    type: float
    default: 90
"""

EXAMPLES = r"""
- name: Decide the resolution option
  ansible.builtin.set_fact:
    redis_diagnosis: "{{ redis_cluster | sre.incident.redis_diagnosis(redis_ping, redis_metrics, redis_logs) }}"
"""

RETURN = r"""
_value:
  description: >-
    healthy (bool), findings (list of sentences), evidence (dict of the numbers behind them),
    suspected_cause, recommended_option (none, wait, failover, reboot, disable_cache), option_reason,
    replication_group_id, primary_cluster_id, healthy_replicas.
  type: dict
"""

OPTION_NUMBERS = {"failover": 1, "reboot": 2, "disable_cache": 3}


def _metric(metrics, name):
    return ((metrics or {}).get("by_name") or {}).get(name) or {}


def _fmt(value, unit=""):
    return "no data" if value is None else "%s%s" % (round(value, 3), unit)


def redis_diagnosis(cluster, probe, metrics, logs, allow_reboot=False, cpu_high_percent=90.0):
    group = (cluster or {}).get("replication_group") or {}
    group_id = group.get("replication_group_id")
    probes = {item.get("name"): item for item in (probe or {}).get("also_probed") or []}
    findings, evidence = [], {}

    if not group:
        findings.append("Replication group not found in ElastiCache")
    else:
        findings.append("Replication group %s is %s (automatic failover %s, %d member(s), primary %s)" % (
            group_id, group.get("status"), group.get("automatic_failover"), len(group.get("member_clusters") or []),
            cluster.get("primary_cluster_id")))
    evidence["group_status"] = group.get("status")
    evidence["automatic_failover"] = group.get("automatic_failover")

    answered = bool((probe or {}).get("ping"))
    if answered:
        findings.append("PING %s answered PONG in %s ms (role %s)" % (
            probe.get("endpoint"), probe.get("latency_ms"), (probe.get("info") or {}).get("role")))
    else:
        findings.append("PING %s failed: %s" % ((probe or {}).get("endpoint"), (probe or {}).get("error")))
    evidence["ping"] = answered
    evidence["ping_error"] = None if answered else (probe or {}).get("error")
    evidence["latency_ms"] = (probe or {}).get("latency_ms")

    healthy_replicas = []
    for replica in (cluster or {}).get("replicas") or []:
        name = replica.get("cache_cluster_id")
        result = probes.get(name)
        if result is None:
            findings.append("Replica %s was not probed (no read endpoint)" % name)
        elif result.get("ping"):
            healthy_replicas.append(name)
            findings.append("Replica %s answers PING in %s ms (ElastiCache status %s)" % (
                name, result.get("latency_ms"), replica.get("cache_cluster_status")))
        else:
            findings.append("Replica %s does not answer: %s" % (name, result.get("error")))
    primary = (cluster or {}).get("primary_cluster_id")
    if primary in probes and not probes[primary].get("ping"):
        findings.append("Primary node %s does not answer: %s" % (primary, probes[primary].get("error")))
    evidence["healthy_replicas"] = healthy_replicas

    hit_rate, cpu = _metric(metrics, "hit_rate"), _metric(metrics, "cpu")
    findings.append("Cache hit rate latest %s (avg %s over the window)" % (_fmt(hit_rate.get("latest")), _fmt(hit_rate.get("avg"))))
    findings.append("ElastiCache CPU latest %s (max %s)" % (_fmt(cpu.get("latest"), "%"), _fmt(cpu.get("max"), "%")))
    evidence["hit_rate_latest"] = hit_rate.get("latest")
    evidence["cpu_latest"] = cpu.get("latest")
    evidence["cpu_max"] = cpu.get("max")

    lines = (logs or {}).get("events") or []
    errors = [line for line in lines if "error" in line.get("message", "").lower() or "refused" in line.get("message", "").lower()]
    evidence["log_lines"] = (logs or {}).get("count", 0)
    evidence["log_error_lines"] = len(errors)
    if lines:
        findings.append("%d log line(s) mention Redis in the window, %d of them errors; latest: %s" % (
            len(lines), len(errors), lines[-1].get("message", "")[:200]))
    else:
        findings.append("No log lines mention Redis in the window")

    cpu_latest = cpu.get("latest")
    if answered:
        cause = "none found: the primary endpoint answers"
        if cpu_latest is not None and cpu_latest > cpu_high_percent:
            cause = "Redis answers but its CPU is at %s%% - overload rather than an outage" % round(cpu_latest, 1)
        option, reason = "none", "Redis answers PONG through the primary endpoint; no fix needed"
    else:
        cause = "the primary endpoint %s refuses or times out (%s)" % ((probe or {}).get("endpoint"), (probe or {}).get("error"))
        if group and group.get("status") != "available":
            option, reason = "wait", "the replication group is %s; ElastiCache is already changing it" % group.get("status")
        elif healthy_replicas and group.get("automatic_failover") == "enabled":
            option, reason = "failover", "replica %s is healthy and automatic failover is enabled" % healthy_replicas[0]
        elif allow_reboot and primary:
            option, reason = "reboot", "no healthy replica to fail over to; reboot allowed as last resort"
        else:
            option, reason = "disable_cache", ("no healthy replica to fail over to%s; bypass the cache (CACHE_ENABLED=false)" % (
                "" if allow_reboot else " and reboot not allowed (redis_allow_reboot=false)"))

    return {
        "incident": "redis_down",
        "healthy": answered,
        "replication_group_id": group_id,
        "primary_cluster_id": primary,
        "healthy_replicas": healthy_replicas,
        "findings": findings,
        "evidence": evidence,
        "suspected_cause": cause,
        "recommended_option": option,
        "option_number": OPTION_NUMBERS.get(option),
        "option_reason": reason,
    }


class FilterModule:
    def filters(self):
        return {"redis_diagnosis": redis_diagnosis}
