# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a module of this collection can run: right in the task's worker, or in a module process of its own.

runs_here() says whether a module run for this host would happen on this machine with this very Python;
PlanInWorker is the action of the collection's fix modules: in check mode on such a host, the module's own main()
decides its plan in the worker (a task's worker is a process of its own, forked for that one task), which spares
the new Python and the module payload of a process; a real run always goes through _execute_module.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys

from ansible.module_utils.testing import patch_module_args
from ansible.plugins.action import ActionBase

COLLECTION = "sre.incident"
# What a module process's answer keeps of the engine's internal keys (ansible.vars.clean's list in 2.19; 2.21 has no
# public function for it).
KEPT_INTERNAL = ("_ansible_no_log", "_ansible_verbose_always", "_ansible_item_label", "_ansible_verbose_override")


def remove_internal_keys(answer):
    """Drop the _ansible_* keys a module answer must not carry back, as _execute_module does."""
    for key in [key for key in answer if key.startswith("_ansible_") and key not in KEPT_INTERNAL]:
        del answer[key]


def printed_answer(module_name, module, module_args):
    """What the module's main() prints for these arguments; an exception it raises becomes a failed answer of one
    line, as it would in a module process (never a traceback from the action)."""
    out = io.StringIO()
    with patch_module_args(module_args), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass  # exit_json / fail_json end the module; its answer is what it printed
        except Exception as exc:  # noqa: BLE001 - the module's bug is this task's failure, not the worker's
            return json.dumps({"failed": True, "changed": False, "msg": "%s: %s: %s" % (module_name, type(exc).__name__, exc)})
    return out.getvalue()


def runs_here(action, task_vars):
    """Whether the action's host runs modules on this machine with this Python (local connection and
    ansible_python_interpreter == ansible_playbook_python, as in the project's inventories), as this user and
    environment: then a module's code can run in the worker instead of a new Python that imports it all again."""
    if getattr(action._connection, "transport", None) != "local" or action._task.delegate_to:  # pylint: disable=protected-access
        return False
    environment = action._task.environment or []  # pylint: disable=protected-access
    if action._play_context.become or any(environment if isinstance(environment, list) else [environment]):  # pylint: disable=protected-access
        return False  # another user or environment: only a module process gets them
    interpreter = action._templar.template((task_vars or {}).get("ansible_python_interpreter") or "")  # pylint: disable=protected-access
    return bool(interpreter) and os.path.abspath(str(interpreter)) == os.path.abspath(sys.executable)


class PlanInWorker(ActionBase):
    """A fix module's task: its --check plan made in the worker when the host runs here, else a module process."""

    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        module_name = self._task.resolved_action
        if self._task.check_mode and module_name.startswith(COLLECTION + ".") and runs_here(self, task_vars):
            result.update(self._plan_here(module_name, dict(self._task.args), task_vars or {}))
        else:
            result.update(self._execute_module(module_name=module_name, module_args=self._task.args, task_vars=task_vars))
        return result

    def _plan_here(self, module_name, module_args, task_vars):
        """The module's answer from its own main(), run in this worker with the arguments a module process gets."""
        self._update_module_args(module_name, module_args, task_vars)
        module = importlib.import_module("ansible_collections.%s.plugins.modules.%s" % tuple(module_name.rsplit(".", 1)))
        # Parsed and cleaned as a module process's answer is (what patch_module_args encodes: the legacy profile).
        answer = self._parse_returned_data({"stdout": printed_answer(module_name, module, module_args), "stderr": ""}, "legacy")
        remove_internal_keys(answer)
        return answer
