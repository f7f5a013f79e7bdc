#!/usr/bin/env bash
# The long lab matrices (the fault matrix, --check in every broken state) in parallel shards, each against a
# lab of its own (its own state dir and ports): most of their runs wait on a timeout or a deployment, so shards
# overlap well on two cores.
#
#   scripts/lab_matrices.sh [SHARDS]    (default 3; shard N's lab ports start at SRE_LAB_PORT_BASE + 200 x (N + 1))
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${VENV:-.venv}"
[[ "$VENV_DIR" == /* ]] || VENV_DIR="$REPO_ROOT/$VENV_DIR"
SHARDS="${1:-3}"
BASE="$("$VENV_DIR/bin/python" -c "from lab import config; print(config.port_base())")"
FILES=(tests/integration/test_fault_matrix.py tests/integration/test_check_leaves_no_trace.py)

cd "$REPO_ROOT"
log() { printf '[lab-matrices] %s\n' "$*"; }
started=$SECONDS
mapfile -t nodes < <("$VENV_DIR/bin/python" -m pytest -q -p no:cacheprovider --collect-only "${FILES[@]}" | grep '::')
# Longest first onto the least loaded shard; a fault-matrix playbook costs about ten --check states.
mapfile -t plan < <(printf '%s\n' "${nodes[@]}" | "$VENV_DIR/bin/python" -c '
import sys
shards = int(sys.argv[1])
nodes = [line.strip() for line in sys.stdin if line.strip()]
load, plan = [0] * shards, [[] for _shard in range(shards)]
for node in sorted(nodes, key=lambda node: -(10 if "fault_matrix" in node else 1)):
    lightest = load.index(min(load))
    plan[lightest].append(node)
    load[lightest] += 10 if "fault_matrix" in node else 1
for nodes in plan:
    print(" ".join(nodes))
' "$SHARDS")
pids=()
for shard in "${!plan[@]}"; do
    [[ -n "${plan[shard]}" ]] || continue
    state="$REPO_ROOT/.lab-matrix-$shard"
    read -r -a selection <<< "${plan[shard]}"
    log "shard $shard: ${#selection[@]} test(s), lab ports from $((BASE + 200 * (shard + 1)))"
    SRE_LAB_DIR="$state" SRE_LAB_PORT_BASE=$((BASE + 200 * (shard + 1))) \
        "$VENV_DIR/bin/python" -m pytest -q -p no:cacheprovider -s "${selection[@]}" > "$state.log" 2>&1 &
    pids+=("$!:$shard")
done
status=0
for entry in "${pids[@]}"; do
    pid=${entry%%:*}; shard=${entry##*:}
    if wait "$pid"; then log "shard $shard passed"; else log "shard $shard FAILED"; status=1; fi
done
for entry in "${pids[@]}"; do
    shard=${entry##*:}
    grep -E '^[a-z_]+ +(aws|datadog|postgres|redis|slack|pagerduty) |^[a-z_-]+ \{' "$REPO_ROOT/.lab-matrix-$shard.log" || true
    grep -qE '^[0-9]+ passed' "$REPO_ROOT/.lab-matrix-$shard.log" || tail -n 120 "$REPO_ROOT/.lab-matrix-$shard.log"
done
log "done in $((SECONDS - started)) s"
exit "$status"
