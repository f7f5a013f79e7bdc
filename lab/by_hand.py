"""The runbook's own diagnosis commands for each incident, pointed at the lab: what make bench times next to the
playbooks' --check (an engineer typing them reads the same evidence)."""

from __future__ import annotations

import time


def stopped_task(status):
    """One stopped task's ARN: the runbook's describe-tasks takes the <task-arn> an engineer copies from list-tasks."""
    import boto3

    ecs = boto3.client("ecs", region_name=status["aws"]["region"], endpoint_url=status["aws"]["endpoint_url"],
                       aws_access_key_id=status["aws"]["access_key_id"], aws_secret_access_key=status["aws"]["secret_access_key"])
    arns = ecs.list_tasks(cluster=status["ecs"]["cluster"], serviceName=status["ecs"]["service"],
                          desiredStatus="STOPPED")["taskArns"]
    return arns[0] if arns else "none"


def runbook_commands(status, aws_cli, incident):
    """The runbook's own diagnosis commands for one incident, pointed at the lab."""
    endpoint = status["aws"]["endpoint_url"]
    now = int(time.time())
    cluster, service = status["ecs"]["cluster"], status["ecs"]["service"]
    log_group = status["logs"]["log_group"]

    def aws(*args):
        return [aws_cli, *args, "--endpoint-url", endpoint]

    def datadog(query, window=900):
        return ["curl", "-sS", "-m", "10", "-G", status["datadog"]["url"] + "/api/v1/query",
                "-H", "DD-API-KEY: " + status["datadog"]["api_key"], "-H", "DD-APPLICATION-KEY: " + status["datadog"]["app_key"],
                "--data-urlencode", "from=%d" % (now - window), "--data-urlencode", "to=%d" % now,
                "--data-urlencode", "query=" + query]

    health = ["curl", "-sS", "-m", "10", "-o", "/dev/null", status["health"]["url"]]
    describe_services = aws("ecs", "describe-services", "--cluster", cluster, "--services", service)
    errors = datadog("sum:sample.errors{*}.as_count()", 300)
    if incident == "redis_down":
        return [
            aws("elasticache", "describe-replication-groups", "--replication-group-id", status["elasticache"]["replication_group_id"]),
            aws("elasticache", "describe-cache-clusters", "--show-cache-node-info"),
            ["redis-cli", "-h", status["redis"]["host"], "-p", str(status["redis"]["port"]), "ping"],
            datadog("avg:aws.elasticache.cpuutilization{*}"),
        ]
    if incident == "service_down":
        return [
            health, describe_services,
            aws("ecs", "list-task-definitions", "--family-prefix", status["ecs"]["task_family"], "--sort", "DESC", "--max-items", "5"),
            aws("logs", "filter-log-events", "--log-group-name", log_group, "--start-time", str((now - 600) * 1000)),
            errors,
        ]
    if incident == "high_error_rate":
        return [
            # Only start-query: get-query-results needs the id it prints, so the by-hand time is a lower bound.
            aws("logs", "start-query", "--log-group-name", log_group, "--start-time", str(now - 900), "--end-time", str(now),
                "--query-string", 'fields @timestamp, level, message, error | filter level = "error" | stats count() by error.code'),
            describe_services,
            ["curl", "-sS", "-m", "10", "-o", "/dev/null", status["dependencies"]["stripe"]],
            ["curl", "-sS", "-m", "10", "-o", "/dev/null", status["dependencies"]["sendgrid"]],
            errors, datadog("avg:sample.requests.success_rate{*}", 300),
        ]
    if incident == "db_pool_exhausted":
        psql = ["psql", status["postgres"]["automation_dsn"], "-X", "-q", "-c"]
        return [
            psql + ["SELECT count(*) FROM pg_stat_activity"],
            psql + ["SELECT state, count(*) FROM pg_stat_activity GROUP BY state"],
            psql + ["SELECT pid, now() - query_start AS duration, query FROM pg_stat_activity WHERE state != 'idle' "
                    "ORDER BY duration DESC LIMIT 10"],
            datadog("avg:sample.db.pool.size{*},avg:sample.db.pool.available{*}"),
        ]
    if incident == "memory_leak":
        return [
            datadog("avg:aws.ecs.memory_utilization{*}"),
            aws("ecs", "list-tasks", "--cluster", cluster, "--service-name", service, "--desired-status", "STOPPED"),
            aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", stopped_task(status)),
            aws("s3", "ls", "s3://%s/" % status["s3"]["heapdump_bucket"], "--recursive"),
        ]
    return []  # a type without a by-hand list: make bench says so
