# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The logic of the read modules that sre.incident.run_concurrently can run in threads of one process.

Each steps/<module>.py holds SPEC (the AnsibleModule keyword arguments) and run(module), which ends with
module.exit_json() or module.fail_json(); the module file itself keeps only its documentation and main().
The list of them and their loader are in module_utils/in_process.py (not here: every module importing one
step would bundle them all).
"""
