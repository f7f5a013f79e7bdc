"""AWS failures become one line naming the backend and call, matched by code and HTTP status (botocore Stubber)."""

import boto3
import botocore.exceptions
import pytest
from botocore.stub import Stubber

from ansible_collections.sre.incident.plugins.module_utils.aws import describe_error, error_code, is_not_found


def stubbed(service="elasticache"):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


def raised(client, stub, method, code, status, message="m", **params):
    stub.add_client_error(method, service_error_code=code, service_message=message, http_status_code=status)
    with stub, pytest.raises(botocore.exceptions.ClientError) as info:
        getattr(client, method)(**params)
    return info.value


def test_access_denied_names_backend_call_and_policy():
    client, stub = stubbed()
    exc = raised(client, stub, "describe_replication_groups", "AccessDenied", 403, "not authorized")
    line = describe_error(exc, "ElastiCache", "DescribeReplicationGroups")
    assert line.startswith("ElastiCache DescribeReplicationGroups: access denied (AccessDenied, HTTP 403)")
    assert "iam-policy" in line and "\n" not in line


def test_bare_403_without_code_is_still_a_denial():
    # Emulators and some front ends answer IAM denials as 403 with an XML body botocore cannot read a code from.
    client, stub = stubbed()
    exc = raised(client, stub, "describe_replication_groups", "", 403)
    assert "access denied" in describe_error(exc, "ElastiCache", "DescribeReplicationGroups")


def test_throttling_is_named():
    client, stub = stubbed("logs")
    exc = raised(client, stub, "filter_log_events", "ThrottlingException", 400, "Rate exceeded", logGroupName="g")
    assert "throttled" in describe_error(exc, "CloudWatch Logs", "FilterLogEvents")


def test_not_found_by_code_or_status():
    client, stub = stubbed()
    exc = raised(client, stub, "describe_replication_groups", "ReplicationGroupNotFoundFault", 404)
    assert is_not_found(exc, "ReplicationGroupNotFoundFault")
    assert error_code(exc) == ("ReplicationGroupNotFoundFault", 404)


def test_unreachable_endpoint():
    exc = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1/")
    assert "cannot reach the endpoint" in describe_error(exc, "ECS", "DescribeServices")


def test_html_error_pages_become_one_short_line():
    client, stub = stubbed("ecs")
    page = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n" + "x" * 500
    exc = raised(client, stub, "list_services", "500", 500, page)
    line = describe_error(exc, "ECS", "ListServices")
    assert "\n" not in line and "<" not in line and len(line) < 400
    assert "Internal Server Error" in line
