"""What an AWS request is on the wire (service, protocol, operation, parameters) and how AWS answers errors.

The protocol comes from the request itself and is checked against botocore's service model: ``X-Amz-Target``
is the JSON protocol (ECS, Logs, SSM, DynamoDB), ``Action=`` the query protocol (ElastiCache, STS, IAM), anything
else a REST protocol whose operation is found from the model's HTTP method and request URI (S3: rest-xml).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from . import config

# Names that read, whatever their verb: Logs Insights queries, STS, simulations and tests of patterns.
READ_PREFIXES = ("Describe", "List", "Get", "Filter", "Head", "Search", "Scan", "Query", "BatchGet", "Select",
                 "Lookup", "Validate", "Check", "Preview", "Estimate", "Simulate", "Decode")
READ_OPERATIONS = frozenset({"StartQuery", "StopQuery", "AssumeRole", "AssumeRoleWithWebIdentity",
                             "TestMetricFilter", "TestEventPattern", "StartLiveTail"})
SERVICE_ALIASES = {"monitoring": "cloudwatch", "email": "ses", "states": "stepfunctions"}
CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")


@dataclass
class AwsRequest:
    service: str = ""
    protocol: str = ""
    operation: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    json_version: str = "1.1"

    @property
    def is_write(self) -> bool:
        return is_write(self.operation)


def is_write(operation: str) -> bool:
    return bool(operation) and operation not in READ_OPERATIONS and not operation.startswith(READ_PREFIXES)


@functools.lru_cache(maxsize=64)
def _model(signing_name: str) -> Any:
    session = _session()
    for name in (SERVICE_ALIASES.get(signing_name, signing_name), signing_name):
        try:
            return session.get_service_model(name)
        except Exception:
            continue
    return None


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def describe(environ: dict, body: bytes) -> AwsRequest:
    auth = environ.get("HTTP_AUTHORIZATION", "") or environ.get("QUERY_STRING", "")
    match = CREDENTIAL.search(unquote(auth))
    service = match["service"] if match else ""
    model = _model(service) if service else None
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    ctype = environ.get("CONTENT_TYPE", "")
    if target:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        version = (model.metadata.get("jsonVersion") if model is not None else None) or "1.1"
        return AwsRequest(service, "json", target.rsplit(".", 1)[-1], params if isinstance(params, dict) else {},
                          version)
    form = dict(query)
    if "x-www-form-urlencoded" in ctype and body:
        form.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()})
    if "Action" in form:
        params = {k: v for k, v in form.items() if k not in ("Action", "Version")}
        return AwsRequest(service, "query", form["Action"], params)
    protocol = model.protocol if model is not None else ("rest-xml" if service == "s3" else "rest-json")
    operation, labels = _rest_operation(model, environ, query)
    params = {**labels, **{k: v for k, v in query.items() if not k.lower().startswith("x-amz-")}}
    if "rest-json" in protocol and body:
        try:
            decoded = json.loads(body)
            if isinstance(decoded, dict):
                params.update(decoded)
        except ValueError:
            pass
    return AwsRequest(service, protocol if protocol in ("rest-xml", "rest-json") else "rest-json", operation, params)


def _rest_operation(model: Any, environ: dict, query: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The model's operation for this method, path, query and headers: the one whose request URI matches and
    whose required query-string members and headers are present, the most specific first."""
    if model is None:
        return "", {}
    method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/") or "/"
    best: tuple[int, str, dict[str, str]] | None = None
    for name, uri, required_query, required_headers in _rest_routes(model.service_name).get(method, ()):
        labels = _match_uri(uri, path, query)
        if labels is None or any(q not in query for q in required_query):
            continue
        if any(f"HTTP_{h.upper().replace('-', '_')}" not in environ for h in required_headers):
            continue
        score = uri.count("?") + uri.count("&") + len(labels) + len(required_query) + len(required_headers)
        if best is None or score > best[0]:
            best = (score, name, labels)
    return (best[1], best[2]) if best is not None else ("", {})


@functools.lru_cache(maxsize=16)
def _rest_routes(service: str) -> dict[str, list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]]:
    model = _session().get_service_model(service)
    routes: dict[str, list] = {}
    for name in model.operation_names:
        op = model.operation_model(name)
        required_query, required_headers = [], []
        shape = op.input_shape
        for member in (shape.required_members if shape is not None else ()):
            ser = shape.members[member].serialization
            if ser.get("location") == "querystring":
                required_query.append(ser.get("name", member))
            elif ser.get("location") == "header":
                required_headers.append(ser.get("name", member))
        routes.setdefault(op.http.get("method", "GET"), []).append(
            (name, op.http.get("requestUri", "/"), tuple(required_query), tuple(required_headers)))
    return routes


@functools.lru_cache(maxsize=2048)
def _uri_pattern(uri: str) -> tuple[re.Pattern, tuple[tuple[str, str | None], ...]]:
    path, _mark, qs = uri.partition("?")
    regex = "^" + re.sub(r"\\\{(\w+)(\\\+)?\\\}",
                         lambda m: f"(?P<{m[1]}>.+)" if m[2] else f"(?P<{m[1]}>[^/]+)", re.escape(path))
    wanted = tuple((k, v if sep else None) for k, sep, v in (p.partition("=") for p in qs.split("&") if p))
    return re.compile(regex + "/?$"), wanted


def _match_uri(uri: str, path: str, query: dict[str, str]) -> dict[str, str] | None:
    pattern, wanted = _uri_pattern(uri)
    match = pattern.match(path)
    if match is None:
        return None
    for key, value in wanted:
        if key not in query or (value is not None and query[key] != value):
            return None
    return {k: unquote(v) for k, v in match.groupdict().items()}


# --- errors as AWS sends them ----------------------------------------------------------------------
def error_for(mode: str, request: AwsRequest) -> tuple[int, str, str]:
    """(HTTP status, code, message) of the fault ``mode`` for this request's service and protocol."""
    service, operation = request.service or "aws", request.operation or "Unknown"
    if mode == "access_denied":
        action = f"{_iam_prefix(service)}:{operation}"
        if request.protocol == "rest-xml":
            return 403, "AccessDenied", "Access Denied"
        code = "AccessDenied" if request.protocol == "query" else "AccessDeniedException"
        return (403 if request.protocol == "query" else 400, code,
                f"User: arn:aws:iam::{config.AWS_ACCOUNT_ID}:user/sre-automation is not authorized to perform: "
                f"{action} on resource: {_resource(request)} because no identity-based policy allows the "
                f"{action} action")
    if mode == "throttling":
        if request.protocol == "rest-xml":
            return 503, "SlowDown", "Please reduce your request rate."
        return (400, "Throttling" if request.protocol == "query" else "ThrottlingException", "Rate exceeded")
    if mode == "500":
        if request.protocol == "rest-xml":
            return 500, "InternalError", "We encountered an internal error. Please try again."
        return (500, "InternalFailure",
                "The request processing has failed because of an unknown error, exception or failure.")
    if mode == "503":
        return 503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."
    raise ValueError(mode)


def error_body(request: AwsRequest, status: int, code: str, message: str) -> tuple[bytes, dict[str, str]]:
    request_id = str(uuid.uuid4())
    if request.protocol == "query":
        xmlns = _query_namespace(request.service)
        kind = "Sender" if status < 500 else "Receiver"
        body = (f'<ErrorResponse xmlns="{xmlns}"><Error><Type>{kind}</Type><Code>{code}</Code>'
                f"<Message>{_xml(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return body.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}
    if request.protocol == "rest-xml":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{_xml(message)}'
                f"</Message><RequestId>{request_id[:16].upper()}</RequestId><HostId>{request_id}</HostId></Error>")
        return body.encode(), {"Content-Type": "application/xml", "x-amz-request-id": request_id[:16].upper()}
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": f"{code}:"}
    if request.protocol == "json":
        headers["Content-Type"] = f"application/x-amz-json-{request.json_version}"
        type_name = f"com.amazon.coral.service#{code}" if request.service == "dynamodb" else code
        return json.dumps({"__type": type_name, "message": message}).encode(), headers
    headers["Content-Type"] = "application/json"
    return json.dumps({"message": message}).encode(), headers


def _query_namespace(service: str) -> str:
    model = _model(service) if service else None
    return (model.metadata.get("xmlNamespace") if model is not None else None) or \
        f"http://{service or 'aws'}.amazonaws.com/doc/"


def _iam_prefix(service: str) -> str:
    model = _model(service) if service else None
    return (model.metadata.get("signingName") if model is not None else None) or service


def _resource(request: AwsRequest) -> str:
    p, region, account = request.params, config.AWS_REGION, config.AWS_ACCOUNT_ID
    if request.service == "ecs" and p.get("service"):
        return f"arn:aws:ecs:{region}:{account}:service/{p.get('cluster', 'default')}/{p['service']}"
    if request.service == "s3" and p.get("Bucket"):
        return f"arn:aws:s3:::{p['Bucket']}" + (f"/{p['Key']}" if p.get("Key") else "")
    if request.service == "ssm" and p.get("Name"):
        return f"arn:aws:ssm:{region}:{account}:parameter/{str(p['Name']).lstrip('/')}"
    if request.service == "elasticache" and p.get("ReplicationGroupId"):
        return f"arn:aws:elasticache:{region}:{account}:replicationgroup:{p['ReplicationGroupId']}"
    if request.service == "dynamodb" and p.get("TableName"):
        return f"arn:aws:dynamodb:{region}:{account}:table/{p['TableName']}"
    return "*"


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
