"""python -m lab journal: every mutating call a client made, in order, with its key parameters; no reads, none of
the lab's own changes, no refused call, no secret."""

from __future__ import annotations

import json
import time

import botocore.exceptions
import pytest

from lab import client as lab_client

from labhelpers import http, redis_client, wait_until

CLUSTER, SERVICE = "sample-service-prod", "sample-service"
FLAG = "/sample-service/prod/feature-flags/new-checkout"
BUCKET = "sample-service-heapdumps"


@pytest.fixture(autouse=True)
def no_faults_after(lab):
    yield
    lab_client.clear_faults()


def _secrets(lab) -> list[str]:
    return [lab["redis"]["password"], lab["datadog"]["api_key"], lab["datadog"]["app_key"], lab["slack"]["token"],
            lab["pagerduty"]["routing_key"]] + [lab["postgres"][k].split(":")[2].split("@")[0]
                                                for k in ("admin_dsn", "app_dsn", "automation_dsn")]


def _ops(entries):
    return [(e["backend"], e["operation"]) for e in entries]


def test_aws_writes_in_order_with_their_key_params_and_no_reads(lab, aws):
    since = time.time()
    ssm, ecs, s3 = aws("ssm"), aws("ecs"), aws("s3")
    ssm.get_parameter(Name=FLAG)
    ssm.put_parameter(Name=FLAG, Value="off", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/sample-service/test/journal-secret", Value="hunter2-secret", Type="SecureString",
                      Overwrite=True)
    ecs.describe_services(cluster=CLUSTER, services=[SERVICE])
    ecs.update_service(cluster=CLUSTER, service=SERVICE, desiredCount=4)
    s3.put_object(Bucket=BUCKET, Key="journal-test/a.txt", Body=b"hello")
    s3.list_objects_v2(Bucket=BUCKET)
    s3.delete_object(Bucket=BUCKET, Key="journal-test/a.txt")
    entries = lab_client.journal(since=since)
    assert _ops(entries) == [("aws", "PutParameter"), ("aws", "PutParameter"), ("aws", "UpdateService"),
                             ("aws", "PutObject"), ("aws", "DeleteObject")]
    flag, secret, update, put, delete = entries
    assert (flag["target"], flag["params"]["Value"]) == (FLAG, "off")
    assert secret["params"]["Value"] == "<redacted>"
    assert update["target"] == f"{CLUSTER}/{SERVICE}"
    assert update["params"] == {"aws_service": "ecs", "cluster": CLUSTER, "service": SERVICE, "desiredCount": 4}
    assert (put["target"], delete["target"]) == (f"{BUCKET}/journal-test/a.txt",) * 2
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    assert all(e["ts"] >= since and e["time"].endswith("Z") for e in entries)
    assert "hunter2-secret" not in json.dumps(entries)
    ssm.delete_parameter(Name="/sample-service/test/journal-secret")


def test_refused_calls_are_no_change(lab, aws):
    since = time.time()
    lab_client.fault("aws", "access_denied", operation="PutParameter")
    with pytest.raises(botocore.exceptions.ClientError):
        aws("ssm").put_parameter(Name=FLAG, Value="off", Type="String", Overwrite=True)
    lab_client.fault("aws", "500", operation="UpdateService")
    with pytest.raises(botocore.exceptions.ClientError):
        aws("ecs").update_service(cluster=CLUSTER, service=SERVICE, desiredCount=4)
    lab_client.clear_faults()
    with pytest.raises(botocore.exceptions.ClientError):  # the backend itself refuses
        aws("ecs").update_service(cluster=CLUSTER, service="no-such-service", desiredCount=1)
    code, _body = http("POST", lab["slack"]["url"] + "/api/chat.postMessage", {"channel": "no-such", "text": "x"},
                       headers={"Authorization": f"Bearer {lab['slack']['token']}"})
    assert code == 200
    assert lab_client.journal(since=since) == []


def test_the_labs_own_break_and_heal_are_not_journaled(healed_lab):
    since = time.time()
    lab_client.break_incident("high_error_rate")  # UpdateService, RegisterTaskDefinition, PutParameter by the lab
    lab_client.heal()
    assert lab_client.journal(since=since) == []


def test_notifications_are_journaled_without_tokens(lab):
    since = time.time()
    slack, auth = lab["slack"]["url"] + "/api/", {"Authorization": f"Bearer {lab['slack']['token']}"}
    http("POST", slack + "conversations.list", {}, headers=auth)
    assert http("POST", slack + "chat.postMessage", {"channel": "incidents", "text": "Sample Service: SEV2"},
                headers=auth)[1]["ok"]
    http("POST", slack + "conversations.setTopic", {"channel": "incidents", "topic": "SEV2 open"}, headers=auth)
    code, answer = http("POST", lab["pagerduty"]["url"] + "/v2/enqueue", {
        "routing_key": lab["pagerduty"]["routing_key"], "event_action": "trigger",
        "payload": {"summary": "Sample Service down", "source": "tests", "severity": "critical"}})
    assert code == 202
    code, _body = http("POST", lab["datadog"]["url"] + "/api/v1/events", {"title": "Incident opened", "text": "SEV2"},
                       headers={"DD-API-KEY": lab["datadog"]["api_key"]})
    assert code in (200, 202)
    entries = lab_client.journal(since=since)
    assert _ops(entries) == [("slack", "chat.postMessage"), ("slack", "conversations.setTopic"),
                             ("pagerduty", "trigger"), ("datadog", "create_event")]
    post, topic, page, event = entries
    assert (post["target"], post["params"]["text"]) == ("incidents", "Sample Service: SEV2")
    assert topic["params"]["topic"] == "SEV2 open"
    assert page["target"] == answer["dedup_key"] and page["params"]["summary"] == "Sample Service down"
    assert event["target"] == "Incident opened"
    text = json.dumps(entries)
    assert not any(secret in text for secret in _secrets(lab))


def test_redis_admin_commands_are_journaled_with_their_node(lab):
    since = time.time()
    member = lab["redis"]["members"][1]
    c = redis_client(lab, member["port"])
    policy = c.config_get("maxmemory-policy")["maxmemory-policy"]
    c.config_set("maxmemory-policy", policy)
    c.get("journal-test")  # a read
    with pytest.raises(Exception):
        c.execute_command("CONFIG", "SET", "no-such-parameter", "1")
    c.config_set("masterauth", lab["redis"]["password"])
    c.close()
    entries = lab_client.journal(since=since)
    assert _ops(entries) == [("redis", "CONFIG SET")] * 2
    assert entries[0]["target"] == member["name"]
    assert entries[0]["params"] == {"args": ["maxmemory-policy", policy], "endpoint": "member"}
    assert entries[1]["params"]["args"] == ["masterauth", "<redacted>"]


def test_postgres_sessions_a_client_terminated(lab):
    import psycopg

    pg = lab["postgres"]
    since = time.time()
    victim = psycopg.connect(pg["app_dsn"], application_name="journal-victim", connect_timeout=5, autocommit=True)
    pid = victim.info.backend_pid
    with psycopg.connect(pg["automation_dsn"], application_name="journal-test", connect_timeout=5,
                         autocommit=True) as automation:
        assert automation.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
    victim.close()
    entries = wait_until(lambda: lab_client.journal(since=since), timeout=5, what="the termination in the journal")
    assert _ops(entries) == [("postgres", "pg_terminate_backend")]
    params = entries[0]["params"]
    assert (entries[0]["target"], params["pid"], params["user"], params["application_name"]) == (
        f"pid {pid}", pid, "sample_app", "journal-victim")
    assert (params["by"]["user"], params["by"]["application_name"]) == ("sre_automation", "journal-test")
    assert not any(secret in json.dumps(entries) for secret in _secrets(lab))


def test_since_takes_epoch_and_iso_and_filters(lab, aws):
    before = time.time()
    aws("ssm").put_parameter(Name=FLAG, Value="off", Type="String", Overwrite=True)
    middle = time.time()
    aws("ssm").put_parameter(Name=FLAG, Value="off", Type="String", Overwrite=True)
    first, second = lab_client.journal(since=before)[-2:]
    assert [e["seq"] for e in lab_client.journal(since=middle)] == [second["seq"]]
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(before))) + "Z"
    assert {first["seq"], second["seq"]} <= {e["seq"] for e in lab_client.journal(since=iso)}
    assert lab_client.journal(since=str(middle))[0]["seq"] == second["seq"]
    heal_since = time.time()
    lab_client.heal()
    assert lab_client.journal(since=before)[-2:] == [first, second]  # heal keeps the journal
    assert lab_client.journal(since=heal_since) == []


def test_a_task_definition_is_journaled_with_its_containers_but_no_secret_values(lab, aws):
    ecs = aws("ecs")
    since = time.time()
    td = ecs.register_task_definition(family="journal-test", containerDefinitions=[{
        "name": "app", "image": "journal-test:1", "memory": 512,
        "environment": [{"name": "MAX_DB_CONNECTIONS", "value": "30"},
                        {"name": "DB_PASSWORD", "value": "hunter2-env"},
                        {"name": "REDIS_URL", "value": "redis://:hunter2-url@cache:6379/0"}]}])["taskDefinition"]
    ecs.deregister_task_definition(taskDefinition=td["taskDefinitionArn"])
    register, deregister = lab_client.journal(since=since)
    assert (register["operation"], register["target"]) == ("RegisterTaskDefinition", "journal-test")
    container = register["params"]["containerDefinitions"][0]
    assert (container["name"], container["image"], container["memory"]) == ("app", "journal-test:1", 512)
    assert {"name": "MAX_DB_CONNECTIONS", "value": "30"} in container["environment"]
    assert "hunter2" not in json.dumps(register)
    assert (deregister["operation"], deregister["target"]) == ("DeregisterTaskDefinition",
                                                               td["taskDefinitionArn"])


def test_elasticache_failover_is_journaled_with_its_group_and_node_group(healed_lab, aws):
    since = time.time()
    ec = aws("elasticache")
    ec.describe_replication_groups(ReplicationGroupId="sample-service-redis-prod")
    ec.test_failover(ReplicationGroupId="sample-service-redis-prod", NodeGroupId="0001")
    entries = lab_client.journal(since=since)
    lab_client.heal()  # -001 primary again: the lab's own change, not journaled
    assert [(e["operation"], e["target"], e["params"].get("NodeGroupId")) for e in entries] == [
        ("TestFailover", "sample-service-redis-prod", "0001")]
    assert lab_client.journal(since=since) == entries


def test_dynamodb_item_writes_are_journaled_and_reads_are_not(lab, aws):
    ddb = aws("dynamodb")
    since = time.time()
    ddb.create_table(TableName="journal-test", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.put_item(TableName="journal-test", Item={"pk": {"S": "lease#sample-service"}, "owner": {"S": "run-1"}})
    ddb.get_item(TableName="journal-test", Key={"pk": {"S": "lease#sample-service"}})
    ddb.query(TableName="journal-test", KeyConditionExpression="pk = :p",
              ExpressionAttributeValues={":p": {"S": "lease#sample-service"}})
    ddb.delete_item(TableName="journal-test", Key={"pk": {"S": "lease#sample-service"}})
    ddb.delete_table(TableName="journal-test")
    entries = lab_client.journal(since=since)
    assert [e["operation"] for e in entries] == ["CreateTable", "PutItem", "DeleteItem", "DeleteTable"]
    assert all(e["target"] == "journal-test" for e in entries)
    assert entries[1]["params"]["Item"]["pk"] == {"S": "lease#sample-service"}
    assert entries[2]["params"]["Key"] == {"pk": {"S": "lease#sample-service"}}
