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
  - sre.incident.strict_inputs
  - sre.incident.deadline
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

from ansible_collections.sre.incident.plugins.module_utils.steps import elasticache_info as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
