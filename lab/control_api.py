"""The daemon's control API (used by lab.client): GET /status, POST /break/<incident>, POST /heal,
POST /fleet (``{"count": N, "broken": K}``), GET|POST /iam (``{"enforce": bool, "policy": {...},
"reset_policy": bool}``), GET|POST|DELETE /faults (POST ``{"backend", "mode", "operation", "seconds"}``),
GET /journal[?since=T], DELETE /journal, POST /shutdown. Errors are JSON ``{"error": "...", "exit_code": N}``."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from .http_util import json_response, request_json, wsgi
from .scenarios import LabError

if TYPE_CHECKING:
    from .daemon import Lab

log = logging.getLogger("lab.control")


def make_app(lab: "Lab"):
    from .faults import TABLE
    from .journal import JOURNAL, parse_since

    JOURNAL.open(lab.cfg.state_dir / "journal.jsonl")

    def handle(request: Request) -> Response:
        path, method = request.path.rstrip("/") or "/", request.method
        try:
            if method == "GET" and path == "/status":
                return json_response(lab.status())
            if method == "POST" and path.startswith("/break/"):
                options = request_json(request)
                if options is None or not isinstance(options, dict):
                    raise LabError("break options must be a JSON object", exit_code=2)
                result = lab.scenarios.break_incident(path[len("/break/"):], options)
                return json_response({**result, "status": lab.status()})
            if method == "POST" and path == "/heal":
                result = lab.scenarios.heal()
                return json_response({**result, "status": lab.status()})
            if method == "POST" and path == "/fleet":
                body = request_json(request)
                if not isinstance(body, dict) or set(body) - {"count", "broken"}:
                    raise LabError('fleet takes a JSON object {"count": N, "broken": K}', exit_code=2)
                removed = lab.fleet.describe()["count"] if body.get("count") == 0 else 0
                fleet = lab.set_fleet(body.get("count"), body.get("broken", 0))
                return json_response({"fleet": fleet, "removed": removed, "status": lab.status()})
            if path == "/iam" and method in ("GET", "POST"):
                from .iam import options_from

                result = lab.iam.configure(**options_from(request_json(request) if method == "POST" else {}))
                lab.write_status()
                return json_response(result)
            if path == "/faults":
                if method == "GET":
                    return json_response({"faults": TABLE.describe()})
                if method == "DELETE":
                    return json_response({"cleared": TABLE.clear(), "faults": TABLE.describe()})
                if method == "POST":
                    body = request_json(request)
                    if not isinstance(body, dict) or set(body) - {"backend", "mode", "operation", "seconds"}:
                        raise LabError('fault takes a JSON object {"backend", "mode", "operation", "seconds"}',
                                       exit_code=2)
                    fault = TABLE.set(body.get("backend"), body.get("mode"), body.get("operation"),
                                      body.get("seconds"))
                    return json_response({"fault": fault, "faults": TABLE.describe()})
            if path == "/journal":
                if method == "GET":
                    try:
                        since = parse_since(request.args.get("since"))
                    except ValueError as exc:
                        raise LabError(str(exc), exit_code=2) from None
                    return json_response({"entries": JOURNAL.entries(since)})
                if method == "DELETE":
                    return json_response({"cleared": JOURNAL.clear()})
            if method == "POST" and path == "/shutdown":
                lab.request_shutdown()
                return json_response({"ok": True, "message": "shutting down"})
        except LabError as exc:
            return json_response({"error": str(exc), "exit_code": exc.exit_code}, exc.http_status)
        except Exception as exc:
            log.exception("control request %s %s failed", method, path)
            return json_response({"error": f"{type(exc).__name__}: {exc}", "exit_code": 1}, 500)
        return json_response({"error": f"no such control endpoint: {method} {path}", "exit_code": 1}, 404)

    return wsgi(handle)
