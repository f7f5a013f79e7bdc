"""make bench: each incident playbook's --check wall time next to the runbook's diagnosis commands run by hand.

The "by hand" side is what an engineer types from the runbook, in sequence, against the lab: the aws CLI
(with --endpoint-url), redis-cli, and curl for the health endpoint, the dependencies and Datadog queries.
Median of 5 runs each, interleaved, with the lab broken for that incident so both sides diagnose a real outage.
Then fleet triage: triage.yml --check over 1, 10 and 50 lab services, and the marginal cost per service.
Prints budget verdicts (redis_down --check <= 3 s, fleet <= 0.15 s per service); exits 0 either way - it
measures, it does not gate. `make bench ARGS=fleet` (or an incident name) runs one part.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, REPO)

from lab import client as lab  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
REDIS_BUDGET_SECONDS = 3.0
INCIDENTS = ("redis_down", "service_down", "high_error_rate", "memory_leak", "db_pool_exhausted")


def timed(commands, env):
    started = time.monotonic()
    for command in commands:
        subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                       check=False)
    return time.monotonic() - started


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
    return [  # memory_leak
        datadog("avg:aws.ecs.memory_utilization{*}"),
        aws("ecs", "list-tasks", "--cluster", cluster, "--service-name", service, "--desired-status", "STOPPED"),
        aws("ecs", "describe-tasks", "--cluster", cluster, "--tasks", stopped_task(status)),
        aws("s3", "ls", "s3://%s/" % status["s3"]["heapdump_bucket"], "--recursive"),
    ]


FLEET_SIZES = (1, 10, 50)
FLEET_BUDGET_SECONDS = 0.15


def fleet(env):
    """triage.yml --check over 1, 10 and 50 lab services (a tenth broken); the marginal cost per service."""
    medians = {}
    with tempfile.TemporaryDirectory(prefix="sre-fleet-") as tmp:
        for size in FLEET_SIZES:
            inventory = os.path.join(tmp, "fleet-%d" % size)
            lab.fleet(size, broken=size // 10, inventory=inventory)
            command = [[os.path.join(BIN, "ansible-playbook"), "-i", inventory, "playbooks/triage.yml", "--check"]]
            runs = [timed(command, env) for _run in range(RUNS)]
            medians[size] = statistics.median(runs)
            print("  fleet %-10d triage --check %5.2f s (runs %s)" % (size, medians[size], " ".join("%.2f" % t for t in runs)))
    lab.fleet(0)
    small, large = FLEET_SIZES[0], FLEET_SIZES[-1]
    marginal = (medians[large] - medians[small]) / (large - small)
    verdict = "within" if marginal <= FLEET_BUDGET_SECONDS else "OVER"
    print("  fleet marginal cost %.3f s per service (%d -> %d services); budget %.2f s: %s" % (
        marginal, small, large, FLEET_BUDGET_SECONDS, verdict))


def main():
    status = lab.status()
    aws_cli = os.path.join(BIN, "aws") if os.path.exists(os.path.join(BIN, "aws")) else shutil.which("aws")
    tools = (("aws", aws_cli), ("redis-cli", shutil.which("redis-cli")), ("curl", shutil.which("curl")), ("psql", shutil.which("psql")))
    missing = [name for name, path in tools if not path]
    if missing:
        sys.exit("bench: missing %s on PATH; run make venv / install them" % ", ".join(missing))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               AWS_ACCESS_KEY_ID=status["aws"]["access_key_id"], AWS_SECRET_ACCESS_KEY=status["aws"]["secret_access_key"],
               AWS_DEFAULT_REGION=status["aws"]["region"], REDISCLI_AUTH=status["redis"]["password"])
    selected = sys.argv[1:] or INCIDENTS + ("fleet",)
    if "fleet" in selected:
        print("Fleet triage wall time on the lab, median of %d runs:" % RUNS)
        lab.heal()
        fleet(env)
        selected = [name for name in selected if name != "fleet"]
    print("Diagnosis wall time on the lab, median of %d runs (playbook --check | runbook commands by hand):" % RUNS)
    for incident in selected:
        lab.heal()
        lab.break_incident(incident)
        try:
            playbook = [[os.path.join(BIN, "ansible-playbook"), "playbooks/%s.yml" % incident, "--check"]]
            by_hand = runbook_commands(lab.status(), aws_cli, incident)
            # Interleaved, so that both sides see the same machine: on these shared 2-core VMs the speed of the
            # same CPU-bound loop varies up to 2x from one minute to the next.
            check, manual = [], []
            for _run in range(RUNS):
                check.append(timed(playbook, env))
                manual.append(timed(by_hand, env))
        finally:
            lab.heal()
        print("  %-16s --check %5.2f s (runs %s) | by hand %5.2f s for %d commands (runs %s)" % (
            incident, statistics.median(check), " ".join("%.2f" % t for t in check),
            statistics.median(manual), len(by_hand), " ".join("%.2f" % t for t in manual)))
        if incident == "redis_down":
            verdict = "within" if statistics.median(check) <= REDIS_BUDGET_SECONDS else "OVER"
            print("  %-16s --check budget %.1f s: %s" % ("", REDIS_BUDGET_SECONDS, verdict))
    return 0


if __name__ == "__main__":
    sys.exit(main())
