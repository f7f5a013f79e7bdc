"""Two real redis-server processes playing the replication group's members, and who is primary.

Node 001 starts as primary, node 002 as ``--replicaof`` 001. The topology object is the lab's single truth
about roles; every change (stop, start, promote) is announced to listeners (the proxy, the ElastiCache
model, the status file).

Each node listens on its internal port (base +13, +14) that only the lab uses; its member port (+11, +12) is a
proxy (lab/redis_proxy.py) that refuses while the node is down and carries the lab's faults and journal.
Replicas replicate through the member ports, so INFO shows the ports clients know.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable

import redis

from . import config, peers
from .process_util import command_line_has, signal_and_wait, tail_file

log = logging.getLogger("lab.redis")

REDIS_SERVER = os.environ.get("SRE_LAB_REDIS_SERVER", "/usr/bin/redis-server")


class RedisNode:
    def __init__(self, name: str, port: int, workdir: Path, password: str, listen_port: int | None = None) -> None:
        self.name = name
        self.port = port  # the member endpoint clients use (a proxy)
        self.listen_port = listen_port or port
        self.workdir = workdir
        self.password = password
        self.proc: subprocess.Popen | None = None
        self.ready = False  # answered PING since its last start
        self._hold: socket.socket | None = None  # keeps the port while the node is stopped

    @property
    def pid_file(self) -> Path:
        return self.workdir / "redis.pid"

    def is_up(self) -> bool:
        """The process is alive (what a crash or ``break`` changes)."""
        return self.proc is not None and self.proc.poll() is None

    def serving(self) -> bool:
        """Alive and has answered PING since it was started."""
        return self.ready and self.is_up()

    def client(self, timeout: float = 0.3) -> redis.Redis:
        return redis.Redis(
            host=config.HOST,
            port=self.listen_port,
            password=self.password,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=None,
            retry_on_error=[],
        )

    def ping(self, timeout: float = 0.3) -> bool:
        if not self.is_up():
            return False
        c = self.client(timeout)
        try:
            return bool(c.ping())
        except redis.RedisError:
            return False
        finally:
            c.close()

    def start(self, replica_of_port: int | None) -> None:
        for attempt in range(5):
            try:
                return self._start_once(replica_of_port)
            except PortBusy:
                # the port lies in Linux's ephemeral range: an outgoing connection may hold it briefly
                log.warning("port %s busy, retrying redis %s", self.port, self.name)
                time.sleep(0.3)
        self._start_once(replica_of_port)

    def _start_once(self, replica_of_port: int | None) -> None:
        if self.is_up():
            return
        self._release_port()
        kill_stale(self.pid_file)
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER,
            "--port", str(self.listen_port),
            "--bind", config.HOST,
            "--requirepass", self.password,
            "--masterauth", self.password,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--pidfile", str(self.pid_file),
            "--logfile", str(self.workdir / "redis.log"),
            "--daemonize", "no",
            "--repl-diskless-sync", "yes",
            "--repl-diskless-sync-delay", "0",
            "--replica-serve-stale-data", "yes",
        ]
        if replica_of_port is not None:
            args += ["--replicaof", config.HOST, str(replica_of_port)]
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        peers.add_child(self.proc.pid)  # its replication link is the lab's own traffic
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in tail_file(self.workdir / "redis.log"):
                    self.proc = None
                    raise PortBusy(f"port {self.listen_port} for {self.name} is already in use")
                raise RuntimeError(
                    f"redis-server for {self.name} exited with code {self.proc.returncode}; "
                    f"see {self.workdir / 'redis.log'}"
                )
            if self.ping(0.2):
                self.ready = True
                log.info("redis %s up on port %s (%s)", self.name, self.port,
                         "primary" if replica_of_port is None else f"replica of {replica_of_port}")
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server for {self.name} did not answer PING on port {self.listen_port} within 10 s")

    def stop(self, hold_port: bool = True) -> None:
        self.ready = False
        if self.proc is None:
            kill_stale(self.pid_file)
        elif self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            log.info("redis %s stopped", self.name)
        if self.proc is not None:
            peers.remove_child(self.proc.pid)
        self.proc = None
        self.pid_file.unlink(missing_ok=True)
        if hold_port:
            self._hold_port()
        else:
            self._release_port()

    def _hold_port(self) -> None:
        """While stopped, keep the port bound without listening: clients still get ECONNREFUSED, and no
        outgoing connection can be given the port (it lies in Linux's ephemeral range)."""
        if self._hold is not None:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((config.HOST, self.listen_port))
            self._hold = s
        except OSError:
            s.close()

    def _release_port(self) -> None:
        if self._hold is not None:
            self._hold.close()
            self._hold = None


class PortBusy(RuntimeError):
    pass


def kill_stale(pid_file: Path) -> None:
    """Stop a redis-server left behind by a lab daemon that died (pid file still there)."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    if command_line_has(pid, "redis-server"):
        signal_and_wait(pid, signal.SIGTERM, 5)
    pid_file.unlink(missing_ok=True)


class RedisTopology:
    """The replication group as real processes: which node is primary, and changes to it."""

    def __init__(self, cfg: config.LabConfig) -> None:
        self.cfg = cfg
        self.lock = threading.RLock()
        self.nodes = {
            name: RedisNode(name, cfg.port(name), cfg.state_dir / f"redis-{name.rsplit('-', 1)[-1]}",
                            cfg.secrets.redis_password, cfg.port(name + config.INTERNAL))
            for name in config.REDIS_NODES
        }
        self.primary = config.BASELINE_PRIMARY
        self._listeners: list[Callable[[], None]] = []
        self.member_proxies: dict[str, Any] = {}

    def add_listener(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def changed(self) -> None:
        for fn in list(self._listeners):
            try:
                fn()
            except Exception:  # a listener must never break a topology change
                log.exception("topology listener failed")

    # --- queries -------------------------------------------------------------------------------
    def replicas(self) -> list[str]:
        return [n for n in self.nodes if n != self.primary]

    def primary_port(self) -> int:
        return self.nodes[self.primary].port

    def serving_primary_port(self) -> int | None:
        """The primary's own port if its process is serving, else None (the proxy then refuses)."""
        node = self.nodes[self.primary]
        return node.listen_port if node.serving() else None

    def endpoint_session(self) -> Callable[..., Any]:
        """The primary endpoint's sessions for clients outside the lab (faults, journal)."""
        from .redis_session import session_factory

        return session_factory(lambda: self.primary, "primary")

    def role(self, name: str) -> str:
        return "primary" if name == self.primary else "replica"

    def describe(self) -> dict:
        return {
            name: {"port": node.port, "role": self.role(name), "up": node.is_up()}
            for name, node in self.nodes.items()
        }

    # --- changes -------------------------------------------------------------------------------
    def start_all(self) -> None:
        with self.lock:
            self.nodes[self.primary].start(None)
            self._member_proxy(self.primary).refresh()  # the replicas replicate through it
            for name in self.replicas():
                self.nodes[name].start(self.primary_port())
                self._member_proxy(name).refresh()
        self.changed()

    def stop_all(self) -> None:
        with self.lock:
            for node in self.nodes.values():
                node.stop(hold_port=False)
            proxies, self.member_proxies = self.member_proxies, {}
        for proxy in proxies.values():
            proxy.stop()
        self.changed()

    def _member_proxy(self, name: str) -> Any:
        """The member endpoint of node ``name`` (started on first use)."""
        from .redis_proxy import PrimaryEndpointProxy
        from .redis_session import session_factory

        proxy = self.member_proxies.get(name)
        if proxy is None:
            node = self.nodes[name]
            proxy = PrimaryEndpointProxy(node.port, lambda: node.listen_port if node.serving() else None,
                                         label=f"member {name}",
                                         session_factory=session_factory(lambda: name, "member"))
            proxy.start()
            self.member_proxies[name] = proxy
            self.add_listener(proxy.refresh)
        return proxy

    def start(self, name: str) -> None:
        """Start a node in its current role (a node that is not primary comes back as a replica)."""
        with self.lock:
            node = self.nodes[name]
            node.start(None if name == self.primary else self.primary_port())
        self.changed()

    def stop(self, name: str) -> None:
        with self.lock:
            self.nodes[name].stop()
        self.changed()

    def restart(self, name: str, pause: float = 0.3) -> None:
        with self.lock:
            self.nodes[name].stop()
        self.changed()
        time.sleep(pause)
        self.start(name)

    def promote(self, name: str) -> None:
        """Make ``name`` the primary (REPLICAOF NO ONE); the other live nodes follow it."""
        with self.lock:
            node = self.nodes[name]
            c = node.client(2.0)
            try:
                c.execute_command("REPLICAOF", "NO", "ONE")
            finally:
                c.close()
            self.primary = name
            for other in self.replicas():
                self._follow_primary(other)
        log.info("redis %s promoted to primary", name)
        self.changed()

    def _follow_primary(self, name: str) -> None:
        node = self.nodes[name]
        if not node.is_up():
            return
        c = node.client(2.0)
        try:
            c.execute_command("REPLICAOF", config.HOST, str(self.primary_port()))
        except redis.RedisError as exc:
            log.warning("REPLICAOF on %s failed: %s", name, exc)
        finally:
            c.close()

    def reset_baseline(self) -> list[str]:
        """Every node running, 001 primary, 002 its replica. Returns what was done (empty: nothing)."""
        actions: list[str] = []
        with self.lock:
            baseline = config.BASELINE_PRIMARY
            if not self.nodes[baseline].is_up():
                self.nodes[baseline].start(None if self.primary == baseline else self.primary_port())
                actions.append(f"started {baseline}")
            if self.primary != baseline:
                self.promote(baseline)
                actions.append(f"promoted {baseline} to primary")
            for name in self.replicas():
                node = self.nodes[name]
                if not node.is_up():
                    node.start(self.primary_port())
                    actions.append(f"started {name} as replica")
                elif self._replica_master_port(name) != self.primary_port():
                    self._follow_primary(name)
                    actions.append(f"{name} replicates {baseline} again")
        if actions:
            self.changed()
        return actions

    def _replica_master_port(self, name: str) -> int | None:
        c = self.nodes[name].client(1.0)
        try:
            info = c.info("replication")
        except redis.RedisError:
            return None
        finally:
            c.close()
        if info.get("role") != "slave":
            return None
        return int(info.get("master_port", 0)) or None
