"""Fault injection: ``break INCIDENT`` makes the runbook's symptoms real, ``heal`` puts the baseline back.

Incidents change real state only (processes, AWS models through the AWS APIs, SSM parameters, the external
dependencies, the ECS tasks' memory); the app simulator and the ECS controller derive the symptoms (metrics,
logs, health, task stops) from that state.

* ``redis_down [--replica-down]``: the primary's Redis process stops (and the replica's).
* ``service_down [--no-good-revision]``: revision ``sample-service:1.0.6`` (registered once from revision 5's
  container definition with ``LAB_CRASH=1``) is deployed with minimumHealthyPercent 0 / maximumPercent 100, so
  the old tasks stop at once and the new ones crash (MODULE_NOT_FOUND). ``--no-good-revision`` also deletes the
  SSM parameter the app needs at start-up, so *every* revision crashes (CONFIG_NOT_FOUND): nothing can fix the
  service through ECS, for timeout tests.
* ``high_error_rate``: revision ``sample-service:1.1.0`` with ``FEATURE_NEW_CHECKOUT=on`` is deployed (it
  completes), the SSM flag goes ``on`` and Stripe is degraded: the new checkout fails ~8 % of requests.
* ``memory_leak``: the running image leaks; the running tasks are at ~95 % after about an hour's uptime, five
  tasks were OOM-killed in the last 15 minutes and three heap dumps are in the heap dump bucket.
* ``db_pool_exhausted [--age S]``: the running tasks leak real ``sample_app`` sessions (4 idle in transaction,
  3 long-running queries, idle ones up to the role's CONNECTION LIMIT), all at least S seconds old (default 4)
  when break returns; a new ``sample_app`` connection fails with "too many connections for role", the app's
  pool has none available. Closed when their task stops (restart) or by heal. ``--pool-only``: no sessions,
  the app's connection demand rises to 26 against a pool of 20 (MAX_DB_CONNECTIONS): the database has room.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import threading
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import config
from .aws_emulator import backend, boto3_client
from .ecs_controller import (BASELINE_DEPLOYMENT_CONFIGURATION, OUT_OF_MEMORY, container_image, task_env,
                             wait_for_steady)

if TYPE_CHECKING:
    from .daemon import Lab

log = logging.getLogger("lab.scenarios")

BAD_IMAGE = "sample-service:1.0.6"
FEATURE_IMAGE = "sample-service:1.1.0"
LEAK_MB_PER_MIN = 8.0
OOM_MINUTES_AGO = (14, 11, 8, 5, 2)
LEAKING_TASK_PCT = (93.6, 95.2, 96.4, 94.8)
POOL_ONLY_DB_DEMAND = 26  # connections the app's traffic wants in the pool-only variant (pool: 20)
DEFAULT_LEAK_AGE = 4.0  # seconds: older than the lab inventory's 3 s thresholds when break returns
MAX_LEAK_AGE = 120.0


class LabError(Exception):
    """An error for the user: one line, and the exit code the CLI should use."""

    def __init__(self, message: str, exit_code: int = 1, http_status: int = 400) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.http_status = http_status


IMPLEMENTED = ("redis_down", "service_down", "high_error_rate", "memory_leak", "db_pool_exhausted")
OPTIONS: dict[str, tuple[str, ...]] = {
    "redis_down": ("replica_down",),
    "service_down": ("no_good_revision",),
    "high_error_rate": (),
    "memory_leak": (),
    "db_pool_exhausted": ("pool_only", "age"),
}


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
        self.heap_dump_keys: list[str] = []
        self.lock = threading.RLock()

    def describe(self) -> dict[str, Any]:
        return {"active": list(self.active), "options": {k: dict(v) for k, v in self.active.items()}}

    def _client(self, service: str) -> Any:
        return boto3_client(self.lab.cfg, service)

    # --- break -----------------------------------------------------------------------------
    def break_incident(self, name: str, options: dict[str, Any]) -> dict[str, Any]:
        check_incident(name)
        options = options or {}
        unknown = set(options) - set(OPTIONS[name])
        if unknown:
            valid = ", ".join(OPTIONS[name]) or "none"
            raise LabError(f"unknown option(s) for {name}: {', '.join(sorted(unknown))} (valid: {valid})",
                           exit_code=2)
        with self.lock:
            self.lab.gaps.wait_idle()
            handler = getattr(self, f"_break_{name}")
            applied = handler(options)
            self.active[name] = applied
        self.lab.after_change()
        self._settle_metrics()
        log.info("broke %s %s", name, applied)
        return {"incident": name, "options": applied}

    def _settle_metrics(self) -> None:
        """Return once the app has recorded its regular metric point in a whole second after the change and that
        second is over: a Datadog query for "now" (``to`` is whole seconds and includes points up to it) then
        ends with a 1-second bucket that holds only points from after the change, so a diagnosis started at once
        reads the fault, not the state before it or an average of both. (An extra point would count twice in an
        .as_count() bucket.)"""
        if not self.lab.ready:
            return
        after = int(time.time()) + 1
        # Generous: on a loaded machine a tick can come seconds late (docs/lab.md, "Incidents").
        deadline = time.monotonic() + 15 * max(1.0, self.lab.app.interval)
        while self.lab.app.last_tick < after and time.monotonic() < deadline:
            time.sleep(0.05)
        visible = math.ceil(self.lab.app.last_tick) - time.time()
        if 0 < visible <= 1.0:
            time.sleep(visible)

    def _break_redis_down(self, options: dict[str, Any]) -> dict[str, Any]:
        replica_down = bool(options.get("replica_down", False))
        topology = self.lab.topology
        with topology.lock:
            topology.stop(topology.primary)
            if replica_down:
                for name in topology.replicas():
                    topology.stop(name)
        return {"replica_down": replica_down}

    def _break_service_down(self, options: dict[str, Any]) -> dict[str, Any]:
        no_good = bool(options.get("no_good_revision", False))
        td_arn = self.revision(BAD_IMAGE, {"LAB_CRASH": "1"})
        if no_good:
            self._delete_parameter(config.RUNTIME_CONFIG_PARAMETER)
        self._client("ecs").update_service(
            cluster=config.ECS_CLUSTER, service=config.ECS_SERVICE, taskDefinition=td_arn,
            deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100})
        ecs = self.lab.ecs
        primary_id = ecs.primary(ecs.service())["id"]

        def crashed() -> bool:
            service = ecs.service()
            return service.running_count == 0 and any(
                t.started_by == primary_id and getattr(t, "stop_code", None) == "EssentialContainerExited"
                for t in ecs.service_tasks(service, "STOPPED"))

        _wait(crashed, ecs.deploy_seconds + 5, "the bad deployment's first tasks to crash")
        return {"no_good_revision": no_good, "task_definition": td_arn}

    def _break_high_error_rate(self, options: dict[str, Any]) -> dict[str, Any]:
        td_arn = self.revision(FEATURE_IMAGE, {"FEATURE_NEW_CHECKOUT": "on"})
        self._client("ecs").update_service(cluster=config.ECS_CLUSTER, service=config.ECS_SERVICE,
                                           taskDefinition=td_arn)
        self._client("ssm").put_parameter(Name=config.FEATURE_FLAG_NEW_CHECKOUT, Value="on", Type="String",
                                          Overwrite=True)
        self.lab.dependencies.set("stripe", "degraded")
        if not wait_for_steady(self.lab.ecs, timeout=self.lab.ecs.deploy_seconds + 5):
            raise LabError("high_error_rate: the feature deployment did not complete")
        return {"task_definition": td_arn, "feature_flag": config.FEATURE_FLAG_NEW_CHECKOUT}

    def _break_memory_leak(self, options: dict[str, Any]) -> dict[str, Any]:
        ecs = self.lab.ecs
        now = time.time()
        with ecs.lock:
            service = ecs.service()
            running = sorted(ecs.running_tasks(service), key=lambda t: t.id)
            primary = ecs.primary(service)
            if not running or primary is None:
                raise LabError("memory_leak needs a running service; run heal first")
            image = container_image(running[0].lab_td)
            ecs.leaky_images[image] = LEAK_MB_PER_MIN
            for i, task in enumerate(running):
                ecs.set_memory_pct(task, LEAKING_TASK_PCT[i % len(LEAKING_TASK_PCT)])
                task.started_at = datetime.fromtimestamp(now - (55 + 5 * i) * 60, timezone.utc)
            stopped = [ecs.record_stopped_task(service, primary, OUT_OF_MEMORY,
                                               started_at=now - (minutes + 62) * 60, stopped_at=now - minutes * 60)
                       for minutes in OOM_MINUTES_AGO]
        keys = self._heap_dumps(stopped[-3:], image)
        return {"leaking_image": image, "oom_stopped_tasks": len(stopped), "heap_dumps": keys}

    def _break_db_pool_exhausted(self, options: dict[str, Any]) -> dict[str, Any]:
        from .app_database import AppDatabaseError
        from .app_simulator import BASELINE_DB_DEMAND

        pool_only = bool(options.get("pool_only", False))
        age = leak_age(options.get("age", DEFAULT_LEAK_AGE))
        lab = self.lab
        lab.appdb.close_all()  # a second break starts from a clean slate
        if pool_only:
            lab.app.db_demand = POOL_ONLY_DB_DEMAND
            state = lab.app.refresh()
            return {"pool_only": True, "demand": POOL_ONLY_DB_DEMAND, "pool_size": state.pool_size}
        lab.app.db_demand = BASELINE_DB_DEMAND
        ecs = lab.ecs
        with ecs.lock:
            running = sorted(t.id for t in ecs.running_tasks(ecs.service()))
        if not running:
            raise LabError("db_pool_exhausted needs a running service; run heal first")
        try:
            leaked = lab.appdb.leak(running, age)
        except AppDatabaseError as exc:
            raise LabError(f"db_pool_exhausted: {exc}") from None
        return {"pool_only": False, **leaked}

    def _heap_dumps(self, tasks: list, image: str) -> list[str]:
        """Heap snapshots written near the heap limit (--heapsnapshot-near-heap-limit), gzipped by a sidecar."""
        s3 = self._client("s3")
        keys = []
        for i, task in enumerate(tasks):
            at = task.stopped_at.timestamp() - 20
            stamp = time.strftime("%Y%m%d.%H%M%S", time.gmtime(at))
            key = f"{config.ECS_CLUSTER}/{task.id}/Heap.{stamp}.1.0.001.heapsnapshot.gz"
            header = json.dumps({"snapshot": {"meta": {"node_fields": ["type", "name", "id", "self_size"]},
                                              "node_count": 4812331, "edge_count": 19023317},
                                 "task_arn": task.task_arn, "image": image}).encode()
            body = gzip.compress(header + b"\n" + os.urandom((1200 + 250 * i) * 1024), compresslevel=1)
            s3.put_object(Bucket=config.HEAPDUMP_BUCKET, Key=key, Body=body, ContentType="application/gzip",
                          Metadata={"task-arn": task.task_arn, "container-memory-mb": "1024"})
            obj = _s3_backend().get_object(config.HEAPDUMP_BUCKET, key)
            if obj is not None:
                obj.last_modified = datetime.fromtimestamp(at + 8, timezone.utc).replace(tzinfo=None)
            keys.append(key)
        self.heap_dump_keys.extend(keys)
        return keys

    # --- helpers -----------------------------------------------------------------------------
    def revision(self, image: str, extra_env: dict[str, str]) -> str:
        """The sample-service revision built from revision 5's container with this image and extra env:
        reused when it already exists (ACTIVE), else registered."""
        from .seed import container_definition

        wanted = container_definition(self.lab.cfg, config.BASELINE_REVISION, extra_env, image=image)
        wanted_env = {e["name"]: e["value"] for e in wanted["environment"]}
        revisions = backend("ecs").task_definitions.get(config.TASK_FAMILY, {})
        for revision in sorted(revisions, reverse=True):
            td = revisions[revision]
            if td.status == "ACTIVE" and container_image(td) == image and task_env(td) == wanted_env:
                return td.arn
        td = self._client("ecs").register_task_definition(
            family=config.TASK_FAMILY, containerDefinitions=[wanted], cpu="512", memory="1024",
            tags=[{"key": "service", "value": config.ECS_SERVICE}])["taskDefinition"]
        return td["taskDefinitionArn"]

    def _delete_parameter(self, name: str) -> bool:
        ssm = self._client("ssm")
        try:
            ssm.delete_parameter(Name=name)
            return True
        except ssm.exceptions.ParameterNotFound:
            return False

    # --- heal ------------------------------------------------------------------------------
    def heal(self) -> dict[str, Any]:
        from .app_simulator import BASELINE_DB_DEMAND

        from .faults import TABLE

        changes: list[str] = []
        cleared = TABLE.clear()
        if cleared:
            changes.append("faults cleared: " + ", ".join(
                f"{f['backend']} {f['mode']}" + (f" ({f['operation']})" if f["operation"] else "") for f in cleared))
        with self.lock:
            lab = self.lab
            lab.gaps.wait_idle()
            with lab.topology.lock:
                changes += [f"redis: {a}" for a in lab.topology.reset_baseline()]
                if lab.gaps.reset_statuses():
                    changes.append("elasticache: statuses back to available")
                lab.gaps.sync()
            changes += self._heal_parameters()
            changes += [f"dependencies: {name} operational again" for name in lab.dependencies.reset()]
            closed = lab.appdb.close_all()
            if closed:
                changes.append(f"postgres: {closed} leaked {config.PG_APP_ROLE} sessions closed")
            if lab.app.db_demand != BASELINE_DB_DEMAND:
                lab.app.db_demand = BASELINE_DB_DEMAND
                changes.append(f"app: database connection demand back to {BASELINE_DB_DEMAND}")
            leaking = bool(lab.ecs.leaky_images)
            if leaking:
                with lab.ecs.lock:
                    lab.ecs.leaky_images.clear()
                changes.append("ecs: memory leak cleared")
            changes += self._heal_ecs()
            if self.heap_dump_keys:
                s3 = self._client("s3")
                for key in self.heap_dump_keys:
                    s3.delete_object(Bucket=config.HEAPDUMP_BUCKET, Key=key)
                changes.append(f"s3: {len(self.heap_dump_keys)} heap dumps removed")
                self.heap_dump_keys = []
            if lab.app.overrides or lab.app.health_override:
                lab.app.overrides.clear()
                lab.app.health_override = None
                changes.append("app: metric/health overrides cleared")
            if self.active:
                changes.append(f"scenario cleared: {', '.join(self.active)}")
                self.active.clear()
            removed = lab.fleet.remove() if lab.fleet is not None else 0
            if removed:
                changes.append(f"fleet: {removed} simulated services removed")
        self.lab.after_change()
        self._settle_metrics()
        log.info("heal: %s", changes or "nothing to do")
        return {"changed": bool(changes), "changes": changes}

    def _heal_parameters(self) -> list[str]:
        from .seed import runtime_config

        ssm, changes = self._client("ssm"), []
        if backend("ssm").get_parameter(config.RUNTIME_CONFIG_PARAMETER) is None:
            ssm.put_parameter(Name=config.RUNTIME_CONFIG_PARAMETER, Value=runtime_config(), Type="String")
            changes.append(f"ssm: {config.RUNTIME_CONFIG_PARAMETER} restored")
        flag = backend("ssm").get_parameter(config.FEATURE_FLAG_NEW_CHECKOUT)
        if flag is None or flag.value != "off":
            ssm.put_parameter(Name=config.FEATURE_FLAG_NEW_CHECKOUT, Value="off", Type="String", Overwrite=True)
            changes.append(f"ssm: {config.FEATURE_FLAG_NEW_CHECKOUT} off")
        return changes

    def _heal_ecs(self) -> list[str]:
        """Back to revision 5 x 4 tasks with the baseline deployment configuration, through UpdateService."""
        lab = self.lab
        ecs = lab.ecs
        with ecs.lock:
            service = ecs.service()
            primary = ecs.primary(service)
            params: dict[str, Any] = {}
            if service.task_definition != lab.baseline_task_definition:
                params["taskDefinition"] = lab.baseline_task_definition
            if service.desired_count != config.BASELINE_DESIRED_COUNT:
                params["desiredCount"] = config.BASELINE_DESIRED_COUNT
            current = getattr(service, "deployment_configuration", None) or {}
            if any(current.get(k) != v for k, v in BASELINE_DEPLOYMENT_CONFIGURATION.items()):
                params["deploymentConfiguration"] = json.loads(json.dumps(BASELINE_DEPLOYMENT_CONFIGURATION))
            stuck = primary is None or primary.get("rolloutState") == "FAILED" or (
                primary.get("rolloutState") == "IN_PROGRESS" and primary.get("failedTasks", 0) > 0)
            leaked = any(getattr(t, "lab_leaked_mb", 0) > 0 for t in ecs.running_tasks(service))
            if "taskDefinition" not in params and (stuck or leaked):
                params["forceNewDeployment"] = True
        if not params:
            if primary is not None and primary.get("rolloutState") != "COMPLETED":
                wait_for_steady(ecs, timeout=ecs.deploy_seconds + 5)
            return []
        self._client("ecs").update_service(cluster=config.ECS_CLUSTER, service=config.ECS_SERVICE, **params)
        if not wait_for_steady(ecs, timeout=ecs.deploy_seconds + 5):
            log.warning("heal: the service did not reach a steady state in time")
        return [f"ecs: service back to {params}"]


def leak_age(value: Any) -> float:
    """The ``age`` option: seconds, 0 to MAX_LEAK_AGE."""
    try:
        age = float(value)
    except (TypeError, ValueError):
        raise LabError(f"age must be a number of seconds, got {value!r}", exit_code=2) from None
    if not 0 <= age <= MAX_LEAK_AGE:  # also rejects nan
        raise LabError(f"age must be between 0 and {MAX_LEAK_AGE:g} seconds, got {value!r}", exit_code=2)
    return age


def _s3_backend() -> Any:
    from moto.backends import get_backend

    return get_backend("s3")[config.AWS_ACCOUNT_ID]["aws"]  # S3 is global: one backend per partition


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise LabError(f"timed out waiting for {what}")
