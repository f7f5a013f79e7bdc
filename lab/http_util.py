"""Small helpers for the lab's HTTP emulators (werkzeug, threaded, loopback only)."""

from __future__ import annotations

import errno
import json
import logging
import socket
import struct
import threading
import time
from typing import Any, Callable

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from . import config

log = logging.getLogger("lab.http")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        log.debug("%s %s", self.requestline, code)


# The servers that take faults and feed the journal, by serve() name -> the backend's name (lab/http_faults.py).
FAULT_BACKENDS = {"aws-emulator": "aws", "datadog": "datadog", "slack": "slack", "pagerduty": "pagerduty"}


def serve(app: Callable, port: int, name: str, sock: socket.socket | None = None,
          handler: type[WSGIRequestHandler] = QuietHandler) -> BaseWSGIServer:
    """Serve ``app`` on 127.0.0.1:port in a daemon thread; ``sock`` is a pre-bound socket for that port."""
    backend = FAULT_BACKENDS.get(name)
    if backend is not None:
        from .http_faults import wrap

        app = wrap(app, backend)
    if sock is None:
        sock = bind_port(port)
    sock.listen(128)
    try:
        server = make_server(config.HOST, port, app, threaded=True, request_handler=handler, fd=sock.fileno())
    finally:
        sock.close()  # the server holds its own duplicate of the descriptor
    server.shutdown_request = _closing_aborted(server.shutdown_request)  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    if backend is not None:
        from .http_faults import ListenerSwitch

        ListenerSwitch(server, port, name, backend).install()
    return server


ABORT = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def reset_connection(environ: dict) -> None:
    """Drop the request's connection with a TCP reset and no answer (raises ConnectionResetError, which
    werkzeug takes as the client gone); the server's close then sends the RST."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, ABORT)
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass
    raise ConnectionResetError("lab fault: connection reset")


def _closing_aborted(shutdown_request: Callable) -> Callable:
    """socketserver half-closes (FIN) before closing; a connection to reset must go with the RST alone."""

    def close(request: socket.socket) -> None:
        try:
            aborted = request.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8) == ABORT
        except OSError:
            aborted = False
        if aborted:
            request.close()
        else:
            shutdown_request(request)

    return close


def bind_port(port: int, attempts: int = 30) -> socket.socket:
    """Bind 127.0.0.1:port (not listening yet). The lab's ports sit in Linux's ephemeral range, so one may be
    briefly taken by an outgoing connection: retry for a few seconds before giving up."""
    for attempt in range(attempts):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((config.HOST, port))
            return s
        except OSError as exc:
            s.close()
            if exc.errno != errno.EADDRINUSE or attempt == attempts - 1 or _listening(port):
                raise PortInUse(port) from None
            time.sleep(0.1)
    raise PortInUse(port)


def _listening(port: int) -> bool:
    """Someone accepts connections there (a real conflict, not a transient outgoing connection)."""
    try:
        socket.create_connection((config.HOST, port), timeout=0.2).close()
        return True
    except OSError:
        return False


class PortInUse(RuntimeError):
    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} on {config.HOST} is already in use; set SRE_LAB_PORT_BASE to use other ports")
        self.port = port


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json", headers=headers)


def request_json(request: Request) -> Any:
    if not request.get_data():
        return {}
    try:
        return json.loads(request.get_data(as_text=True))
    except ValueError:
        return None


def wsgi(handler: Callable[[Request], Response]) -> Callable:
    """Turn ``handler(request) -> Response`` into a WSGI app that never leaks a traceback."""

    def app(environ: dict, start_response: Callable) -> Any:
        request = Request(environ)
        try:
            response = handler(request)
        except Exception as exc:  # the emulator must answer, like a service would
            log.exception("%s %s failed", request.method, request.path)
            response = json_response({"errors": [f"internal error: {exc}"]}, 500)
        return response(environ, start_response)

    return app
