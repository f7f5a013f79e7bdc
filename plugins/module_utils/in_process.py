# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a read module's logic (module_utils/steps/<name>.py) in a thread of the worker (run_concurrently's action).

A step gets a stand-in for AnsibleModule: its arguments are checked against the module's own SPEC by ansible's
ArgumentSpecValidator (same types, defaults, aliases, required_* rules and no_log options as the module), and
exit_json / fail_json raise StepExit instead of printing and exiting, so one step's answer never ends the others.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible_collections.sre.incident.plugins.module_utils.validate import input_problems

COLLECTION = "sre.incident"

# The collection's read modules whose logic (module_utils/steps/<name>.py) can run in a thread of the worker.
IN_PROCESS = frozenset((
    "cloudwatch_logs_insights_query", "cloudwatch_logs_search", "datadog_metric_query", "ecs_service_info", "elasticache_info",
    "http_probe", "postgres_activity_info", "redis_probe", "s3_heapdump_info", "ssm_parameter_info",
))


def short_name(module_name):
    """'sre.incident.redis_probe' -> 'redis_probe' when it can run in-process, else None."""
    prefix = COLLECTION + "."
    if module_name.startswith(prefix) and module_name[len(prefix):] in IN_PROCESS:
        return module_name[len(prefix):]
    return None


def load(name):
    """The steps/<name>.py of one IN_PROCESS module, imported only when a step uses it (each pulls in its
    backend's client library: boto3, psycopg, redis)."""
    if name not in IN_PROCESS:
        raise KeyError(name)
    return importlib.import_module("ansible_collections.sre.incident.plugins.module_utils.steps." + name)


_RULES = ("mutually_exclusive", "required_together", "required_one_of", "required_if", "required_by")


class StepExit(Exception):
    """A step's final answer: what its module would have returned."""

    def __init__(self, result):
        super().__init__(result.get("msg", ""))
        self.result = result


class StepModule:
    """The part of AnsibleModule a step's run(module) uses: params, check_mode, exit_json, fail_json."""

    def __init__(self, name, spec, args, check_mode):
        validator = ArgumentSpecValidator(spec["argument_spec"], **{rule: spec[rule] for rule in _RULES if spec.get(rule)})
        try:
            validation = validator.validate(args)
        except OverflowError:  # ansible's int conversion of an infinite float; input_problems names the option
            validation = None
        # Secrets (no_log options) are known even when validation fails, so they can be masked either way.
        self.no_log_values = set(validation._no_log_values) if validation else set()  # pylint: disable=protected-access
        # A copy: the spec's default lists and dicts would otherwise be shared by every step that uses them.
        self.params = copy.deepcopy(validation.validated_parameters) if validation else {}
        self.check_mode = check_mode
        # The first error, in AnsibleModule's words: a step answers exactly as its module process would.
        self._errors = []
        if validation and validation.error_messages:
            message = validation.errors.msg
            if isinstance(validation.errors[0], UnsupportedError):
                message = "Unsupported parameters for (%s) module: %s" % (name, message)
            self._errors = ["%s: %s" % (name, message)]
        if not self._errors:  # the same strict inputs as the module itself (StrictModule)
            self._errors = ["%s: %s" % (name, message)
                            for message in input_problems(spec["argument_spec"], args, self.params, spec.get("limits") or {})][:1]

    def check_arguments(self):
        if self._errors:
            self.fail_json(msg="; ".join(self._errors))

    def exit_json(self, **result):
        result.setdefault("changed", False)
        raise StepExit(result)

    def fail_json(self, msg, **result):
        result.update(failed=True, msg=msg)
        result.setdefault("changed", False)
        raise StepExit(result)


def load_or_error(name):
    """load(name), or the exception that stopped it (run_step turns it into that step's failure)."""
    try:
        return load(name)
    except Exception as exc:  # noqa: BLE001 - a broken step is that step's failure, the others still run
        return exc


def run_step(name, step, args, check_mode):
    """(result, no_log_values, seconds) of one step (a loaded steps module, or the exception that stopped its
    loading); any exception becomes a failed result with one line."""
    started = time.monotonic()
    no_log_values = set()
    if isinstance(step, Exception):
        return {"failed": True, "changed": False, "msg": "%s: cannot load its code: %s: %s" % (name, type(step).__name__, step)}, \
            no_log_values, 0.0
    try:
        module = StepModule(name, step.SPEC, args, check_mode)
        no_log_values = module.no_log_values
        module.check_arguments()
        step.run(module)
        result = {"failed": True, "msg": "%s: returned without an answer" % name}
    except StepExit as answer:
        result = answer.result
    except Exception as exc:  # noqa: BLE001 - one step's bug is that step's failure, not a traceback for all
        result = {"failed": True, "changed": False, "msg": "%s: %s: %s" % (name, type(exc).__name__, exc)}
    return result, no_log_values, round(time.monotonic() - started, 2)


def run_steps(steps, check_mode, max_workers, loading=None):
    """[(answer, seconds)] of steps given as [(module name, args)], run in threads of this process. Their code is
    loaded one after another first (inside `loading`, a lock for example, when given): each pulls in its client
    library, and imports do not overlap usefully. Each answer is masked with its own step's no_log values, as its
    module would have masked it."""
    with loading or contextlib.nullcontext():
        loaded = [load_or_error(short_name(name)) for name, _args in steps]
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(steps)))) as pool:
        answers = list(pool.map(lambda pair: run_step(pair[0][0], pair[1], pair[0][1], check_mode), zip(steps, loaded)))
    return [(remove_values(result, secrets), seconds) for result, secrets, seconds in answers]
