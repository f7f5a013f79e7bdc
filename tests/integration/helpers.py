"""Run the real playbooks and read the lab's backends, for the integration tests."""

import json
import os
import subprocess
import sys
import time
import urllib.request

import boto3

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.dirname(sys.executable)


def report(name, lines):
    """Print a matrix's rows and keep them in tests/output/matrices/<name>.txt (under xdist a worker's output is not
    shown; make lab-matrices prints the files)."""
    folder = os.path.join(REPO, "tests", "output", "matrices")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def ansible_env(**extra):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1",
               PATH=BIN + os.pathsep + env.get("PATH", ""))
    env.update(extra)
    return env


def run_playbook(playbook, *args, timeout=600, env=None):
    """ansible-playbook from the repo root; returns (CompletedProcess, seconds)."""
    command = [os.path.join(BIN, "ansible-playbook"), os.path.join("playbooks", playbook), *args]
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, env=ansible_env(**(env or {})), capture_output=True, text=True,
                            timeout=timeout, check=False)
    return result, time.monotonic() - started


def output(result):
    return result.stdout + result.stderr


def recap_counts(result):
    """{'ok': n, 'changed': n, 'failed': n, ...} of the PLAY RECAP line for sample-service."""
    for line in result.stdout.splitlines():
        if line.startswith("sample-service") and "ok=" in line:
            return {key: int(value) for key, value in (part.split("=") for part in line.split()[2:])}
    raise AssertionError("no PLAY RECAP line in:\n" + output(result))


def aws(status, service):
    conf = status["aws"]
    return boto3.client(service, region_name=conf["region"], endpoint_url=conf["endpoint_url"],
                        aws_access_key_id=conf["access_key_id"], aws_secret_access_key=conf["secret_access_key"])


def snapshot(status):
    """Everything a --check run must leave as it found it: ElastiCache, task definitions, the service."""
    ec, ecs = aws(status, "elasticache"), aws(status, "ecs")
    group_id = status["elasticache"]["replication_group_id"]
    group = ec.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    clusters = ec.describe_cache_clusters(ShowCacheNodeInfo=True)["CacheClusters"]
    service = ecs.describe_services(cluster=status["ecs"]["cluster"], services=[status["ecs"]["service"]])["services"][0]
    return {
        "group": {"status": group["Status"],
                  "members": [(m["CacheClusterId"], m.get("CurrentRole"), m.get("ReadEndpoint"))
                              for g in group["NodeGroups"] for m in g["NodeGroupMembers"]],
                  "primary_endpoint": group["NodeGroups"][0].get("PrimaryEndpoint")},
        "clusters": sorted((c["CacheClusterId"], c["CacheClusterStatus"]) for c in clusters),
        "task_definitions": ecs.list_task_definitions(familyPrefix=status["ecs"]["task_family"])["taskDefinitionArns"],
        "service_task_definition": service["taskDefinition"],
        "deployments": [(d["id"], d["status"], d["taskDefinition"], d.get("rolloutState")) for d in service["deployments"]],
        "desired": service["desiredCount"],
    }


def container_environment(status, task_definition_arn):
    ecs = aws(status, "ecs")
    definition = ecs.describe_task_definition(taskDefinition=task_definition_arn)["taskDefinition"]
    return {item["name"]: item["value"] for item in definition["containerDefinitions"][0].get("environment", [])}


def ecs_snapshot(status):
    """What an ECS --check run must leave as it found it: service, deployments, task definitions, flag, bucket."""
    ecs, ssm, s3 = aws(status, "ecs"), aws(status, "ssm"), aws(status, "s3")
    service = ecs.describe_services(cluster=status["ecs"]["cluster"], services=[status["ecs"]["service"]])["services"][0]
    flag = status["feature_flags"]["new_checkout"]
    return {
        "service_task_definition": service["taskDefinition"],
        "desired": service["desiredCount"],
        "deployments": sorted((d["id"], d["status"], d["taskDefinition"]) for d in service["deployments"]),
        "task_definitions": ecs.list_task_definitions(familyPrefix=status["ecs"]["task_family"])["taskDefinitionArns"],
        "flag": ssm.get_parameter(Name=flag)["Parameter"]["Value"],
        "heapdumps": sorted(item["Key"] for item in s3.list_objects_v2(Bucket=status["s3"]["heapdump_bucket"]).get("Contents", [])),
    }


def ecs_service(status):
    ecs = aws(status, "ecs")
    return ecs.describe_services(cluster=status["ecs"]["cluster"], services=[status["ecs"]["service"]])["services"][0]


def adhoc(module, args, check=False, secret=None):
    """Run one sre.incident module with `ansible localhost -m`; returns (CompletedProcess, output).

    A secret travels as a variable, as in a playbook (ansible-core echoes literal ad-hoc args when a task fails).
    """
    text = json.dumps(args)
    extra = {}
    if secret:
        text, extra = text.replace(secret, "{{ secret }}"), {"secret": secret}
    command = [os.path.join(BIN, "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
               "sre.incident." + module, "-a", text, "-e", json.dumps(extra),
               "-e", "ansible_python_interpreter=" + os.path.join(BIN, "python")]
    if check:
        command.append("--check")
    result = subprocess.run(command, cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    return result, result.stdout + result.stderr


def aws_args(status):
    conf = status["aws"]
    return {"region": conf["region"], "endpoint_url": conf["endpoint_url"], "access_key": conf["access_key_id"],
            "secret_key": conf["secret_access_key"]}


def _http_json(method, url):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


SINK_PATHS = {"slack": "/_sink/requests", "pagerduty": "/_sink/requests", "datadog": "/_lab/events"}


def sink(status, name):
    """What the lab's Slack or PagerDuty sink recorded, or the Datadog events posted."""
    return _http_json("GET", status[name]["url"] + SINK_PATHS[name])


def clear_sinks(status):
    for name, path in SINK_PATHS.items():
        _http_json("DELETE", status[name]["url"] + path)


def incident_dirs(store):
    return sorted(path for path in store.iterdir() if path.is_dir()) if store.exists() else []


def lab_secrets(status):
    """Every credential the lab hands out; no playbook output, record or timeline may contain any of them."""
    passwords = [status["postgres"][name].split("@")[0].rsplit(":", 1)[-1] for name in ("admin_dsn", "app_dsn", "automation_dsn")]
    policy_user = (status.get("iam") or {}).get("policy_user") or {}
    return passwords + [status["redis"]["password"], status["datadog"]["api_key"], status["datadog"]["app_key"],
                        status["slack"]["token"], status["pagerduty"]["routing_key"]] + (
        [policy_user["secret_access_key"]] if policy_user.get("secret_access_key") else [])
