"""ECS service deployments and service revisions (the deployment history moto does not keep), and the ECS
API operations the lab adds to or fixes in moto's ``EC2ContainerServiceResponse``:

* ``ListServiceDeployments`` (cluster, service, status filter, createdAt before/after, maxResults 1-100
  default 20, nextToken; newest first), ``DescribeServiceDeployments`` and ``DescribeServiceRevisions``
  (at most 20 ARNs; unknown ARNs come back under ``failures`` with reason MISSING), in botocore's shapes;
* ``CreateService`` keeps ``deploymentConfiguration`` and starts the service's tasks;
* ``DescribeTasks`` reports unknown tasks under ``failures`` (reason MISSING), as ECS does;
* ``ListTaskDefinitions`` honours ``sort`` (ASC/DESC by family, revision), ``maxResults`` and ``nextToken``.

Every deployment gets a service deployment (PENDING -> IN_PROGRESS -> SUCCESSFUL; STOPPED when a newer one
supersedes it or its circuit breaker fails it without rollback; ROLLBACK_IN_PROGRESS -> ROLLBACK_SUCCESSFUL or
ROLLBACK_FAILED when the circuit breaker rolls back) and a service revision that names its task definition.
The operations go through moto's own parser and serializer, so errors and shapes are what botocore expects.
"""

from __future__ import annotations

import copy
import hashlib
import random
import string
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import config

if TYPE_CHECKING:
    from .ecs_controller import EcsController

STATUSES = ("PENDING", "SUCCESSFUL", "STOPPED", "STOP_REQUESTED", "IN_PROGRESS", "ROLLBACK_REQUESTED",
            "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
SUPERSEDED_REASON = "ECS stopped the service deployment because a new service deployment started."
BREAKER_FAILED_REASON = "ECS deployment circuit breaker: tasks failed to start."
_ID_CHARS = string.ascii_letters + string.digits + "-_"


def _as_dt(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(float(value), timezone.utc)


def _arn(kind: str, service: Any, suffix: str) -> str:
    return (f"arn:aws:ecs:{config.AWS_REGION}:{config.AWS_ACCOUNT_ID}:{kind}/"
            f"{service.cluster_name}/{service.name}/{suffix}")


def _summary(arn: str, counts: tuple[int, int, int]) -> dict:
    requested, running, pending = counts
    return {"arn": arn, "requestedTaskCount": requested, "runningTaskCount": running, "pendingTaskCount": pending}


class ServiceHistory:
    def __init__(self, controller: "EcsController") -> None:
        self.controller = controller
        self.deployments: dict[str, dict] = {}  # service deployment ARN -> record (botocore shape + lab_ keys)
        self.revisions: dict[str, dict] = {}  # service revision ARN -> record

    # --- records -----------------------------------------------------------------------------
    def revision(self, arn: str | None) -> dict | None:
        return self.revisions.get(arn or "")

    def new_revision(self, service: Any, task_definition_arn: str, at: Any) -> dict:
        td = self.controller._task_definition(task_definition_arn)
        images = []
        for container in (getattr(td, "container_definitions", None) or []):
            image = str(container.get("image", ""))
            digest = "sha256:" + hashlib.sha256(image.encode()).hexdigest()
            images.append({"containerName": container.get("name"), "imageDigest": digest, "image": image})
        arn = _arn("service-revision", service, str(random.randint(10**18, 10**19 - 1)))
        record = {
            "serviceRevisionArn": arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "taskDefinition": td.arn if td is not None else task_definition_arn,
            "launchType": service.launch_type or "FARGATE",
            "platformVersion": "1.4.0",
            "platformFamily": "Linux",
            "loadBalancers": [],
            "serviceRegistries": [],
            "containerImages": images,
            "guardDutyEnabled": False,
            "createdAt": _as_dt(at),
        }
        self.revisions[arn] = record
        return record

    def new_deployment(self, service: Any, revision: dict, at: Any, sources: list[dict],
                       source_counts: dict[str, tuple[int, int, int]] | None = None) -> dict:
        from .ecs_controller import breaker_threshold, circuit_breaker

        source_counts = source_counts or {}
        arn = _arn("service-deployment", service, "".join(random.choice(_ID_CHARS) for _n in range(21)))
        breaker = circuit_breaker(service)
        when = _as_dt(at)
        record = {
            "serviceDeploymentArn": arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "createdAt": when,
            "updatedAt": when,
            "sourceServiceRevisions": [
                _summary(s["serviceRevisionArn"],
                         source_counts.get(s["serviceRevisionArn"], (int(service.desired_count or 0),) * 2 + (0,)))
                for s in sources],
            "targetServiceRevision": _summary(revision["serviceRevisionArn"], (int(service.desired_count or 0), 0, 0)),
            "status": "PENDING",
            "lifecycleStage": "RECONCILE_SERVICE",
            "deploymentConfiguration": copy.deepcopy(getattr(service, "deployment_configuration", None) or {}),
            "deploymentCircuitBreaker": {
                "status": "MONITORING" if breaker.get("enable") else "DISABLED",
                "failureCount": 0,
                "threshold": breaker_threshold(service, int(service.desired_count or 0)),
            },
            "alarms": {"status": "DISABLED"},
            "lab_service_key": _service_key(service),
        }
        self.deployments[arn] = record
        return record

    def record_past(self, service: Any, task_definition_arn: str, at: float, previous: dict | None) -> dict:
        """A deployment that completed in the past (seed history). Returns its service revision."""
        revision = self.new_revision(service, task_definition_arn, at)
        revision["lab_deployment_id"] = f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"
        sd = self.new_deployment(service, revision, at, sources=[previous] if previous else [])
        self.mark_started(sd["serviceDeploymentArn"], at + 1.6)
        self.finish(sd["serviceDeploymentArn"], at + 95)
        return revision

    # --- transitions (ARNs may be None for deployments the lab did not create) ---------------------
    def mark_started(self, arn: str | None, at: Any) -> None:
        sd = self.deployments.get(arn or "")
        if sd is not None and sd["status"] == "PENDING":
            sd.update({"status": "IN_PROGRESS", "startedAt": _as_dt(at), "updatedAt": _as_dt(at),
                       "lifecycleStage": "SCALE_UP"})

    def supersede(self, arn: str | None, at: Any) -> None:
        sd = self.deployments.get(arn or "")
        if sd is None or sd["status"] in FINISHED:
            return
        when = _as_dt(at)
        sd.update({"status": "STOPPED", "statusReason": SUPERSEDED_REASON, "stoppedAt": when, "finishedAt": when,
                   "updatedAt": when})
        sd.setdefault("startedAt", when)
        sd.pop("lifecycleStage", None)
        self._close_breaker(sd)

    def finish(self, arn: str | None, at: Any, rollback: bool = False) -> None:
        sd = self.deployments.get(arn or "")
        if sd is None or sd["status"] in FINISHED:
            return
        when = _as_dt(at)
        sd.setdefault("startedAt", when)
        sd.update({"status": "ROLLBACK_SUCCESSFUL" if rollback else "SUCCESSFUL", "finishedAt": when,
                   "updatedAt": when})
        sd.pop("lifecycleStage", None)
        if not rollback:
            target = sd["targetServiceRevision"]
            target["runningTaskCount"], target["pendingTaskCount"] = target["requestedTaskCount"], 0
        self._close_breaker(sd)

    def fail(self, arn: str | None, at: Any, rollback: bool = False) -> None:
        sd = self.deployments.get(arn or "")
        if sd is None or sd["status"] in FINISHED:
            return
        when = _as_dt(at)
        sd.update({"status": "ROLLBACK_FAILED" if rollback else "STOPPED", "statusReason": BREAKER_FAILED_REASON,
                   "stoppedAt": when, "finishedAt": when, "updatedAt": when})
        sd.pop("lifecycleStage", None)
        sd["deploymentCircuitBreaker"]["status"] = "TRIGGERED"

    def start_rollback(self, arn: str | None, target: dict, at: Any) -> None:
        sd = self.deployments.get(arn or "")
        if sd is None:
            return
        when = _as_dt(at)
        sd.update({"status": "ROLLBACK_IN_PROGRESS", "statusReason": BREAKER_FAILED_REASON, "updatedAt": when,
                   "rollback": {"reason": "Circuit Breaker triggered", "startedAt": when,
                                "serviceRevisionArn": target["serviceRevisionArn"]}})
        sd["deploymentCircuitBreaker"]["status"] = "TRIGGERED"

    def count_failure(self, arn: str | None) -> None:
        sd = self.deployments.get(arn or "")
        if sd is not None and sd["status"] not in FINISHED:
            sd["deploymentCircuitBreaker"]["failureCount"] += 1

    @staticmethod
    def _close_breaker(sd: dict) -> None:
        breaker = sd["deploymentCircuitBreaker"]
        if breaker["status"] == "MONITORING":
            breaker["status"] = "MONITORING_COMPLETE"

    def update_counts(self, service: Any, primary: dict, counts: dict[str, tuple[int, int, int]]) -> None:
        sd = self.deployments.get(primary.get("lab_sd") or "")
        if sd is None or sd["status"] in FINISHED:
            return
        target = sd["targetServiceRevision"]
        requested, running, pending = counts.get(target["arn"], (int(service.desired_count or 0), 0, 0))
        target.update({"requestedTaskCount": int(service.desired_count or 0), "runningTaskCount": running,
                       "pendingTaskCount": pending})
        for source in sd["sourceServiceRevisions"]:
            if source["arn"] in counts:
                requested, running, pending = counts[source["arn"]]
                source.update({"requestedTaskCount": requested, "runningTaskCount": running,
                               "pendingTaskCount": pending})
            else:
                source.update({"requestedTaskCount": 0, "runningTaskCount": 0, "pendingTaskCount": 0})
        if sd["status"] == "IN_PROGRESS":
            sd["lifecycleStage"] = "SCALE_UP" if running < int(service.desired_count or 0) else "CLEAN_UP"

    # --- queries -----------------------------------------------------------------------------
    def for_service(self, service: Any) -> list[dict]:
        key = _service_key(service)
        return sorted((sd for sd in self.deployments.values() if sd["lab_service_key"] == key),
                      key=lambda sd: sd["createdAt"], reverse=True)

    def last_successful_revision(self, service: Any) -> dict | None:
        """The revision of the newest service deployment that completed successfully (a rollback's target
        revision for ROLLBACK_SUCCESSFUL)."""
        for sd in self.for_service(service):
            if sd["status"] == "SUCCESSFUL":
                return self.revision(sd["targetServiceRevision"]["arn"])
            if sd["status"] == "ROLLBACK_SUCCESSFUL" and sd.get("rollback"):
                return self.revision(sd["rollback"]["serviceRevisionArn"])
        return None

    def current_revisions(self, service: Any, tasks: list) -> list[dict]:
        out = []
        for d in service.deployments:
            arn = d.get("lab_rev")
            if not arn:
                continue
            mine = [t for t in tasks if t.started_by == d["id"]]
            running = sum(1 for t in mine if t.last_status == "RUNNING")
            if d.get("status") == "PRIMARY" or mine:
                out.append(_summary(arn, (int(d.get("desiredCount") or 0), running, len(mine) - running)))
        return out


def _service_key(service: Any) -> str:
    return f"{service.cluster_name}/{service.name}"


# --- API ---------------------------------------------------------------------------------------
def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("lab_")}


def install_api(controller: "EcsController") -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse

    history = controller.history

    def list_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
        cluster = self._get_param("cluster") or "default"
        service_param = self._get_param("service")
        if not service_param:
            raise InvalidParameterException("service must be specified.")
        service = self.ecs_backend._get_service(cluster, str(service_param).rsplit("/", 1)[-1])
        statuses = self._get_param("status") or []
        bad = [s for s in statuses if s not in STATUSES]
        if bad:
            raise InvalidParameterException(f"Invalid status value(s): {', '.join(bad)}. Valid values: "
                                            f"{', '.join(STATUSES)}.")
        created = self._get_param("createdAt") or {}
        before, after = created.get("before"), created.get("after")
        max_results = self._get_param("maxResults")
        limit = 20 if max_results is None else int(max_results)
        if not 1 <= limit <= 100:
            raise InvalidParameterException("maxResults must be between 1 and 100.")
        token = self._get_param("nextToken")
        try:
            start = int(token) if token else 0
        except ValueError:
            raise InvalidParameterException("Invalid nextToken.") from None
        with controller.lock:
            records = history.for_service(service)
            if statuses:
                records = [r for r in records if r["status"] in statuses]
            if before is not None:
                records = [r for r in records if r["createdAt"] <= _as_dt(before)]
            if after is not None:
                records = [r for r in records if r["createdAt"] >= _as_dt(after)]
            page = records[start:start + limit]
            brief = [{
                "serviceDeploymentArn": r["serviceDeploymentArn"],
                "serviceArn": r["serviceArn"],
                "clusterArn": r["clusterArn"],
                "startedAt": r.get("startedAt"),
                "createdAt": r["createdAt"],
                "finishedAt": r.get("finishedAt"),
                "targetServiceRevisionArn": r["targetServiceRevision"]["arn"],
                "status": r["status"],
                "statusReason": r.get("statusReason"),
            } for r in page]
        result: dict[str, Any] = {"serviceDeployments": brief}
        if start + limit < len(records):
            result["nextToken"] = str(start + limit)
        return ActionResult(result)

    def _describe(self: EC2ContainerServiceResponse, param: str, table: dict, key: str) -> ActionResult:
        arns = self._get_param(param) or []
        if not arns:
            raise InvalidParameterException(f"{param} must not be empty.")
        if len(arns) > 20:
            raise InvalidParameterException(f"{param} can have at most 20 items.")
        found, failures = [], []
        with controller.lock:
            for arn in arns:
                record = table.get(arn)
                if record is None:
                    failures.append({"arn": arn, "reason": "MISSING"})
                else:
                    found.append(copy.deepcopy(_public(record)))
        return ActionResult({key: found, "failures": failures})

    def describe_service_deployments(self: EC2ContainerServiceResponse) -> ActionResult:
        return _describe(self, "serviceDeploymentArns", history.deployments, "serviceDeployments")

    def describe_service_revisions(self: EC2ContainerServiceResponse) -> ActionResult:
        return _describe(self, "serviceRevisionArns", history.revisions, "serviceRevisions")

    original_create_service = EC2ContainerServiceResponse.create_service
    original_describe_tasks = EC2ContainerServiceResponse.describe_tasks

    def create_service(self: EC2ContainerServiceResponse) -> ActionResult:
        deployment_configuration = self._get_param("deploymentConfiguration")
        result = original_create_service(self)
        service = self.ecs_backend._get_service(self._get_param("cluster", "default"),
                                                self._get_param("serviceName"))
        controller.adopt_created_service(service, deployment_configuration)
        return result

    def describe_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
        result = original_describe_tasks(self)
        asked = self._get_param("tasks", []) or []
        tasks = result.result.get("tasks", []) if hasattr(result, "result") else []
        known = {t.task_arn for t in tasks} | {t.id for t in tasks}
        failures = [{"arn": a if a.startswith("arn:") else
                     f"arn:aws:ecs:{config.AWS_REGION}:{config.AWS_ACCOUNT_ID}:task/{a}", "reason": "MISSING"}
                    for a in asked if a not in known and a.rsplit("/", 1)[-1] not in known]
        if hasattr(result, "result"):
            result.result["failures"] = failures
        return result

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

    cls = EC2ContainerServiceResponse
    cls.list_service_deployments = list_service_deployments  # type: ignore[attr-defined]
    cls.describe_service_deployments = describe_service_deployments  # type: ignore[attr-defined]
    cls.describe_service_revisions = describe_service_revisions  # type: ignore[attr-defined]
    cls.create_service = create_service  # type: ignore[method-assign]
    cls.describe_tasks = describe_tasks  # type: ignore[method-assign]
    cls.list_task_definitions = list_task_definitions  # type: ignore[method-assign]
