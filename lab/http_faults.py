"""Faults and the journal for the lab's HTTP backends (AWS, Datadog, Slack, PagerDuty), as WSGI middleware.

Per request: the lab's own requests (lab/peers.py) and the test tooling (``/_lab/``, ``/_sink/``) pass as they
are. Otherwise the backend's fault, if any, answers instead of the backend (``slow`` waits, then lets it
answer; ``down`` for one operation resets the connection) and an accepted mutating call goes to the journal.
A backend-wide ``down`` closes the listener itself (``ListenerSwitch``): new connections are refused.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from typing import Any, Callable

from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Response

from . import aws_journal, aws_wire, peers
from .faults import TABLE, Fault
from .journal import JOURNAL

log = logging.getLogger("lab.http_faults")

TOOLING_PATHS = ("/_lab/", "/_sink/")


class Call:
    """One request as the fault layer and the journal see it."""

    def __init__(self, environ: dict, body: bytes) -> None:
        self.environ = environ
        self.body = body
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.path = environ.get("PATH_INFO", "/") or "/"
        self.operation: str | None = None  # what --operation matches
        self.aws: aws_wire.AwsRequest | None = None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def form_or_json(self) -> dict[str, Any]:
        from urllib.parse import parse_qs

        if "json" in self.environ.get("CONTENT_TYPE", ""):
            data = self.json()
            return data if isinstance(data, dict) else {}
        form = {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}
        form.update({k: v[-1] for k, v in parse_qs(self.environ.get("QUERY_STRING", "")).items() if k not in form})
        form.pop("token", None)
        return form


def wrap(app: Callable, backend: str) -> Callable:
    layer = LAYERS[backend]

    def middleware(environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(TOOLING_PATHS):
            return app(environ, start_response)
        call = Call(environ, _buffer_body(environ))
        layer.describe(call)
        own: bool | None = None
        fault = TABLE.find(backend, call.operation)
        if fault is not None:
            own = _own(environ)
            if not own:
                if fault.mode == "down":
                    from .http_util import reset_connection

                    reset_connection(environ)
                if fault.mode == "slow":
                    fault.delay()
                else:
                    return layer.fault_response(fault, call)(environ, start_response)
        if not layer.may_write(call):
            return app(environ, start_response)
        response = Response.from_app(app, environ, buffered=True)
        if own is None:
            own = _own(environ)
        if not own:
            try:
                layer.record(call, response)
            except Exception:
                log.exception("journal: recording %s %s failed", call.method, call.path)
        return response(environ, start_response)

    return middleware


def _own(environ: dict) -> bool:
    return peers.is_own(environ.get("REMOTE_PORT", 0), environ.get("SERVER_PORT", 0))


def _buffer_body(environ: dict) -> bytes:
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _json(data: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json", headers=headers)


# --- the backends ------------------------------------------------------------------------------------
class Layer:
    def describe(self, call: Call) -> None:
        pass

    def may_write(self, call: Call) -> bool:
        return call.method not in ("GET", "HEAD", "OPTIONS")

    def fault_response(self, fault: Fault, call: Call) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError

    def record(self, call: Call, response: Response) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class AwsLayer(Layer):
    def describe(self, call: Call) -> None:
        call.aws = aws_wire.describe(call.environ, call.body)
        call.operation = call.aws.operation or None

    def may_write(self, call: Call) -> bool:
        return call.aws is not None and call.aws.is_write

    def fault_response(self, fault: Fault, call: Call) -> Response:
        status, code, message = aws_wire.error_for(fault.mode, call.aws)
        body, headers = aws_wire.error_body(call.aws, status, code, message)
        return Response(body, status=status, headers=headers)

    def record(self, call: Call, response: Response) -> None:
        if 200 <= response.status_code < 300:
            operation, target, params = aws_journal.entry(call.aws)
            JOURNAL.add("aws", operation, target, params)


class DatadogLayer(Layer):
    READ_POSTS = ("/api/v1/validate",)
    RATE_LIMIT = {"X-RateLimit-Limit": "100", "X-RateLimit-Period": "60", "X-RateLimit-Remaining": "0",
                  "X-RateLimit-Reset": "42", "X-RateLimit-Name": "lab"}

    def may_write(self, call: Call) -> bool:
        return super().may_write(call) and call.path.rstrip("/") not in self.READ_POSTS

    def fault_response(self, fault: Fault, call: Call) -> Response:
        if fault.mode == "429":
            return _json({"errors": ["Rate limit of 100 requests in 60 seconds reached. Please try again later."]},
                         429, self.RATE_LIMIT)
        if fault.mode == "403":
            return _json({"errors": ["Forbidden"]}, 403)
        if fault.mode == "503":
            return _json({"errors": ["Service Unavailable"]}, 503)
        return _json({"errors": ["Internal Server Error"]}, 500)

    def record(self, call: Call, response: Response) -> None:
        if not 200 <= response.status_code < 300:
            return
        body = call.json() if isinstance(call.json(), dict) else {}
        if call.method == "POST" and call.path.rstrip("/") == "/api/v1/events":
            params = {k: body[k] for k in ("title", "text", "alert_type", "priority", "tags", "aggregation_key",
                                           "source_type_name", "host", "related_event_id") if k in body}
            JOURNAL.add("datadog", "create_event", str(body.get("title", "")), params)
        else:
            JOURNAL.add("datadog", f"{call.method} {call.path}", call.path, body)


class SlackLayer(Layer):
    READ_VERBS = ("list", "info", "history", "replies", "test", "lookupByEmail", "members", "getPermalink")
    FIELDS = ("channel", "text", "ts", "thread_ts", "name", "topic", "purpose", "users", "is_private", "user",
              "reply_broadcast")

    def describe(self, call: Call) -> None:
        if call.path.startswith("/api/"):
            call.operation = call.path[len("/api/"):].strip("/")
        elif call.path.startswith("/services/"):
            call.operation = "incoming-webhook"

    def may_write(self, call: Call) -> bool:
        method = call.operation or ""
        return call.method == "POST" and bool(method) and method.rsplit(".", 1)[-1] not in self.READ_VERBS

    def fault_response(self, fault: Fault, call: Call) -> Response:
        if fault.mode == "bad_token":
            return _json({"ok": False, "error": "invalid_auth"}, 200)
        if fault.mode == "503":
            return _json({"ok": False, "error": "service_unavailable"}, 503, {"Retry-After": "30"})
        return _json({"ok": False, "error": "fatal_error"}, 500)

    def record(self, call: Call, response: Response) -> None:
        if response.status_code != 200:
            return
        if call.operation == "incoming-webhook":
            if response.get_data() == b"ok":
                body = call.json() if isinstance(call.json(), dict) else {}
                JOURNAL.add("slack", "incoming-webhook", "incoming-webhook", {"text": body.get("text", "")})
            return
        try:
            answer = json.loads(response.get_data())
        except ValueError:
            return
        if not isinstance(answer, dict) or not answer.get("ok"):
            return
        body = call.form_or_json()
        params = {k: body[k] for k in self.FIELDS if k in body}
        channel = answer.get("channel")
        if isinstance(channel, dict):
            params.setdefault("channel_id", channel.get("id"))
            target = channel.get("name") or channel.get("id") or ""
        else:
            target = str(body.get("channel") or channel or "")
        if isinstance(answer.get("ts"), str):
            params.setdefault("ts", answer["ts"])
        JOURNAL.add("slack", call.operation or "", target, params)


class PagerDutyLayer(Layer):
    def describe(self, call: Call) -> None:
        call.operation = "change" if call.path.rstrip("/").endswith("/change/enqueue") else "enqueue"

    def fault_response(self, fault: Fault, call: Call) -> Response:
        if fault.mode == "bad_token":
            return _json({"status": "invalid event", "message": "Event object is invalid",
                          "errors": ["Invalid routing key"]}, 400)
        if fault.mode == "503":
            return _json({"status": "unavailable", "message": "Service Unavailable"}, 503)
        return _json({"status": "error", "message": "Internal Server Error"}, 500)

    def record(self, call: Call, response: Response) -> None:
        if response.status_code != 202:
            return
        body = call.json() if isinstance(call.json(), dict) else {}
        try:
            answer = json.loads(response.get_data())
        except ValueError:
            answer = {}
        payload = body.get("payload") if isinstance(body.get("payload"), dict) else {}
        params = {"event_action": body.get("event_action"),
                  "dedup_key": answer.get("dedup_key") or body.get("dedup_key"),
                  **{k: payload[k] for k in ("summary", "severity", "source", "component", "group", "class")
                     if k in payload}}
        if call.operation == "change":
            operation = "change"
        else:
            operation = str(body.get("event_action") or "enqueue")
        JOURNAL.add("pagerduty", operation, str(params.get("dedup_key") or ""), {k: v for k, v in params.items()
                                                                                 if v is not None})


LAYERS: dict[str, Layer] = {"aws": AwsLayer(), "datadog": DatadogLayer(), "slack": SlackLayer(),
                            "pagerduty": PagerDutyLayer()}


class ListenerSwitch:
    """A backend-wide ``down`` stops the server's listening socket listening without closing it (Linux: shutdown of
    a listening socket): the port stays bound, connections are refused, and no
    rebind can find it taken; clearing it listens again."""

    def __init__(self, server: BaseWSGIServer, port: int, name: str, backend: str) -> None:
        self.server, self.port, self.name, self.backend = server, port, name, backend
        self.closed = False
        self._lock = threading.Lock()

    def install(self) -> None:
        TABLE.on_change(self.backend, self.apply)

    def apply(self) -> None:
        down = TABLE.backend_wide(self.backend, "down") is not None
        with self._lock:
            if down and not self.closed:
                held = self.server.socket.dup()  # werkzeug closes its own descriptor when the loop ends
                self.server.shutdown()  # the serve_forever loop ends within its 0.5 s poll
                held.shutdown(socket.SHUT_RDWR)  # Linux: a listening socket shut for reading stops listening, still bound
                self.server.socket = held
                self.closed = True
                log.info("%s: listener on :%s closed (fault)", self.name, self.port)
            elif not down and self.closed:
                self.server.socket.listen(128)
                threading.Thread(target=self.server.serve_forever, name=self.name, daemon=True).start()
                self.closed = False
                log.info("%s: listening on :%s again", self.name, self.port)
