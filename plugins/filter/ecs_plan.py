# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.sre.incident.plugins.module_utils.common import metric_value
from ansible_collections.sre.incident.plugins.plugin_utils.evidence import Evidence

DOCUMENTATION = r"""
name: ecs_plan
short_description: Turn an ECS service diagnosis into findings and the runbook option to take
version_added: 0.1.0
description:
  - Reads M(sre.incident.ecs_service_info), the health check, Datadog metrics and log evidence, and decides as the
    runbook's "Service Down / 502", "High Error Rate" and "Memory Leak / OOM" sections do.
  - C(service_down) - healthy (health OK and running == desired) gives C(none); a deployment younger than
    O(recent_deploy_seconds) whose tasks fail gives C(rollback); otherwise C(restart).
  - C(high_error_rate) - error rate under O(error_rate_percent) gives C(none); a recent deployment gives
    C(rollback); else an enabled feature flag gives C(disable_feature); else CPU or memory above
    O(resource_percent) gives C(scale_up); else C(none) with the advice to escalate.
  - C(memory_leak) - memory above O(memory_percent) with repeated OOM kills (at least O(oom_kills) within
    O(oom_window_seconds)) gives C(raise_memory); memory above O(memory_percent) alone gives C(restart); memory
    within it gives C(none) (past kills are reported, not acted on).
author:
  - sre.incident maintainers (@sre-incident)
positional: incident
options:
  _input:
    description: Evidence - a dict with C(ecs) (ecs_service_info result), C(health) (status code), C(metrics)
      (name to latest value or to a datadog_metric_query summary), C(flag) (feature flag value or null), C(notes)
      (further finding lines).
    type: dict
    required: true
  incident:
    description: C(service_down), C(high_error_rate) or C(memory_leak).
    type: str
    required: true
  recent_deploy_seconds:
    description: A deployment younger than this counts as recent.
    type: float
    default: 3600
  error_rate_percent:
    description: Error rate (percent of requests) above which the error rate is high.
    type: float
    default: 5
  resource_percent:
    description: CPU or memory utilisation above which the service is resource constrained.
    type: float
    default: 85
  memory_percent:
    description: Memory utilisation above which a restart is due.
    type: float
    default: 90
  oom_kills:
    description: OOM-killed tasks within O(oom_window_seconds) that make a memory limit raise the option.
    type: int
    default: 2
  oom_window_seconds:
    description: How far back OOM kills count.
    type: float
    default: 3600
"""

EXAMPLES = r"""
- name: Decide the resolution option
  ansible.builtin.set_fact:
    ecs_diagnose_result: "{{ evidence | sre.incident.ecs_plan('service_down') }}"
"""

RETURN = r"""
_value:
  description: >-
    healthy, findings, evidence, suspected_cause, recommended_option, option_reason, incident, refused (why no fix is
    recommended although one is needed, else empty), automation_errors, missing_evidence, missing_reads.
  type: dict
"""

# What each option decides from: without these reads it is refused (the ECS read is needed by every fix).
NEEDS = {
    "service_down": {"rollback": ("ecs",), "restart": ("ecs",)},
    "high_error_rate": {"rollback": ("ecs", "metrics"), "disable_feature": ("ecs", "metrics", "flag"),
                        "scale_up": ("ecs", "metrics", "flag")},
    "memory_leak": {"raise_memory": ("ecs", "metrics"), "restart": ("ecs", "metrics")},
}
LABELS = {"ecs": "ECS (service, deployments, tasks)", "health": "the health endpoint", "metrics": "Datadog (metrics)",
          "flag": "SSM (feature flag)", "dependencies": "the external dependencies", "heapdumps": "S3 (heap dumps)"}
# What is missing changes the decision itself: without these the options that come later are not considered.
DECIDES = {"service_down": ("ecs",), "high_error_rate": ("ecs", "metrics", "flag"), "memory_leak": ("ecs", "metrics")}


def _service_findings(ecs):
    service = ecs.get("service") or {}
    findings = ["ECS service %s: running %s of %s desired (pending %s) on revision %s" % (
        service.get("name"), service.get("running"), service.get("desired"), service.get("pending"), service.get("revision"))]
    for deployment in ecs.get("deployments") or []:
        findings.append("Deployment %s (%s, revision %s): %s, %s/%s running, %s failed task(s), %s s old" % (
            deployment.get("id"), deployment.get("status"), deployment.get("revision"), deployment.get("rollout_state"),
            deployment.get("running"), deployment.get("desired"), deployment.get("failed_tasks"), deployment.get("age_seconds")))
    stopped = ecs.get("stopped_tasks") or []
    if stopped:
        reasons = sorted({task.get("stopped_reason") or "unknown" for task in stopped})
        findings.append("%d recently stopped task(s): %s" % (len(stopped), "; ".join(reasons)[:300]))
    events = ecs.get("events") or []
    if events:
        findings.append("Latest service event: %s" % events[0].get("message"))
    return findings


def _primary(ecs):
    for deployment in ecs.get("deployments") or []:
        if deployment.get("status") == "PRIMARY":
            return deployment
    return {}


def _recent_deployment(ecs, recent_deploy_seconds):
    primary = _primary(ecs)
    age = primary.get("age_seconds")
    return primary if age is not None and age < recent_deploy_seconds else None


def _service_down(evidence, ecs, options):
    service = ecs.get("service") or {}
    health = evidence.get("health")
    running_ok = service.get("running") == service.get("desired") and (service.get("desired") or 0) > 0
    primary = _primary(ecs)
    failing = bool(primary.get("failed_tasks")) or any(
        task.get("task_definition") == primary.get("task_definition") and any(code not in (0, None) for code in task.get("exit_codes", []))
        for task in ecs.get("stopped_tasks") or [])
    recent = _recent_deployment(ecs, options["recent_deploy_seconds"])
    if health == 200 and running_ok:
        return "none", "health answers 200 and every desired task runs", "none found"
    cause = "health %s, %s of %s tasks running%s" % (
        health, service.get("running"), service.get("desired"), ", tasks of the primary deployment fail" if failing else "")
    if recent and failing:
        return "rollback", "deployment %s is %s s old and its tasks fail" % (recent.get("id"), recent.get("age_seconds")), cause
    return "restart", "no recent deployment with failing tasks; a rolling restart replaces the tasks", cause


def _high_error_rate(evidence, ecs, options):
    metrics = evidence.get("metrics") or {}
    success = metric_value(metrics, "success_rate")
    error_rate = round(100 - success, 2) if success is not None else None
    recent = _recent_deployment(ecs, options["recent_deploy_seconds"])
    cpu, memory = metric_value(metrics, "cpu"), metric_value(metrics, "memory")
    if error_rate is None:
        return "none", "no success-rate data; cannot judge the error rate", "unknown (no metrics)"
    if error_rate <= options["error_rate_percent"]:
        return "none", "error rate %s %% is within %s %%" % (error_rate, options["error_rate_percent"]), "none found"
    cause = "error rate %s %% (success rate %s %%)" % (error_rate, success)
    if recent:
        return "rollback", "deployment %s went out %s s ago" % (recent.get("id"), recent.get("age_seconds")), cause
    if (evidence.get("flag") or "").lower() in ("on", "true", "enabled", "1"):
        return "disable_feature", "the feature flag is on and no deployment explains the errors", cause
    if any(value is not None and value > options["resource_percent"] for value in (cpu, memory)):
        return "scale_up", "CPU %s %% / memory %s %% - resource constrained" % (cpu, memory), cause
    return "none", "no recent deployment, flag or resource pressure explains it - escalate", cause


def _recent_oom_kills(ecs, window):
    killed = (ecs.get("oom") or {}).get("tasks")
    if killed is None:
        killed = [task for task in ecs.get("stopped_tasks") or [] if task.get("oom")]
    return [task for task in killed if isinstance(task, dict) and (task.get("age_seconds") is None or task["age_seconds"] <= window)]


def _memory_leak(evidence, ecs, options):
    memory = metric_value(evidence.get("metrics") or {}, "memory")
    kills = len(_recent_oom_kills(ecs, options["oom_window_seconds"]))
    if memory is None or memory <= options["memory_percent"]:
        # Past kills with memory back to normal are history for the post-mortem, not an active incident.
        return "none", "memory %s %% is within %s %% (%d OOM kill(s) in the window)" % (
            memory, options["memory_percent"], kills), "none found"
    if kills >= options["oom_kills"]:
        return ("raise_memory", "memory at %s %% and %d task(s) killed by OOM in the last %d s; a restart alone would "
                "be killed again" % (memory, kills, options["oom_window_seconds"]), "tasks killed by OOM (memory %s %%)" % memory)
    return "restart", "memory at %s %%; a restart frees it before tasks are killed" % memory, "memory at %s %%" % memory


DECIDERS = {"service_down": _service_down, "high_error_rate": _high_error_rate, "memory_leak": _memory_leak}


def _weigh(reads, evidence):
    """Evidence of the raw reads (by step id): failed ones are blanked out of the evidence and listed."""
    weighed = Evidence()
    evidence = dict(evidence)
    for read_id, result in (reads or {}).items():
        if weighed.read(read_id, LABELS.get(read_id, read_id), result) is None:
            evidence[read_id] = None
    health = ((reads or {}).get("health") or {}).get("endpoints") or {}
    for name, endpoint in health.items():
        if endpoint.get("error"):
            weighed.check_access("health", "the health endpoint %s" % endpoint.get("url", name), endpoint["error"])
    return weighed, evidence


def _refusal(incident, option, weighed):
    """Why option cannot be taken on this evidence ("" when it can)."""
    lacking = [read for read in NEEDS[incident].get(option, ()) if read in weighed.missing_reads()]
    if not lacking:
        return ""
    return "no fix: %s needs %s, which could not be read" % (option, weighed.unread(lacking, LABELS))


def ecs_plan(evidence, incident, recent_deploy_seconds=3600, error_rate_percent=5, resource_percent=85,
             memory_percent=90, oom_kills=2, oom_window_seconds=3600, reads=None):
    if incident not in DECIDERS:
        raise ValueError("ecs_plan: incident must be one of %s, got %r" % (", ".join(DECIDERS), incident))
    weighed, evidence = _weigh(reads, evidence or {})
    ecs = evidence.get("ecs") or {}
    options = dict(recent_deploy_seconds=recent_deploy_seconds, error_rate_percent=error_rate_percent,
                   resource_percent=resource_percent, memory_percent=memory_percent, oom_kills=oom_kills,
                   oom_window_seconds=oom_window_seconds)
    option, reason, cause = DECIDERS[incident](evidence, ecs, options)
    refused = ""
    undecided = [read for read in DECIDES[incident] if read in weighed.missing_reads()]
    if weighed.automation_errors:
        option, reason, cause = "none", "the automation's own reads failed; nothing is decided from them", (
            "unknown: " + "; ".join(weighed.automation_errors))
    elif option == "none" and undecided and cause != "none found":
        refused = "no fix: the decision needs %s, which could not be read" % weighed.unread(undecided, LABELS)
    elif option != "none":
        refused = _refusal(incident, option, weighed)
        if refused:
            option, reason = "none", refused
    findings = _service_findings(ecs)
    findings.append("Health endpoint: %s" % evidence.get("health"))
    for name in sorted(evidence.get("metrics") or {}):
        findings.append("Metric %s: latest %s" % (name, metric_value(evidence["metrics"], name)))
    kills = _recent_oom_kills(ecs, oom_window_seconds)
    if kills:
        findings.append("OOM: %d task(s) stopped by OutOfMemoryError / exit 137 in the last %d s" % (len(kills), oom_window_seconds))
    for line in evidence.get("notes") or []:
        findings.append(line)
    return {
        "incident": incident,
        "healthy": option == "none" and cause == "none found",
        "findings": findings,
        "evidence": {key: evidence.get(key) for key in ("health", "metrics", "flag") if key in evidence},
        "suspected_cause": cause,
        "recommended_option": option,
        "option_reason": reason,
        "refused": refused,
        **weighed.summary(),
    }


class FilterModule:
    def filters(self):
        return {"ecs_plan": ecs_plan}
