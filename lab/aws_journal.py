"""The journal entry of an AWS write: its target and key parameters, never a secret value."""

from __future__ import annotations

from typing import Any

from .aws_wire import AwsRequest
from .journal import REDACTED

# The first of these a request names is its target.
TARGET_KEYS = ("service", "serviceName", "ReplicationGroupId", "CacheClusterId", "Name", "TableName", "logGroupName",
               "taskDefinition", "family", "cluster", "clusterName", "resourceArn", "ResourceName", "Bucket",
               "RoleName", "PolicyArn", "FunctionName", "QueueUrl", "TopicArn", "Names", "Keys")


def entry(request: AwsRequest) -> tuple[str, str, dict[str, Any]]:
    """(operation, target, params) of an accepted write."""
    params = dict(request.params)
    op = request.operation
    if op == "PutParameter" and not _plain_parameter(params):
        params["Value"] = REDACTED
    if op == "RegisterTaskDefinition":
        params["containerDefinitions"] = [_container(c) for c in params.get("containerDefinitions") or []
                                          if isinstance(c, dict)]
    if request.service == "s3":
        params = {k: v for k, v in params.items() if k in ("Bucket", "Key", "tagging", "versionId", "uploadId")}
    if request.service == "secretsmanager":
        params = {k: (REDACTED if k in ("SecretString", "SecretBinary") else v) for k, v in params.items()}
    return op, _target(request, params), {"aws_service": request.service, **params}


def _target(request: AwsRequest, params: dict[str, Any]) -> str:
    if request.service == "s3" and params.get("Bucket"):
        return params["Bucket"] + (f"/{params['Key']}" if params.get("Key") else "")
    if request.service == "ecs" and params.get("service"):
        return f"{params.get('cluster', 'default')}/{params['service']}"
    for key in TARGET_KEYS:
        value = params.get(key)
        if isinstance(value, (str, int)) and value != "":
            return str(value)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return ",".join(value)
    return request.service


def _plain_parameter(params: dict[str, Any]) -> bool:
    """An SSM parameter whose value may be shown: the request's Type, else the stored one, is not SecureString."""
    kind = params.get("Type")
    if kind is None:
        try:
            from .aws_emulator import backend

            stored = backend("ssm").get_parameter(params.get("Name"))
            kind = getattr(stored, "type", None) if stored is not None else None
        except Exception:
            kind = None
    return kind in ("String", "StringList")


def _container(container: dict[str, Any]) -> dict[str, Any]:
    keep = {k: container[k] for k in ("name", "image", "cpu", "memory", "memoryReservation", "essential")
            if k in container}
    if container.get("environment"):
        keep["environment"] = container["environment"]  # journal.redact hides secret-named variables
    if container.get("secrets"):
        keep["secrets"] = [s.get("name") for s in container["secrets"] if isinstance(s, dict)]
    return keep
