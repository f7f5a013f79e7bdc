"""Shared fixtures: the local lab.

``lab`` (session): brings the lab up through ``lab.client`` (reusing one that already runs for the same
``SRE_LAB_DIR``/``SRE_LAB_PORT_BASE``) and yields its status dict. A lab the fixture started is stopped at
the end of the session unless ``SRE_LAB_KEEP=1``.
``healed_lab`` (function): ``heal`` first, so each test starts from the baseline; yields the status dict.

To keep test runs away from a lab you use by hand, set ``SRE_LAB_DIR`` and ``SRE_LAB_PORT_BASE``.

Under pytest-xdist (``make test`` runs ``-n``) worker gwN > 0 gets a lab of its own: state dir ``.lab-test-gwN`` and
ports from ``SRE_LAB_PORT_BASE + 500 x N`` (a lab spans base..base+21, the lab tests' side labs base+300..+430).
Tests are scheduled by file (``--dist loadscope`` with the scheduler below): a file's tests stay together and
in order on one worker, except in the files of ``SPLIT_PER_TEST``, whose tests are independent and among the
longest; the longest files are handed out first (docs/development.md, "The test run").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lab import client as lab_client  # noqa: E402
from lab import config as lab_config  # noqa: E402

WORKER_PORT_SPACING = 500
# Long files whose tests each bring the lab to their own state: one scheduling unit per test.
SPLIT_PER_TEST = ("tests/integration/test_fault_matrix.py", "tests/integration/test_check_leaves_no_trace.py")
# Which groups go out first: the longest (the matrices, then the other lab-driven files), the unit tests last.
SCHEDULE_ORDER = ("tests/integration/test_fault_matrix.py", "tests/integration/test_check_leaves_no_trace.py",
                  "tests/integration/test_iam_policy.py", "tests/integration/", "tests/lab/", "tests/unit/")


def _worker_lab_env(worker):
    """SRE_LAB_DIR/SRE_LAB_PORT_BASE of worker ``gwN``'s lab ({} for gw0 and a run without workers)."""
    number = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    if number == 0:
        return {}
    return {"SRE_LAB_DIR": str(REPO_ROOT / (".lab-test-%s" % worker)),
            "SRE_LAB_PORT_BASE": str(lab_config.port_base() + WORKER_PORT_SPACING * number)}


os.environ.update(_worker_lab_env(os.environ.get("PYTEST_XDIST_WORKER", "")))


def _schedule_rank(item):
    path = item.nodeid.split("::", 1)[0]
    return next((rank for rank, prefix in enumerate(SCHEDULE_ORDER) if path.startswith(prefix)), len(SCHEDULE_ORDER))


def _scope(nodeid):
    path = nodeid.split("::", 1)[0]
    return nodeid if path in SPLIT_PER_TEST else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With ``--dist loadscope``: one work unit per file, or per test in SPLIT_PER_TEST."""
    # xdist's own loadgroup marks are lost under pytest 9.2 (it renames nodeids through a field 9.2 no longer reads).
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _scope(nodeid)

    return FileScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """The longest groups first."""
    items.sort(key=_schedule_rank)


def _started_marker():
    return lab_config.state_dir() / "started-by-tests"


@pytest.fixture(scope="session")
def lab():
    was_running = lab_client.is_running()
    status = lab_client.up()
    status.pop("already_running", None)
    if not was_running:
        _started_marker().write_text(os.environ.get("PYTEST_XDIST_WORKER", "") + "\n")
    yield status
    if not was_running and os.environ.get("SRE_LAB_KEEP") != "1":
        lab_client.down()
        _started_marker().unlink(missing_ok=True)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """A worker that crashed never reached its session teardown: stop the lab it started (on the controller)."""
    if not error or os.environ.get("SRE_LAB_KEEP") == "1":
        return
    env = {**os.environ, **_worker_lab_env(node.gateway.id)}
    state_dir = Path(env.get("SRE_LAB_DIR") or lab_config.state_dir())
    if (state_dir / "started-by-tests").exists():
        subprocess.run([sys.executable, "-m", "lab", "down"], cwd=REPO_ROOT, env=env, timeout=120, check=False)
        (state_dir / "started-by-tests").unlink(missing_ok=True)


@pytest.fixture
def healed_lab(lab):
    """The lab at its baseline, with no incident record left from an earlier test (the lab inventory keeps
    incident records in <state dir>/incidents)."""
    result = lab_client.heal()
    from lab import config

    shutil.rmtree(config.state_dir() / "incidents", ignore_errors=True)
    return result["status"]
