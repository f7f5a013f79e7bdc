"""ECS services that behave like ECS (moto's UpdateService creates no deployment and runs no tasks).

The controller owns every service task's lifecycle (real moto Task objects, so ListTasks/DescribeTasks see
them) and reconciles each service a few times a second, the way the ECS scheduler does:

* **Deployments** (UpdateService with a new task definition or ``forceNewDeployment``, CreateService): the
  PRIMARY deployment becomes ACTIVE and a new PRIMARY (rolloutState IN_PROGRESS) is added; the rolling update
  honours ``deploymentConfiguration``: at most ``maximumPercent`` of the desired count run or start at once,
  old tasks stop only while ``minimumHealthyPercent`` stays running. New tasks are PENDING for
  ``$SRE_LAB_DEPLOY_SECONDS`` and then RUNNING (or, if they crash, STOPPED). When the PRIMARY runs its desired
  count and nothing else runs, the rollout is COMPLETED, the old deployments disappear and the event
  "has reached a steady state." is added (events newest first).
* **Crashing task definitions** (a blocker returns a ``Crash``; ``LAB_CRASH=1`` in the environment is the
  built-in one): tasks start and stop with ``stopCode`` EssentialContainerExited, ``stoppedReason``
  "Essential container in task exited", exit code 1; the deployment's ``failedTasks`` grows, relaunches back
  off (1, 2, 4, 8, 15 s), and the event "(service X) is unable to consistently start tasks successfully. ..."
  appears. Without a circuit breaker the deployment stays IN_PROGRESS forever (as in ECS). With
  ``deploymentCircuitBreaker.enable`` it fails after max(3, min(200, ceil(desired/2))) failed tasks:
  rolloutState FAILED (``rollback`` false) or a rollback to the last successful service revision.
* **Scaling**: desiredCount changes start PENDING tasks (RUNNING after the same delay) or stop extra ones.
* **Memory**: every running task has a memory utilization (45 % of a 1024 MiB container, 50 % of 2048, ...);
  tasks whose image is in ``leaky_images`` leak (fast below 90 %, slowly above); a task that reaches 100 % is
  stopped with exit code 137 and "OutOfMemoryError: Container killed due to memory usage" and replaced.
* **History**: every deployment has an ECS *service deployment* and *service revision* record
  (lab/ecs_history.py serves ListServiceDeployments, DescribeServiceDeployments, DescribeServiceRevisions).
* Stopped tasks stay visible (ListTasks ``desiredStatus=STOPPED``) for an hour, at most 300 per service.

Hooks: ``blockers`` (service, deployment, task definition) -> ``Crash`` | reason str | None decides whether a
task about to start crashes; ``on_task_stopped`` (task, crash) is called when a task stops on its own;
``on_change`` after anything a client could see changed (called outside the controller lock).
"""

from __future__ import annotations

import copy
import logging
import math
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from . import config
from .aws_emulator import backend

log = logging.getLogger("lab.ecs")

ESSENTIAL_EXITED = "Essential container in task exited"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
UNABLE_TO_START = ("is unable to consistently start tasks successfully. For more information, see the "
                   "Troubleshooting section of the Amazon ECS Developer Guide.")
STOPPED_TASK_RETENTION = 3600.0
MAX_STOPPED_TASKS_PER_SERVICE = 300
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)  # relaunch backoff per failed round of a crashing deployment
UNABLE_EVENT_INTERVAL = 60.0
LEAK_SLOW_ABOVE_PCT = 90.0
LEAK_SLOW_MB_PER_MIN = 1.0  # above 90 % the GC thrashes and the heap grows slowly

BASELINE_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


@dataclass(frozen=True)
class Crash:
    """Why a task stops: what the app logged (``message``/``code``), and what ECS reports."""

    message: str
    code: str
    exit_code: int = 1
    stopped_reason: str = ESSENTIAL_EXITED
    container_reason: str | None = None
    stop_code: str = "EssentialContainerExited"


MODULE_NOT_FOUND = Crash(message="Error: Cannot find module './config/production'", code="MODULE_NOT_FOUND")
OUT_OF_MEMORY = Crash(message="FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
                      code="ERR_OUT_OF_MEMORY", exit_code=137, stopped_reason=OOM_REASON,
                      container_reason=OOM_REASON)

Blocker = Callable[[Any, dict, Any], "Crash | str | None"]  # (service, deployment, task_definition)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def new_deployment_id() -> str:
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def task_env(task_definition: Any) -> dict[str, str]:
    """The environment of the task definition's first container, as a dict."""
    containers = getattr(task_definition, "container_definitions", None) or []
    if not containers:
        return {}
    return {e.get("name"): e.get("value") for e in containers[0].get("environment", []) or []}


def container_memory(task_definition: Any) -> int:
    """MiB the first container may use (its hard limit, else the task's memory)."""
    containers = getattr(task_definition, "container_definitions", None) or []
    for value in ((containers[0].get("memory") if containers else None),
                  getattr(task_definition, "memory", None), 1024):
        try:
            if value:
                return int(value)
        except (TypeError, ValueError):
            continue
    return 1024


def container_image(task_definition: Any) -> str:
    containers = getattr(task_definition, "container_definitions", None) or []
    return str(containers[0].get("image", "")) if containers else ""


def base_memory_pct(memory_mib: int) -> float:
    """A healthy Node task's steady memory use: V8 sizes its heap from the container's memory."""
    return max(25.0, min(70.0, 45.0 + 5.0 * math.log2(max(memory_mib, 128) / 1024)))


def crash_flag_blocker(service: Any, deployment: dict, task_definition: Any) -> Crash | None:
    if task_env(task_definition).get("LAB_CRASH") == "1":
        return MODULE_NOT_FOUND
    return None


def snapshot(obj: Any) -> Any:
    """A copy of a moto model object whose lists and dicts are copied too (the scalars are immutable)."""
    copied = copy.copy(obj)
    for name, value in vars(obj).items():
        if isinstance(value, (list, dict)):
            setattr(copied, name, copy.deepcopy(value))
    return copied


def _deployment_percent(service: Any) -> tuple[int, int]:
    cfg = getattr(service, "deployment_configuration", None) or {}
    maximum = cfg.get("maximumPercent", 200)
    minimum = cfg.get("minimumHealthyPercent", 100)
    return int(200 if maximum is None else maximum), int(100 if minimum is None else minimum)


def circuit_breaker(service: Any) -> dict:
    cfg = getattr(service, "deployment_configuration", None) or {}
    return cfg.get("deploymentCircuitBreaker") or {"enable": False, "rollback": False}


def breaker_threshold(service: Any, desired: int) -> int:
    breaker = circuit_breaker(service)
    threshold = breaker.get("thresholdConfiguration") or {}
    kind, value = threshold.get("type", "BOUNDED_PERCENT"), int(threshold.get("value", 50))
    if kind == "COUNT":
        return max(1, value)
    raw = math.ceil(desired * value / 100)
    return max(1, raw) if kind == "UNBOUNDED_PERCENT" else max(3, min(200, raw))


class EcsController:
    def __init__(self, deploy_seconds: float, interval: float = 0.3) -> None:
        from .ecs_history import ServiceHistory

        self.deploy_seconds = deploy_seconds
        self.interval = interval
        self.blockers: list[Blocker] = [crash_flag_blocker]
        self.on_change: list[Callable[[], None]] = []
        self.on_task_stopped: list[Callable[[Any, Crash], None]] = []
        self.leaky_images: dict[str, float] = {}  # image -> MiB per minute the heap grows (below 90 %)
        self.history = ServiceHistory(self)
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-controller", daemon=True)
        self._last_prune = 0.0
        self._last_accrual = time.time()

    @property
    def ecs(self) -> Any:
        return backend("ecs")

    # --- installation ------------------------------------------------------------------------
    def install(self) -> None:
        from moto.moto_api import state_manager

        from . import ecs_history

        # moto advances a task RUNNING -> STOPPED a step per DescribeTasks; the lab's tasks run until stopped.
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})
        ecs = self.ecs
        original_update = ecs.update_service
        original_list_tasks = ecs.list_tasks
        original_describe_tasks = ecs.describe_tasks
        original_describe_services = ecs.describe_services

        def update_service(service_properties: dict[str, Any]) -> Any:
            return self._update_service(original_update, service_properties)

        def list_tasks(cluster_str: str | None = None, container_instance: str | None = None,
                       family: str | None = None, started_by: str | None = None,
                       service_name: str | None = None, desiredStatus: str | None = None) -> list:
            # ECS lists RUNNING tasks unless asked for STOPPED ones (moto lists all). moto iterates the task
            # dicts the controller changes: under the controller's lock.
            with self.lock:
                tasks = original_list_tasks(cluster_str, container_instance, family, started_by, None,
                                            desiredStatus or "RUNNING")
            if service_name:
                name = service_name.split("/")[-1]
                tasks = [t for t in tasks if t.group == f"service:{name}"]
            return tasks

        # moto serializes what these return after they return: readers get copies taken under the lock, or
        # one could see a scheduler pass half done (a COMPLETED rollout still counting 0 running tasks).
        def describe_tasks(cluster_str: str, tasks: list[str]) -> list:
            with self.lock:
                return [snapshot(t) for t in original_describe_tasks(cluster_str, tasks)]

        def describe_services(cluster_str: str, service_names_or_arns: list[str]) -> tuple[list, list]:
            with self.lock:
                services, failures = original_describe_services(cluster_str, service_names_or_arns)
                return [snapshot(s) for s in services], failures

        ecs.update_service = update_service
        ecs.describe_services = describe_services
        ecs.list_tasks = list_tasks
        ecs.describe_tasks = describe_tasks
        ecs_history.install_api(self)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    # --- UpdateService / CreateService -------------------------------------------------------
    def _update_service(self, original: Callable, props: dict[str, Any]) -> Any:
        from moto.ecs.exceptions import InvalidParameterException

        ecs = self.ecs
        cluster = props.get("cluster", "default")
        service = ecs._get_service(cluster, str(props.get("service", "")).rsplit("/", 1)[-1])
        if props.get("task_definition"):
            ecs.describe_task_definition(props["task_definition"])  # reject before moto changes anything
        desired = props.get("desired_count")
        if desired is not None and int(desired) < 0:
            raise InvalidParameterException("desiredCount must be greater than or equal to 0.")
        new_cfg = props.pop("deployment_configuration", None)
        merged_cfg = merge_deployment_configuration(getattr(service, "deployment_configuration", None), new_cfg)
        with self.lock:
            before_td = service.task_definition
            before_desired = service.desired_count
            before_deployments = copy.deepcopy(service.deployments)
            force = bool(props.get("force_new_deployment"))
            result = original(dict(props))
            # moto stores the task definition as given ("family:rev" / family); ECS keeps the ARN
            if service.task_definition and not str(service.task_definition).startswith("arn:"):
                service.task_definition = ecs.describe_task_definition(service.task_definition).arn
            service.deployments = before_deployments  # undo moto's in-place id change on force
            service.deployment_configuration = merged_cfg
            if service.task_definition != before_td or force:
                self.start_deployment(service)
            elif service.desired_count != before_desired:
                primary = self.primary(service)
                if primary is not None:
                    primary["desiredCount"] = service.desired_count
                    primary["updatedAt"] = _now()
            self._reconcile(service, time.time())
        self._notify()
        return result

    def adopt_created_service(self, service: Any, deployment_configuration: dict | None) -> None:
        """A service CreateService just made: its first deployment gets history and starts tasks."""
        with self.lock:
            service.deployment_configuration = merge_deployment_configuration(None, deployment_configuration)
            primary = self.primary(service)
            if primary is not None and "lab_sd" not in primary:
                self._adopt(service, primary)
            self._reconcile(service, time.time())
        self._notify()

    def _adopt(self, service: Any, deployment: dict, at: float | None = None, sources: list | None = None) -> None:
        if not getattr(service, "deployment_configuration", None):
            service.deployment_configuration = merge_deployment_configuration(None, None)
        now = _now() if at is None else _dt(at)
        revision = self.history.new_revision(service, deployment["taskDefinition"], now)
        revision["lab_deployment_id"] = deployment["id"]
        sd = self.history.new_deployment(service, revision, now, sources=sources or [])
        deployment.update({
            "lab_sd": sd["serviceDeploymentArn"], "lab_rev": revision["serviceRevisionArn"],
            "createdAt": now, "updatedAt": now,
            "rolloutState": "IN_PROGRESS", "rolloutStateReason": f"ECS deployment {deployment['id']} in progress.",
            "failedTasks": 0, "pendingCount": 0, "runningCount": 0,
        })
        if service.launch_type == "FARGATE":
            deployment["platformFamily"] = "Linux"
            deployment["platformVersion"] = "1.4.0"

    def seed_running(self, service: Any, past: list[tuple[str, float]]) -> None:
        """Seed: the service ran each (task definition ARN, deployed at) in turn, the last one runs now
        (its tasks RUNNING at once); every deployment is in the history as SUCCESSFUL."""
        with self.lock:
            previous = None
            for td_arn, at in past[:-1]:
                previous = self.history.record_past(service, td_arn, at, previous)
            td_arn, at = past[-1]
            primary = self.primary(service)
            assert primary is not None, "moto created the service without a deployment"
            self._adopt(service, primary, at=at, sources=[previous] if previous else [])
            self.history.mark_started(primary["lab_sd"], at + 1.6)
            tasks = self.launch_tasks(service, primary, int(service.desired_count), at + 30, running=True)
            self._complete(service, primary, at + 95)
            self._recount(service, primary, tasks, [])

    def start_deployment(self, service: Any, rollback_of: dict | None = None,
                         rollback_revision: dict | None = None) -> dict:
        """A new PRIMARY deployment for the service's current task definition (caller holds the lock)."""
        now = _now()
        dep_id = new_deployment_id()
        old = []
        for d in service.deployments:
            if d.get("status") == "PRIMARY":
                d["status"] = "ACTIVE"
                d["updatedAt"] = now
                if rollback_of is None:
                    self.history.supersede(d.get("lab_sd"), now)
            old.append(d)
        new = {
            "id": dep_id,
            "status": "PRIMARY",
            "taskDefinition": service.task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": 0,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {dep_id} in progress.",
        }
        if service.launch_type == "FARGATE":
            new.update({"platformFamily": "Linux", "platformVersion": "1.4.0"})
        if rollback_of is not None and rollback_revision is not None:
            target_id = rollback_revision.get("lab_deployment_id") or dep_id
            new["rolloutStateReason"] = f"ECS deployment circuit breaker: rolling back to deploymentId {target_id}."
            new["lab_sd"] = rollback_of["lab_sd"]
            new["lab_rev"] = rollback_revision["serviceRevisionArn"]
            new["lab_rollback"] = True
        else:
            sources = [self.history.revision(d.get("lab_rev")) for d in old if self._deployment_tasks(service, d)]
            revision = self.history.new_revision(service, service.task_definition, now)
            sd = self.history.new_deployment(service, revision, now,
                                             sources=[s for s in sources if s is not None],
                                             source_counts=self._revision_counts(service, old))
            new["lab_sd"] = sd["serviceDeploymentArn"]
            new["lab_rev"] = revision["serviceRevisionArn"]
            revision["lab_deployment_id"] = dep_id
        service.deployments = [new] + old
        log.info("service %s: deployment %s started (%s)", service.name, dep_id, service.task_definition)
        return new

    # --- queries -----------------------------------------------------------------------------
    @staticmethod
    def primary(service: Any) -> dict | None:
        return next((d for d in service.deployments if d.get("status") == "PRIMARY"), None)

    def service(self, name: str = config.ECS_SERVICE, cluster: str = config.ECS_CLUSTER) -> Any:
        return self.ecs._get_service(cluster, name)

    def _task_definition(self, arn: str) -> Any | None:
        try:
            return self.ecs.describe_task_definition(arn)
        except Exception:
            return None

    def service_tasks(self, service: Any, desired_status: str = "RUNNING") -> list:
        """The service's tasks with this desired status (RUNNING includes tasks still PENDING)."""
        tasks = self.ecs.tasks.get(service.cluster_name, {})
        return [t for t in list(tasks.values())
                if t.group == f"service:{service.name}" and t.desired_status == desired_status]

    def running_tasks(self, service: Any) -> list:
        return [t for t in self.service_tasks(service) if t.last_status == "RUNNING"]

    def serving_task_definition(self, service: Any) -> Any | None:
        """The task definition whose tasks serve traffic: the PRIMARY's once it runs tasks, else the
        newest deployment's that runs tasks."""
        running = self.running_tasks(service)
        for d in service.deployments:
            if any(t.started_by == d["id"] for t in running):
                return self._task_definition(d["taskDefinition"])
        if running:
            return self._task_definition(running[0].task_definition_arn)
        return None

    def task_memory_pct(self, task: Any) -> float:
        td = getattr(task, "lab_td", None) or self._task_definition(task.task_definition_arn)
        memory = container_memory(td)
        base = base_memory_pct(memory) + getattr(task, "lab_mem_jitter", 0.0)
        return round(base + 100.0 * getattr(task, "lab_leaked_mb", 0.0) / memory, 2)

    def service_memory_pct(self, service: Any) -> float | None:
        running = self.running_tasks(service)
        if not running:
            return None
        return round(sum(self.task_memory_pct(t) for t in running) / len(running), 2)

    def _deployment_tasks(self, service: Any, deployment: dict) -> list:
        return [t for t in self.service_tasks(service) if t.started_by == deployment["id"]]

    def _revision_counts(self, service: Any, deployments: list[dict]) -> dict[str, tuple[int, int, int]]:
        counts: dict[str, tuple[int, int, int]] = {}
        for d in deployments:
            tasks = self._deployment_tasks(service, d)
            running = sum(1 for t in tasks if t.last_status == "RUNNING")
            counts[d.get("lab_rev", "")] = (d.get("desiredCount", 0), running, len(tasks) - running)
        return counts

    # --- controller --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("ECS controller tick failed")

    def tick(self) -> None:
        now = time.time()
        changed = False
        with self.lock:
            changed = self._accrue_memory(now) or changed
            for service in list(self.ecs.services.values()):
                if service.status != "ACTIVE":
                    continue
                changed = self._reconcile(service, now) or changed
            if now - self._last_prune > 10:
                self._last_prune = now
                self._prune(now)
        if changed:
            self._notify()

    def _notify(self) -> None:
        for fn in list(self.on_change):
            try:
                fn()
            except Exception:
                log.exception("ECS on_change hook failed")

    def _reconcile(self, service: Any, now: float) -> bool:
        """One scheduler pass over a service; True if anything visible changed."""
        primary = self.primary(service)
        if primary is None:
            return False
        changed = False
        if "lab_sd" not in primary:
            self._adopt(service, primary)
            changed = True
        self.history.mark_started(primary.get("lab_sd"), now)
        desired = int(service.desired_count or 0)
        tasks = self.service_tasks(service)

        # 1. tasks that finished starting: RUNNING, or stopped because the container exited
        for task in tasks:
            if task.last_status == "PENDING" and now >= getattr(task, "lab_ready_at", 0):
                crash = getattr(task, "lab_crash", None)
                if crash is None:
                    self._set_running(task, now)
                else:
                    self._crash_task(service, task, crash, now)
                changed = True

        # 2. tasks that ran out of memory
        for task in self.running_tasks(service):
            if self.task_memory_pct(task) >= 100.0:
                self._stop_task(task, OUT_OF_MEMORY, now)
                self._after_crash(service, task, OUT_OF_MEMORY, failed_start=False)
                changed = True

        primary = self.primary(service)  # a circuit breaker rollback may have changed it
        if primary is None:
            return changed
        prim_active = primary.get("rolloutState") != "FAILED"
        tasks = self.service_tasks(service)
        prim = [t for t in tasks if t.started_by == primary["id"]]
        prim_running = [t for t in prim if t.last_status == "RUNNING"]
        prim_pending = [t for t in prim if t.last_status != "RUNNING"]
        old = [t for t in tasks if t.started_by != primary["id"]]
        maximum, minimum = _deployment_percent(service)
        max_total = max(1, math.floor(desired * maximum / 100)) if desired else 0
        min_healthy = math.ceil(desired * minimum / 100)

        # 3. the old deployments' tasks make way: pending ones at once, running ones while enough run
        stopped_old: list = []
        if prim_active:
            for task in [t for t in old if t.last_status != "RUNNING"]:
                self._stop_task(task, None, now, reason=f"Scaling activity initiated by (deployment {primary['id']})",
                                stop_code="ServiceSchedulerInitiated")
                stopped_old.append(task)
            old_running = self._oldest_first(service, [t for t in old if t.last_status == "RUNNING"])
            can_stop = len(prim_running) + len(old_running) - min_healthy
            for task in old_running[:max(0, can_stop)]:
                self._stop_task(task, None, now, reason=f"Scaling activity initiated by (deployment {primary['id']})",
                                stop_code="ServiceSchedulerInitiated")
                stopped_old.append(task)
        if stopped_old:
            running_stopped = [t for t in stopped_old if getattr(t, "started_at", None) is not None]
            if running_stopped:
                self._event(service, f"(service {service.name}) has stopped {len(running_stopped)} running tasks: "
                                     + " ".join(f"(task {t.id})." for t in running_stopped))
            changed = True
        old_running = [t for t in self.service_tasks(service) if t.started_by != primary["id"]]

        # 4. scale in, or start what is missing (within maximumPercent, after the crash backoff)
        if len(prim) > desired:
            extra = (prim_pending + prim_running)[: len(prim) - desired]
            for task in extra:
                self._stop_task(task, None, now, reason="Scaling activity initiated by (service update)",
                                stop_code="ServiceSchedulerInitiated")
            self._event(service, f"(service {service.name}) has stopped {len(extra)} running tasks: "
                                 + " ".join(f"(task {t.id})." for t in extra))
            prim = [t for t in prim if t not in extra]
            prim_running = [t for t in prim_running if t not in extra]
            prim_pending = [t for t in prim_pending if t not in extra]
            changed = True
        elif prim_active and len(prim) < desired and now >= primary.get("lab_next_launch", 0):
            room = max_total - len(prim) - len(old_running)
            count = min(desired - len(prim), room)
            if count > 0:
                started = self.launch_tasks(service, primary, count, now)
                prim_pending += started
                self._event(service, f"(service {service.name}) has started {len(started)} tasks: "
                                     + " ".join(f"(task {t.id})." for t in started))
                changed = True

        # 5. the rollout is done when the PRIMARY alone runs the desired count
        steady = (len(prim_running) == desired and not prim_pending and not old_running)
        if primary.get("rolloutState") == "IN_PROGRESS" and steady:
            self._complete(service, primary, now)
            changed = True
        elif primary.get("rolloutState") == "COMPLETED" and changed and steady:
            self._event(service, f"(service {service.name}) has reached a steady state.")

        if self._recount(service, primary, prim_running, prim_pending):
            changed = True
        return changed

    def _oldest_first(self, service: Any, tasks: list) -> list:
        order = {d["id"]: i for i, d in enumerate(reversed(service.deployments))}
        return sorted(tasks, key=lambda t: (order.get(t.started_by, -1), t.id))

    def _complete(self, service: Any, deployment: dict, now: float) -> None:
        deployment.update({
            "rolloutState": "COMPLETED",
            "rolloutStateReason": f"ECS deployment {deployment['id']} completed.",
            "updatedAt": _dt(now),
        })
        for key in ("lab_next_launch", "lab_unable_at"):
            deployment.pop(key, None)
        service.deployments = [deployment]
        self.history.finish(deployment.get("lab_sd"), now, rollback=bool(deployment.get("lab_rollback")))
        self._event(service, f"(service {service.name}) has reached a steady state.")
        log.info("service %s: deployment %s completed", service.name, deployment["id"])

    def _recount(self, service: Any, primary: dict, prim_running: list, prim_pending: list) -> bool:
        before = (service.running_count, service.pending_count,
                  tuple((d.get("runningCount"), d.get("pendingCount")) for d in service.deployments))
        tasks = self.service_tasks(service)
        for d in service.deployments:
            mine = [t for t in tasks if t.started_by == d["id"]]
            running = sum(1 for t in mine if t.last_status == "RUNNING")
            d["runningCount"], d["pendingCount"] = running, len(mine) - running
            if d is not primary:
                d["desiredCount"] = len(mine)
        service.running_count = sum(1 for t in tasks if t.last_status == "RUNNING")
        service.pending_count = len(tasks) - service.running_count
        service.current_service_deployment = primary.get("lab_sd")
        service.current_service_revisions = self.history.current_revisions(service, tasks)
        self.history.update_counts(service, primary, self._revision_counts(service, service.deployments))
        after = (service.running_count, service.pending_count,
                 tuple((d.get("runningCount"), d.get("pendingCount")) for d in service.deployments))
        return before != after

    # --- tasks -------------------------------------------------------------------------------
    def launch_tasks(self, service: Any, deployment: dict, count: int, now: float | None = None,
                     running: bool = False) -> list:
        """Start ``count`` tasks of the deployment: PENDING for deploy_seconds (RUNNING at once if asked)."""
        now = time.time() if now is None else now
        td = self._task_definition(deployment["taskDefinition"])
        crash = None if running else self._crash_for(service, deployment, td)
        tasks = self.ecs.run_task(service.cluster_name, deployment["taskDefinition"], count, None,
                                  deployment["id"], None, "FARGATE", group=f"service:{service.name}")
        for i, task in enumerate(tasks):
            self._init_task(task, td, now, i)
            task.lab_crash = crash
            task.lab_ready_at = now + self.deploy_seconds
            if running:
                self._set_running(task, now)
        return tasks

    def _init_task(self, task: Any, td: Any, now: float, index: int) -> None:
        task.lab_td = td
        task.lab_mem_jitter = round(random.uniform(-1.5, 1.5), 2)
        task.lab_leaked_mb = 0.0
        task.last_status = "PENDING"
        task.created_at = _dt(now)
        task.pull_started_at = _dt(now + 0.2)
        task.pull_stopped_at = _dt(now + 0.4)
        task.started_at = None
        task.stopping_at = task.stopped_at = task.execution_stopped_at = None
        task.stop_code = None
        task.stopped_reason = None
        task.connectivity = "CONNECTED"
        task.connectivity_at = _dt(now + 0.1)
        task.availability_zone = ("us-east-1a", "us-east-1b")[index % 2]
        task.health_status = "UNKNOWN"
        task.platform_version = "1.4.0"
        task.platform_family = "Linux"
        task.cpu = str(getattr(td, "cpu", None) or 512)
        task.memory = str(getattr(td, "memory", None) or container_memory(td))
        task.version = 1
        for container in task.containers:
            container.task_arn = task.task_arn
            container.container_arn = (f"arn:aws:ecs:{config.AWS_REGION}:{config.AWS_ACCOUNT_ID}:container/"
                                       f"{task.cluster_name}/{task.id}/{uuid.uuid4()}")
            container.last_status = "PENDING"
            container.exitCode = None
            container.reason = None
            container.runtime_id = uuid.uuid4().hex + "-" + str(random.randint(10**9, 10**10 - 1))
            container.image_digest = "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, str(container.image)).hex * 2

    def _set_running(self, task: Any, now: float) -> None:
        task.last_status = "RUNNING"
        task.started_at = _dt(now)
        task.health_status = "HEALTHY"
        task.version = getattr(task, "version", 1) + 1
        for container in task.containers:
            container.last_status = "RUNNING"

    def _stop_task(self, task: Any, crash: Crash | None, now: float, reason: str = "",
                   stop_code: str = "ServiceSchedulerInitiated") -> None:
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopping_at = _dt(now)
        task.stopped_at = task.execution_stopped_at = _dt(now + 0.05)
        task.version = getattr(task, "version", 1) + 1
        if crash is not None:
            if task.started_at is None:
                task.started_at = _dt(max(now - 0.3, task.created_at.timestamp()))
            task.stopped_reason = crash.stopped_reason
            task.stop_code = crash.stop_code
            task.health_status = "UNHEALTHY"
            for container in task.containers:
                container.last_status = "STOPPED"
                container.exitCode = crash.exit_code
                container.reason = crash.container_reason
        else:
            task.stopped_reason = reason
            task.stop_code = stop_code
            for container in task.containers:
                container.last_status = "STOPPED"
                container.exitCode = 0 if task.started_at is not None else None

    def _crash_task(self, service: Any, task: Any, crash: Crash, now: float) -> None:
        self._stop_task(task, crash, now)
        self._after_crash(service, task, crash, failed_start=True)

    def _after_crash(self, service: Any, task: Any, crash: Crash, failed_start: bool) -> None:
        now = time.time()
        deployment = next((d for d in service.deployments if d["id"] == task.started_by), None)
        if deployment is not None and failed_start:
            deployment["failedTasks"] = deployment.get("failedTasks", 0) + 1
            deployment["updatedAt"] = _dt(now)
            desired = max(1, int(deployment.get("desiredCount") or service.desired_count or 1))
            rounds = math.ceil(deployment["failedTasks"] / desired)
            deployment["lab_next_launch"] = now + RETRY_DELAYS[min(rounds, len(RETRY_DELAYS)) - 1]
            self.history.count_failure(deployment.get("lab_sd"))
            if deployment.get("status") == "PRIMARY":
                if (deployment["failedTasks"] >= min(2, desired)
                        and now - deployment.get("lab_unable_at", 0) >= UNABLE_EVENT_INTERVAL):
                    deployment["lab_unable_at"] = now
                    self._event(service, f"(service {service.name}) {UNABLE_TO_START}")
                self._check_circuit_breaker(service, deployment, now)
        for fn in list(self.on_task_stopped):
            try:
                fn(task, crash)
            except Exception:
                log.exception("on_task_stopped hook failed")

    def _check_circuit_breaker(self, service: Any, deployment: dict, now: float) -> None:
        breaker = circuit_breaker(service)
        if not breaker.get("enable") or deployment.get("rolloutState") != "IN_PROGRESS":
            return
        threshold = breaker_threshold(service, int(service.desired_count or 0))
        if deployment.get("failedTasks", 0) < threshold:
            return
        deployment["rolloutState"] = "FAILED"
        deployment["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        deployment["updatedAt"] = _dt(now)
        deployment.pop("lab_next_launch", None)
        self._event(service, f"(service {service.name}) (deployment {deployment['id']}) deployment failed: "
                             f"tasks failed to start.")
        target = None
        if breaker.get("rollback") and not deployment.get("lab_rollback"):
            target = self.history.last_successful_revision(service)
        if target is None or target["taskDefinition"] is None:
            self.history.fail(deployment.get("lab_sd"), now, rollback=bool(deployment.get("lab_rollback")))
            log.info("service %s: deployment %s failed (circuit breaker)", service.name, deployment["id"])
            return
        self.history.start_rollback(deployment.get("lab_sd"), target, now)
        service.task_definition = target["taskDefinition"]
        new = self.start_deployment(service, rollback_of=deployment, rollback_revision=target)
        self._event(service, f"(service {service.name}) rolling back to deployment "
                             f"{target.get('lab_deployment_id') or new['id']}.")
        log.info("service %s: circuit breaker rolls back to %s", service.name, target["taskDefinition"])

    def _crash_for(self, service: Any, deployment: dict, td: Any) -> Crash | None:
        for blocker in self.blockers:
            reason = blocker(service, deployment, td)
            if isinstance(reason, Crash):
                return reason
            if reason:
                return Crash(message=f"Error: {reason}", code="LAB_BLOCKED")
        return None

    def record_stopped_task(self, service: Any, deployment: dict, crash: Crash, started_at: float,
                            stopped_at: float) -> Any:
        """A task of this deployment that stopped in the past (history for incidents)."""
        with self.lock:
            task = self.launch_tasks(service, deployment, 1, started_at - 60, running=True)[0]
            task.started_at = _dt(started_at)
            self._stop_task(task, crash, stopped_at)
            return task

    # --- memory ------------------------------------------------------------------------------
    def _accrue_memory(self, now: float) -> bool:
        minutes = max(0.0, now - self._last_accrual) / 60.0
        self._last_accrual = now
        if not self.leaky_images or minutes <= 0:
            return False
        for cluster_tasks in list(self.ecs.tasks.values()):
            for task in list(cluster_tasks.values()):
                if task.last_status != "RUNNING" or not hasattr(task, "lab_td"):
                    continue
                rate = self.leaky_images.get(container_image(task.lab_td))
                if rate is None:
                    continue
                slow = self.task_memory_pct(task) >= LEAK_SLOW_ABOVE_PCT
                task.lab_leaked_mb += minutes * (LEAK_SLOW_MB_PER_MIN if slow else rate)
        return False

    def set_memory_pct(self, task: Any, pct: float) -> None:
        """Make a running task use ``pct`` % of its container memory now (the leak so far)."""
        memory = container_memory(task.lab_td)
        base = base_memory_pct(memory) + task.lab_mem_jitter
        task.lab_leaked_mb = max(0.0, (pct - base) / 100.0 * memory)

    # --- housekeeping ------------------------------------------------------------------------
    def _prune(self, now: float) -> None:
        for cluster, cluster_tasks in list(self.ecs.tasks.items()):
            stopped = [(arn, t) for arn, t in list(cluster_tasks.items()) if t.desired_status == "STOPPED"]
            by_group: dict[str, list] = {}
            for arn, t in stopped:
                by_group.setdefault(t.group, []).append((arn, t))
            for items in by_group.values():
                items.sort(key=lambda item: _stopped_ts(item[1]), reverse=True)
                for i, (arn, t) in enumerate(items):
                    if i >= MAX_STOPPED_TASKS_PER_SERVICE or now - _stopped_ts(t) > STOPPED_TASK_RETENTION:
                        cluster_tasks.pop(arn, None)

    def _event(self, service: Any, message: str) -> None:
        event = {"id": str(uuid.uuid4()), "createdAt": _now(), "message": message}
        service.events = ([event] + list(service.events))[:100]


def _stopped_ts(task: Any) -> float:
    stopped = getattr(task, "stopped_at", None)
    return stopped.timestamp() if stopped is not None else 0.0


def merge_deployment_configuration(current: dict | None, update: dict | None) -> dict:
    """ECS keeps the settings an UpdateService does not mention."""
    from moto.ecs.exceptions import InvalidParameterException

    merged = copy.deepcopy(current or BASELINE_DEPLOYMENT_CONFIGURATION)
    for key, value in (update or {}).items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = copy.deepcopy(value)
    minimum, maximum = merged.get("minimumHealthyPercent", 100), merged.get("maximumPercent", 200)
    if not 0 <= int(minimum) <= 100:
        raise InvalidParameterException("minimumHealthyPercent must be between 0 and 100.")
    if int(maximum) < 100:
        raise InvalidParameterException("maximumPercent must be at least 100.")
    return merged


def wait_for_steady(controller: EcsController, timeout: float = 10.0, service: Any = None) -> bool:
    """Block until the lab service's PRIMARY deployment is COMPLETED (used by heal and break)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        svc = service or controller.service()
        primary = controller.primary(svc)
        if primary is not None and primary.get("rolloutState") == "COMPLETED":
            return True
        time.sleep(0.1)
    return False
