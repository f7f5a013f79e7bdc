"""Every module: bad arguments and unreachable backends give one readable line naming the backend, no traceback,
and secrets never reach the output. Runs each module for real through `ansible localhost -m`."""

import pytest

from helpers import adhoc as run_adhoc

SECRET = "s3cr3t-Do-Not-Print-4242"
DEAD = "http://127.0.0.1:9"
AWS = {"region": "us-east-1", "endpoint_url": DEAD, "access_key": "AKIDEXAMPLE", "secret_key": SECRET,
       "connect_timeout": 1, "read_timeout": 1, "max_attempts": 1}
DD = {"api_url": DEAD, "api_key": SECRET, "app_key": SECRET + "app", "request_timeout": 1}


def adhoc(module, args, check=False):
    return run_adhoc(module, args, check=check, secret=SECRET)


UNREACHABLE = [
    ("elasticache_info", dict(AWS, replication_group_id="rg"), "ElastiCache DescribeReplicationGroups: cannot reach"),
    ("elasticache_failover", dict(AWS, replication_group_id="rg"), "ElastiCache DescribeReplicationGroups: cannot reach"),
    ("elasticache_reboot", dict(AWS, cache_cluster_id="c", confirm_last_resort=True), "ElastiCache DescribeCacheClusters: cannot reach"),
    ("cloudwatch_logs_search", dict(AWS, log_group="/aws/ecs/x"), "CloudWatch Logs FilterLogEvents: cannot reach"),
    ("ecs_taskdef_deploy", dict(AWS, cluster="c", service="s", environment={"A": "1"}), "ECS DescribeServices: cannot reach"),
    ("datadog_metric_query", dict(DD, query="avg:x{*}"), "Datadog http://127.0.0.1:9 query_metrics(avg:x{*}): cannot reach"),
    ("redis_probe", {"host": "127.0.0.1", "port": 9, "password": SECRET, "require_pong": True, "connect_timeout": 1},
     "Redis 127.0.0.1:9 PING: connection refused (ECONNREFUSED)"),
    ("ecs_service_info", dict(AWS, cluster="c", service="s"), "ECS DescribeServices: cannot reach"),
    ("ecs_service_restart", dict(AWS, cluster="c", service="s"), "ECS DescribeServices: cannot reach"),
    ("ecs_service_rollback", dict(AWS, cluster="c", service="s"), "ECS DescribeServices: cannot reach"),
    ("ecs_service_scale", dict(AWS, cluster="c", service="s", desired_count=2, max_desired_count=4), "ECS DescribeServices: cannot reach"),
    ("cloudwatch_logs_insights_query", dict(AWS, log_group="g", query="fields @message"), "CloudWatch Logs Insights StartQuery: cannot reach"),
    ("s3_heapdump_info", dict(AWS, bucket="bucket-b"), "S3 ListObjectsV2: cannot reach"),
    ("ssm_parameter_info", dict(AWS, names=["/f"]), "SSM GetParameters: cannot reach"),
    ("ssm_parameter_set", dict(AWS, name="/f", value="off"), "SSM GetParameter: cannot reach"),
    ("http_probe", {"urls": {"dep": "http://127.0.0.1:9/health"}, "require_healthy": True, "timeout": 1}, "HTTP: not healthy: dep"),
]


@pytest.mark.parametrize("module,args,expected", UNREACHABLE, ids=[u[0] for u in UNREACHABLE])
def test_unreachable_backend_is_one_readable_line(module, args, expected):
    result, text = adhoc(module, args)
    assert result.returncode != 0
    assert expected in text, text
    assert "Traceback" not in text
    assert SECRET not in text


def test_redis_probe_reports_unreachable_as_a_finding_and_hides_url_password():
    result, text = adhoc("redis_probe", {"url": "redis://:%s@127.0.0.1:9/0" % SECRET, "connect_timeout": 1})
    assert result.returncode == 0, text
    assert "ping: false" in text and "ECONNREFUSED" in text
    assert SECRET not in text


BAD_ARGUMENTS = [
    ("datadog_metric_query", dict(DD, query="avg:x{*}", window="ten minutes"), "option window: cannot read"),
    ("datadog_metric_query", {"query": "avg:x{*}", "api_url": DEAD}, "api_key and app_key are required"),
    ("cloudwatch_logs_search", dict(AWS, log_group="g", since="yesterday"), "option since: cannot read"),
    ("redis_probe", {"port": 6379}, "one of the following is required: url, host"),
    ("elasticache_info", dict(AWS), "one of the following is required: replication_group_id, cache_cluster_id"),
    ("ecs_taskdef_deploy", dict(AWS, cluster="c", service="s", memory=2), "below ECS's minimum"),
    ("elasticache_failover", dict(AWS, replication_group_id="rg", wait_timeout="soon"), "wait_timeout"),
]


@pytest.mark.parametrize("module,args,expected", BAD_ARGUMENTS, ids=[b[0] for b in BAD_ARGUMENTS])
def test_bad_arguments_are_named(module, args, expected):
    result, text = adhoc(module, args)
    assert result.returncode != 0
    assert expected in text, text
    assert "Traceback" not in text
    assert SECRET not in text


@pytest.mark.parametrize("module,args", [(u[0], u[1]) for u in UNREACHABLE], ids=[u[0] for u in UNREACHABLE])
def test_check_mode_is_supported(module, args):
    result, text = adhoc(module, args, check=True)
    assert "does not support check mode" not in text
    assert "Traceback" not in text
