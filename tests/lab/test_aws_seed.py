"""The runbook's AWS resources as the real boto3 sees them, and moto's error shapes for unknown ids."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

CLUSTER, SERVICE = "sample-service-prod", "sample-service"
RG = "sample-service-redis-prod"
NODE1, NODE2 = "sample-service-redis-prod-001", "sample-service-redis-prod-002"


def test_ecs_service_runs_revision_5_with_one_completed_deployment(healed_lab, aws):
    svc = aws("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])["services"][0]
    assert svc["taskDefinition"] == healed_lab["ecs"]["baseline_task_definition"]
    assert (svc["desiredCount"], svc["runningCount"], svc["pendingCount"]) == (4, 4, 0)
    assert len(svc["deployments"]) == 1
    primary = svc["deployments"][0]
    assert (primary["status"], primary["rolloutState"], primary["runningCount"]) == ("PRIMARY", "COMPLETED", 4)
    assert svc["events"][0]["message"] == "(service sample-service) has reached a steady state."
    tasks = aws("ecs").list_tasks(cluster=CLUSTER, serviceName=SERVICE, desiredStatus="RUNNING")["taskArns"]
    assert len(tasks) == 4
    described = aws("ecs").describe_tasks(cluster=CLUSTER, tasks=tasks)["tasks"]
    assert {t["lastStatus"] for t in described} == {"RUNNING"}
    assert {t["taskDefinitionArn"] for t in described} == {svc["taskDefinition"]}


def test_task_family_has_5_revisions_with_the_runbook_environment(lab, aws):
    ecs = aws("ecs")
    arns = ecs.list_task_definitions(familyPrefix="sample-service", sort="DESC")["taskDefinitionArns"]
    revisions = [int(a.rsplit(":", 1)[1]) for a in arns]
    assert revisions == sorted(revisions, reverse=True)
    assert {1, 2, 3, 4, 5} <= set(revisions)  # later tests may register more
    td = ecs.describe_task_definition(taskDefinition="sample-service:5")["taskDefinition"]
    container = td["containerDefinitions"][0]
    assert container["name"] == "sample-service"
    assert container["image"] == "sample-service:1.0.5"
    assert (container["memory"], container["cpu"]) == (1024, 512)
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env == {"CACHE_ENABLED": "true", "MAX_DB_CONNECTIONS": "20", "NODE_ENV": "production",
                   "REDIS_URL": f"redis://127.0.0.1:{lab['redis']['port']}/0"}


def test_log_group_bucket_exist(lab, aws):
    groups = aws("logs").describe_log_groups(logGroupNamePrefix="/aws/ecs/sample-service-prod")["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/ecs/sample-service-prod"]
    streams = aws("logs").describe_log_streams(logGroupName="/aws/ecs/sample-service-prod")["logStreams"]
    assert streams and all(s["logStreamName"].startswith("ecs/sample-service/") for s in streams)
    aws("s3").head_bucket(Bucket="sample-service-heapdumps")


def test_replication_group_points_at_the_lab(healed_lab, aws):
    rg = aws("elasticache").describe_replication_groups(ReplicationGroupId=RG)["ReplicationGroups"][0]
    nodes = healed_lab["redis"]["nodes"]
    assert rg["Status"] == "available"
    assert (rg["AutomaticFailover"], rg["MultiAZ"], rg["ClusterEnabled"]) == ("enabled", "enabled", False)
    assert rg["MemberClusters"] == [NODE1, NODE2]
    ng = rg["NodeGroups"][0]
    assert ng["NodeGroupId"] == "0001"
    assert ng["PrimaryEndpoint"] == {"Address": "127.0.0.1", "Port": healed_lab["redis"]["port"]}
    assert ng["ReaderEndpoint"] == {"Address": "127.0.0.1", "Port": nodes[NODE2]["port"]}
    members = {m["CacheClusterId"]: m for m in ng["NodeGroupMembers"]}
    assert members[NODE1]["CurrentRole"] == "primary" and members[NODE2]["CurrentRole"] == "replica"
    assert members[NODE1]["ReadEndpoint"] == {"Address": "127.0.0.1", "Port": nodes[NODE1]["port"]}


def test_member_cache_clusters_show_node_endpoints_only_when_asked(healed_lab, aws):
    ec = aws("elasticache")
    for name in (NODE1, NODE2):
        cc = ec.describe_cache_clusters(CacheClusterId=name, ShowCacheNodeInfo=True)["CacheClusters"][0]
        assert cc["ReplicationGroupId"] == RG
        assert cc["CacheClusterStatus"] == "available"
        assert cc["CacheNodes"][0]["Endpoint"] == {"Address": "127.0.0.1",
                                                   "Port": healed_lab["redis"]["nodes"][name]["port"]}
        plain = ec.describe_cache_clusters(CacheClusterId=name)["CacheClusters"][0]
        assert "CacheNodes" not in plain


@pytest.mark.parametrize("call, code", [
    (lambda ec: ec.describe_replication_groups(ReplicationGroupId="nope"), "ReplicationGroupNotFoundFault"),
    (lambda ec: ec.describe_cache_clusters(CacheClusterId="nope"), "CacheClusterNotFound"),
    # the runbook passes the replication group id as --cache-cluster-id: not a cache cluster, as in AWS
    (lambda ec: ec.describe_cache_clusters(CacheClusterId=RG), "CacheClusterNotFound"),
])
def test_unknown_ids_are_404_with_the_aws_error_code(lab, aws, call, code):
    with pytest.raises(ClientError) as err:
        call(aws("elasticache"))
    assert err.value.response["Error"]["Code"] == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_task_definitions_sorts_and_pages_like_ecs(lab, aws):
    paginator = aws("ecs").get_paginator("list_task_definitions")
    newest = paginator.paginate(familyPrefix="sample-service", sort="DESC",
                                PaginationConfig={"MaxItems": 5, "PageSize": 2}).build_full_result()
    revisions = [int(a.rsplit(":", 1)[1]) for a in newest["taskDefinitionArns"]]
    assert len(revisions) == 5 and revisions == sorted(revisions, reverse=True) and revisions[-1] >= 1
