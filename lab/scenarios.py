"""Fault injection: ``break INCIDENT`` makes the runbook's symptoms real, ``heal`` puts the baseline back.

Incidents change real state only (processes, AWS models); the app simulator derives the symptoms
(metrics, logs, health) from that state.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from . import config
from .aws_emulator import boto3_client
from .ecs_controller import wait_for_steady

if TYPE_CHECKING:
    from .daemon import Lab

log = logging.getLogger("lab.scenarios")


class LabError(Exception):
    """An error for the user: one line, and the exit code the CLI should use."""

    def __init__(self, message: str, exit_code: int = 1, http_status: int = 400) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.http_status = http_status


IMPLEMENTED = ("redis_down",)


def check_incident(name: str) -> None:
    if name not in config.INCIDENTS:
        raise LabError(f"unknown incident {name!r}; valid incidents: {', '.join(config.INCIDENTS)}",
                       exit_code=2, http_status=404)
    if name not in IMPLEMENTED:
        raise LabError(f"incident {name!r} is not implemented yet (implemented: {', '.join(IMPLEMENTED)})",
                       exit_code=2, http_status=501)


class Scenarios:
    def __init__(self, lab: "Lab") -> None:
        self.lab = lab
        self.active: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()

    def describe(self) -> dict[str, Any]:
        return {"active": list(self.active), "options": {k: dict(v) for k, v in self.active.items()}}

    # --- break -----------------------------------------------------------------------------
    def break_incident(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        check_incident(name)
        with self.lock:
            self.lab.gaps.wait_idle()
            handler = getattr(self, f"_break_{name}")
            applied = handler(options or {})
            self.active[name] = applied
        self.lab.after_change()
        log.info("broke %s %s", name, applied)
        return {"incident": name, "options": applied}

    def _break_redis_down(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = set(options) - {"replica_down"}
        if unknown:
            raise LabError(f"unknown option(s) for redis_down: {', '.join(sorted(unknown))} "
                           f"(valid: replica_down)", exit_code=2)
        replica_down = bool(options.get("replica_down", False))
        topology = self.lab.topology
        with topology.lock:
            topology.stop(topology.primary)
            if replica_down:
                for name in topology.replicas():
                    topology.stop(name)
        return {"replica_down": replica_down}

    # --- heal ------------------------------------------------------------------------------
    def heal(self) -> dict[str, Any]:
        changes: list[str] = []
        with self.lock:
            lab = self.lab
            lab.gaps.wait_idle()
            with lab.topology.lock:
                changes += [f"redis: {a}" for a in lab.topology.reset_baseline()]
                if lab.gaps.reset_statuses():
                    changes.append("elasticache: statuses back to available")
                lab.gaps.sync()
            changes += self._heal_ecs()
            if lab.app.overrides or lab.app.health_override:
                lab.app.overrides.clear()
                lab.app.health_override = None
                changes.append("app: metric/health overrides cleared")
            if self.active:
                changes.append(f"scenario cleared: {', '.join(self.active)}")
                self.active.clear()
        self.lab.after_change()
        log.info("heal: %s", changes or "nothing to do")
        return {"changed": bool(changes), "changes": changes}

    def _heal_ecs(self) -> list[str]:
        lab = self.lab
        service = lab.ecs.service()
        baseline = lab.baseline_task_definition
        params: dict[str, Any] = {}
        if service.task_definition != baseline:
            params["taskDefinition"] = baseline
        if service.desired_count != config.BASELINE_DESIRED_COUNT:
            params["desiredCount"] = config.BASELINE_DESIRED_COUNT
        if not params:
            primary = lab.ecs.primary(service)
            if primary is not None and primary.get("rolloutState") != "COMPLETED":
                wait_for_steady(lab.ecs, timeout=config.deploy_seconds() + 5)
            return []
        boto3_client(lab.cfg, "ecs").update_service(
            cluster=config.ECS_CLUSTER, service=config.ECS_SERVICE, **params)
        wait_for_steady(lab.ecs, timeout=config.deploy_seconds() + 5)
        return [f"ecs: service back to {params}"]
