"""ECS services that roll out like ECS does (moto's UpdateService creates no deployment and runs no tasks).

* UpdateService with a new task definition or ``forceNewDeployment``: the PRIMARY deployment becomes
  ACTIVE and a new PRIMARY (IN_PROGRESS, runningCount 0) is added; the response already shows it.
* A controller thread completes IN_PROGRESS deployments after ``$SRE_LAB_DEPLOY_SECONDS``: tasks of the new
  deployment start (real moto tasks, ``startedBy`` = deployment id, ``group`` = ``service:<name>``), the old
  ones stop, rolloutState COMPLETED, and the "has reached a steady state." event is added (newest first).
* desiredCount changes: the running tasks follow.
* ``ListTasks --service-name`` filters on the service's tasks (moto ignores it).
* ``ListTaskDefinitions`` honours ``sort`` (ASC/DESC by family, revision), ``maxResults`` and ``nextToken``
  (moto ignores them), so ``list-task-definitions --sort DESC --max-items 5`` gives the newest five.

Later incidents hook in through ``blockers``: a callable that returns a reason string keeps a deployment
from completing (see ``crash_flag_blocker``, which fails task definitions whose env has ``LAB_CRASH=1``).
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from . import config
from .aws_emulator import backend

log = logging.getLogger("lab.ecs")

Blocker = Callable[[Any, dict, Any], "str | None"]  # (service, deployment, task_definition) -> reason


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_deployment_id() -> str:
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def task_env(task_definition: Any) -> dict[str, str]:
    """The environment of the task definition's first container, as a dict."""
    containers = getattr(task_definition, "container_definitions", None) or []
    if not containers:
        return {}
    return {e.get("name"): e.get("value") for e in containers[0].get("environment", []) or []}


def crash_flag_blocker(service: Any, deployment: dict, task_definition: Any) -> str | None:
    if task_env(task_definition).get("LAB_CRASH") == "1":
        return "Essential container in task exited (LAB_CRASH=1)"
    return None


class EcsController:
    def __init__(self, deploy_seconds: float, interval: float = 0.3) -> None:
        self.deploy_seconds = deploy_seconds
        self.interval = interval
        self.blockers: list[Blocker] = [crash_flag_blocker]
        self.on_change: list[Callable[[], None]] = []  # called after a rollout completes or tasks scale
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ecs-controller", daemon=True)

    @property
    def ecs(self) -> Any:
        return backend("ecs")

    # --- installation ------------------------------------------------------------------------
    def install(self) -> None:
        from moto.moto_api import state_manager

        # moto advances a task RUNNING -> STOPPED a step per DescribeTasks; the lab's tasks run until stopped.
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**12})
        ecs = self.ecs
        original_update = ecs.update_service
        original_list_tasks = ecs.list_tasks

        def update_service(service_properties: dict[str, Any]) -> Any:
            return self._update_service(original_update, service_properties)

        def list_tasks(cluster_str: str | None = None, container_instance: str | None = None,
                       family: str | None = None, started_by: str | None = None,
                       service_name: str | None = None, desiredStatus: str | None = None) -> list:
            tasks = original_list_tasks(cluster_str, container_instance, family, started_by, None, desiredStatus)
            if service_name:
                name = service_name.split("/")[-1]
                tasks = [t for t in tasks if t.group == f"service:{name}"]
            return tasks

        ecs.update_service = update_service
        ecs.list_tasks = list_tasks
        _install_list_task_definitions()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    # --- UpdateService -----------------------------------------------------------------------
    def _update_service(self, original: Callable, props: dict[str, Any]) -> Any:
        ecs = self.ecs
        cluster = props.get("cluster", "default")
        service = ecs._get_service(cluster, str(props.get("service", "")).rsplit("/", 1)[-1])
        if props.get("task_definition"):
            ecs.describe_task_definition(props["task_definition"])  # reject before moto changes anything
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
            td_changed = service.task_definition != before_td
            if td_changed or force:
                self._start_deployment(service)
            elif service.desired_count != before_desired:
                primary = self.primary(service)
                if primary is not None:
                    primary["desiredCount"] = service.desired_count
                    primary["updatedAt"] = _now()
                self._recount(service)
            else:
                self._recount(service)
        return result

    def _start_deployment(self, service: Any) -> dict:
        now = _now()
        dep_id = _new_deployment_id()
        old = []
        for d in service.deployments:
            if d.get("status") == "PRIMARY":
                d["status"] = "ACTIVE"
                d["updatedAt"] = now
            old.append(d)
        new = {
            "id": dep_id,
            "status": "PRIMARY",
            "taskDefinition": service.task_definition,
            "desiredCount": service.desired_count,
            "pendingCount": service.desired_count,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "platformFamily": "Linux" if service.launch_type == "FARGATE" else None,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {dep_id} in progress.",
        }
        service.deployments = [new] + old
        self._recount(service)
        log.info("service %s: deployment %s started (%s)", service.name, dep_id, service.task_definition)
        return new

    # --- queries -----------------------------------------------------------------------------
    @staticmethod
    def primary(service: Any) -> dict | None:
        return next((d for d in service.deployments if d.get("status") == "PRIMARY"), None)

    def service(self, name: str = config.ECS_SERVICE, cluster: str = config.ECS_CLUSTER) -> Any:
        return self.ecs._get_service(cluster, name)

    def serving_task_definition(self, service: Any) -> Any | None:
        """The task definition whose tasks serve traffic: the PRIMARY deployment once it runs tasks,
        else the newest deployment that still runs tasks."""
        deployments = list(service.deployments)
        for d in deployments:
            if d.get("status") == "PRIMARY" and (d.get("runningCount", 0) > 0 or d.get("rolloutState") == "COMPLETED"):
                return self._task_definition(d["taskDefinition"])
        for d in deployments:
            if d.get("runningCount", 0) > 0:
                return self._task_definition(d["taskDefinition"])
        return None

    def _task_definition(self, arn: str) -> Any | None:
        try:
            return self.ecs.describe_task_definition(arn)
        except Exception:
            return None

    def service_tasks(self, service: Any, desired_status: str = "RUNNING") -> list:
        tasks = self.ecs.tasks.get(service.cluster_name, {})
        return [t for t in list(tasks.values())
                if t.group == f"service:{service.name}" and t.desired_status == desired_status]

    # --- controller --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:
                log.exception("ECS controller tick failed")

    def tick(self) -> None:
        changed = False
        with self.lock:
            for service in list(self.ecs.services.values()):
                if service.status != "ACTIVE":
                    continue
                primary = self.primary(service)
                if primary is None:
                    continue
                if primary.get("rolloutState") == "IN_PROGRESS":
                    age = (_now() - _aware(primary["createdAt"])).total_seconds()
                    if age >= self.deploy_seconds:
                        reason = self._blocked(service, primary)
                        if reason is None:
                            self.complete(service, primary)
                            changed = True
                        elif primary.get("lab_blocked") != reason:
                            primary["lab_blocked"] = reason
                            primary["failedTasks"] = primary.get("failedTasks", 0) + 1
                            self._event(service, f"(service {service.name}) deployment {primary['id']} "
                                                 f"is failing: {reason}.")
                elif primary.get("rolloutState") == "COMPLETED":
                    changed = self._scale(service, primary) or changed
        if changed:
            for fn in list(self.on_change):
                try:
                    fn()
                except Exception:
                    log.exception("ECS on_change hook failed")

    def _blocked(self, service: Any, deployment: dict) -> str | None:
        td = self._task_definition(deployment["taskDefinition"])
        for blocker in self.blockers:
            reason = blocker(service, deployment, td)
            if reason:
                return reason
        return None

    def complete(self, service: Any, deployment: dict) -> None:
        """Roll the deployment out: its tasks start, every other deployment's tasks stop."""
        with self.lock:
            started = self._run_tasks(service, deployment, deployment.get("desiredCount", service.desired_count))
            stopped = []
            for task in self.service_tasks(service):
                if task.started_by != deployment["id"]:
                    self._stop_task(service, task, f"Scaling activity initiated by (deployment {deployment['id']})")
                    stopped.append(task)
            now = _now()
            deployment.update({
                "rolloutState": "COMPLETED",
                "rolloutStateReason": f"ECS deployment {deployment['id']} completed.",
                "runningCount": deployment.get("desiredCount", service.desired_count),
                "pendingCount": 0,
                "updatedAt": now,
            })
            if service.launch_type == "FARGATE":
                deployment["platformFamily"] = "Linux"
            deployment.pop("lab_blocked", None)
            service.deployments = [deployment]
            self._recount(service)
            if started:
                self._event(service, f"(service {service.name}) has started {len(started)} tasks: "
                                     + " ".join(f"(task {t.id})." for t in started))
            if stopped:
                self._event(service, f"(service {service.name}) has stopped {len(stopped)} running tasks: "
                                     + " ".join(f"(task {t.id})." for t in stopped))
            self._event(service, f"(service {service.name}) has reached a steady state.")
            log.info("service %s: deployment %s completed", service.name, deployment["id"])

    def _scale(self, service: Any, primary: dict) -> bool:
        desired = service.desired_count
        running = [t for t in self.service_tasks(service) if t.started_by == primary["id"]]
        if len(running) == desired and primary.get("runningCount") == desired:
            return False
        if len(running) < desired:
            started = self._run_tasks(service, primary, desired - len(running))
            self._event(service, f"(service {service.name}) has started {len(started)} tasks: "
                                 + " ".join(f"(task {t.id})." for t in started))
        elif len(running) > desired:
            extra = running[desired:]
            for task in extra:
                self._stop_task(service, task, "Scaling activity initiated by (service update)")
            self._event(service, f"(service {service.name}) has stopped {len(extra)} running tasks: "
                                 + " ".join(f"(task {t.id})." for t in extra))
        primary.update({"desiredCount": desired, "runningCount": desired, "pendingCount": 0, "updatedAt": _now()})
        self._recount(service)
        self._event(service, f"(service {service.name}) has reached a steady state.")
        return True

    def _run_tasks(self, service: Any, deployment: dict, count: int) -> list:
        if count <= 0:
            return []
        return self.ecs.run_task(
            service.cluster_name,
            deployment["taskDefinition"],
            count,
            None,
            deployment["id"],
            None,
            "FARGATE",
            group=f"service:{service.name}",
        )

    def _stop_task(self, service: Any, task: Any, reason: str) -> None:
        task.last_status = "STOPPED"
        task.desired_status = "STOPPED"
        task.stopped_reason = reason

    def _recount(self, service: Any) -> None:
        service.running_count = sum(d.get("runningCount", 0) for d in service.deployments)
        service.pending_count = sum(d.get("pendingCount", 0) for d in service.deployments)

    def _event(self, service: Any, message: str) -> None:
        event = {"id": str(uuid.uuid4()), "createdAt": _now(), "message": message}
        service.events = ([event] + list(service.events))[:100]


def _install_list_task_definitions() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse

    def list_task_definitions(self: EC2ContainerServiceResponse) -> ActionResult:
        arns = self.ecs_backend.list_task_definitions(self._get_param("familyPrefix"),
                                                      self._get_param("status", "ACTIVE"))
        sort = str(self._get_param("sort") or "ASC").upper()
        if sort not in ("ASC", "DESC"):
            raise InvalidParameterException("sort must be one of ASC, DESC")

        def key(arn: str) -> tuple[str, int]:
            family, _sep, revision = arn.rsplit("/", 1)[-1].rpartition(":")
            return family, int(revision)

        arns = sorted(arns, key=key, reverse=sort == "DESC")
        start = int(self._get_param("nextToken") or 0)
        limit = int(self._get_param("maxResults") or 100)
        page = arns[start:start + limit]
        result: dict[str, Any] = {"taskDefinitionArns": page}
        if start + limit < len(arns):
            result["nextToken"] = str(start + limit)
        return ActionResult(result)

    EC2ContainerServiceResponse.list_task_definitions = list_task_definitions  # type: ignore[method-assign]


def _aware(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, timezone.utc)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def wait_for_steady(controller: EcsController, timeout: float = 10.0) -> bool:
    """Block until the lab service's PRIMARY deployment is COMPLETED (used by heal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        primary = controller.primary(controller.service())
        if primary is not None and primary.get("rolloutState") == "COMPLETED":
            return True
        time.sleep(0.1)
    return False
