# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


# Every module of the group/sre.incident.all action group extends it (tests/unit/test_time_bounds.py checks).
class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  deadline:
    description:
      - The run's deadline, in epoch seconds (UTC). The incident playbooks set it once for the whole run (their
        C(incident_deadline), in seconds from the start) and pass it to every module of this collection through
        the C(group/sre.incident.all) module_defaults.
      - Every network call's timeout, and every wait (C(wait_timeout), or the C(timeout) a module waits with), is
        cut to the time left before it, so the module ends by the deadline.
      - Once it has passed, the module fails before it sends anything - C(the run's deadline passed N s ago;
        nothing changed) - and returns C(deadline_passed=true); a call the module would make after it is not sent.
      - Unset, only the module's own timeouts apply.
    type: float
"""
