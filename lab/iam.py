"""IAM enforcement in the lab's AWS emulator: docs/iam-policy.json, rendered for the lab, on a moto IAM user.

moto authenticates a request once ``ActionAuthenticatorMixin.request_count`` reaches
``moto.settings.INITIAL_NO_AUTH_ACTION_COUNT`` (infinite by default: never). The lab seeds itself with that left
alone, then sets it to 0 to enforce (and back to infinity to stop). moto checks ECS, ElastiCache, Logs and SSM
calls against Resource "*" only; ``install()`` hands moto's evaluator, for the calls the modules make, the
resources and the extra actions (ecs:TagResource, iam:PassRole) AWS checks, as the Service Authorization
Reference lists them. docs/iam-policy.md says what differs from AWS still.
"""

from __future__ import annotations

import collections
import json
import math
import string
import threading
from typing import Any, Callable

from . import config

POLICY_FILE = config.REPO_ROOT / "docs" / "iam-policy.json"
ADMIN_USER = "lab-admin"  # holds the lab's well-known keys (seeding, break/heal, tests' own reads)
POLICY_USER = "sre-incident-automation"
POLICY_NAME = "sre-incident"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def template_values() -> dict[str, str]:
    """The lab's value of every ${Name} in docs/iam-policy.json."""
    return {
        "Region": config.AWS_REGION,
        "Account": config.AWS_ACCOUNT_ID,
        "Cluster": config.ECS_CLUSTER,
        "Service": config.ECS_SERVICE,
        "TaskFamily": config.TASK_FAMILY,
        "TaskRole": config.TASK_ROLE_NAME,
        "ExecutionRole": config.EXECUTION_ROLE_NAME,
        "ReplicationGroup": config.REPLICATION_GROUP_ID,
        "LogGroup": config.LOG_GROUP,
        "FeatureFlagPath": config.FEATURE_FLAG_NEW_CHECKOUT.rsplit("/", 1)[0].lstrip("/"),
        "HeapdumpBucket": config.HEAPDUMP_BUCKET,
    }


def render(text: str, values: dict[str, str]) -> dict[str, Any]:
    """The policy template with every ${Name} replaced; a name without a value is an error."""
    return json.loads(string.Template(text).substitute(values))


def lab_policy() -> dict[str, Any]:
    return render(POLICY_FILE.read_text(), template_values())


def _iam_backend() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[config.AWS_ACCOUNT_ID]["aws"]


class LabIam:
    """The policy user and the enforcement switch. Created after seeding (moto's IAM is empty until then)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.enforced = False
        self.policy: dict[str, Any] = {}
        self.denials: collections.deque[dict[str, str]] = collections.deque(maxlen=100)
        iam = _iam_backend()
        iam.create_user(config.AWS_REGION, ADMIN_USER)
        iam.put_user_policy(ADMIN_USER, "lab-admin", json.dumps(ADMIN_POLICY))
        admin_key = iam.create_access_key(ADMIN_USER)
        admin_key.access_key_id, admin_key.secret_access_key = config.AWS_ACCESS_KEY_ID, config.AWS_SECRET_ACCESS_KEY
        iam.create_user(config.AWS_REGION, POLICY_USER)
        self.key = iam.create_access_key(POLICY_USER)
        self.set_policy(None)

    def set_policy(self, policy: dict[str, Any] | None) -> None:
        """Put policy (None: docs/iam-policy.json for the lab) on the policy user, replacing what it had."""
        document = policy if policy is not None else lab_policy()
        _iam_backend().put_user_policy(POLICY_USER, POLICY_NAME, json.dumps(document))
        self.policy = document

    def enforce(self, on: bool) -> None:
        from moto import settings

        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if on else math.inf
        self.enforced = on

    def configure(self, enforce: bool | None = None, policy: dict[str, Any] | None = None,
                  reset_policy: bool = False) -> dict[str, Any]:
        with self.lock:
            if policy is not None or reset_policy:
                self.set_policy(policy)
            if enforce is not None:
                self.enforce(enforce)
            if enforce or policy is not None or reset_policy:
                self.denials.clear()
        return self.describe(details=True)

    def denied(self, action: str, resource: str) -> None:
        self.denials.append({"action": action, "resource": resource})

    def describe(self, details: bool = False) -> dict[str, Any]:
        """status["iam"]; with details, also the policy in force and the denials since it was put or enforcement began."""
        info: dict[str, Any] = {
            "enforced": self.enforced,
            "policy_user": {"name": POLICY_USER, "access_key_id": self.key.access_key_id,
                            "secret_access_key": self.key.secret_access_key},
        }
        if details:
            info.update(policy=self.policy, denials=list(self.denials))
        return info


def options_from(body: Any) -> dict[str, Any]:
    """LabIam.configure's options from a control API request body; a LabError (exit code 2) for anything else."""
    from .scenarios import LabError

    if not isinstance(body, dict) or set(body) - {"enforce", "policy", "reset_policy"} \
            or not isinstance(body.get("policy", {}), dict) \
            or not all(isinstance(body.get(key, False), bool) for key in ("enforce", "reset_policy")):
        raise LabError('iam takes a JSON object {"enforce": bool, "policy": {...}, "reset_policy": bool}', exit_code=2)
    return body


# --- what AWS authorizes for a request ------------------------------------------------------------
Get = Callable[[str], Any]
Check = tuple[str | None, str]  # (an extra action AWS checks, or None for the call's own; the resource ARN)


def _arn(service: str, rest: str) -> str:
    return f"arn:aws:{service}:{config.AWS_REGION}:{config.AWS_ACCOUNT_ID}:{rest}"


def _name(value: Any) -> str:
    return str(value or "").rsplit("/", 1)[-1]


def _next_revision(family: str) -> int:
    from .aws_emulator import backend

    return max(backend("ecs").task_definitions.get(family, {}) or [0]) + 1


def ecs_checks(action: str, get: Get) -> list[Check]:
    cluster = _name(get("cluster") or "default")

    def service(name: Any) -> str:
        return _arn("ecs", f"service/{cluster}/{_name(name)}")

    if action in ("UpdateService", "ListServiceDeployments"):
        return [(None, service(get("service")))]
    if action == "DescribeServices":
        return [(None, service(name)) for name in get("services") or []]
    if action == "DescribeServiceRevisions":
        checks: list[Check] = []
        for arn in get("serviceRevisionArns") or []:
            revision_cluster, revision_service = (arn.split(":service-revision/", 1)[-1].split("/") + ["", ""])[:2]
            checks += [(None, _arn("ecs", f"service/{revision_cluster}/{revision_service}")), (None, arn)]
        return checks
    if action == "DescribeTasks":
        return [(None, task if task.startswith("arn:") else _arn("ecs", f"task/{cluster}/{task}"))
                for task in get("tasks") or []]
    if action == "RegisterTaskDefinition":
        family = get("family") or ""
        revision = _arn("ecs", f"task-definition/{family}:{_next_revision(family)}")
        checks = [(None, revision)] + ([("ecs:TagResource", revision)] if get("tags") else [])
        for key in ("taskRoleArn", "executionRoleArn"):
            role = get(key)
            if role:
                checks.append(("iam:PassRole", role if role.startswith("arn:")
                               else f"arn:aws:iam::{config.AWS_ACCOUNT_ID}:role/{role}"))
        return checks
    return []  # ListTasks (condition ecs:cluster), ListTaskDefinitions, Describe/DeregisterTaskDefinition: "*"


def elasticache_checks(action: str, get: Get) -> list[Check]:
    if action in ("DescribeReplicationGroups", "TestFailover") and get("ReplicationGroupId"):
        return [(None, _arn("elasticache", f"replicationgroup:{get('ReplicationGroupId')}"))]
    if action in ("DescribeCacheClusters", "RebootCacheCluster") and get("CacheClusterId"):
        return [(None, _arn("elasticache", f"cluster:{get('CacheClusterId')}"))]
    return []


def _log_group(identifier: str) -> str:
    # the ARN form DescribeLogGroups returns, which "log-group:NAME:*" in a policy matches
    return _arn("logs", f"log-group:{identifier.split(':log-group:', 1)[-1].removesuffix(':*')}:*")


def logs_checks(action: str, get: Get) -> list[Check]:
    if action in ("FilterLogEvents", "StartQuery"):
        groups = [get("logGroupName"), get("logGroupIdentifier")] + list(get("logGroupNames") or []) \
            + list(get("logGroupIdentifiers") or [])
        return [(None, _log_group(group)) for group in groups if group]
    if action == "GetQueryResults":
        from .logs_insights import INSIGHTS

        query = INSIGHTS.queries.get(get("queryId") or "")
        return [(None, _log_group(group)) for group in (query.groups if query else [])]
    return []  # StopQuery: "*"


def ssm_checks(action: str, get: Get) -> list[Check]:
    names = list(get("Names") or []) if action == "GetParameters" else [get("Name")]
    if action in ("GetParameter", "GetParameters", "PutParameter"):
        return [(None, _arn("ssm", "parameter/" + str(name).lstrip("/"))) for name in names if name]
    return []


CHECKS = {"ecs": ecs_checks, "elasticache": elasticache_checks, "logs": logs_checks, "ssm": ssm_checks}


def install(lab_iam: LabIam) -> None:
    """Authorize ECS/ElastiCache/Logs/SSM requests on their resources (moto's S3 already uses the bucket's)."""
    from moto.core.exceptions import AccessDeniedError
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.elasticache.responses import ElastiCacheResponse
    from moto.iam.access_control import IAMRequest
    from moto.logs.responses import LogsResponse
    from moto.ssm.responses import SimpleSystemManagerResponse

    def extra_action(action: str) -> type:
        class ExtraAction(IAMRequest):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self._action = action

        return ExtraAction

    def authorizer(service: str) -> Callable:
        def authorize(self: Any, resource: str = "*") -> None:
            action = self._get_action()
            for extra, arn in CHECKS[service](action, self._get_param) or [(None, resource)]:
                try:
                    self._authenticate_and_authorize_action(IAMRequest if extra is None else extra_action(extra), arn)
                except AccessDeniedError:
                    lab_iam.denied(extra or f"{service}:{action}", arn)
                    raise

        return authorize

    for cls, service in ((EC2ContainerServiceResponse, "ecs"), (ElastiCacheResponse, "elasticache"),
                         (LogsResponse, "logs"), (SimpleSystemManagerResponse, "ssm")):
        cls._authenticate_and_authorize_normal_action = authorizer(service)  # type: ignore[method-assign]
