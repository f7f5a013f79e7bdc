"""TestFailover and RebootCacheCluster through real boto3, checked on the real Redis processes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from labhelpers import endpoint_port, redis_client, wait_until

from lab import client

RG = "sample-service-redis-prod"
NODE1, NODE2 = "sample-service-redis-prod-001", "sample-service-redis-prod-002"


def rg_state(aws):
    rg = aws("elasticache").describe_replication_groups(ReplicationGroupId=RG)["ReplicationGroups"][0]
    roles = {m["CacheClusterId"]: m["CurrentRole"] for m in rg["NodeGroups"][0]["NodeGroupMembers"]}
    return rg, roles


def error_of(call):
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"], \
        err.value.response["Error"]["Message"]


def test_test_failover_moves_the_primary_endpoint_to_the_replica(healed_lab, aws):
    port1 = healed_lab["redis"]["nodes"][NODE1]["port"]
    port2 = healed_lab["redis"]["nodes"][NODE2]["port"]
    assert endpoint_port(healed_lab) == port1
    resp = aws("elasticache").test_failover(ReplicationGroupId=RG, NodeGroupId="0001")
    assert resp["ReplicationGroup"]["ReplicationGroupId"] == RG
    assert resp["ReplicationGroup"]["Status"] == "modifying"
    wait_until(lambda: endpoint_port(healed_lab) == port2, timeout=5, what="endpoint served by node 002")
    c = redis_client(healed_lab)
    assert c.info("replication")["role"] == "master"
    old = redis_client(healed_lab, port1).info("replication")
    assert (old["role"], int(old["master_port"])) == ("slave", port2)
    rg, roles = wait_until(lambda: (s := rg_state(aws))[0]["Status"] == "available" and s, what="RG available")
    assert roles == {NODE1: "replica", NODE2: "primary"}
    ng = rg["NodeGroups"][0]
    assert ng["PrimaryEndpoint"]["Port"] == healed_lab["redis"]["port"]  # the endpoint stays, its target moved
    assert ng["ReaderEndpoint"]["Port"] == port1
    assert client.status()["redis"]["nodes"][NODE2]["role"] == "primary"


def test_test_failover_errors(healed_lab, aws):
    ec = aws("elasticache")
    assert error_of(lambda: ec.test_failover(ReplicationGroupId="nope", NodeGroupId="0001"))[:2] == \
        ("ReplicationGroupNotFoundFault", 404)
    assert error_of(lambda: ec.test_failover(ReplicationGroupId=RG, NodeGroupId="0002"))[:2] == \
        ("NodeGroupNotFoundFault", 404)
    ec.test_failover(ReplicationGroupId=RG, NodeGroupId="0001")
    code, status, message = error_of(lambda: ec.test_failover(ReplicationGroupId=RG, NodeGroupId="0001"))
    assert (code, status) == ("InvalidReplicationGroupState", 400) and "modifying" in message


def test_no_failover_without_a_healthy_replica(healed_lab, aws):
    client.break_incident("redis_down", replica_down=True)
    code, status, message = error_of(
        lambda: aws("elasticache").test_failover(ReplicationGroupId=RG, NodeGroupId="0001"))
    assert (code, status) == ("InvalidReplicationGroupState", 400)
    assert "no healthy replica available for failover in node group 0001" in message
    assert rg_state(aws)[0]["Status"] == "available"


def test_reboot_cache_cluster_restarts_a_stopped_node(healed_lab, aws):
    client.break_incident("redis_down")
    assert endpoint_port(healed_lab) is None
    cc = aws("elasticache").reboot_cache_cluster(CacheClusterId=NODE1, CacheNodeIdsToReboot=["0001"])["CacheCluster"]
    assert cc["CacheClusterStatus"] == "rebooting cache cluster nodes"
    port1 = healed_lab["redis"]["nodes"][NODE1]["port"]
    wait_until(lambda: endpoint_port(healed_lab) == port1, timeout=5, what="node 001 serving again")
    wait_until(lambda: aws("elasticache").describe_cache_clusters(CacheClusterId=NODE1)["CacheClusters"][0]
               ["CacheClusterStatus"] == "available", timeout=5, what="cluster available")
    assert client.status()["redis"]["nodes"][NODE1] == {"port": port1, "role": "primary", "up": True}


def test_failover_then_reboot_brings_the_old_primary_back_as_replica(healed_lab, aws):
    """The runbook's Option 1 then Option 2: the old primary must not come back as a second primary."""
    port2 = healed_lab["redis"]["nodes"][NODE2]["port"]
    port1 = healed_lab["redis"]["nodes"][NODE1]["port"]
    client.break_incident("redis_down")
    aws("elasticache").test_failover(ReplicationGroupId=RG, NodeGroupId="0001")
    wait_until(lambda: endpoint_port(healed_lab) == port2, timeout=5, what="endpoint served by node 002")
    wait_until(lambda: rg_state(aws)[0]["Status"] == "available", timeout=5, what="RG available")
    aws("elasticache").reboot_cache_cluster(CacheClusterId=NODE1, CacheNodeIdsToReboot=["0001"])
    info = wait_until(lambda: _replication(healed_lab, port1), timeout=5, what="node 001 back")
    assert (info["role"], int(info["master_port"])) == ("slave", port2)
    assert rg_state(aws)[1] == {NODE1: "replica", NODE2: "primary"}


def _replication(lab, port):
    import redis

    try:
        return redis_client(lab, port).info("replication")
    except redis.ConnectionError:
        return None


def test_reboot_errors(healed_lab, aws):
    ec = aws("elasticache")
    ec.reboot_cache_cluster(CacheClusterId=NODE2, CacheNodeIdsToReboot=["0001"])
    assert error_of(lambda: ec.reboot_cache_cluster(CacheClusterId=NODE2, CacheNodeIdsToReboot=["0001"]))[:2] == \
        ("InvalidCacheClusterState", 400)
    assert error_of(lambda: ec.reboot_cache_cluster(CacheClusterId=NODE1, CacheNodeIdsToReboot=["0002"]))[:2] == \
        ("InvalidParameterValue", 400)
    assert error_of(lambda: ec.reboot_cache_cluster(CacheClusterId="nope", CacheNodeIdsToReboot=["0001"]))[:2] == \
        ("CacheClusterNotFound", 404)
    assert error_of(lambda: ec.reboot_cache_cluster(CacheClusterId=RG, CacheNodeIdsToReboot=["0001"]))[:2] == \
        ("CacheClusterNotFound", 404)
