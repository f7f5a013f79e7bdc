"""Slack-like and PagerDuty-like sinks that answer like the services and record what was posted.

Each sink: ``GET /_sink/requests`` lists the recorded requests (JSON), ``DELETE /_sink/requests`` clears them.
Secrets are never recorded: for Slack only whether a bearer token was sent and whether it matched; for
PagerDuty only whether the routing key matched.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from werkzeug.wrappers import Request, Response

from .http_util import json_response, request_json, wsgi

SLACK_TEAM_ID = "T0LAB0001"
SLACK_BOT_USER_ID = "U0LABBOT1"
SLACK_DEFAULT_CHANNELS = ("general", "incidents", "sre-oncall")


class RecordingSink:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.app = wsgi(self._dispatch)

    def _dispatch(self, request: Request) -> Response:
        if request.path.rstrip("/") == "/_sink/requests":
            if request.method == "DELETE":
                with self._lock:
                    self.requests.clear()
                return json_response({"ok": True})
            with self._lock:
                return json_response(list(self.requests))
        return self.handle(request)

    def record(self, entry: dict[str, Any]) -> None:
        entry.setdefault("time", time.time())
        with self._lock:
            self.requests.append(entry)

    def handle(self, request: Request) -> Response:  # pragma: no cover - overridden
        raise NotImplementedError


def _headers_without_secrets(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "cookie")}


class SlackSink(RecordingSink):
    """Slack Web API subset: ``POST /api/<method>`` with a bot token (header or ``token`` form field)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token
        self.channels: dict[str, dict[str, Any]] = {}
        for name in SLACK_DEFAULT_CHANNELS:
            self._create_channel(name)

    def _create_channel(self, name: str, is_private: bool = False) -> dict[str, Any]:
        channel = {
            "id": "C" + secrets.token_hex(5).upper(),
            "name": name,
            "is_channel": True,
            "is_private": is_private,
            "is_archived": False,
            "is_member": True,
            "created": int(time.time()),
            "creator": SLACK_BOT_USER_ID,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": 1,
        }
        self.channels[channel["id"]] = channel
        return channel

    def _find_channel(self, ref: str) -> dict[str, Any] | None:
        if not ref:
            return None
        if ref in self.channels:
            return self.channels[ref]
        name = ref.lstrip("#")
        return next((c for c in self.channels.values() if c["name"] == name), None)

    def handle(self, request: Request) -> Response:
        path = request.path
        if request.method == "POST" and path.startswith("/services/"):
            return self._webhook(request)
        if not path.startswith("/api/"):
            return Response("Not Found", 404)
        method = path[len("/api/"):].strip("/")
        body: Any
        form_token = None
        if request.mimetype == "application/json":
            body = request_json(request)
            if body is None:
                return json_response({"ok": False, "error": "invalid_json"})
        else:
            body = {k: v[-1] for k, v in parse_qs(request.get_data(as_text=True)).items()}
            body.update({k: v for k, v in request.args.items() if k not in body})
            form_token = body.pop("token", None)
        auth = request.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        token = bearer or form_token
        valid = token == self.token
        self.record({
            "method": method,
            "http_method": request.method,
            "path": path,
            "headers": _headers_without_secrets(request),
            "bearer_token_sent": bearer is not None,
            "token_sent": token is not None,
            "token_valid": valid,
            "body": body,
        })
        if not token:
            return json_response({"ok": False, "error": "not_authed"})
        if not valid:
            return json_response({"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return json_response({"ok": False, "error": "unknown_method"})
        return json_response(handler(body if isinstance(body, dict) else {}))

    # --- Web API methods ----------------------------------------------------------------------
    def api_api_test(self, body: dict) -> dict:
        return {"ok": True, "args": body}

    def api_auth_test(self, body: dict) -> dict:
        return {"ok": True, "url": "https://lab.slack.local/", "team": "SRE Lab", "user": "sre-incident-bot",
                "team_id": SLACK_TEAM_ID, "user_id": SLACK_BOT_USER_ID, "bot_id": "B0LABBOT1"}

    def api_conversations_create(self, body: dict) -> dict:
        name = str(body.get("name", "")).strip().lstrip("#")
        if not name:
            return {"ok": False, "error": "invalid_name_required"}
        if len(name) > 80 or name != name.lower() or any(c in name for c in " .,"):
            return {"ok": False, "error": "invalid_name_specials"}
        if self._find_channel(name):
            return {"ok": False, "error": "name_taken"}
        private = str(body.get("is_private", "false")).lower() == "true"
        return {"ok": True, "channel": self._create_channel(name, private)}

    def api_conversations_list(self, body: dict) -> dict:
        return {"ok": True, "channels": list(self.channels.values()), "response_metadata": {"next_cursor": ""}}

    def api_conversations_info(self, body: dict) -> dict:
        channel = self._find_channel(str(body.get("channel", "")))
        return {"ok": True, "channel": channel} if channel else {"ok": False, "error": "channel_not_found"}

    def api_conversations_join(self, body: dict) -> dict:
        return self.api_conversations_info(body)

    def api_conversations_invite(self, body: dict) -> dict:
        return self.api_conversations_info(body)

    def api_conversations_setTopic(self, body: dict) -> dict:
        channel = self._find_channel(str(body.get("channel", "")))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        channel["topic"] = {"value": body.get("topic", ""), "creator": SLACK_BOT_USER_ID, "last_set": int(time.time())}
        return {"ok": True, "channel": channel}

    def api_chat_postMessage(self, body: dict) -> dict:
        channel = self._find_channel(str(body.get("channel", "")))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not body.get("text") and not body.get("blocks") and not body.get("attachments"):
            return {"ok": False, "error": "no_text"}
        ts = f"{time.time():.6f}"
        message = {"type": "message", "subtype": "bot_message", "text": body.get("text", ""), "ts": ts,
                   "bot_id": "B0LABBOT1", "user": SLACK_BOT_USER_ID}
        if body.get("thread_ts"):
            message["thread_ts"] = body["thread_ts"]
        return {"ok": True, "channel": channel["id"], "ts": ts, "message": message}

    def api_chat_update(self, body: dict) -> dict:
        channel = self._find_channel(str(body.get("channel", "")))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        return {"ok": True, "channel": channel["id"], "ts": body.get("ts"), "text": body.get("text", "")}

    def _webhook(self, request: Request) -> Response:
        body = request_json(request)
        self.record({"method": "incoming-webhook", "http_method": "POST", "path": request.path,
                     "headers": _headers_without_secrets(request), "body": body})
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Response("no_text", 400, mimetype="text/plain")
        return Response("ok", 200, mimetype="text/plain")


class PagerDutySink(RecordingSink):
    """PagerDuty Events API v2: ``POST /v2/enqueue``."""

    SEVERITIES = ("critical", "error", "warning", "info")
    ACTIONS = ("trigger", "acknowledge", "resolve")

    def __init__(self, routing_key: str) -> None:
        super().__init__()
        self.routing_key = routing_key

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") not in ("/v2/enqueue", "/v2/change/enqueue"):
            return json_response({"status": "invalid path", "message": "Not Found"}, 404)
        if request.method != "POST":
            return json_response({"status": "invalid method", "message": "Method Not Allowed"}, 405)
        body = request_json(request)
        recorded = dict(body) if isinstance(body, dict) else body
        key_valid = isinstance(body, dict) and body.get("routing_key") == self.routing_key
        if isinstance(recorded, dict) and "routing_key" in recorded:
            recorded["routing_key"] = "<redacted>"
        self.record({"path": request.path, "headers": _headers_without_secrets(request),
                     "routing_key_valid": key_valid, "body": recorded})
        if not isinstance(body, dict):
            return self._invalid(["Event object is invalid: body is not a JSON object"])
        errors = []
        if not body.get("routing_key"):
            errors.append("'routing_key' is missing or blank")
        elif not key_valid:
            errors.append("Invalid routing key")
        if request.path.rstrip("/") == "/v2/change/enqueue":
            if errors:
                return self._invalid(errors)
            return json_response({"status": "success", "message": "Change event processed"}, 202)
        action = body.get("event_action")
        if action not in self.ACTIONS:
            errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
        dedup_key = body.get("dedup_key")
        if action == "trigger":
            payload = body.get("payload")
            if not isinstance(payload, dict):
                errors.append("'payload' is missing or invalid")
            else:
                for field in ("summary", "source", "severity"):
                    if not payload.get(field):
                        errors.append(f"'payload.{field}' is missing or blank")
                if payload.get("severity") and payload["severity"] not in self.SEVERITIES:
                    errors.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
        elif action in ("acknowledge", "resolve") and not dedup_key:
            errors.append("'dedup_key' is missing or blank")
        if errors:
            return self._invalid(errors)
        dedup_key = dedup_key or secrets.token_hex(16)
        return json_response({"status": "success", "message": "Event processed", "dedup_key": dedup_key}, 202)

    @staticmethod
    def _invalid(errors: list[str]) -> Response:
        return json_response({"status": "invalid event", "message": "Event object is invalid", "errors": errors}, 400)
