#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: elasticache_reboot
short_description: Reboot the nodes of an ElastiCache cache cluster and wait until it is available
version_added: 0.1.0
description:
  - The runbook's Redis option 2, B(last resort) - C(aws elasticache reboot-cache-cluster). A reboot drops the
    node's data and every client connection; prefer M(sre.incident.elasticache_failover).
  - Refuses unless O(confirm_last_resort=true), so it is never run by accident.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.wait
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  cache_cluster_id:
    description: Cache cluster to reboot, for example C(sample-service-redis-prod-001).
    type: str
    required: true
  cache_node_ids:
    description: Node ids to reboot (four digits each, at most 40); all nodes of the cluster when empty.
    type: list
    elements: str
    default: []
  confirm_last_resort:
    description: Must be C(true); the reboot empties the cache and cuts every client.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Validates the cluster and returns the plan (C(changed=true)) without rebooting.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
"""

EXAMPLES = r"""
- name: Restart Redis (last resort)
  sre.incident.elasticache_reboot:
    region: us-east-1
    cache_cluster_id: sample-service-redis-prod-001
    confirm_last_resort: true
"""

RETURN = r"""
rebooted_nodes:
  description: Node ids that were (or in check mode would be) rebooted.
  returned: always
  type: list
  elements: str
status:
  description: Cache cluster status at the end.
  returned: always
  type: str
waited:
  description: Seconds spent waiting.
  returned: when rebooted with wait
  type: float
"""

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, call, client
from ansible_collections.sre.incident.plugins.module_utils.common import WAIT_ARGUMENT_SPEC, WaitTimeout, wait_for
from ansible_collections.sre.incident.plugins.module_utils.elasticache import BACKEND, describe_cache_clusters
from ansible_collections.sre.incident.plugins.module_utils.validate import ELASTICACHE_ID, NODE_ID, Each, StrictModule


def main():
    module = StrictModule(
        argument_spec=aws_argument_spec(
            cache_cluster_id=dict(type="str", required=True),
            cache_node_ids=dict(type="list", elements="str", default=[]),
            confirm_last_resort=dict(type="bool", default=False),
            **WAIT_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
        limits=dict(cache_cluster_id=ELASTICACHE_ID, cache_node_ids=Each(NODE_ID, max_items=40)),
    )
    params = module.params
    cluster_id = params["cache_cluster_id"]
    api = client(module, "elasticache")
    cluster = describe_cache_clusters(module, api, [cluster_id]).get(cluster_id)
    if cluster is None:
        module.fail_json(msg="%s: cache cluster %s not found - check cache_cluster_id and region" % (BACKEND, cluster_id))
    node_ids = params["cache_node_ids"] or [node["cache_node_id"] for node in cluster["nodes"]] or ["0001"]
    refused = dict(changed=False, rebooted_nodes=[], status=cluster["status"])
    if not params["confirm_last_resort"]:
        module.fail_json(msg="%s: refusing to reboot %s: a reboot is the runbook's last resort (it empties the cache "
                             "and drops every client); set confirm_last_resort=true to go ahead. Nothing was changed."
                         % (BACKEND, cluster_id), **refused)
    if cluster["status"] != "available":
        module.fail_json(msg="%s: refusing to reboot %s while it is %s. Nothing was changed." % (
            BACKEND, cluster_id, cluster["status"]), **refused)
    result = dict(changed=True, rebooted_nodes=node_ids, status=cluster["status"])
    if module.check_mode:
        module.exit_json(msg="would reboot nodes %s of %s" % (", ".join(node_ids), cluster_id), **result)

    call(module, BACKEND, api, "reboot_cache_cluster", CacheClusterId=cluster_id, CacheNodeIdsToReboot=node_ids)
    if not params["wait"]:
        module.exit_json(msg="reboot of %s started" % cluster_id, **result)
    seen = {"rebooting": False}

    def settled(current):
        # The status may flip to "rebooting cache cluster nodes" and back between two polls; a short
        # wait_interval catches it, and once available after the call we accept it either way.
        status = (current or {}).get("status")
        seen["rebooting"] = seen["rebooting"] or (status not in (None, "available"))
        return status == "available"

    try:
        current, waited = wait_for(lambda: describe_cache_clusters(module, api, [cluster_id]).get(cluster_id), settled,
                                   params["wait_timeout"], params["wait_interval"])
    except WaitTimeout as exc:
        module.fail_json(msg="%s: reboot of %s started but it is still %s after %ss" % (
            BACKEND, cluster_id, (exc.last or {}).get("status"), params["wait_timeout"]), **result)
    result.update(status=current["status"], waited=waited)
    module.exit_json(msg="rebooted nodes %s of %s in %ss" % (", ".join(node_ids), cluster_id, waited), **result)


if __name__ == "__main__":
    main()
