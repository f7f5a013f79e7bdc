"""Fixtures for the lab's own tests: real clients pointed at the lab's endpoints."""

from __future__ import annotations

import time
from typing import Any

import pytest


@pytest.fixture(scope="session")
def aws(lab):
    """aws("ecs") -> a boto3 client for the lab's AWS emulator."""
    import boto3
    from botocore.config import Config

    a = lab["aws"]
    clients: dict[str, Any] = {}

    def make(service: str):
        if service not in clients:
            clients[service] = boto3.client(
                service, endpoint_url=a["endpoint_url"], region_name=a["region"],
                aws_access_key_id=a["access_key_id"], aws_secret_access_key=a["secret_access_key"],
                config=Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=10))
        return clients[service]

    return make


@pytest.fixture(scope="session")
def datadog_config(lab):
    from datadog_api_client import Configuration

    cfg = Configuration(host=lab["datadog"]["url"])
    cfg.api_key["apiKeyAuth"] = lab["datadog"]["api_key"]
    cfg.api_key["appKeyAuth"] = lab["datadog"]["app_key"]
    return cfg


@pytest.fixture
def query_metric(datadog_config):
    """query_metric("avg:sample.cache.hit_rate{*}", seconds=60) -> MetricsQueryResponse (real client)."""
    from datadog_api_client import ApiClient
    from datadog_api_client.v1.api.metrics_api import MetricsApi

    def run(query: str, seconds: int = 60):
        now = int(time.time())
        with ApiClient(datadog_config) as api:
            return MetricsApi(api).query_metrics(_from=now - seconds, to=now, query=query)

    return run
