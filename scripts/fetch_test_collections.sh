#!/usr/bin/env bash
# Puts the third-party collections the *tests and lint* need (not the playbooks) where this checkout's
# ansible.cfg finds them, offline (PyPI only): today just awx.awx, which awx/configure_controller.yml uses.
#
#   scripts/fetch_test_collections.sh            idempotent; well under a second when already in place
#   FETCH_COLLECTIONS_FORCE=1 scripts/...         extract again
#
# Galaxy is not reachable here, but the community `ansible` package on PyPI bundles awx.awx. This
# script downloads that one wheel (no dependencies, kept in .cache/pip-ansible/) and extracts only
# ansible_collections/awx/awx (without its tests) into collections/ansible_collections/awx/awx: the
# first entry of ansible.cfg's collections_path, so ansible-playbook, ansible-lint and the unit tests
# resolve awx.awx from the repository root with no environment variable. That directory is git-ignored,
# build_ignore'd (collections) and excluded from ansible-lint; nothing third-party is committed.
#
# The incident playbooks never need it: the root requirements.yml (what AWX reads at project sync)
# stays empty. On a workstation that reaches Galaxy, `ansible-galaxy collection install -r
# awx/requirements.yml` does the same job (see docs/awx.md).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${VENV:-.venv}"
[[ "$VENV_DIR" == /* ]] || VENV_DIR="$REPO_ROOT/$VENV_DIR"
# The ansible release whose bundled awx.awx is used (ansible 12.3.0 ships awx.awx 24.6.1).
ANSIBLE_PACKAGE_VERSION="${ANSIBLE_PACKAGE_VERSION:-12.3.0}"
DEST_ROOT="$REPO_ROOT/collections/ansible_collections"
DOWNLOAD_DIR="$REPO_ROOT/.cache/pip-ansible"
STAMP="$DEST_ROOT/awx/.fetched-from"

log() { printf '[fetch-collections] %s\n' "$*"; }
die() { printf '[fetch-collections] ERROR: %s\n' "$*" >&2; exit 1; }

cd "$REPO_ROOT"

want="ansible==$ANSIBLE_PACKAGE_VERSION"
if [[ -z "${FETCH_COLLECTIONS_FORCE:-}" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" \
      && -f "$DEST_ROOT/awx/awx/MANIFEST.json" ]]; then
    log "awx.awx from $want is in place ($DEST_ROOT/awx/awx)"
    exit 0
fi

PY="$VENV_DIR/bin/python"
if [[ ! -x "$PY" ]]; then
    log "$VENV_DIR has no python; bootstrapping it"
    "$REPO_ROOT/scripts/bootstrap.sh" python3 "$VENV_DIR" || die "bootstrap of $VENV_DIR failed"
fi

mkdir -p "$DOWNLOAD_DIR"
wheel="$DOWNLOAD_DIR/ansible-$ANSIBLE_PACKAGE_VERSION-py3-none-any.whl"
if [[ ! -f "$wheel" ]]; then
    log "downloading $want (the wheel only, no dependencies) from the configured package index"
    # pip's noise about configured-but-absent local index directories is dropped (as in bootstrap.sh).
    set +e
    "$PY" -m pip download --disable-pip-version-check --quiet --no-deps --only-binary=:all: \
        -d "$DOWNLOAD_DIR" "$want" 2>&1 \
        | grep -v -E "^WARNING: Location '.*' is ignored: it is neither a file nor a directory\.$"
    rc=${PIPESTATUS[0]}
    set -e
    [[ $rc -eq 0 ]] || die "pip download $want failed (check the pip index configuration: $PY -m pip config list)"
    [[ -f "$wheel" ]] || die "pip download $want did not produce $wheel"
fi

log "extracting ansible_collections/awx/awx from $(basename "$wheel")"
"$PY" - "$wheel" "$DEST_ROOT" <<'PYEOF'
import json
import os
import shutil
import sys
import tempfile
import zipfile

wheel, dest_root = sys.argv[1], sys.argv[2]
prefix = "ansible_collections/awx/awx/"
skip = (prefix + "test/", prefix + "images/")
with zipfile.ZipFile(wheel) as archive:
    members = [n for n in archive.namelist()
               if n.startswith(prefix) and not n.endswith("/") and not n.startswith(skip)]
    if prefix + "MANIFEST.json" not in members:
        sys.exit("%s does not bundle awx.awx (no %sMANIFEST.json)" % (wheel, prefix))
    os.makedirs(os.path.join(dest_root, "awx"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".awx-", dir=os.path.join(dest_root, "awx"))
    try:
        for name in members:
            target = os.path.join(tmp, name[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(name) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
        final = os.path.join(dest_root, "awx", "awx")
        shutil.rmtree(final, ignore_errors=True)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
with open(os.path.join(final, "MANIFEST.json")) as fh:
    info = json.load(fh)["collection_info"]
print("[fetch-collections] awx.awx %s -> %s (%d files)" % (info["version"], final, len(members)))
PYEOF

echo "$want" > "$STAMP"
