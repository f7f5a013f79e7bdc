# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run independent read steps (modules) at the same time, for a diagnosis measured in seconds.

Each step is executed exactly as a task would execute it (_execute_module: same check mode, interpreter,
no_log handling); only the waiting overlaps. module_defaults of this collection's action groups, and
module_defaults keyed by a step's module name, apply to the steps as they would to tasks.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

COLLECTION = "sre.incident"
RUNTIME_YML = os.path.join(os.path.dirname(__file__), "..", "..", "meta", "runtime.yml")

STEP_SPEC = dict(
    id=dict(type="str", required=True),
    name=dict(type="str", required=True),
    module=dict(type="str", required=True),
    args=dict(type="dict", default={}),
)


def _action_groups():
    """{'sre.incident.elasticache_info': ['sre.incident.aws'], ...} from this collection's meta/runtime.yml."""
    with open(RUNTIME_YML) as handle:
        groups = (yaml.safe_load(handle) or {}).get("action_groups") or {}
    membership = {}
    for group, actions in groups.items():
        for action in actions:
            if isinstance(action, str):
                membership.setdefault("%s.%s" % (COLLECTION, action), []).append("%s.%s" % (COLLECTION, group))
    return membership


class ActionModule(ActionBase):
    """Steps share one lock for everything done in this process (building the module, templating, parsing
    its answer: CPython's compiler is not safe to use from several threads at once); it is released only
    while a step's module process runs, which is the part worth overlapping."""

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("steps", "max_workers"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._controller_lock = threading.Lock()
        self._holding = threading.local()

    def _low_level_execute_command(self, *args, **kwargs):
        if not getattr(self._holding, "lock", False):
            return super()._low_level_execute_command(*args, **kwargs)
        self._controller_lock.release()
        try:
            return super()._low_level_execute_command(*args, **kwargs)
        finally:
            self._controller_lock.acquire()

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=dict(
            steps=dict(type="list", elements="dict", required=True, options=STEP_SPEC),
            max_workers=dict(type="int", default=4),
        ))
        steps = args["steps"]
        ids = [step["id"] for step in steps]
        if len(set(ids)) != len(ids):
            raise AnsibleActionFail("steps: every id must be unique (got %s)" % ", ".join(ids))
        unqualified = [step["module"] for step in steps if step["module"].count(".") < 2]
        if unqualified:
            raise AnsibleActionFail("steps: modules must be fully qualified, e.g. ansible.builtin.uri (got %s)" % ", ".join(unqualified))

        groups = _action_groups()
        omit = (task_vars or {}).get("omit")
        calls = [(step, self._with_defaults(step["module"], step["args"], groups, omit)) for step in steps]

        # Threads share this action's connection; that is only safe when modules are piped to the
        # interpreter (no remote temp directory to share). Otherwise run the steps one after another.
        workers = args["max_workers"] if self._is_pipelining_enabled("new") else 1
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(calls)))) as pool:
            answers = list(pool.map(lambda call: self._run_step(call[0], call[1], task_vars), calls))

        result["by_id"] = {step["id"]: answer for (step, _args), answer in zip(calls, answers)}
        result["steps"] = [{"id": step["id"], "name": step["name"], "failed": bool(answer.get("failed")),
                            "seconds": answer.pop("_step_seconds"), "msg": answer.get("msg")}
                           for (step, _args), answer in zip(calls, answers)]
        result["changed"] = any(answer.get("changed") for answer in answers)
        failed = [line for line in result["steps"] if line["failed"]]
        if failed:
            result["failed"] = True
            result["msg"] = "; ".join("%s: %s" % (line["name"], line["msg"] or "failed") for line in failed)
        else:
            result["msg"] = ", ".join("%s (%.1fs)" % (line["name"], line["seconds"]) for line in result["steps"])
        return result

    def _with_defaults(self, module, step_args, groups, omit):
        merged = {}
        defaults = {}
        for layer in self._task.module_defaults or []:
            defaults.update(layer)
        for group in groups.get(module, []):
            merged.update(defaults.get("group/%s" % group) or {})
        merged.update(defaults.get(module) or {})
        merged = self._templar.template(merged) if merged else {}
        merged.update(step_args)
        return {key: value for key, value in merged.items() if value != omit}

    def _run_step(self, step, module_args, task_vars):
        started = time.monotonic()
        try:
            with self._controller_lock:
                self._holding.lock = True
                try:
                    answer = self._execute_module(module_name=step["module"], module_args=module_args, task_vars=task_vars)
                finally:
                    self._holding.lock = False
        except Exception as exc:  # noqa: BLE001 - one step's failure is reported with the others, not raised
            answer = {"failed": True, "msg": "%s: %s" % (type(exc).__name__, exc)}
        answer = dict(answer)
        answer["_step_seconds"] = round(time.monotonic() - started, 2)
        return answer
