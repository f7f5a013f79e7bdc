#!/usr/bin/env bash
# ansible-lint (production profile) over the repository, offline.
#
#   scripts/lint.sh [ansible-lint options...]     e.g. scripts/lint.sh roles/redis_diagnose
#
# The configuration is .ansible-lint at the repo root (profile, offline, exclude_paths).
# ansible-lint runs from the repo root so it uses the repo's ansible.cfg, whose collections_path
# (./collections -> repo root) resolves sre.incident without installing anything.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${VENV:-.venv}"
[[ "$VENV_DIR" == /* ]] || VENV_DIR="$REPO_ROOT/$VENV_DIR"

log() { printf '[lint] %s\n' "$*"; }
die() { printf '[lint] ERROR: %s\n' "$*" >&2; exit 1; }

cd "$REPO_ROOT"
[[ -f .ansible-lint ]] || die "$REPO_ROOT/.ansible-lint is missing"

if [[ ! -x "$VENV_DIR/bin/ansible-lint" ]]; then
    log "$VENV_DIR/bin/ansible-lint not found; bootstrapping the venv"
    "$REPO_ROOT/scripts/bootstrap.sh" python3 "$VENV_DIR" || die "bootstrap of $VENV_DIR failed"
fi

# Belt and braces for offline use: ANSIBLE_LINT_SKIP_SCHEMA_UPDATE stops the JSON schema refresh
# even if someone drops `offline: true` from the config; --offline is passed explicitly too.
export ANSIBLE_LINT_SKIP_SCHEMA_UPDATE=1
export NO_COLOR="${NO_COLOR:-1}"
export PATH="$VENV_DIR/bin:$PATH"
unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS

log "$("$VENV_DIR/bin/ansible-lint" --nocolor --version 2>/dev/null | head -n1 || true)"
log "ansible-lint --profile production --offline $*"
start=$SECONDS
set +e
"$VENV_DIR/bin/ansible-lint" --config-file .ansible-lint --profile production --offline "$@"
rc=$?
set -e
log "finished in $((SECONDS - start))s (rc $rc)"
[[ $rc -eq 0 ]] || die "ansible-lint reported violations (rc $rc; see the list above)"
log "clean"
