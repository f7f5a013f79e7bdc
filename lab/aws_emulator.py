"""The AWS emulator: moto's server app, in this process, behind a small WSGI middleware.

moto answers the AWS APIs from in-process backends; the lab reads and mutates those backends directly
(``backend("ecs")`` etc.) and fills the gaps that matter to the runbook:

* ElastiCache TestFailover / RebootCacheCluster and ``ShowCacheNodeInfo`` (lab/elasticache_gaps.py),
* ECS deployments that roll out, and service tasks (lab/ecs_controller.py).

The middleware's job is request-scoped context (which operation is being served) plus an access log;
the operations themselves are implemented next to moto's own handlers so that moto's serializer produces
exactly the XML/JSON shapes botocore expects (errors included, with the model's HTTP status).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable
from urllib.parse import parse_qs

from werkzeug.serving import BaseWSGIServer

from . import config

log = logging.getLogger("lab.aws")

# Request-scoped facts the gap fillers read (the werkzeug server runs one request per thread).
request_context = threading.local()

# Hooks registered by gap fillers: called with (action, params) before moto handles a request.
_before_hooks: list[Callable[[str, dict[str, str]], None]] = []


def add_before_hook(hook: Callable[[str, dict[str, str]], None]) -> None:
    _before_hooks.append(hook)


def backend(service: str) -> Any:
    """moto's in-process backend for the lab's account and region."""
    from moto.backends import get_backend

    return get_backend(service)[config.AWS_ACCOUNT_ID][config.AWS_REGION]


class GapFillingMiddleware:
    """Records which AWS operation a request is (query protocol Action / JSON X-Amz-Target) for the gap fillers."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        action, params = _operation_of(environ)
        request_context.action = action
        request_context.params = params
        try:
            for hook in _before_hooks:
                hook(action, params)
            return self.app(environ, start_response)
        finally:
            request_context.action = None
            request_context.params = {}


def _operation_of(environ: dict) -> tuple[str, dict[str, str]]:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return target.rsplit(".", 1)[-1], {}
    params: dict[str, str] = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    ctype = environ.get("CONTENT_TYPE", "")
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in ctype:
        # Peek at the form body and put it back for moto.
        import io

        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return params.get("Action", ""), params


def start_server(port: int, sock: Any = None) -> BaseWSGIServer:
    """Start moto's server app (threaded werkzeug) on 127.0.0.1:port in a daemon thread."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )

    class Handler(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            log.debug("%s %s", self.requestline, code)

    from .http_util import serve

    app = GapFillingMiddleware(DomainDispatcherApplication(create_backend_app))
    return serve(app, port, "aws-emulator", sock=sock, handler=Handler)


def boto3_client(cfg: config.LabConfig, service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=cfg.url("aws"),
        region_name=config.AWS_REGION,
        aws_access_key_id=config.AWS_ACCESS_KEY_ID,
        aws_secret_access_key=config.AWS_SECRET_ACCESS_KEY,
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )
