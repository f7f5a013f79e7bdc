#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: elasticache_failover
short_description: Fail a replication group's node group over to a replica (TestFailover) and wait
version_added: 0.1.0
description:
  - The runbook's Redis option 1 - C(aws elasticache test-failover). Promotes a replica of the node group to
    primary, then waits until the replication group is C(available) again with a different primary.
  - Refuses, changing nothing, when the group is not C(available), automatic failover is not enabled, or the
    node group has no replica.
  - With O(only_if_primary=ID) it does nothing when ID is no longer the primary, so a rerun after a
    successful failover reports no change.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.wait
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  replication_group_id:
    description: Replication group id (a letter, then letters, digits and single hyphens; at most 50).
    type: str
    required: true
  node_group_id:
    description:
      - Node group (shard) to fail over; C(0001) for a cluster-mode-disabled group. Four digits - quote it in YAML
        (C(0001) unquoted is the number 1, which is refused).
    type: str
    default: "0001"
  only_if_primary:
    description:
      - Cache cluster id that is believed to be the failing primary. When another member is already primary,
        nothing is done (C(changed=false)). An empty string is refused, as is any value that is not an
        ElastiCache id.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Validates the group and returns the plan (C(changed=true)) without calling TestFailover.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Failover to replica
  sre.incident.elasticache_failover:
    region: us-east-1
    replication_group_id: sample-service-redis-prod
    node_group_id: "0001"
    only_if_primary: sample-service-redis-prod-001
    wait_timeout: 900
"""

RETURN = r"""
previous_primary:
  description: Cache cluster id that was primary before.
  returned: always
  type: str
new_primary:
  description: Cache cluster id that is primary afterwards (in check mode, the replica that would be promoted).
  returned: always
  type: str
waited:
  description: Seconds spent waiting for the group to become available again.
  returned: when a failover ran with wait
  type: float
msg:
  description: What was done or would be done.
  returned: always
  type: str
"""

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, call, client
from ansible_collections.sre.incident.plugins.module_utils.common import WAIT_ARGUMENT_SPEC, WaitTimeout, wait_for
from ansible_collections.sre.incident.plugins.module_utils.elasticache import (
    BACKEND,
    describe_replication_group,
    node_group,
    primary_member,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import ELASTICACHE_ID, NODE_ID, StrictModule


def main():
    module = StrictModule(
        argument_spec=aws_argument_spec(
            replication_group_id=dict(type="str", required=True),
            node_group_id=dict(type="str", default="0001"),
            only_if_primary=dict(type="str"),
            **WAIT_ARGUMENT_SPEC
        ),
        supports_check_mode=True,
        limits=dict(replication_group_id=ELASTICACHE_ID, node_group_id=NODE_ID, only_if_primary=ELASTICACHE_ID),
    )
    params = module.params
    group_id, shard_id = params["replication_group_id"], params["node_group_id"]
    api = client(module, "elasticache")
    group = describe_replication_group(module, api, group_id, missing_ok=True)
    if group is None:
        module.fail_json(msg="%s: replication group %s not found - check replication_group_id and region" % (BACKEND, group_id))
    shard = node_group(group, shard_id)
    if shard is None:
        module.fail_json(msg="%s: replication group %s has no node group %s (it has: %s)" % (
            BACKEND, group_id, shard_id, ", ".join(g["node_group_id"] for g in group["node_groups"]) or "none"))
    primary = (primary_member(group, shard_id) or {}).get("cache_cluster_id")
    replicas = [m["cache_cluster_id"] for m in shard["members"] if m["current_role"] != "primary"]
    result = dict(changed=False, previous_primary=primary, new_primary=primary)

    if params["only_if_primary"] is not None and primary != params["only_if_primary"]:
        module.exit_json(msg="%s is no longer the primary of %s (now %s); nothing to fail over" % (
            params["only_if_primary"], group_id, primary), **result)
    refusal = None
    if group["status"] != "available":
        refusal = "replication group %s is %s, not available" % (group_id, group["status"])
    elif group["automatic_failover"] != "enabled":
        refusal = "automatic failover is %s on %s; TestFailover needs it enabled" % (group["automatic_failover"], group_id)
    elif not replicas:
        refusal = "node group %s of %s has no replica to promote" % (shard_id, group_id)
    if refusal:
        module.fail_json(msg="%s: refusing to fail over: %s. Nothing was changed." % (BACKEND, refusal), **result)

    result.update(changed=True, new_primary=replicas[0],
                  diff=dict(before={"primary": primary}, after={"primary": "one of %s" % ", ".join(replicas)}))
    if module.check_mode:
        module.exit_json(msg="would fail %s node group %s over from %s to %s and wait until the group is available" % (
            group_id, shard_id, primary, replicas[0] if len(replicas) == 1 else "one of " + ", ".join(replicas)), **result)

    call(module, BACKEND, api, "test_failover", ReplicationGroupId=group_id, NodeGroupId=shard_id)
    if not params["wait"]:
        module.exit_json(msg="failover of %s started" % group_id, **result)

    def settled(current):
        now_primary = (primary_member(current, shard_id) or {}).get("cache_cluster_id")
        return current["status"] == "available" and now_primary not in (None, primary)

    try:
        current, waited = wait_for(lambda: describe_replication_group(module, api, group_id), settled,
                                   params["wait_timeout"], params["wait_interval"])
    except WaitTimeout as exc:
        last = exc.last or {}
        module.fail_json(msg="%s: failover of %s started but the group is still %s with primary %s after %ss; "
                             "check the ElastiCache events for %s" % (
                                 BACKEND, group_id, last.get("status"), (primary_member(last, shard_id) or {}).get("cache_cluster_id"),
                                 params["wait_timeout"], group_id), **result)
    result.update(new_primary=primary_member(current, shard_id)["cache_cluster_id"], waited=waited)
    result["diff"]["after"] = {"primary": result["new_primary"]}
    module.exit_json(msg="failed %s over from %s to %s in %ss" % (group_id, primary, result["new_primary"], waited), **result)


if __name__ == "__main__":
    main()
