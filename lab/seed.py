"""The runbook's AWS resources, created through boto3 against the lab's own emulator.

ECS cluster/service/task family (5 revisions), the log group with some app lines, the heap dump bucket and
the ElastiCache replication group with its two member cache clusters.
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

from . import config
from .app_simulator import request_line
from .aws_emulator import backend, boto3_client
from .ecs_controller import EcsController, merge_deployment_configuration
from .elasticache_gaps import ElastiCacheGaps


def container_definition(cfg: config.LabConfig, revision: int, extra_env: dict[str, str] | None = None,
                         image: str | None = None, memory: int = 1024) -> dict:
    env = {
        "CACHE_ENABLED": "true",
        "MAX_DB_CONNECTIONS": "20",
        "NODE_ENV": "production",
        "REDIS_URL": cfg.redis_url_without_password,
        **(extra_env or {}),
    }
    return {
        "name": config.CONTAINER_NAME,
        "image": image or f"sample-service:1.0.{revision}",
        "memory": memory,
        "cpu": 512,
        "essential": True,
        "portMappings": [{"containerPort": 3000, "hostPort": 3000, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in env.items()],
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": config.LOG_GROUP,
                "awslogs-region": config.AWS_REGION,
                "awslogs-stream-prefix": "ecs",
            },
        },
    }


def seed_all(cfg: config.LabConfig, ecs_controller: EcsController, gaps: ElastiCacheGaps) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    facts.update(seed_ecs(cfg, ecs_controller))
    seed_logs(cfg, ecs_controller)
    seed_s3(cfg)
    seed_ssm(cfg)
    seed_elasticache(cfg, gaps)
    return facts


# when revisions 1..5 were deployed (days ago); 5 still runs
DEPLOYED_DAYS_AGO = (30, 21, 14, 7, 2)


def seed_ecs(cfg: config.LabConfig, controller: EcsController) -> dict[str, Any]:
    ecs = boto3_client(cfg, "ecs")
    ecs.create_cluster(clusterName=config.ECS_CLUSTER)
    arns = []
    for revision in range(1, config.TASK_REVISIONS + 1):
        td = ecs.register_task_definition(
            family=config.TASK_FAMILY,
            containerDefinitions=[container_definition(cfg, revision)],
            cpu="512",
            memory="1024",
            taskRoleArn=f"arn:aws:iam::{config.AWS_ACCOUNT_ID}:role/{config.TASK_ROLE_NAME}",
            executionRoleArn=f"arn:aws:iam::{config.AWS_ACCOUNT_ID}:role/{config.EXECUTION_ROLE_NAME}",
            tags=[{"key": "service", "value": config.ECS_SERVICE}],
        )["taskDefinition"]
        arns.append(td["taskDefinitionArn"])
    baseline = arns[config.BASELINE_REVISION - 1]
    # created in the backend (not through CreateService, which would start a fresh deployment now):
    # the service has run revisions 1..5 in turn, each deployment SUCCESSFUL, 5 is running
    service = controller.ecs.create_service(
        config.ECS_CLUSTER, config.ECS_SERVICE, config.BASELINE_DESIRED_COUNT, baseline,
        launch_type="FARGATE", platform_version="1.4.0",
        tags=[{"key": "service", "value": config.ECS_SERVICE}],
    )
    service.deployment_configuration = merge_deployment_configuration(None, None)
    now = time.time()
    controller.seed_running(service, [(arn, now - days * 86400) for arn, days in zip(arns, DEPLOYED_DAYS_AGO)])
    return {"baseline_task_definition": baseline}


def seed_logs(cfg: config.LabConfig, controller: EcsController) -> None:
    logs = boto3_client(cfg, "logs")
    logs.create_log_group(logGroupName=config.LOG_GROUP)
    logs.put_retention_policy(logGroupName=config.LOG_GROUP, retentionInDays=30)
    tasks = controller.service_tasks(controller.service())
    rng = random.Random(7)
    now = time.time()
    lines_per_stream: dict[str, list[dict]] = {}
    for i in range(120):  # ten minutes of traffic before the lab came up
        ts = now - 600 + i * 5
        task = tasks[i % len(tasks)]
        entry = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)), "service": config.ECS_SERVICE,
                 **request_line(rng)}
        stream = f"ecs/{config.CONTAINER_NAME}/{task.id}"
        lines_per_stream.setdefault(stream, []).append({"timestamp": int(ts * 1000), "message": json.dumps(entry)})
    for task in tasks:
        stream = f"ecs/{config.CONTAINER_NAME}/{task.id}"
        logs.create_log_stream(logGroupName=config.LOG_GROUP, logStreamName=stream)
        startup = {"timestamp": int((now - 660) * 1000),
                   "message": json.dumps({"level": "info", "service": config.ECS_SERVICE,
                                          "message": "sample-service listening on port 3000"})}
        logs.put_log_events(logGroupName=config.LOG_GROUP, logStreamName=stream,
                            logEvents=[startup] + lines_per_stream.get(stream, []))


def seed_s3(cfg: config.LabConfig) -> None:
    s3 = boto3_client(cfg, "s3")
    s3.create_bucket(Bucket=config.HEAPDUMP_BUCKET)


def seed_ssm(cfg: config.LabConfig) -> None:
    ssm = boto3_client(cfg, "ssm")
    ssm.put_parameter(Name=config.FEATURE_FLAG_NEW_CHECKOUT, Value="off", Type="String",
                      Description="Sample Service: new checkout flow (on/off)")
    ssm.put_parameter(Name=config.RUNTIME_CONFIG_PARAMETER, Type="String", Description="Sample Service runtime "
                      "configuration, read at start-up", Value=runtime_config())


def runtime_config() -> str:
    return json.dumps({"checkout": {"provider": "stripe", "timeout_ms": 10000},
                       "email": {"provider": "sendgrid"}, "db": {"pool_max": 20}})


def seed_elasticache(cfg: config.LabConfig, gaps: ElastiCacheGaps) -> None:
    ec = boto3_client(cfg, "elasticache")
    ec.create_replication_group(
        ReplicationGroupId=config.REPLICATION_GROUP_ID,
        ReplicationGroupDescription="Sample Service cache",
        Engine="redis",
        EngineVersion="7.0",
        CacheNodeType="cache.t4g.small",
        ReplicasPerNodeGroup=1,
        PreferredCacheClusterAZs=["us-east-1a", "us-east-1b"],
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        AuthToken=cfg.secrets.redis_password,
        TransitEncryptionEnabled=False,
        Port=cfg.port("redis_proxy"),
    )
    for name, az in zip(config.REDIS_NODES, ("us-east-1a", "us-east-1b")):
        ec.create_cache_cluster(
            CacheClusterId=name,
            ReplicationGroupId=config.REPLICATION_GROUP_ID,
            Engine="redis",
            EngineVersion="7.0",
            CacheNodeType="cache.t4g.small",
            PreferredAvailabilityZone=az,
            Port=cfg.port(name),
        )
    gaps.adopt_member_clusters()
    backend("elasticache")  # make sure the backend exists before requests arrive
