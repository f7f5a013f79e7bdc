# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS connection and error handling for every sre.incident AWS module, written once.

Clients get explicit connect/read timeouts and botocore's standard retry mode, so throttling is
retried and nothing hangs. Errors are matched by code AND HTTP status because emulators and
some AWS front ends answer IAM denials as a bare 403 with an XML body.
"""

from __future__ import annotations

import os
import re
import threading

try:
    import boto3
    import botocore.config
    import botocore.exceptions
    HAS_BOTO3 = True
    BOTO3_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by require_boto3()
    HAS_BOTO3 = False
    BOTO3_IMPORT_ERROR = exc

from ansible.module_utils.basic import missing_required_lib

AWS_ARGUMENT_SPEC = dict(
    region=dict(type="str", aliases=["aws_region"]),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url"]),
    access_key=dict(type="str", aliases=["aws_access_key_id"], no_log=False),
    secret_key=dict(type="str", aliases=["aws_secret_access_key"], no_log=True),
    session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
    profile=dict(type="str", aliases=["aws_profile"]),
    connect_timeout=dict(type="float", default=5),
    read_timeout=dict(type="float", default=20),
    max_attempts=dict(type="int", default=4),
)

_DENIED_CODES = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
                 "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException")
_THROTTLE_CODES = ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded")


def aws_argument_spec(**extra):
    spec = dict(AWS_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def require_boto3(module):
    if not HAS_BOTO3:
        module.fail_json(msg=missing_required_lib("boto3"), exception=str(BOTO3_IMPORT_ERROR))


# One boto3 session per set of credentials in a process: steps run together (sre.incident.run_concurrently) then
# share botocore's loaded endpoint and partition data instead of each loading its own. botocore sessions are not
# thread-safe, so clients are made under a lock; the clients themselves are.
_SESSIONS = {}
_SESSIONS_LOCK = threading.Lock()


def client(module, service):
    """A boto3 client for service, from the module's options, falling back to the usual AWS_* environment."""
    require_boto3(module)
    params = module.params
    region = params.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint_url = params.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    config = botocore.config.Config(
        connect_timeout=params["connect_timeout"],
        read_timeout=params["read_timeout"],
        retries={"mode": "standard", "max_attempts": params["max_attempts"]},
    )
    key = (params.get("access_key"), params.get("secret_key"), params.get("session_token"), params.get("profile"), region)
    try:
        with _SESSIONS_LOCK:
            if key not in _SESSIONS:
                _SESSIONS[key] = boto3.session.Session(
                    aws_access_key_id=params.get("access_key"),
                    aws_secret_access_key=params.get("secret_key"),
                    aws_session_token=params.get("session_token"),
                    profile_name=params.get("profile"),
                    region_name=region,
                )
            return _SESSIONS[key].client(service, endpoint_url=endpoint_url, config=config)
    except botocore.exceptions.BotoCoreError as exc:
        module.fail_json(msg="AWS %s: cannot create a client: %s" % (service, exc))


def error_code(exc):
    """(code, http_status) of a botocore ClientError; ("", 0) for anything else."""
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code", "") or ""
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
    return code, status


def is_not_found(exc, *codes):
    code, status = error_code(exc)
    return code in codes or (status == 404 and not code.startswith("Throttl"))


def _one_line(text, limit=300):
    """A message as one short line: proxies and emulators sometimes answer with an HTML page."""
    text = re.sub(r"<[^>]+>", " ", text or "")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_error(exc, backend, call):
    """One line naming the backend, the call, what went wrong and what to check next."""
    where = "%s %s" % (backend, call)
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.ClientError):
        code, status = error_code(exc)
        message = _one_line(exc.response.get("Error", {}).get("Message", ""))
        if code in _DENIED_CODES or status == 403:
            hint = "the credentials in use lack permission for %s; see docs/iam-policy.md" % call
            return "%s: access denied (%s, HTTP %s): %s - %s" % (where, code or "no code", status, message or "no message", hint)
        if code in _THROTTLE_CODES or status == 429:
            return "%s: throttled by AWS after retries (%s): %s - retry in a minute or raise max_attempts" % (where, code, message)
        return "%s: %s (HTTP %s): %s" % (where, code or "error", status, message)
    if HAS_BOTO3 and isinstance(exc, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError)):
        return "%s: cannot reach the endpoint (%s) - check endpoint_url/region and network access" % (where, exc)
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return "%s: no answer within read_timeout (%s) - the API is slow or unreachable" % (where, exc)
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "%s: no AWS credentials found - set access_key/secret_key, profile or the AWS_* environment" % where
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.NoRegionError):
        return "%s: no region - set region or AWS_REGION" % where
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.ParamValidationError):
        return "%s: invalid request parameters: %s" % (where, exc)
    return "%s: %s: %s" % (where, type(exc).__name__, _one_line(str(exc)))


def fail(module, exc, backend, method, **extra):
    """Fail the module with describe_error's one line for exc raised by api.<method>."""
    module.fail_json(msg=describe_error(exc, backend, _operation_name(method)), error_code=error_code(exc)[0], **extra)


def call(module, backend, api, method, **kwargs):
    """Run one AWS API call; on any failure fail the module with describe_error's line."""
    try:
        return getattr(api, method)(**kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one readable line, never a traceback
        fail(module, exc, backend, method)


def _operation_name(method):
    return "".join(part.capitalize() for part in method.split("_"))
