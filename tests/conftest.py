"""Shared fixtures: the local lab.

``lab`` (session): brings the lab up through ``lab.client`` (reusing one that already runs for the same
``SRE_LAB_DIR``/``SRE_LAB_PORT_BASE``) and yields its status dict. A lab the fixture started is stopped at
the end of the session unless ``SRE_LAB_KEEP=1``.
``healed_lab`` (function): ``heal`` first, so each test starts from the baseline; yields the status dict.

To keep test runs away from a lab you use by hand, set ``SRE_LAB_DIR`` and ``SRE_LAB_PORT_BASE``.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lab import client as lab_client  # noqa: E402


@pytest.fixture(scope="session")
def lab():
    was_running = lab_client.is_running()
    status = lab_client.up()
    status.pop("already_running", None)
    yield status
    if not was_running and os.environ.get("SRE_LAB_KEEP") != "1":
        lab_client.down()


@pytest.fixture
def healed_lab(lab):
    """The lab at its baseline, with no incident record left from an earlier test (the lab inventory keeps
    incident records in <state dir>/incidents)."""
    result = lab_client.heal()
    from lab import config

    shutil.rmtree(config.state_dir() / "incidents", ignore_errors=True)
    return result["status"]
