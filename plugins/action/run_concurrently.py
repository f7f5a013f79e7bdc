# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run independent read steps (modules) at the same time, for a diagnosis measured in seconds.

This collection's read modules (module_utils/steps) run in threads right in this worker when a module of this
host would run on this machine, with this Python, as this user and environment. Every other step runs through
_execute_module, as a task would (delegate_to a host in the VPC, another Python, become). Either way the steps get
the task's check mode, their own argument checks and no_log masking. module_defaults of this
collection's action groups, and module_defaults keyed by a step's module name, apply to the steps as they would
to tasks.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.sre.incident.plugins.module_utils.in_process import run_steps, short_name
from ansible_collections.sre.incident.plugins.module_utils.validate import input_problems
from ansible_collections.sre.incident.plugins.plugin_utils.in_worker import runs_here
from ansible_collections.sre.incident.plugins.modules.run_concurrently import ARGUMENT_SPEC, LIMITS

COLLECTION = "sre.incident"
RUNTIME_YML = os.path.join(os.path.dirname(__file__), "..", "..", "meta", "runtime.yml")


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
    _VALID_ARGS = frozenset(("steps", "max_workers", "known_results", "continue_on_failure"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._controller_lock = threading.Lock()
        self._holding = threading.local()
        self._templated_defaults = {}

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
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problems = input_problems(ARGUMENT_SPEC, self._task.args, args, LIMITS)
        if problems:
            raise AnsibleActionFail("; ".join(problems))
        steps = args["steps"]
        ids = [step["id"] for step in steps]
        if len(set(ids)) != len(ids):
            raise AnsibleActionFail("steps: every id must be unique (got %s)" % ", ".join(ids))
        known = {step_id: answer for step_id, answer in args["known_results"].items() if step_id in ids}
        unqualified = [step["module"] for step in steps if step["module"].count(".") < 2]
        if unqualified:
            raise AnsibleActionFail("steps: modules must be fully qualified, e.g. ansible.builtin.uri (got %s)" % ", ".join(unqualified))

        groups = _action_groups()
        omit = (task_vars or {}).get("omit")
        calls = [(step, self._with_defaults(step["module"], step["args"], groups, omit) if step["id"] not in known else None)
                 for step in steps]

        # This collection's read modules run in threads right here when the host's module would run on this machine
        # with this Python; any other step runs in its own module process, as a task would.
        to_run = [(step, module_args) for step, module_args in calls if step["id"] not in known]
        here_ok = runs_here(self, task_vars)
        here = [(step, module_args) for step, module_args in to_run if here_ok and short_name(step["module"])]
        apart = [(step, module_args) for step, module_args in to_run if not (here_ok and short_name(step["module"]))]
        jobs = [lambda call=call: {call[0]["id"]: self._run_step(call[0], call[1], task_vars)} for call in apart]
        if here:
            jobs.insert(0, lambda: self._run_here(here, args["max_workers"]))

        # Threads share this action's connection; that is only safe when modules are piped to the
        # interpreter (no remote temp directory to share). Otherwise run the jobs one after another.
        workers = args["max_workers"] if self._is_pipelining_enabled("new") else 1
        answered = dict((step["id"], dict({"_step_seconds": 0.0}, **known[step["id"]])) for step in steps if step["id"] in known)
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs) or 1))) as pool:
            for answer in pool.map(lambda job: job(), jobs):
                answered.update(answer)
        answers = [answered[step["id"]] for step, _args in calls]
        for step, _args in apart:
            # A module process refuses its arguments without naming itself; a step run here names it (in_process.py).
            answer = answered[step["id"]]
            if answer.get("failed") and not str(answer.get("msg") or "").startswith(step["module"] + ": "):
                answer["msg"] = "%s: %s" % (step["module"], answer.get("msg") or "failed")

        result["by_id"] = {step["id"]: answer for (step, _args), answer in zip(calls, answers)}
        result["steps"] = [{"id": step["id"], "name": step["name"], "failed": bool(answer.get("failed")),
                            "seconds": answer.pop("_step_seconds"), "msg": answer.get("msg")}
                           for (step, _args), answer in zip(calls, answers)]
        result["changed"] = any(answer.get("changed") for answer in answers)
        failed = [line for line in result["steps"] if line["failed"]]
        result["failed_steps"] = [line["id"] for line in failed]
        if failed:
            # Past the run's deadline nothing more is to be decided from what was read: the task fails anyway.
            deadline = self._defaults_for("group/%s.all" % COLLECTION).get("deadline")
            out_of_time = deadline is not None and time.time() >= float(deadline)
            result["failed"] = not args["continue_on_failure"] or out_of_time
            result["msg"] = "; ".join("%s: %s" % (line["name"], line["msg"] or "failed") for line in failed)
        else:
            result["msg"] = ", ".join("%s (%s)" % (line["name"], "read earlier" if line["id"] in known else "%.1fs" % line["seconds"])
                                      for line in result["steps"])
        return result

    def _with_defaults(self, module, step_args, groups, omit):
        merged = {}
        for key in ["group/%s" % group for group in groups.get(module, [])] + [module]:
            merged.update(self._defaults_for(key))
        merged.update(step_args)
        return {key: value for key, value in merged.items() if value != omit}

    def _defaults_for(self, key):
        """The task's module_defaults for one key (a module name or group/<group>), templated once per task:
        steps of one group share them."""
        if key not in self._templated_defaults:
            value = {}
            for layer in self._task.module_defaults or []:
                value = layer.get(key, value)
            self._templated_defaults[key] = self._templar.template(value) if value else {}
        return self._templated_defaults[key]

    def _run_here(self, calls, max_workers):
        """{id: answer} for steps run in threads of this (worker) process, with the module's own code and checks."""
        answers = run_steps([(step["module"], step_args) for step, step_args in calls], bool(self._task.check_mode), max_workers,
                            loading=self._controller_lock)  # imports under the lock; the reads themselves overlap
        return dict((step["id"], dict(answer, _step_seconds=seconds)) for (step, _args), (answer, seconds) in zip(calls, answers))

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
