"""Least privilege, proven: the lab enforces docs/iam-policy.json (lab/iam.py) and every playbook runs as its user;
without any one of its actions some run fails naming that action; and it has no action the modules do not call."""

import json
import re
from pathlib import Path

import boto3
import pytest
from botocore import xform_name

from helpers import REPO, adhoc, aws, ecs_service, output, run_playbook

POLICY_FILE = Path(REPO) / "docs" / "iam-policy.json"


@pytest.fixture(scope="module")
def iam_lab(lab):
    from lab import client

    was_enforced = client.status()["iam"]["enforced"]  # a lab started with --iam stays so
    client.iam(enforce=True, reset_policy=True)
    yield client
    client.iam(enforce=was_enforced, reset_policy=True)


@pytest.fixture
def enforced(iam_lab, healed_lab):
    """The healed lab enforcing the whole policy, no denial recorded yet; yields the status."""
    iam_lab.iam(reset_policy=True)
    return iam_lab.status()


@pytest.fixture(scope="module")
def baseline(iam_lab):
    """The lab healed once for the probes below: a refused call changes nothing."""
    iam_lab.heal()
    return iam_lab.status()


@pytest.fixture
def probing(iam_lab, baseline):
    iam_lab.iam(reset_policy=True)
    return baseline


def denials(client):
    return client.iam()["denials"]


def policy_actions(policy):
    return sorted({action for statement in policy["Statement"] for action in statement["Action"]})


def without(policy, *actions):
    """policy minus actions (a statement left with none goes)."""
    statements = [dict(statement, Action=[a for a in statement["Action"] if a not in actions]) for statement in policy["Statement"]]
    return dict(policy, Statement=[statement for statement in statements if statement["Action"]])


def test_every_placeholder_is_documented_and_the_lab_renders_them_all():
    from lab import iam

    names = set(re.findall(r"\$\{(\w+)\}", POLICY_FILE.read_text()))
    table = (Path(REPO) / "docs" / "iam-policy.md").read_text()
    assert {name for name in names if "`${%s}`" % name not in table} == set()
    assert names == set(iam.template_values()) and "${" not in json.dumps(iam.lab_policy())


# --- 1. every playbook, --check and fix, as the policy user ----------------------------------------------------
INCIDENTS = ["redis_down", "db_pool_exhausted", "service_down", "high_error_rate", "memory_leak"]


@pytest.mark.parametrize("incident", INCIDENTS)
def test_incident_check_and_fix_run_as_the_policy_user(enforced, iam_lab, incident):
    iam_lab.break_incident(incident)
    check, _seconds = run_playbook(incident + ".yml", "--check")
    assert check.returncode == 0, output(check)
    fix, _seconds = run_playbook(incident + ".yml")
    assert fix.returncode == 0, output(fix)
    assert "verified after option" in output(fix)
    assert denials(iam_lab) == []


def test_triage_and_postmortem_run_as_the_policy_user(enforced, iam_lab):
    iam_lab.break_incident("redis_down")
    for args in (["--check"], []):
        triage, _seconds = run_playbook("triage.yml", *args)
        assert triage.returncode == 0, output(triage)
        assert "Suspected incident: redis_down" in output(triage)
    fix, _seconds = run_playbook("redis_down.yml")
    assert fix.returncode == 0, output(fix)
    review, _seconds = run_playbook("postmortem.yml")
    assert review.returncode == 0, output(review)
    assert denials(iam_lab) == []


def test_verify_deploy_runs_as_the_policy_user(enforced, iam_lab):
    ecs = aws(enforced, "ecs")  # CI deploys with its own (here: the lab's admin) keys; the gate runs as the automation
    current = ecs.describe_task_definition(taskDefinition=ecs_service(enforced)["taskDefinition"])["taskDefinition"]
    container = dict(current["containerDefinitions"][0], image=current["containerDefinitions"][0]["image"] + "-iam")
    keys = ("family", "cpu", "memory", "executionRoleArn", "taskRoleArn")
    arn = ecs.register_task_definition(containerDefinitions=[container], **{k: current[k] for k in keys if current.get(k)}
                                       )["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster=enforced["ecs"]["cluster"], service=enforced["ecs"]["service"], taskDefinition=arn)
    for args in (["--check"], []):
        gate, _seconds = run_playbook("verify_deploy.yml", "-e", "verify_deploy_settle_seconds=2", *args, timeout=240)
        assert gate.returncode == 0, output(gate)
    assert denials(iam_lab) == []


# --- 2. without any one action, some run fails naming it --------------------------------------------------------
def policy_user_aws(status):
    conf, user = status["aws"], status["iam"]["policy_user"]
    return {"region": conf["region"], "endpoint_url": conf["endpoint_url"], "max_attempts": 1,
            "access_key": user["access_key_id"], "secret_key": user["secret_access_key"]}


def probes(status):
    """action -> (module, args, check mode): the cheapest module run that makes the call the action authorizes."""
    ecs = dict(cluster=status["ecs"]["cluster"], service=status["ecs"]["service"])
    deploy = ("ecs_taskdef_deploy", dict(ecs, environment={"IAM_PROBE": "1"}, wait=False), False)
    info = ("ecs_service_info", ecs, False)
    group = dict(replication_group_id=status["elasticache"]["replication_group_id"])
    insights = ("cloudwatch_logs_insights_query", dict(log_group=status["logs"]["log_group"], query="fields @message",
                                                       poll_interval=0.2), False)
    flag = status["feature_flags"]["new_checkout"]
    return {
        "ecs:DescribeServices": info, "ecs:ListTaskDefinitions": info, "ecs:ListTasks": info, "ecs:DescribeTasks": info,
        "ecs:ListServiceDeployments": info, "ecs:DescribeServiceRevisions": info,
        "ecs:DescribeTaskDefinition": ("ecs_taskdef_deploy", dict(ecs, environment={"IAM_PROBE": "1"}), True),
        "ecs:RegisterTaskDefinition": deploy, "ecs:TagResource": deploy, "iam:PassRole": deploy,
        "ecs:UpdateService": ("ecs_service_restart", dict(ecs, wait=False), False),
        "elasticache:DescribeReplicationGroups": ("elasticache_info", group, False),
        "elasticache:DescribeCacheClusters": ("elasticache_info", group, False),
        "elasticache:TestFailover": ("elasticache_failover", dict(group, node_group_id=status["elasticache"]["node_group_id"],
                                                                  wait=False), False),
        "elasticache:RebootCacheCluster": ("elasticache_reboot", dict(cache_cluster_id=status["elasticache"]["members"][1],
                                                                      confirm_last_resort=True, wait=False), False),
        "logs:FilterLogEvents": ("cloudwatch_logs_search", dict(log_group=status["logs"]["log_group"]), False),
        "logs:StartQuery": insights, "logs:GetQueryResults": insights,
        "ssm:GetParameters": ("ssm_parameter_info", dict(names=[flag]), False),
        "ssm:GetParameter": ("ssm_parameter_set", dict(name=flag, value="on"), False),
        "ssm:PutParameter": ("ssm_parameter_set", dict(name=flag, value="on"), False),
        "s3:ListBucket": ("s3_heapdump_info", dict(bucket=status["s3"]["heapdump_bucket"]), False),
    }


# What a denial names when it is not the action: moto's S3 (like AWS's) answers "Access Denied" without the action.
NAMED_AS = {"s3:ListBucket": "S3 ListObjectsV2"}
# Calls whose failure the module forgives (best effort): removing them shows in the lab's denials, not in the run.
BEST_EFFORT = {
    # taking back a revision after a failed UpdateService: probed by denying UpdateService too
    "ecs:DeregisterTaskDefinition": ("ecs:UpdateService",),
    # stopping a query that outlived the timeout: probed with a timeout shorter than the lab's query
    "logs:StopQuery": (),
}


def run_without(iam_lab, status, action, module, args, check=False, also=()):
    iam_lab.iam(policy=without(iam_lab.iam(reset_policy=True)["policy"], action, *also))
    aws_args = policy_user_aws(status)
    return adhoc(module, dict(aws_args, **args), check=check, secret=aws_args["secret_key"])


ACTIONS = policy_actions(json.loads(POLICY_FILE.read_text()))


@pytest.mark.parametrize("action", [a for a in ACTIONS if a not in BEST_EFFORT])
def test_without_an_action_a_run_fails_naming_it(probing, iam_lab, action):
    table = probes(probing)
    assert action in table, "no module call needs %s: take it out of docs/iam-policy.json (or add its probe here)" % action
    module, args, check = table[action]
    result, text = run_without(iam_lab, probing, action, module, args, check)
    assert result.returncode != 0, text
    assert "access denied" in text, text
    assert NAMED_AS.get(action, "not authorized to perform: %s" % action) in text, text
    if action not in NAMED_AS:  # moto's S3 authorizes on its own (lab/iam.py records the others)
        assert {d["action"] for d in denials(iam_lab)} == {action}


def test_the_lab_inventory_runs_the_playbooks_as_the_policy_user(probing, iam_lab):
    iam_lab.iam(policy=without(iam_lab.iam(reset_policy=True)["policy"], "elasticache:DescribeReplicationGroups"))
    check, _seconds = run_playbook("redis_down.yml", "--check")
    assert check.returncode != 0, output(check)  # a permission failure is no evidence of an outage
    assert "not authorized to perform: elasticache:DescribeReplicationGroups" in output(check)


def test_without_deregister_a_failed_deploy_leaves_its_revision(probing, iam_lab):
    ecs = dict(cluster=probing["ecs"]["cluster"], service=probing["ecs"]["service"])
    result, text = run_without(iam_lab, probing, "ecs:DeregisterTaskDefinition", "ecs_taskdef_deploy",
                               dict(ecs, environment={"IAM_PROBE": "1"}, wait=False), also=BEST_EFFORT["ecs:DeregisterTaskDefinition"])
    assert result.returncode != 0 and "not authorized to perform: ecs:UpdateService" in text, text
    assert [d["action"] for d in denials(iam_lab)] == ["ecs:UpdateService", "ecs:DeregisterTaskDefinition"]
    revision = re.search(r'registered_then_deregistered"?: "?(arn:[^"\s,]+)', text).group(1)
    admin = aws(probing, "ecs")
    assert admin.describe_task_definition(taskDefinition=revision)["taskDefinition"]["status"] == "ACTIVE"
    admin.deregister_task_definition(taskDefinition=revision)


def test_without_stop_query_a_timed_out_query_is_left_running(probing, iam_lab):
    result, text = run_without(iam_lab, probing, "logs:StopQuery", "cloudwatch_logs_insights_query",
                               dict(log_group=probing["logs"]["log_group"], query="fields @message", timeout=0.1,
                                    poll_interval=0.05))
    assert result.returncode != 0 and "still running" in text, text
    assert [d["action"] for d in denials(iam_lab)] == ["logs:StopQuery"]


def test_the_lab_enforces_resources_but_not_conditions(probing, iam_lab):
    """What moto really enforces (docs/iam-policy.md, "Where the lab's enforcement differs from AWS")."""
    conf, user = probing["aws"], probing["iam"]["policy_user"]
    ecs = boto3.client("ecs", region_name=conf["region"], endpoint_url=conf["endpoint_url"],
                       aws_access_key_id=user["access_key_id"], aws_secret_access_key=user["secret_access_key"])
    cluster = probing["ecs"]["cluster"]
    with pytest.raises(ecs.exceptions.ClientError, match="not authorized to perform: ecs:DescribeServices"):
        ecs.describe_services(cluster=cluster, services=["another-service"])
    policy = iam_lab.iam(reset_policy=True)["policy"]
    for statement in policy["Statement"]:
        if "Condition" in statement and "ecs:ListTasks" in statement["Action"]:
            statement["Condition"] = {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/another"}}
    iam_lab.iam(policy=policy)
    assert ecs.list_tasks(cluster=cluster, serviceName=probing["ecs"]["service"])["taskArns"], "moto ignores conditions"


# --- 3. nothing the modules do not call --------------------------------------------------------------------------
# Actions AWS authorizes besides the call's own (Service Authorization Reference), or under another name.
AUTHORIZED_AS = {"s3:ListObjectsV2": ["s3:ListBucket"],
                 "ecs:RegisterTaskDefinition": ["ecs:RegisterTaskDefinition", "ecs:TagResource", "iam:PassRole"]}


def called_actions():
    """Every AWS operation plugins/ calls: of each service it makes clients for, the operations whose snake_case
    name appears as a method call or a string (aws.call(module, BACKEND, api, "update_service"))."""
    source = "\n".join(path.read_text() for path in (Path(REPO) / "plugins").rglob("*.py"))
    names = set(re.findall(r"\.(\w+)\(", source)) | set(re.findall(r'"(\w+)"', source))
    actions = set()
    for service in set(re.findall(r'\bclient\(module, "(\w+)"\)', source)):
        model = boto3.session.Session(region_name="us-east-1").client(service).meta.service_model
        for operation in model.operation_names:
            if xform_name(operation) in names:
                action = "%s:%s" % (service, operation)  # the IAM prefix is the client's name for these services
                actions.update(AUTHORIZED_AS.get(action, [action]))
    return sorted(actions)


def test_the_policy_has_exactly_the_actions_the_modules_call():
    assert ACTIONS == called_actions()
