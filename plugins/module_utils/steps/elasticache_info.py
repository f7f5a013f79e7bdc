# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.elasticache_info - Read an ElastiCache replication group or cache cluster - status, members, roles, endpoints.

Its logic (SPEC and run(module)); plugins/modules/elasticache_info.py holds the documentation and main()."""

from __future__ import annotations

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, client
from ansible_collections.sre.incident.plugins.module_utils.elasticache import (
    describe_cache_clusters,
    describe_replication_group,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import ELASTICACHE_ID

SPEC = dict(
    argument_spec=aws_argument_spec(
        replication_group_id=dict(type="str"),
        cache_cluster_id=dict(type="str"),
    ),
    required_one_of=[("replication_group_id", "cache_cluster_id")],
    supports_check_mode=True,
    limits=dict(replication_group_id=ELASTICACHE_ID, cache_cluster_id=ELASTICACHE_ID),
)


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
    api = client(module, "elasticache")
    group_id = module.params["replication_group_id"]
    cluster_ids = [module.params["cache_cluster_id"]] if module.params["cache_cluster_id"] else []

    clusters = describe_cache_clusters(module, api, cluster_ids) if cluster_ids else {}
    if not group_id and clusters:
        group_id = next(iter(clusters.values())).get("replication_group_id")
    group = describe_replication_group(module, api, group_id, missing_ok=True) if group_id else None
    if group:
        missing = [member for member in group["member_clusters"] if member not in clusters]
        clusters.update(describe_cache_clusters(module, api, missing))

    primary, primary_endpoint, replicas, members = None, None, [], []
    if group and group["node_groups"]:
        first = group["node_groups"][0]
        primary_endpoint = first["primary_endpoint"]
        for member in first["members"]:
            status = clusters.get(member["cache_cluster_id"], {}).get("status")
            endpoint = member["read_endpoint"] or {}
            if endpoint.get("address"):
                members.append({"name": member["cache_cluster_id"], "role": member["current_role"],
                                "host": endpoint["address"], "port": endpoint.get("port") or 6379, "status": status})
            if member["current_role"] == "primary":
                primary = member["cache_cluster_id"]
            else:
                replicas.append(dict(member, cache_cluster_status=status))

    module.exit_json(
        changed=False,
        exists=bool(group or clusters),
        replication_group=group,
        cache_clusters=clusters,
        primary_cluster_id=primary,
        primary_endpoint=primary_endpoint,
        replicas=replicas,
        members=members,
    )
