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
  - A fix is recommended only when the service's own current signals (the cache hit rate, recent Redis errors in its
    logs, the primary node's ElastiCache status) agree with the probe and none contradicts it; otherwise C(refused)
    says why and the option is C(none).
  - A read that failed is listed in C(missing_evidence) and the diagnosis goes on without it; an option that needs
    it is refused. The automation's own authentication, permission, TLS or DNS failures (a wrong AUTH token, for
    example) are never evidence of an outage - they are listed in C(automation_errors) and no option is recommended.
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
  hit_rate_low:
    description: A cache hit rate below this corroborates an outage the probe sees; at or above it, it contradicts it.
    type: float
    default: 0.5
  log_fresh_seconds:
    description: Redis errors in the logs corroborate an outage only when this recent; none that recent contradicts it.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Decide the resolution option
  ansible.builtin.set_fact:
    redis_diagnosis: "{{ redis_cluster | sre.incident.redis_diagnosis(redis_ping, redis_metrics, redis_logs) }}"
"""

RETURN = r"""
_value:
  description: >-
    healthy (bool, or none when the probe could not tell), findings (list of sentences), evidence (dict of the
    numbers behind them), suspected_cause, recommended_option (none, wait, failover, reboot, disable_cache),
    option_reason, refused (why no fix is recommended although the probe fails, else empty), corroborated_by
    (the service's own signals that agree with the probe), automation_errors, missing_evidence, missing_reads,
    replication_group_id, primary_cluster_id, healthy_replicas.
  type: dict
"""

import time

from ansible_collections.sre.incident.plugins.module_utils.common import parse_time
from ansible_collections.sre.incident.plugins.plugin_utils.evidence import Evidence

OPTION_NUMBERS = {"failover": 1, "reboot": 2, "disable_cache": 3}


def _metric(metrics, name):
    return ((metrics or {}).get("by_name") or {}).get(name) or {}


def _fmt(value, unit=""):
    return "no data" if value is None else "%s%s" % (round(value, 3), unit)


def _check_pings(reads, probe):
    """A PING the automation itself could not make (AUTH, TLS, DNS) is its own fault, not the endpoint's."""
    pings = [("ping", probe)] + [("ping:%s" % item.get("name"), item) for item in (probe or {}).get("also_probed") or []]
    for read_id, item in pings:
        if item and not item.get("ping"):
            reads.check_access(read_id, "Redis", item.get("error") or "no PONG")


def _signals(cluster, metrics, logs, hit_rate_low, log_fresh_seconds):
    """(agreeing, disagreeing): the service's own current signals that do and do not show a Redis outage."""
    agree, disagree = [], []
    if metrics is not None:
        latest = _metric(metrics, "hit_rate").get("latest")
        if latest is not None:
            (agree if latest < hit_rate_low else disagree).append("cache hit rate %s" % _fmt(latest))
    if logs is not None:
        # Errors from before the last few minutes say what was wrong, not what is wrong now.
        end = (logs.get("window") or {}).get("end_epoch") or time.time()
        recent = [line for line in logs.get("events") or []
                  if _is_error(line.get("message", "")) and end - _epoch(line.get("timestamp"), end) <= log_fresh_seconds]
        if recent:
            agree.append("%d Redis error line(s) in the application's logs in the last %d s" % (len(recent), log_fresh_seconds))
        elif not logs.get("truncated"):
            disagree.append("no Redis errors in the application's logs in the last %d s" % log_fresh_seconds)
    if cluster is not None:
        primary = cluster.get("primary_cluster_id")
        status = ((cluster.get("cache_clusters") or {}).get(primary) or {}).get("status")
        if status and status != "available":
            agree.append("ElastiCache primary %s is %s" % (primary, status))
    return agree, disagree


def _epoch(value, default):
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return default


def _is_error(message):
    lowered = message.lower()
    return "error" in lowered or "refused" in lowered


def redis_diagnosis(cluster, probe, metrics, logs, allow_reboot=False, cpu_high_percent=90.0, hit_rate_low=0.5,
                    log_fresh_seconds=120):
    reads = Evidence()
    cluster = reads.read("cluster", "ElastiCache (replication group)", cluster)
    metrics = reads.read("metrics", "Datadog (cache hit rate, CPU)", metrics)
    logs = reads.read("logs", "CloudWatch Logs (Redis errors)", logs)
    probe = reads.read("probe", "Redis (PING)", probe)
    group = (cluster or {}).get("replication_group") or {}
    group_id = group.get("replication_group_id")
    probes = {item.get("name"): item for item in (probe or {}).get("also_probed") or []}
    findings, evidence = [], {}

    if cluster is None:
        findings.append("Replication group state unknown: ElastiCache could not be read")
    elif not group:
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
    elif probe is not None:
        findings.append("PING %s failed: %s" % (probe.get("endpoint"), probe.get("error")))
    evidence["ping"] = answered
    evidence["ping_error"] = None if answered else (probe or {}).get("error")
    evidence["latency_ms"] = (probe or {}).get("latency_ms")
    _check_pings(reads, probe)

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
    if metrics is not None:
        findings.append("Cache hit rate latest %s (avg %s over the window)" % (_fmt(hit_rate.get("latest")), _fmt(hit_rate.get("avg"))))
        findings.append("ElastiCache CPU latest %s (max %s)" % (_fmt(cpu.get("latest"), "%"), _fmt(cpu.get("max"), "%")))
    evidence["hit_rate_latest"] = hit_rate.get("latest")
    evidence["cpu_latest"] = cpu.get("latest")
    evidence["cpu_max"] = cpu.get("max")

    lines = (logs or {}).get("events") or []
    errors = [line for line in lines if _is_error(line.get("message", ""))]
    evidence["log_lines"] = (logs or {}).get("count", 0)
    evidence["log_error_lines"] = len(errors)
    if logs is not None and lines:
        findings.append("%d log line(s) mention Redis in the window, %d of them errors; latest: %s" % (
            len(lines), len(errors), lines[-1].get("message", "")[:200]))
    elif logs is not None:
        findings.append("No log lines mention Redis in the window")

    agree, disagree = _signals(cluster, metrics, logs, hit_rate_low, log_fresh_seconds)
    cpu_latest = cpu.get("latest")
    refused = ""
    if reads.automation_errors:
        cause = "unknown: " + "; ".join(reads.automation_errors)
        option, reason = "none", "the automation's own reads failed; nothing is decided from them"
    elif probe is None:
        cause = "unknown: the Redis probe did not run"
        option, reason = "none", "no probe result"
        refused = "no fix without the probe's answer"
    elif answered:
        cause = "none found: the primary endpoint answers"
        if cpu_latest is not None and cpu_latest > cpu_high_percent:
            cause = "Redis answers but its CPU is at %s%% - overload rather than an outage" % round(cpu_latest, 1)
        option, reason = "none", "Redis answers PONG through the primary endpoint; no fix needed"
    else:
        cause = "the primary endpoint %s refuses or times out (%s)" % (probe.get("endpoint"), probe.get("error"))
        option, reason, refused = _choose(group, cluster, primary, healthy_replicas, allow_reboot, agree, disagree, reads)

    result = {
        "incident": "redis_down",
        "healthy": answered if probe is not None and not reads.automation_errors else None,
        "replication_group_id": group_id,
        "primary_cluster_id": primary,
        "healthy_replicas": healthy_replicas,
        "findings": findings,
        "evidence": evidence,
        "suspected_cause": cause,
        "recommended_option": option,
        "option_number": OPTION_NUMBERS.get(option),
        "option_reason": reason,
        "refused": refused,
        "corroborated_by": agree,
    }
    result.update(reads.summary())
    return result


def _choose(group, cluster, primary, healthy_replicas, allow_reboot, agree, disagree, reads):
    """(option, reason, refused) for a primary endpoint that does not answer."""
    if disagree or not agree:
        if disagree:
            why = "the service's own signals show no Redis outage now (%s): the probe's failure may be this machine's path to Redis" % (
                ", ".join(disagree))
        else:
            why = "none of the service's own signals could be read to corroborate the probe (%s)" % (", ".join(
                item["what"] for item in reads.missing if item["read"] in ("metrics", "logs")) or "no recent signal")
        return "none", why, "no fix: " + why
    if cluster is None:
        why = "the replication group's state is needed to choose between failover, reboot and disabling the cache (%s)" % (
            reads.unread(["cluster"], {"cluster": "ElastiCache"}))
        return "none", why, "no fix: " + why
    if group and group.get("status") != "available":
        return "wait", "the replication group is %s; ElastiCache is already changing it" % group.get("status"), ""
    if healthy_replicas and group.get("automatic_failover") == "enabled":
        return "failover", "replica %s is healthy and automatic failover is enabled" % healthy_replicas[0], ""
    if allow_reboot and primary:
        return "reboot", "no healthy replica to fail over to; reboot allowed as last resort", ""
    return "disable_cache", ("no healthy replica to fail over to%s; bypass the cache (CACHE_ENABLED=false)" % (
        "" if allow_reboot else " and reboot not allowed (redis_allow_reboot=false)")), ""


class FilterModule:
    def filters(self):
        return {"redis_diagnosis": redis_diagnosis}
