#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: elasticache_info
short_description: Read an ElastiCache replication group or cache cluster - status, members, roles, endpoints
version_added: 0.1.0
description:
  - The runbook's "Check Redis cluster status" step. Reads the replication group (status, automatic failover,
    node groups with their primary and reader endpoints, each member's current role and read endpoint) and
    every member cache cluster with its node status and endpoint.
  - Given only O(cache_cluster_id), reads that cache cluster and, when it belongs to a replication group,
    the group too.
  - Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.read_only
options:
  replication_group_id:
    description:
      - Replication group id, for example C(sample-service-redis-prod).
    type: str
  cache_cluster_id:
    description:
      - Cache cluster id, for example C(sample-service-redis-prod-001).
    type: str
"""

EXAMPLES = r"""
- name: Check Redis cluster status
  sre.incident.elasticache_info:
    region: us-east-1
    replication_group_id: sample-service-redis-prod
  register: redis_cluster

- name: Show the current primary
  ansible.builtin.debug:
    msg: "{{ redis_cluster.primary_cluster_id }} at {{ redis_cluster.primary_endpoint.address }}"
"""

RETURN = r"""
exists:
  description: Whether the replication group (or cache cluster) exists.
  returned: always
  type: bool
replication_group:
  description: The replication group; null when it does not exist or none was asked for.
  returned: always
  type: dict
  contains:
    replication_group_id: {description: Id., type: str, returned: success}
    status: {description: "Group status (available, modifying, ...).", type: str, returned: success}
    automatic_failover: {description: enabled / disabled / enabling / disabling., type: str, returned: success}
    multi_az: {description: enabled / disabled., type: str, returned: success}
    member_clusters: {description: Member cache cluster ids., type: list, elements: str, returned: success}
    node_groups:
      description: Node groups (shards) with primary/reader endpoints and members (cache_cluster_id, current_role, read_endpoint).
      type: list
      elements: dict
      returned: success
cache_clusters:
  description: Member (or requested) cache clusters by id, each with status and nodes (status, endpoint).
  returned: always
  type: dict
primary_cluster_id:
  description: The member whose current role is primary in the first node group; null if none.
  returned: always
  type: str
  sample: sample-service-redis-prod-001
primary_endpoint:
  description: The first node group's primary endpoint (address, port).
  returned: always
  type: dict
replicas:
  description: Members whose current role is replica, with their read endpoint and cache cluster status.
  returned: always
  type: list
  elements: dict
members:
  description:
    - Members of the first node group, flat - C(name), C(role), C(host), C(port), C(status) - ready to pass to
      M(sre.incident.redis_probe)'s O(sre.incident.redis_probe#module:also_probe).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "sample-service-redis-prod-002", "role": "replica", "host": "10.0.2.10", "port": 6379, "status": "available"}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, client
from ansible_collections.sre.incident.plugins.module_utils.elasticache import (
    describe_cache_clusters,
    describe_replication_group,
)


def main():
    module = AnsibleModule(
        argument_spec=aws_argument_spec(
            replication_group_id=dict(type="str"),
            cache_cluster_id=dict(type="str"),
        ),
        required_one_of=[("replication_group_id", "cache_cluster_id")],
        supports_check_mode=True,
    )
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


if __name__ == "__main__":
    main()
