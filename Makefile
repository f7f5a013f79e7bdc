# sre.incident - the two commands a fresh machine needs:
#   make demo   set up, start the lab, break Redis, diagnose (--check), fix, verify, post-mortem
#   make test   set up and run the whole test suite (what .ci/run calls)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB := $(BIN)/python -m lab
PLAYBOOK := $(BIN)/ansible-playbook

.PHONY: venv test-collections lab-up lab-down lab-status demo test unit lab-test integration lab-matrices lint sanity build-test bench clean

venv:
	@bash scripts/bootstrap.sh $(PYTHON) $(VENV)

# awx.awx for the AWX config playbook's lint and tests only (from PyPI's ansible package; git-ignored).
test-collections: venv
	@bash scripts/fetch_test_collections.sh

lab-up: venv
	@$(LAB) up

lab-down:
	@if [ -x $(BIN)/python ]; then $(LAB) down; fi

lab-status:
	@$(LAB) status

demo: lab-up
	@$(LAB) heal >/dev/null
	@echo "==> Breaking the lab: redis_down (primary Redis stopped)"
	@$(LAB) break redis_down
	@echo "==> Diagnosis and plan: ansible-playbook playbooks/redis_down.yml --check"
	@$(PLAYBOOK) playbooks/redis_down.yml --check
	@echo "==> Fix and verification: ansible-playbook playbooks/redis_down.yml"
	@$(PLAYBOOK) playbooks/redis_down.yml
	@echo "==> A second run on the healed service changes nothing"
	@$(PLAYBOOK) playbooks/redis_down.yml
	@echo "==> Post-incident review: timeline and post-mortem (.lab/incidents/<id>/)"
	@$(PLAYBOOK) playbooks/postmortem.yml
	@$(LAB) heal >/dev/null
	@echo "==> Demo done; the lab is still up (make lab-down stops it)"

unit: venv test-collections
	@$(BIN)/python -m pytest -q tests/unit

lab-test: lab-up
	@$(BIN)/python -m pytest -q tests/lab

integration: lab-up
	@$(BIN)/python -m pytest -q tests/integration --deselect tests/integration/test_fault_matrix.py --deselect tests/integration/test_check_leaves_no_trace.py

# The fault matrix and --check in every broken state, in shards that each start (and stop) a lab of their own
# (not yet part of make test: with it the suite would pass its 45-minute budget on these machines).
lab-matrices: venv
	@bash scripts/lab_matrices.sh

lint: venv test-collections
	@bash scripts/lint.sh

sanity: venv
	@bash scripts/sanity.sh

build-test: venv
	@bash scripts/build_and_install_test.sh

# The tests start the lab when it is not running and stop it again at the end (tests/conftest.py): a CI clone
# leaves no lab daemon behind to outlive it. A lab that was already up stays up.
test: venv test-collections
	@$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit tests/lab tests/integration \
		--deselect tests/integration/test_fault_matrix.py --deselect tests/integration/test_check_leaves_no_trace.py
	@bash scripts/lint.sh
	@bash scripts/build_and_install_test.sh
	@bash scripts/sanity.sh

bench: lab-up
	@$(BIN)/python scripts/bench.py $(ARGS)

clean: lab-down
	rm -rf $(VENV) .lab .lab-matrix-* build
