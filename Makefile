# sre.incident - the two commands a fresh machine needs:
#   make demo   set up, start the lab, break Redis, diagnose (--check), fix, verify, post-mortem
#   make test   set up and run the whole test suite (what .ci/run calls)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB := $(BIN)/python -m lab
PLAYBOOK := $(BIN)/ansible-playbook
# pytest-xdist workers, each against a lab of its own (tests/conftest.py); most tests wait on a playbook or a
# deployment, so three overlap well on two cores (docs/development.md, "The test run").
TEST_WORKERS ?= 3
# A test still running after TEST_TIMEOUT seconds fails with its stack, and the run goes on (the longest, a fault
# matrix row, took 11-13 min in make test on these machines).
TEST_TIMEOUT ?= 1800
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder \
	--timeout $(TEST_TIMEOUT) --timeout-method signal
MATRICES := tests/integration/test_fault_matrix.py tests/integration/test_check_leaves_no_trace.py

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

integration: venv
	@$(PYTEST) tests/integration

# The fault matrix and --check in every broken state alone (make test runs them too), then their rows with times.
lab-matrices: venv
	@rm -rf tests/output/matrices
	@$(PYTEST) $(MATRICES); status=$$?; cat tests/output/matrices/*.txt 2>/dev/null; exit $$status

lint: venv test-collections
	@bash scripts/lint.sh

sanity: venv
	@bash scripts/sanity.sh

build-test: venv
	@bash scripts/build_and_install_test.sh

# The tests start the lab when it is not running and stop it again at the end (tests/conftest.py): a CI clone
# leaves no lab daemon behind to outlive it. A lab that was already up stays up.
test: venv test-collections
	@$(PYTEST) tests/unit tests/lab tests/integration
	@bash scripts/lint.sh
	@bash scripts/build_and_install_test.sh
	@bash scripts/sanity.sh

bench: lab-up
	@$(BIN)/python scripts/bench.py $(ARGS)

clean: lab-down
	rm -rf $(VENV) .lab .lab-test-* build tests/output
