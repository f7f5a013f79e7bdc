"""What moto's ElastiCache lacks for the runbook, backed by the lab's real Redis processes.

* The replication group's model points at the lab: primary endpoint = the proxy, reader endpoint = the
  current replica's node, each member's read endpoint = its node; ``CurrentRole`` follows the topology.
* Member cache clusters exist (moto does not create them for a replication group) and
  ``DescribeCacheClusters --show-cache-node-info`` returns their ``CacheNodes`` with real endpoints.
* ``TestFailover`` promotes a replica that answers PING; ``RebootCacheCluster`` restarts a node's process.

Both operations are added to moto's ``ElastiCacheResponse`` so that moto parses the request and its
serializer renders the result and errors (with the model's HTTP status codes) exactly as botocore expects.
Status in the model stays "available" when a process dies on its own: AWS lags, the PING is the truth.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from moto.core.responses import ActionResult
from moto.elasticache.exceptions import CacheClusterNotFound, ElastiCacheException, ReplicationGroupNotFound
from moto.elasticache.models import CacheCluster
from moto.elasticache.responses import ElastiCacheResponse

from . import config
from .aws_emulator import backend, request_context
from .redis_nodes import RedisTopology

log = logging.getLogger("lab.elasticache")

REBOOTING = "rebooting cache cluster nodes"
FAILOVER_DELAY = 1.0


class NodeGroupNotFound(ElastiCacheException):
    code = "NodeGroupNotFoundFault"


class InvalidReplicationGroupState(ElastiCacheException):
    code = "InvalidReplicationGroupState"


class InvalidCacheClusterState(ElastiCacheException):
    code = "InvalidCacheClusterState"


class InvalidParameterValue(ElastiCacheException):
    code = "InvalidParameterValue"


class LabCacheCluster(CacheCluster):
    """A member cache cluster whose CacheNodes appear only when asked for (ShowCacheNodeInfo), as in AWS."""

    lab_nodes: list[dict[str, Any]]

    @property
    def cache_nodes(self) -> list[dict[str, Any]] | None:  # read by moto's serializer
        action = getattr(request_context, "action", None)
        params = getattr(request_context, "params", {}) or {}
        if action == "DescribeCacheClusters" and str(params.get("ShowCacheNodeInfo", "")).lower() != "true":
            return None
        return getattr(self, "lab_nodes", None)


class ElastiCacheGaps:
    def __init__(self, cfg: config.LabConfig, topology: RedisTopology) -> None:
        self.cfg = cfg
        self.topology = topology
        self.lock = threading.RLock()
        self._inflight: set[threading.Thread] = set()

    def _spawn(self, target: Any, *args: Any) -> None:
        """Run the asynchronous part of an operation (failover, reboot) in a tracked thread."""

        def run() -> None:
            try:
                target(*args)
            finally:
                self._inflight.discard(threading.current_thread())

        thread = threading.Thread(target=run, daemon=True, name=f"elasticache-{target.__name__.strip('_')}")
        self._inflight.add(thread)
        thread.start()

    def wait_idle(self, timeout: float = 15.0) -> None:
        """Wait for in-flight failovers/reboots (break and heal must not race them)."""
        deadline = time.monotonic() + timeout
        for thread in list(self._inflight):
            thread.join(max(0.0, deadline - time.monotonic()))

    # --- model ---------------------------------------------------------------------------------
    @property
    def ec(self) -> Any:
        return backend("elasticache")

    def replication_group(self) -> Any:
        return self.ec.replication_groups[config.REPLICATION_GROUP_ID]

    def adopt_member_clusters(self) -> None:
        """Turn the member cache clusters (created by the seed) into LabCacheClusters with node info."""
        for name in config.REDIS_NODES:
            cc = self.ec.cache_clusters[name]
            cc.__class__ = LabCacheCluster
            cc.auth_token_enabled = bool(getattr(self.replication_group(), "auth_token_enabled", False))
            cc.lab_nodes = [{
                "CacheNodeId": "0001",
                "CacheNodeStatus": "available",
                "CacheNodeCreateTime": cc.cache_cluster_create_time,
                "Endpoint": {"Address": config.HOST, "Port": self.cfg.port(name)},
                "ParameterGroupStatus": "in-sync",
                "CustomerAvailabilityZone": cc.preferred_availability_zone,
            }]
            if name != self.topology.primary:
                cc.lab_nodes[0]["SourceCacheNodeId"] = "0001"
        self.sync()

    def sync(self) -> None:
        """Make moto's model say what the topology is (roles, endpoints)."""
        with self.lock:
            rg = self.replication_group()
            ng = rg.node_groups[0]
            proxy_port = self.cfg.port("redis_proxy")
            replicas = self.topology.replicas()
            reader_port = self.cfg.port(replicas[0]) if replicas else proxy_port
            ng["primary_endpoint_address"] = config.HOST
            ng["reader_endpoint_address"] = config.HOST
            ng["port"] = proxy_port
            ng["primary_endpoint"] = {"address": config.HOST, "port": proxy_port}
            ng["reader_endpoint"] = {"address": config.HOST, "port": reader_port}
            rg.port = proxy_port
            rg.primary_cluster_id = self.topology.primary
            for member in ng["node_group_members"]:
                name = member["cache_cluster_id"]
                member["read_endpoint"] = {"address": config.HOST, "port": self.cfg.port(name)}
                member["current_role"] = self.topology.role(name)
            for name in config.REDIS_NODES:
                cc = self.ec.cache_clusters.get(name)
                if isinstance(cc, LabCacheCluster):
                    cc.port = self.cfg.port(name)
                    node = cc.lab_nodes[0]
                    node.pop("SourceCacheNodeId", None)
                    if name != self.topology.primary:
                        node["SourceCacheNodeId"] = "0001"

    def set_cluster_status(self, name: str, status: str) -> None:
        cc = self.ec.cache_clusters[name]
        cc.cache_cluster_status = status
        cc.status = status
        if isinstance(cc, LabCacheCluster):
            cc.lab_nodes[0]["CacheNodeStatus"] = "rebooting" if status == REBOOTING else "available"

    def reset_statuses(self) -> bool:
        """Back to "available" everywhere (heal). Returns True if anything changed."""
        changed = False
        with self.lock:
            rg = self.replication_group()
            if rg.status != "available":
                rg.status = "available"
                changed = True
            for ng in rg.node_groups:
                ng["status"] = "available"
            for name in config.REDIS_NODES:
                if self.ec.cache_clusters[name].cache_cluster_status != "available":
                    self.set_cluster_status(name, "available")
                    changed = True
        return changed

    # --- TestFailover ----------------------------------------------------------------------------
    def test_failover(self, rg_id: str, node_group_id: str) -> Any:
        ec = self.ec
        if not rg_id or rg_id not in ec.replication_groups:
            raise ReplicationGroupNotFound(rg_id)
        rg = ec.replication_groups[rg_id]
        ng = next((g for g in rg.node_groups if g["node_group_id"] == node_group_id), None)
        if ng is None:
            raise NodeGroupNotFound(f"NodeGroup {node_group_id} not found in replication group {rg_id}.")
        if rg.status != "available":
            raise InvalidReplicationGroupState(
                f"Replication group {rg_id} is not in available state (current state: {rg.status})."
            )
        if getattr(rg, "automatic_failover", "disabled") != "enabled":
            raise InvalidReplicationGroupState(
                f"Automatic failover is not enabled for replication group {rg_id}."
            )
        if rg_id != config.REPLICATION_GROUP_ID:
            return self._model_only_failover(rg, ng)
        with self.lock:
            candidate = next((n for n in self.topology.replicas() if self.topology.nodes[n].ping()), None)
            if candidate is None:
                raise InvalidReplicationGroupState(
                    f"no healthy replica available for failover in node group {node_group_id}"
                )
            rg.status = "modifying"
            ng["status"] = "modifying"
        log.info("TestFailover %s/%s: promoting %s", rg_id, node_group_id, candidate)
        self._spawn(self._complete_failover, candidate)
        return rg

    def _complete_failover(self, candidate: str) -> None:
        time.sleep(FAILOVER_DELAY)
        rg = self.replication_group()
        try:
            with self.topology.lock:
                if self.topology.nodes[candidate].ping(1.0):
                    self.topology.promote(candidate)
                else:
                    log.warning("failover aborted: %s stopped answering PING", candidate)
        except Exception:
            log.exception("failover to %s failed", candidate)
        finally:
            with self.lock:
                self.sync()
                rg.status = "available"
                for ng in rg.node_groups:
                    ng["status"] = "available"

    def _model_only_failover(self, rg: Any, ng: dict) -> Any:
        members = ng.get("node_group_members", [])
        primary = next((m for m in members if m.get("current_role") == "primary"), None)
        replica = next((m for m in members if m.get("current_role") == "replica"), None)
        if primary is None or replica is None:
            raise InvalidReplicationGroupState(
                f"no healthy replica available for failover in node group {ng['node_group_id']}"
            )
        primary["current_role"], replica["current_role"] = "replica", "primary"
        return rg

    # --- RebootCacheCluster ---------------------------------------------------------------------
    def reboot_cache_cluster(self, cluster_id: str, node_ids: list[str]) -> Any:
        ec = self.ec
        if not cluster_id or cluster_id not in ec.cache_clusters:
            raise CacheClusterNotFound(cluster_id)
        cc = ec.cache_clusters[cluster_id]
        if not node_ids:
            raise InvalidParameterValue("The parameter CacheNodeIdsToReboot must be provided.")
        valid = [n["CacheNodeId"] for n in getattr(cc, "lab_nodes", None) or [{"CacheNodeId": "0001"}]]
        unknown = [n for n in node_ids if n not in valid]
        if unknown:
            raise InvalidParameterValue(
                f"Cache node id(s) {', '.join(unknown)} not found in cache cluster {cluster_id}."
            )
        if cc.cache_cluster_status != "available":
            raise InvalidCacheClusterState(
                f"Cache cluster {cluster_id} is not in available state (current state: {cc.cache_cluster_status})."
            )
        self.set_cluster_status(cluster_id, REBOOTING)
        if cluster_id in self.topology.nodes:
            log.info("RebootCacheCluster %s", cluster_id)
            self._spawn(self._complete_reboot, cluster_id)
        else:
            self._spawn(self._complete_model_reboot, cluster_id)
        return cc

    def _complete_model_reboot(self, cluster_id: str) -> None:
        time.sleep(1.0)
        self.set_cluster_status(cluster_id, "available")

    def _complete_reboot(self, name: str) -> None:
        try:
            self.topology.restart(name)
        except Exception:
            log.exception("reboot of %s failed", name)
        finally:
            with self.lock:
                self.sync()
                self.set_cluster_status(name, "available")


_gaps: ElastiCacheGaps | None = None


def install(gaps: ElastiCacheGaps) -> None:
    """Register the lab's implementations with moto's ElastiCache request handler."""
    global _gaps
    _gaps = gaps

    def test_failover(self: ElastiCacheResponse) -> ActionResult:
        assert _gaps is not None
        rg = _gaps.test_failover(self._get_param("ReplicationGroupId"), self._get_param("NodeGroupId"))
        return ActionResult({"ReplicationGroup": rg})

    def reboot_cache_cluster(self: ElastiCacheResponse) -> ActionResult:
        assert _gaps is not None
        node_ids = self._get_param("CacheNodeIdsToReboot", []) or []
        if isinstance(node_ids, str):
            node_ids = [node_ids]
        cc = _gaps.reboot_cache_cluster(self._get_param("CacheClusterId"), list(node_ids))
        return ActionResult({"CacheCluster": cc})

    ElastiCacheResponse.test_failover = test_failover  # type: ignore[attr-defined]
    ElastiCacheResponse.reboot_cache_cluster = reboot_cache_cluster  # type: ignore[attr-defined]
