"""make bench: redis_down --check wall time next to the runbook's diagnosis commands run by hand.

The "by hand" side is what an engineer types from the runbook, in sequence: the aws CLI against the lab's
emulator (cluster status), redis-cli PING through the primary endpoint, and the Datadog CPU query with curl.
Median of 5 runs each, with the lab broken (redis_down) so both sides diagnose a real outage.
"""

import os
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, REPO)

from lab import client as lab  # noqa: E402

RUNS = 5
BUDGET_SECONDS = 3.0


def timed(commands, env):
    started = time.monotonic()
    for command in commands:
        subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120, check=False)
    return time.monotonic() - started


def main():
    status = lab.status()
    aws_cli = os.path.join(BIN, "aws") if os.path.exists(os.path.join(BIN, "aws")) else shutil.which("aws")
    missing = [name for name, path in (("aws", aws_cli), ("redis-cli", shutil.which("redis-cli")), ("curl", shutil.which("curl"))) if not path]
    if missing:
        sys.exit("bench: missing %s on PATH; run make venv / install them" % ", ".join(missing))
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
               AWS_ACCESS_KEY_ID=status["aws"]["access_key_id"], AWS_SECRET_ACCESS_KEY=status["aws"]["secret_access_key"],
               AWS_DEFAULT_REGION=status["aws"]["region"], REDISCLI_AUTH=status["redis"]["password"])
    endpoint = status["aws"]["endpoint_url"]
    group = status["elasticache"]["replication_group_id"]
    now = int(time.time())
    by_hand = [
        [aws_cli, "elasticache", "describe-replication-groups", "--replication-group-id", group, "--endpoint-url", endpoint],
        [aws_cli, "elasticache", "describe-cache-clusters", "--show-cache-node-info", "--endpoint-url", endpoint],
        ["redis-cli", "-h", status["redis"]["host"], "-p", str(status["redis"]["port"]), "ping"],
        ["curl", "-sS", "-m", "10", "-G", status["datadog"]["url"] + "/api/v1/query",
         "-H", "DD-API-KEY: " + status["datadog"]["api_key"], "-H", "DD-APPLICATION-KEY: " + status["datadog"]["app_key"],
         "--data-urlencode", "from=%d" % (now - 900), "--data-urlencode", "to=%d" % now,
         "--data-urlencode", "query=avg:aws.elasticache.cpuutilization{*}"],
    ]
    playbook = [[os.path.join(BIN, "ansible-playbook"), "playbooks/redis_down.yml", "--check"]]

    lab.heal()
    lab.break_incident("redis_down")
    try:
        check = [timed(playbook, env) for _run in range(RUNS)]
        manual = [timed(by_hand, env) for _run in range(RUNS)]
    finally:
        lab.heal()
    check_median, manual_median = statistics.median(check), statistics.median(manual)
    print("redis_down diagnosis, median of %d runs on the lab:" % RUNS)
    print("  ansible-playbook playbooks/redis_down.yml --check   %6.2f s  (runs: %s)" % (check_median, ", ".join("%.2f" % t for t in check)))
    print("  runbook commands by hand (aws x2, redis-cli, curl)  %6.2f s  (runs: %s)" % (manual_median, ", ".join("%.2f" % t for t in manual)))
    verdict = "within" if check_median <= BUDGET_SECONDS else "OVER"
    print("  --check budget %.1f s: %s" % (BUDGET_SECONDS, verdict))
    return 0 if check_median <= BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
