"""The replication group's primary endpoint: a TCP proxy to whichever node is primary right now.

Like a real client of a dead ElastiCache primary, a client of the lab must see ECONNREFUSED: while the
primary's process is down the proxy closes its listening socket, and opens it again once the primary
answers. While closed it keeps the port bound without listening (the kernel answers SYN with RST, i.e.
ECONNREFUSED) so no outgoing connection can take the port meanwhile (it lies in Linux's ephemeral range).
Established connections are dropped when the primary goes away or changes (as a DNS flip does).

The same proxy stands in front of each member node and of PostgreSQL (``label``/``backend``): a ``down`` fault
refuses like a dead target, and connections from outside the lab get a session (``session_factory``) that sees
the bytes both ways - to delay them (``slow``), refuse AUTH or record admin commands (lab/redis_session.py).
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any, Callable

from . import config, peers

log = logging.getLogger("lab.redis_proxy")


class PrimaryEndpointProxy:
    def __init__(self, listen_port: int, target: Callable[[], int | None], interval: float = 0.2,
                 sock: socket.socket | None = None, label: str = "primary endpoint", backend: str | None = "redis",
                 session_factory: Callable[..., Any] | None = None) -> None:
        """``target()`` returns the port of a reachable primary, or None when there is none;
        ``sock`` is the port, already bound (not listening); ``backend`` names the faults that apply."""
        self.label = label
        self.backend = backend
        self.session_factory = session_factory
        self.listen_port = listen_port
        self.target = target
        self.interval = interval
        self._holder: socket.socket | None = sock  # bound, not listening: refuses connections
        self._listener: socket.socket | None = None
        self._current_target: int | None = None
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._state_lock = threading.RLock()
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"proxy-{listen_port}", daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self.backend is not None:
            from .faults import TABLE

            TABLE.on_change(self.backend, self.refresh)
        self._reconcile()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        self._thread.join(2)
        with self._state_lock:
            self._close_listener(hold=False)
            if self._holder is not None:
                self._holder.close()
                self._holder = None
        self._drop_connections()

    def poke(self) -> None:
        """Ask the proxy thread to re-check the target soon."""
        self._poke.set()

    def refresh(self) -> None:
        """Re-check the target now, synchronously (called on every topology change)."""
        if self._stop.is_set():
            return
        self._reconcile()
        self._poke.set()

    @property
    def is_open(self) -> bool:
        return self._listener is not None

    # --- internals ---------------------------------------------------------------------------
    def _reconcile(self) -> None:
        with self._state_lock:
            self._reconcile_locked()

    def _reconcile_locked(self) -> None:
        try:
            port = self.target()
        except Exception:
            log.exception("proxy target check failed")
            port = None
        if port is not None and self._fault_down():
            port = None
        if port != self._current_target:
            if self._current_target is not None:
                self._drop_connections()
            self._current_target = port
        if port is not None and self._listener is None:
            self._open_listener()
        elif port is None and self._listener is not None:
            self._close_listener()
            log.info("%s :%s refusing connections (%s)", self.label, self.listen_port,
                     "down fault" if self._fault_down() else "no reachable target")
        elif port is None and self._holder is None:
            self._close_listener()  # (re)take hold of the port

    def _open_listener(self) -> None:
        s, self._holder = self._holder, None
        if s is None:
            try:
                s = _bind(self.listen_port)
            except OSError as exc:
                log.warning("%s :%s cannot bind yet: %s", self.label, self.listen_port, exc)
                return
        s.listen(128)
        s.settimeout(0.05)
        self._listener = s
        log.info("%s :%s accepting, forwarding to :%s", self.label, self.listen_port, self._current_target)

    def _close_listener(self, hold: bool = True) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:  # stops listening at once, even while the accept loop still holds the socket
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        if hold and self._holder is None:
            try:
                self._holder = _bind(self.listen_port)
            except OSError as exc:
                log.warning("%s :%s could not be held: %s", self.label, self.listen_port, exc)

    def _drop_connections(self) -> None:
        with self._conns_lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            _close(c)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._reconcile()
            self._poke.clear()
            if self._listener is None:
                self._poke.wait(self.interval)
                continue
            # accept for one interval, then re-check the target
            waited = 0.0
            while waited < self.interval and not self._poke.is_set():
                listener = self._listener
                if listener is None:
                    break
                try:
                    client, _address = listener.accept()
                except socket.timeout:
                    waited += 0.05
                    continue
                except OSError:
                    break
                with self._state_lock:
                    self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        port = self._current_target
        if port is None:
            _close(client)
            return
        try:
            upstream = socket.create_connection((config.HOST, port), timeout=1.0)
        except OSError:
            _close(client)
            self._poke.set()
            return
        client.settimeout(None)
        upstream.settimeout(None)
        for s in (client, upstream):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._conns_lock:
            self._conns.update((client, upstream))
        threading.Thread(target=self._serve, args=(client, upstream), daemon=True, name="proxy-conn").start()

    def _fault_down(self) -> bool:
        if self.backend is None:
            return False
        from .faults import TABLE

        return TABLE.backend_wide(self.backend, "down") is not None

    def _serve(self, client: socket.socket, upstream: socket.socket) -> None:
        """Pump both ways; a client from outside the lab gets a session that sees (and may hold back) its bytes."""
        session = None
        if self.backend is not None:
            try:
                own = peers.is_own(client.getpeername()[1], self.listen_port)
            except OSError:
                own = True
            if not own:
                session = (self.session_factory or Passthrough)(client=client, backend=self.backend)
        threading.Thread(target=self._pump, args=(upstream, client, session and session.from_server, session, False),
                         daemon=True, name="proxy-pump").start()
        self._pump(client, upstream, session and session.from_client, session, True)

    def _pump(self, src: socket.socket, dst: socket.socket, through: Callable[[bytes], bytes] | None = None,
              session: Any = None, from_client: bool = False) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if session is not None and from_client:
                    session.delay()
                if through is not None:
                    data = through(data)
                if data:
                    if session is not None:
                        with session.send_lock:
                            dst.sendall(data)
                    else:
                        dst.sendall(data)
        except OSError:
            pass
        except Exception:
            log.exception("%s :%s proxy session failed", self.label, self.listen_port)
        finally:
            for s in (src, dst):
                _close(s)
            with self._conns_lock:
                self._conns.discard(src)
                self._conns.discard(dst)


class Passthrough:
    """A session from outside the lab that only the ``slow`` fault touches (PostgreSQL's)."""

    def __init__(self, client: socket.socket, backend: str) -> None:
        self.client = client
        self.backend = backend
        self.send_lock = threading.Lock()

    def delay(self) -> None:
        """Hold the client's bytes back while a slow fault lasts (each request reaches the server N s late)."""
        from .faults import TABLE

        fault = TABLE.backend_wide(self.backend, "slow")
        if fault is not None:
            fault.delay()

    def from_client(self, data: bytes) -> bytes:
        return data

    def from_server(self, data: bytes) -> bytes:
        return data


def _bind(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((config.HOST, port))
    except OSError:
        s.close()
        raise
    return s


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
