#!/usr/bin/env bash
# Create (if missing) the project's Python virtual environment and install the
# development requirements into it.
#
#   scripts/bootstrap.sh [PYTHON] [VENV_DIR]
#
#   PYTHON    interpreter used to create the venv        (default, or empty: python3);
#             when given, an existing venv must use the same X.Y version
#   VENV_DIR  venv location, relative to the repo root   (default: .venv)
#
# Idempotent: a stamp file inside the venv records a hash of the requirements
# files (requirements-dev.txt and every file it pulls in with -r/-c) plus the
# venv's Python version. When nothing changed a second run exits in well under a
# second without touching pip. Set BOOTSTRAP_FORCE=1 to reinstall anyway.
#
# This is what `make venv` calls and what CI runs on a fresh clone.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${1:-python3}"
VENV_DIR="${2:-.venv}"
REQ_FILE="${REQ_FILE:-requirements-dev.txt}"

case "$VENV_DIR" in
    /*) ;;
    *) VENV_DIR="$REPO_ROOT/$VENV_DIR" ;;
esac

log() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] ERROR: %s\n' "$*" >&2; exit 1; }

cd "$REPO_ROOT"

[[ -f "$REQ_FILE" ]] || die "requirements file $REPO_ROOT/$REQ_FILE not found"

# --- collect the requirements files (follow -r / -c includes) -----------------
req_files=()
collect_reqs() {
    local file="$1" dir line inc
    for seen in "${req_files[@]:-}"; do [[ "$seen" == "$file" ]] && return 0; done
    [[ -f "$file" ]] || die "requirements file '$file' (included from another requirements file) not found"
    req_files+=("$file")
    dir="$(dirname "$file")"
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%%#*}"
        if [[ "$line" =~ ^[[:space:]]*(-r|--requirement|-c|--constraint)[[:space:]=]+([^[:space:]]+) ]]; then
            inc="${BASH_REMATCH[2]}"
            [[ "$inc" == /* || "$dir" == . ]] || inc="$dir/$inc"
            collect_reqs "$inc"
        fi
    done < "$file"
}
collect_reqs "$REQ_FILE"

# --- the venv -----------------------------------------------------------------
VENV_PY="$VENV_DIR/bin/python"

if [[ -x "$VENV_PY" ]] && "$VENV_PY" -c 'import sys' 2>/dev/null; then
    # An existing venv: make sure it is the interpreter the caller asked for
    # (only checked when PYTHON was given explicitly).
    if [[ -n "${1:-}" ]]; then
        command -v "$PYTHON" >/dev/null 2>&1 || die "python interpreter '$PYTHON' not found"
        want="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        have="$("$VENV_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        [[ "$want" == "$have" ]] || die "$VENV_DIR uses Python $have but $PYTHON is Python $want; remove $VENV_DIR or pick another VENV_DIR"
    fi
else
    command -v "$PYTHON" >/dev/null 2>&1 || die "python interpreter '$PYTHON' not found (pass one: scripts/bootstrap.sh /path/to/python3)"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "$PYTHON is $("$PYTHON" -V 2>&1); ansible-core 2.19 needs Python >= 3.11"
    if [[ -e "$VENV_DIR" ]]; then
        log "$VENV_DIR exists but has no working python; recreating it"
        rm -rf "$VENV_DIR"
    fi
    log "creating venv $VENV_DIR with $("$PYTHON" -V 2>&1) ($(command -v "$PYTHON"))"
    "$PYTHON" -m venv "$VENV_DIR" || die "'$PYTHON -m venv $VENV_DIR' failed (is the python venv module installed?)"
fi

# --- stamp check --------------------------------------------------------------
STAMP="$VENV_DIR/.bootstrap.stamp"
py_version="$("$VENV_PY" -c 'import sys; print(sys.version.split()[0])')"
want_stamp="$( { echo "python $py_version"; echo "req $REQ_FILE"; cat "${req_files[@]}"; } | sha256sum | cut -d' ' -f1)"

if [[ -z "${BOOTSTRAP_FORCE:-}" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]]; then
    log "$VENV_DIR is up to date (Python $py_version, ${req_files[*]} unchanged)"
    exit 0
fi

# --- install ------------------------------------------------------------------
log "installing ${req_files[*]} into $VENV_DIR (Python $py_version)"
start=$SECONDS
# pip's own noise about configured-but-absent local find-links/index directories
# is filtered out; real errors still go through.
pip_install() {
    local rc
    set +e
    "$VENV_PY" -m pip install --disable-pip-version-check --quiet "$@" 2>&1 \
        | grep -v -E "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$"
    rc=${PIPESTATUS[0]}
    set -e
    return "$rc"
}
pip_install --upgrade pip \
    || die "could not upgrade pip in $VENV_DIR (check the pip index configuration: pip config list)"
pip_install -r "$REQ_FILE" \
    || die "pip install -r $REQ_FILE failed in $VENV_DIR (see pip output above)"

# Smoke check: the tools the other scripts rely on must be importable/runnable.
"$VENV_DIR/bin/ansible" --version >/dev/null 2>&1 || die "ansible is not runnable from $VENV_DIR after install"
"$VENV_DIR/bin/ansible-lint" --version >/dev/null 2>&1 || die "ansible-lint is not runnable from $VENV_DIR after install"

if ! "$VENV_PY" -m pip check >/dev/null 2>&1; then
    log "warning: 'pip check' reports dependency conflicts in $VENV_DIR:"
    "$VENV_PY" -m pip check 2>&1 | sed 's/^/[bootstrap]   /' || true
fi

echo "$want_stamp" > "$STAMP"
core_version="$("$VENV_PY" -c 'import ansible.release as r; print(r.__version__)' 2>/dev/null || echo '?')"
lint_version="$("$VENV_PY" -c 'from importlib.metadata import version; print(version("ansible-lint"))' 2>/dev/null || echo '?')"
log "done in $((SECONDS - start))s: ansible-core $core_version, ansible-lint $lint_version"
