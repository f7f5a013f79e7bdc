# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ElastiCache reads shared by the info, failover and reboot modules: one replication group, flattened."""

from __future__ import annotations

from ansible_collections.sre.incident.plugins.module_utils.aws import fail, is_not_found

BACKEND = "ElastiCache"


def _endpoint(raw):
    if not raw:
        return None
    return {"address": raw.get("Address"), "port": raw.get("Port")}


def describe_replication_group(module, api, group_id, missing_ok=False):
    """The replication group as snake_case facts, or None when missing_ok and it does not exist."""
    try:
        groups = api.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"]
    except Exception as exc:  # noqa: BLE001
        if missing_ok and is_not_found(exc, "ReplicationGroupNotFoundFault"):
            return None
        fail(module, exc, BACKEND, "describe_replication_groups")
    raw = groups[0]
    node_groups = []
    for group in raw.get("NodeGroups", []):
        node_groups.append({
            "node_group_id": group.get("NodeGroupId"),
            "status": group.get("Status"),
            "primary_endpoint": _endpoint(group.get("PrimaryEndpoint")),
            "reader_endpoint": _endpoint(group.get("ReaderEndpoint")),
            "members": [{
                "cache_cluster_id": member.get("CacheClusterId"),
                "cache_node_id": member.get("CacheNodeId"),
                "current_role": member.get("CurrentRole"),
                "read_endpoint": _endpoint(member.get("ReadEndpoint")),
                "availability_zone": member.get("PreferredAvailabilityZone"),
            } for member in group.get("NodeGroupMembers", [])],
        })
    return {
        "replication_group_id": raw.get("ReplicationGroupId"),
        "status": raw.get("Status"),
        "description": raw.get("Description"),
        "automatic_failover": raw.get("AutomaticFailover"),
        "multi_az": raw.get("MultiAZ"),
        "cluster_enabled": raw.get("ClusterEnabled", False),
        "member_clusters": raw.get("MemberClusters", []),
        "node_groups": node_groups,
        "cache_node_type": raw.get("CacheNodeType"),
        "transit_encryption_enabled": raw.get("TransitEncryptionEnabled", False),
        "auth_token_enabled": raw.get("AuthTokenEnabled", False),
    }


def describe_cache_clusters(module, api, cluster_ids):
    """Cache clusters (with node endpoints) by id; ids that do not exist are left out."""
    found = {}
    for cluster_id in cluster_ids:
        try:
            raw = api.describe_cache_clusters(CacheClusterId=cluster_id, ShowCacheNodeInfo=True)["CacheClusters"]
        except Exception as exc:  # noqa: BLE001
            if is_not_found(exc, "CacheClusterNotFound", "CacheClusterNotFoundFault"):
                continue
            fail(module, exc, BACKEND, "describe_cache_clusters")
        for cluster in raw:
            found[cluster["CacheClusterId"]] = {
                "cache_cluster_id": cluster["CacheClusterId"],
                "status": cluster.get("CacheClusterStatus"),
                "engine": cluster.get("Engine"),
                "engine_version": cluster.get("EngineVersion"),
                "node_type": cluster.get("CacheNodeType"),
                "replication_group_id": cluster.get("ReplicationGroupId"),
                "nodes": [{
                    "cache_node_id": node.get("CacheNodeId"),
                    "status": node.get("CacheNodeStatus"),
                    "endpoint": _endpoint(node.get("Endpoint")),
                } for node in cluster.get("CacheNodes", [])],
            }
    return found


def node_group(group, node_group_id):
    for candidate in group["node_groups"]:
        if candidate["node_group_id"] == node_group_id:
            return candidate
    return None


def primary_member(group, node_group_id):
    candidate = node_group(group, node_group_id)
    for member in (candidate or {}).get("members", []):
        if member["current_role"] == "primary":
            return member
    return None
