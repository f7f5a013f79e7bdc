"""make bench: each incident playbook's --check wall time next to the runbook's diagnosis commands run by hand.

The "by hand" side is what an engineer types from the runbook, in sequence, against the lab: the aws CLI
(with --endpoint-url), redis-cli, and curl for the health endpoint, the dependencies and Datadog queries.
Next to both, the engine floor: a one-task playbook (one debug) with the same inventory and configuration, so
"--check minus floor" is what the incident's own work costs.
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
from lab.by_hand import runbook_commands  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "collections"))
from ansible_collections.sre.incident.plugins.plugin_utils.incident_types import incident_types  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
REDIS_BUDGET_SECONDS = 3.0
INCIDENTS = tuple(incident_types())
FLEET_SIZES = (1, 10, 50)
FLEET_BUDGET_SECONDS = 0.15


def timed(commands, env):
    started = time.monotonic()
    for command in commands:
        subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                       check=False)
    return time.monotonic() - started


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


FLOOR_PLAYBOOK = os.path.join(REPO, "playbooks", ".bench-floor.yml")
FLOOR = """---
# make bench's engine floor: what any playbook costs here before its first real task (scripts/bench.py).
- name: Engine floor
  hosts: all
  gather_facts: false
  tasks:
    - name: One task
      ansible.builtin.debug:
        msg: floor
"""


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
    print("Diagnosis wall time on the lab, median of %d runs (playbook --check | engine floor, the difference | "
          "runbook commands by hand):" % RUNS)
    # Next to the playbooks, so that the playbook-adjacent collections/ resolves the lab inventory plugin alike.
    with open(FLOOR_PLAYBOOK, "w", encoding="utf-8") as handle:
        handle.write(FLOOR)
    try:
        for incident in selected:
            diagnosis(incident, aws_cli, env)
    finally:
        os.unlink(FLOOR_PLAYBOOK)
    return 0


def diagnosis(incident, aws_cli, env):
    lab.heal()
    lab.break_incident(incident)
    try:
        playbook = [[os.path.join(BIN, "ansible-playbook"), "playbooks/%s.yml" % incident, "--check"]]
        floor = [[os.path.join(BIN, "ansible-playbook"), FLOOR_PLAYBOOK, "--check"]]
        by_hand = runbook_commands(lab.status(), aws_cli, incident)
        # Interleaved, so that all sides see the same machine: on these shared 2-core VMs the speed of the
        # same CPU-bound loop varies up to 2x from one minute to the next.
        check, engine, manual = [], [], []
        for _run in range(RUNS):
            check.append(timed(playbook, env))
            engine.append(timed(floor, env))
            manual.append(timed(by_hand, env))
    finally:
        lab.heal()
    hand = "by hand %5.2f s for %d commands" % (statistics.median(manual), len(by_hand)) if by_hand else "no by-hand list"
    print("  %-16s --check %5.2f s (runs %s) | floor %5.2f s, +%.2f s | %s" % (
        incident, statistics.median(check), " ".join("%.2f" % t for t in check), statistics.median(engine),
        statistics.median(check) - statistics.median(engine), hand))
    if incident == "redis_down":
        verdict = "within" if statistics.median(check) <= REDIS_BUDGET_SECONDS else "OVER"
        print("  %-16s --check budget %.1f s: %s" % ("", REDIS_BUDGET_SECONDS, verdict))


if __name__ == "__main__":
    sys.exit(main())
