"""The lab daemon: one detached process that runs every component (threads + Redis/PostgreSQL children).

Started by ``lab.client.up()`` as ``python -m lab.daemon`` in its own session, logging to <state>/lab.log.
On a fatal start-up error it writes one line to <state>/daemon.error and exits 1.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import config
from .ecs_controller import BASELINE_DEPLOYMENT_CONFIGURATION

log = logging.getLogger("lab.daemon")


class Lab:
    def __init__(self, cfg: config.LabConfig) -> None:
        self.cfg = cfg
        self.ready = False
        self.started_at = time.time()
        self.baseline_task_definition: str | None = None
        self._shutdown = threading.Event()
        self._servers: list[Any] = []
        self._status_lock = threading.Lock()
        self._last_status_json: str | None = None
        self.ports: dict[str, socket.socket] = {}
        self.topology = self.proxy = self.gaps = self.ecs = self.app = None  # type: ignore[assignment]
        self.dependencies = None  # type: ignore[assignment]
        self.pg = None  # type: ignore[assignment]
        self.appdb = None  # type: ignore[assignment]
        self.scenarios = None  # type: ignore[assignment]
        self.fleet = None  # type: ignore[assignment]
        self.iam = None  # type: ignore[assignment]

    # --- start -----------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.cfg
        # Take every port first: they lie in Linux's ephemeral range, and the lab's own outgoing
        # connections (seeding, pings) must not be handed one of them before its server binds it.
        self.ports = reserve_ports(cfg)
        cfg.pid_file.write_text(str(os.getpid()))
        with ThreadPoolExecutor(max_workers=2) as pool:
            pg_future = pool.submit(self._start_postgres)
            self._start_redis()
            self._start_aws()
            pg_future.result()
        self._start_http_emulators()
        self._start_control_api()
        self.ready = True
        self.write_status()
        log.info("lab ready in %.1f s (state dir %s, port base %s)",
                 time.time() - self.started_at, cfg.state_dir, cfg.port_base)

    def _start_postgres(self) -> None:
        from .postgres import LabPostgres

        self.pg = LabPostgres(self.cfg)
        self.pg.start(before_bind=lambda: [self._release(n) for n in ("postgres", "postgres" + config.INTERNAL)])

    def _start_redis(self) -> None:
        from .redis_nodes import RedisTopology
        from .redis_proxy import PrimaryEndpointProxy

        self.topology = RedisTopology(self.cfg)
        for name in config.REDIS_NODES:
            self._release(name)
            self._release(name + config.INTERNAL)
        self.topology.start_all()
        self.proxy = PrimaryEndpointProxy(self.cfg.port("redis_proxy"), self.topology.serving_primary_port,
                                          sock=self.ports.pop("redis_proxy"),
                                          session_factory=self.topology.endpoint_session())
        self.proxy.start()
        self.topology.add_listener(self.proxy.refresh)

    def _start_aws(self) -> None:
        from . import aws_emulator, elasticache_gaps, logs_gaps, logs_insights, seed
        from .app_simulator import runtime_config_blocker
        from .ecs_controller import EcsController

        logs_gaps.install()
        logs_insights.install()
        self._servers.append(aws_emulator.start_server(self.cfg.port("aws"), sock=self.ports.pop("aws")))
        self.ecs = EcsController(config.deploy_seconds())
        self.ecs.blockers.append(runtime_config_blocker)
        self.ecs.install()
        self.gaps = elasticache_gaps.ElastiCacheGaps(self.cfg, self.topology)
        elasticache_gaps.install(self.gaps)
        facts = seed.seed_all(self.cfg, self.ecs, self.gaps)
        self.baseline_task_definition = facts["baseline_task_definition"]
        self._start_iam()
        self.topology.add_listener(self.gaps.sync)
        self.topology.add_listener(self.after_change)
        self.ecs.start()

    def _start_iam(self) -> None:
        from . import iam

        self.iam = iam.LabIam()
        iam.install(self.iam)
        self.iam.enforce(config.iam_at_start())

    def _start_http_emulators(self) -> None:
        from .app_database import AppDatabase
        from .app_simulator import AppSimulator
        from .datadog_emulator import DatadogEmulator, MetricStore
        from .dependencies import Dependencies
        from .fleet import Fleet
        from .http_util import serve
        from .sinks import PagerDutySink, SlackSink

        sec = self.cfg.secrets
        self.store = MetricStore()
        self.datadog = DatadogEmulator(self.store, sec.datadog_api_key, sec.datadog_app_key)
        self._servers.append(serve(self.datadog.app, self.cfg.port("datadog"), "datadog", self.ports.pop("datadog")))
        self.dependencies = Dependencies()
        self._servers.append(serve(self.dependencies.app, self.cfg.port("dependencies"), "dependencies",
                                   self.ports.pop("dependencies")))
        self.appdb = AppDatabase(self.cfg, self.pg)
        self.fleet = Fleet(self.store, self.cfg.url("health"))
        self.app = AppSimulator(self.cfg, self.store, self.ecs, self.dependencies, db=self.appdb, fleet=self.fleet)
        self.app.backfill()
        self.app.on_tick.append(self.write_status)
        self.ecs.on_change.append(self.after_change)
        self.app.start()
        self._servers.append(serve(self.app.health_app, self.cfg.port("health"), "health", self.ports.pop("health")))
        self.slack = SlackSink(sec.slack_token)
        self._servers.append(serve(self.slack.app, self.cfg.port("slack"), "slack", self.ports.pop("slack")))
        self.pagerduty = PagerDutySink(sec.pagerduty_routing_key)
        self._servers.append(serve(self.pagerduty.app, self.cfg.port("pagerduty"), "pagerduty",
                                   self.ports.pop("pagerduty")))

    def _start_control_api(self) -> None:
        from .control_api import make_app
        from .http_util import serve
        from .scenarios import Scenarios

        self.scenarios = Scenarios(self)
        self._servers.append(serve(make_app(self), self.cfg.port("control"), "control-api",
                                   self.ports.pop("control")))

    def _release(self, name: str) -> None:
        """Free a reserved port just before a child process (Redis, PostgreSQL) binds it."""
        sock = self.ports.pop(name, None)
        if sock is not None:
            sock.close()

    # --- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        cfg, sec = self.cfg, self.cfg.secrets
        nodes = self.topology.describe() if self.topology else {}
        return {
            "running": True,
            "ready": self.ready,
            "pid": os.getpid(),
            "started_at": round(self.started_at, 3),
            "state_dir": str(cfg.state_dir),
            "port_base": cfg.port_base,
            "log_file": str(cfg.log_file),
            "control_url": cfg.url("control"),
            "scenario": self.scenarios.describe() if self.scenarios else {"active": [], "options": {}},
            "aws": {
                "endpoint_url": cfg.url("aws"),
                "region": config.AWS_REGION,
                "access_key_id": config.AWS_ACCESS_KEY_ID,
                "secret_access_key": config.AWS_SECRET_ACCESS_KEY,
                "account_id": config.AWS_ACCOUNT_ID,
            },
            "iam": self.iam.describe() if self.iam else {"enforced": False},
            "ecs": {
                "cluster": config.ECS_CLUSTER,
                "service": config.ECS_SERVICE,
                "task_family": config.TASK_FAMILY,
                "container": config.CONTAINER_NAME,
                "baseline_task_definition": self.baseline_task_definition,
                "baseline_desired_count": config.BASELINE_DESIRED_COUNT,
                "deploy_seconds": config.deploy_seconds(),
                "baseline_revision": config.BASELINE_REVISION,
                "baseline_deployment_configuration": BASELINE_DEPLOYMENT_CONFIGURATION,
            },
            "elasticache": {
                "replication_group_id": config.REPLICATION_GROUP_ID,
                "node_group_id": config.NODE_GROUP_ID,
                "members": list(config.REDIS_NODES),
                "primary": self.topology.primary if self.topology else config.BASELINE_PRIMARY,
            },
            "logs": {"log_group": config.LOG_GROUP, "insights_query_seconds": config.query_seconds()},
            "s3": {"heapdump_bucket": config.HEAPDUMP_BUCKET},
            "postgres": self.pg.describe() if self.pg else {},
            "redis": {
                "url": cfg.redis_url,
                "host": config.HOST,
                "port": cfg.port("redis_proxy"),
                "password": sec.redis_password,
                "endpoint_open": bool(self.proxy and self.proxy.is_open),
                "nodes": nodes,
                # The members' own endpoints, as an inventory lists them for the Redis probe.
                "members": [{"name": name, "host": config.HOST, "port": node["port"]} for name, node in nodes.items()],
            },
            "datadog": {"url": cfg.url("datadog"), "api_key": sec.datadog_api_key, "app_key": sec.datadog_app_key},
            "health": {"url": cfg.url("health") + "/v1/health"},
            "slack": {"url": cfg.url("slack"), "token": sec.slack_token},
            "pagerduty": {"url": cfg.url("pagerduty"), "routing_key": sec.pagerduty_routing_key},
            "dependencies": {name: cfg.url("dependencies") + path for name, path in config.DEPENDENCIES.items()},
            "dependency_status": self.dependencies.describe() if self.dependencies else {},
            "feature_flags": {"new_checkout": config.FEATURE_FLAG_NEW_CHECKOUT},
            "ssm": {"feature_flag_new_checkout": config.FEATURE_FLAG_NEW_CHECKOUT,
                    "runtime_config": config.RUNTIME_CONFIG_PARAMETER},
            "fleet": self.fleet.describe() if self.fleet else {"count": 0, "broken": {}, "services": []},
            "faults": _faults(),
        }

    def write_status(self) -> None:
        """Keep <state>/status.json identical to ``status --json`` (rewritten when it changes)."""
        if not self.ready:
            return
        import json

        with self._status_lock:
            data = self.status()
            text = json.dumps(data, indent=2)
            if text != self._last_status_json:
                config.write_json_atomic(self.cfg.status_file, data)
                self._last_status_json = text

    def set_fleet(self, count: int, broken: int = 0) -> dict[str, Any]:
        """Seed (replace) the fleet of simulated services; 0 removes it. Returns the fleet's description."""
        fleet = self.fleet.seed(count, broken)
        self.write_status()
        return fleet

    def after_change(self) -> None:
        """Called after every break/heal/topology change: let the app see it at once, persist status."""
        if not self.ready:
            return
        try:
            self.app.refresh()
        except Exception:
            log.exception("app refresh after change failed")
        self.write_status()

    # --- shutdown --------------------------------------------------------------------------
    def request_shutdown(self) -> None:
        threading.Timer(0.1, self._shutdown.set).start()

    def wait(self) -> None:
        while not self._shutdown.wait(0.5):
            pass

    def shutdown(self) -> None:
        self.ready = False
        for sock in self.ports.values():
            sock.close()
        self.ports.clear()
        for stoppable in (self.app, self.ecs, self.proxy):
            if stoppable is not None:
                try:
                    stoppable.stop()
                except Exception:
                    log.exception("stopping %s failed", type(stoppable).__name__)
        # each serve_forever loop notices a shutdown within its 0.5 s poll: stop them all at once
        stoppers = [threading.Thread(target=_stop_server, args=(server,)) for server in self._servers]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(5)
        if self.topology is not None:
            self.topology.stop_all()
        if self.appdb is not None:  # the leaked sessions' threads end before PostgreSQL goes
            try:
                self.appdb.close()
            except Exception:
                log.exception("closing the lab's database sessions failed")
        if self.pg is not None:
            try:
                self.pg.stop()
            except Exception:
                log.exception("stopping postgres failed")
        config.write_json_atomic(self.cfg.status_file, {"running": False, "state_dir": str(self.cfg.state_dir)})
        self.cfg.pid_file.unlink(missing_ok=True)
        log.info("lab stopped")


def _faults() -> list[dict[str, Any]]:
    from .faults import TABLE

    return TABLE.describe()


def _stop_server(server: Any) -> None:
    try:
        server.shutdown()
        server.server_close()
    except Exception:
        log.exception("stopping a server failed")


def _ephemeral_note(port: int) -> str:
    """Why a port can be taken by chance: the kernel hands ports of its ephemeral range to outgoing connections."""
    try:
        low, high = (int(value) for value in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return ""
    if low <= port <= high:
        return f" (it is in the kernel's ephemeral range {low}-{high}, where outgoing connections take ports: use a base below {low})"
    return ""


def reserve_ports(cfg: config.LabConfig) -> dict[str, socket.socket]:
    """Bind every lab port (not listening yet); fail with one line naming the port that is taken."""
    from .http_util import PortInUse, bind_port

    reserved: dict[str, socket.socket] = {}
    try:
        for name in config.PORT_OFFSETS:
            try:
                reserved[name] = bind_port(cfg.port(name))
            except PortInUse as exc:
                raise RuntimeError(f"port {exc.port} ({name}) on {config.HOST} is already in use; "
                                   f"set SRE_LAB_PORT_BASE to use other ports{_ephemeral_note(exc.port)}") from None
    except BaseException:
        for sock in reserved.values():
            sock.close()
        raise
    return reserved


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    cfg = config.LabConfig.load(create=True)
    cfg.error_file.unlink(missing_ok=True)
    lab = Lab(cfg)
    signal.signal(signal.SIGTERM, lambda *_: lab._shutdown.set())
    signal.signal(signal.SIGINT, lambda *_: lab._shutdown.set())
    try:
        lab.start()
    except Exception as exc:
        log.exception("lab failed to start")
        cfg.error_file.write_text(_one_line(exc) + "\n")
        try:
            lab.shutdown()
        except Exception:
            log.exception("cleanup after failed start failed")
        return 1
    lab.wait()
    lab.shutdown()
    return 0


def _exit_now(code: int) -> None:
    """Leave without interpreter finalization (tearing down moto's modules takes seconds, and every
    resource is already released)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 400 else text[:397] + "..."


if __name__ == "__main__":
    _exit_now(main())
