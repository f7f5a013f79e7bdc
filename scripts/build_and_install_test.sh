#!/usr/bin/env bash
# Prove that the sre.incident collection works as a built artifact and as an AWX project:
#
#   1. ansible-galaxy collection build (from the working tree) into a temp dir, and check that
#      build_ignore kept development clutter (.venv*, .lab, the collections symlinks, build and
#      test outputs, caches) out of the tarball;
#   2. ansible-galaxy collection install --offline of that tarball into $TMP/ac;
#   3. from an empty directory (no ansible.cfg, ANSIBLE_COLLECTIONS_PATH=$TMP/ac only):
#      ansible-doc sre.incident.redis_probe, and a playbook calling sre.incident.redis_probe by
#      FQCN against 127.0.0.1:1 (nothing listens there: expects ping == false), with checks that
#      the module really came from the installed tarball and not from the repository;
#   4. "AWX-style project sync": the git files copied to a temp project dir, collection paths
#      pointed at an unrelated empty dir (as AWX does), `ansible-playbook --syntax-check` of each
#      playbook in playbooks/ from the project root - sre.incident must resolve through the
#      playbook-adjacent playbooks/collections symlink. A negative control (symlink removed, the
#      syntax check must then fail) shows the check is not vacuous.
#
#   scripts/build_and_install_test.sh          (KEEP_TMP=1 keeps the temp dir for inspection)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="${VENV:-.venv}"
[[ "$VENV_DIR" == /* ]] || VENV_DIR="$REPO_ROOT/$VENV_DIR"
FQCN_MODULE=sre.incident.redis_probe

log() { printf '[build-test] %s\n' "$*"; }
die() { printf '[build-test] ERROR: %s\n' "$*" >&2; exit 1; }

cd "$REPO_ROOT"
[[ -x "$VENV_DIR/bin/ansible-galaxy" ]] || die "$VENV_DIR/bin/ansible-galaxy not found (run scripts/bootstrap.sh first)"
export PATH="$VENV_DIR/bin:$PATH"
# Nothing from the caller's environment may decide where collections come from.
unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS ANSIBLE_COLLECTIONS_SCAN_SYS_PATH \
      ANSIBLE_ROLES_PATH ANSIBLE_LIBRARY ANSIBLE_MODULE_UTILS ANSIBLE_INVENTORY
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

TMP="$(mktemp -d "${TMPDIR:-/tmp}/sre-incident-build.XXXXXX")"
if [[ -n "${KEEP_TMP:-}" ]]; then
    trap 'log "temp dir kept: $TMP"' EXIT
else
    trap 'rm -rf "$TMP"' EXIT
fi
# Ansible writes its local temp files and caches under ANSIBLE_HOME; keep them out of ~.
export ANSIBLE_HOME="$TMP/ansible-home"
export ANSIBLE_LOCAL_TEMP="$TMP/ansible-home/tmp"
mkdir -p "$ANSIBLE_LOCAL_TEMP"

step_start=$SECONDS
step() { log "$* ($((SECONDS - step_start))s so far)"; }

# --- 1. build -------------------------------------------------------------------------------------
step "1/4 ansible-galaxy collection build"
mkdir -p "$TMP/dist"
ansible-galaxy collection build --output-path "$TMP/dist" "$REPO_ROOT" >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log" >&2; die "ansible-galaxy collection build failed (output above)"; }
grep -i 'warning' "$TMP/build.log" | sed 's/^/[build-test]   /' || true
shopt -s nullglob
tarballs=("$TMP"/dist/*.tar.gz)
shopt -u nullglob
[[ ${#tarballs[@]} -eq 1 ]] || die "expected one tarball in $TMP/dist, found ${#tarballs[@]}"
TARBALL="${tarballs[0]}"

tar -tzf "$TARBALL" | sed 's#/$##' | sort > "$TMP/tar-list.txt"
# Paths that must never be shipped (anchored at the collection root; the last group anywhere).
forbidden='^(\.venv|\.venv-[^/]*|\.lab|\.git|\.ci|\.ansible|\.cache|collections|playbooks/collections|build|tests/output)(/|$)|(^|/)(__pycache__|\.pytest_cache|\.mypy_cache|\.tox)(/|$)|\.pyc$|\.tar\.gz$'
if grep -E "$forbidden" "$TMP/tar-list.txt" > "$TMP/forbidden.txt"; then
    sed 's/^/[build-test]   /' "$TMP/forbidden.txt" | head -20 >&2
    die "$(basename "$TARBALL") contains $(wc -l < "$TMP/forbidden.txt") path(s) that galaxy.yml build_ignore should exclude (first ones above)"
fi
if tar -tvzf "$TARBALL" | grep -q '^l'; then
    tar -tvzf "$TARBALL" | grep '^l' | sed 's/^/[build-test]   /' >&2
    die "$(basename "$TARBALL") contains symlinks (above); build_ignore them"
fi
for required in MANIFEST.json FILES.json plugins/modules/redis_probe.py plugins/module_utils/redis_client.py meta/runtime.yml; do
    grep -qx "$required" "$TMP/tar-list.txt" || die "$(basename "$TARBALL") lacks $required"
done
log "built $(basename "$TARBALL"): $(grep -vc '/$' "$TMP/tar-list.txt") entries, $(du -k "$TARBALL" | cut -f1) KiB, no forbidden paths"

# --- 2. install -----------------------------------------------------------------------------------
step "2/4 ansible-galaxy collection install --offline"
mkdir -p "$TMP/empty"
(
    cd "$TMP/empty"
    ANSIBLE_COLLECTIONS_PATH="$TMP/ac" \
        ansible-galaxy collection install --offline -p "$TMP/ac" "$TARBALL"
) >"$TMP/install.log" 2>&1 || { cat "$TMP/install.log" >&2; die "ansible-galaxy collection install of the tarball failed (output above)"; }
INSTALLED="$TMP/ac/ansible_collections/sre/incident"
[[ -f "$INSTALLED/MANIFEST.json" ]] || die "install reported success but $INSTALLED/MANIFEST.json is missing"
log "installed to $INSTALLED"

# --- 3. use the installed collection from an empty directory -------------------------------------
step "3/4 ansible-doc and a playbook against the installed collection"
in_empty() {
    (cd "$TMP/empty" && ANSIBLE_COLLECTIONS_PATH="$TMP/ac" ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false "$@")
}
[[ ! -e "$TMP/empty/ansible.cfg" ]] || die "internal: $TMP/empty must not have an ansible.cfg"

in_empty ansible-doc "$FQCN_MODULE" >"$TMP/doc.txt" 2>&1 \
    || { cat "$TMP/doc.txt" >&2; die "ansible-doc $FQCN_MODULE failed against the installed collection"; }
grep -q 'redis_probe' "$TMP/doc.txt" || die "ansible-doc $FQCN_MODULE printed no documentation"
doc_file="$(in_empty ansible-doc -j "$FQCN_MODULE" 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(next(iter(d.values()))["doc"]["filename"])')" \
    || die "ansible-doc -j $FQCN_MODULE gave no filename"
case "$doc_file" in
    "$INSTALLED"/*) log "ansible-doc: $FQCN_MODULE documented from ${doc_file#"$TMP"/}" ;;
    *) die "ansible-doc found $FQCN_MODULE at $doc_file, not in the installed tarball ($INSTALLED)" ;;
esac

cat > "$TMP/empty/probe.yml" <<'EOF'
---
- name: Installed-collection smoke test
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Probe a port nothing listens on
      sre.incident.redis_probe:
        host: 127.0.0.1
        port: 1
        connect_timeout: 2
      register: probe

    - name: The probe reports the endpoint down without failing
      ansible.builtin.assert:
        that:
          - probe is not failed
          - probe is not changed
          - probe.ping is false
          - probe.error is truthy
        fail_msg: "unexpected redis_probe result: {{ probe }}"

    - name: Show where the module came from
      ansible.builtin.debug:
        msg: "ping={{ probe.ping }} error={{ probe.error }}"
EOF
# The module ran, so its module_utils (redis_client, common) were bundled into the AnsiballZ
# payload; with only $TMP/ac on the collection path they can only have come from the tarball.
if ! in_empty ansible-playbook -i localhost, -e "ansible_python_interpreter=$VENV_DIR/bin/python" probe.yml \
        >"$TMP/play.log" 2>&1; then
    cat "$TMP/play.log" >&2
    die "playbook calling $FQCN_MODULE from the installed collection failed (output above)"
fi
grep -E '"msg": "ping=|ok=' "$TMP/play.log" | sed 's/^ */[build-test]   /'
in_empty ansible-galaxy collection list sre.incident >"$TMP/list.txt" 2>&1 || true
locations="$(grep -c '^# ' "$TMP/list.txt" || true)"
grep -q "^# $TMP/ac/ansible_collections" "$TMP/list.txt" && [[ "$locations" == 1 ]] \
    || { cat "$TMP/list.txt" >&2; die "sre.incident is visible from more than the installed tarball (ansible-galaxy collection list above)"; }

# --- 4. AWX-style project sync --------------------------------------------------------------------
step "4/4 AWX-style project sync: playbook-adjacent playbooks/collections"
PROJECT="$TMP/project"
mkdir -p "$PROJECT" "$TMP/awx-unrelated-collections"
git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e "$f" || -L "$f" ]] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$PROJECT" \
    || die "copying the git files into $PROJECT failed"
[[ -L "$PROJECT/playbooks/collections/ansible_collections/sre/incident" ]] \
    || die "playbooks/collections/ansible_collections/sre/incident is not a symlink in git (an AWX project sync would not resolve sre.incident)"
[[ -f "$PROJECT/playbooks/collections/ansible_collections/sre/incident/galaxy.yml" ]] \
    || die "playbooks/collections/ansible_collections/sre/incident does not point at the collection root"

shopt -s nullglob
candidates=("$PROJECT"/playbooks/*.yml "$PROJECT"/playbooks/*.yaml)
shopt -u nullglob
playbooks=()
for f in "${candidates[@]}"; do
    # Only plays (hosts:) or playbook imports; vars files and the like are not syntax-checked.
    if "$VENV_DIR/bin/python" - "$f" <<'EOF'
import sys, yaml
try:
    data = yaml.safe_load(open(sys.argv[1]))
except yaml.YAMLError:
    sys.exit(0)  # let ansible-playbook report the YAML error
ok = isinstance(data, list) and data and all(
    isinstance(p, dict) and ("hosts" in p or "import_playbook" in p or "ansible.builtin.import_playbook" in p)
    for p in data)
sys.exit(0 if ok else 1)
EOF
    then
        playbooks+=("${f#"$PROJECT"/}")
    else
        log "  not a playbook, skipped: ${f#"$PROJECT"/}"
    fi
done

if [[ ${#playbooks[@]} -eq 0 ]]; then
    log "no playbooks in playbooks/ yet: AWX-style syntax check skipped (the symlink itself is in place)"
else
    # AWX runs ansible-playbook from the project root with its own collection paths (an
    # unrelated dir here) and its own inventory; the project's ansible.cfg is honoured, but
    # the environment overrides its collections_path - so only playbooks/collections is left.
    awx_env=(ANSIBLE_COLLECTIONS_PATH="$TMP/awx-unrelated-collections"
             ANSIBLE_COLLECTIONS_PATHS="$TMP/awx-unrelated-collections"
             ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false)
    failed=()
    for pb in "${playbooks[@]}"; do
        if (cd "$PROJECT" && env "${awx_env[@]}" ansible-playbook -i localhost, --syntax-check "$pb") >"$TMP/syntax.log" 2>&1; then
            log "  syntax-check ok: $pb"
        else
            sed 's/^/[build-test]     /' "$TMP/syntax.log" >&2
            failed+=("$pb")
        fi
    done
    [[ ${#failed[@]} -eq 0 ]] || die "AWX-style --syntax-check failed for: ${failed[*]}"

    # Negative control: without the playbook-adjacent symlink sre.incident must NOT resolve,
    # otherwise the check above proved nothing.
    if grep -q 'sre\.incident\.' "$PROJECT/${playbooks[0]}"; then
        mv "$PROJECT/playbooks/collections" "$PROJECT/playbooks/collections.off"
        if (cd "$PROJECT" && env "${awx_env[@]}" ansible-playbook -i localhost, --syntax-check "${playbooks[0]}") >"$TMP/control.log" 2>&1; then
            die "negative control: ${playbooks[0]} still passes --syntax-check without playbooks/collections, so sre.incident resolves from somewhere else"
        fi
        grep -q 'sre\.incident' "$TMP/control.log" || {
            cat "$TMP/control.log" >&2
            die "negative control: ${playbooks[0]} failed without playbooks/collections, but not over sre.incident (output above)"
        }
        mv "$PROJECT/playbooks/collections.off" "$PROJECT/playbooks/collections"
        log "  negative control ok: without playbooks/collections, ${playbooks[0]} does not resolve sre.incident"
    fi
fi

log "all checks passed in $((SECONDS - step_start))s"
