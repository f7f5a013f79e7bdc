# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWS connection and error handling for every sre.incident AWS module, written once.

Clients get explicit connect/read timeouts and botocore's standard retry mode, so throttling is
retried and nothing hangs; a timed-out attempt is not retried, and every attempt ends by the run's
deadline. Errors are matched by code AND HTTP status because emulators and
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
from ansible_collections.sre.incident.plugins.module_utils.common import (
    DEADLINE_ARGUMENT_SPEC,
    DeadlinePassed,
    bounded,
    check_deadline,
    time_left,
)

AWS_ARGUMENT_SPEC = dict(
    region=dict(type="str", aliases=["aws_region"]),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url"]),
    access_key=dict(type="str", aliases=["aws_access_key_id"], no_log=False),
    secret_key=dict(type="str", aliases=["aws_secret_access_key"], no_log=True),
    session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
    profile=dict(type="str", aliases=["aws_profile"]),
    connect_timeout=dict(type="float", default=5),
    read_timeout=dict(type="float", default=10),
    max_attempts=dict(type="int", default=3),
    **DEADLINE_ARGUMENT_SPEC
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
    check_deadline(module, "AWS %s" % service)
    params = module.params
    region = params.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint_url = params.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL")
    config = botocore.config.Config(
        connect_timeout=bounded(params["connect_timeout"], params),
        read_timeout=bounded(params["read_timeout"], params),
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
            api = _SESSIONS[key].client(service, endpoint_url=endpoint_url, config=config)
    except botocore.exceptions.BotoCoreError as exc:
        module.fail_json(msg="AWS %s: cannot create a client: %s" % (service, exc))
    _bound_attempts(api, params)
    return api


class CallTimedOut(Exception):
    """An AWS call whose attempt timed out: not retried, a hang repeats far more often than it clears."""

    def __init__(self, cause, seconds, kind):
        super().__init__(str(cause))
        self.cause, self.seconds, self.kind = cause, seconds, kind


_TIMEOUT_KIND = {"ReadTimeoutError": "read_timeout", "ConnectTimeoutError": "connect_timeout"}


def _bound_attempts(api, params):
    """Each attempt of each call gets at most the time left before the deadline; none follows a timed-out one."""

    def before_send(request, **_kwargs):
        context = request.context
        if "sre_timed_out" in context:
            raise CallTimedOut(*context["sre_timed_out"])
        left = time_left(params)
        if left is not None:
            if left <= 0:
                raise DeadlinePassed(-left)
            context["read_timeout"] = min(params["read_timeout"], left)

    def after_attempt(exception=None, context=None, **_kwargs):
        kind = _TIMEOUT_KIND.get(type(exception).__name__)
        if kind and context is not None:
            seconds = context.get("read_timeout", params["read_timeout"]) if kind == "read_timeout" else params["connect_timeout"]
            if kind == "read_timeout" and seconds < params["read_timeout"]:
                kind = "read_timeout, cut to the run's deadline"
            context["sre_timed_out"] = (exception, round(seconds, 1), kind)

    api.meta.events.register("before-send", before_send)
    api.meta.events.register("response-received", after_attempt)


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
    network = _describe_network_error(exc, where)
    if network:
        return network
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "%s: no AWS credentials found - set access_key/secret_key, profile or the AWS_* environment" % where
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.NoRegionError):
        return "%s: no region - set region or AWS_REGION" % where
    if HAS_BOTO3 and isinstance(exc, botocore.exceptions.ParamValidationError):
        return "%s: invalid request parameters: %s" % (where, exc)
    return "%s: %s: %s" % (where, type(exc).__name__, _one_line(str(exc)))


def _describe_network_error(exc, where):
    """Timed out, refused, DNS or TLS - each said as what it is, with the endpoint; None for other errors."""
    if isinstance(exc, DeadlinePassed):
        return "%s: %s" % (where, exc)
    if isinstance(exc, CallTimedOut):
        return "%s: timed out after %g s (%s) - the AWS API is slow or unreachable (%s)" % (where, exc.seconds, exc.kind, exc)
    if not HAS_BOTO3:
        return None
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        return "%s: timed out (connect_timeout) - the AWS API is slow or unreachable (%s)" % (where, exc)
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return "%s: timed out (read_timeout) - the AWS API is slow or unreachable (%s)" % (where, exc)
    if isinstance(exc, botocore.exceptions.SSLError):
        return "%s: TLS handshake failed (%s) - check the endpoint's certificate and CA bundle" % (where, _one_line(str(exc)))
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        text = str(getattr(exc, "kwargs", {}).get("error", "")) or str(exc)
        if "refused" in text.lower():
            return "%s: cannot reach the endpoint - connection refused (%s) - check endpoint_url/region and network access" % (where, exc)
        if "name or service not known" in text.lower() or "nodename nor servname" in text.lower() \
                or "name resolution" in text.lower() or "getaddrinfo" in text.lower():
            return "%s: cannot reach the endpoint - DNS lookup failed (%s) - check endpoint_url/region and the resolver" % (where, exc)
        return "%s: cannot reach the endpoint (%s) - check endpoint_url/region and network access" % (where, exc)
    if isinstance(exc, botocore.exceptions.ConnectionClosedError):
        return "%s: the connection was closed before an answer (%s) - the API or a proxy dropped it" % (where, exc)
    return None


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
