# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.incident_record runs on the controller.

The record lives in the incident directory that the sre.incident.timeline callback writes on the controller, so
the record is kept there too, whatever connection the service's host uses; and running it in-process spares an
incident run two module processes.
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.sre.incident.plugins.module_utils.incident_record import ARGUMENT_SPEC, LIMITS, record
from ansible_collections.sre.incident.plugins.module_utils.incident_store import IncidentStoreError
from ansible_collections.sre.incident.plugins.module_utils.validate import input_problems


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problems = input_problems(ARGUMENT_SPEC, self._task.args, params, LIMITS)  # as the module's StrictModule does
        if problems:
            raise AnsibleActionFail(problems[0])
        try:
            result.update(record(params, self._task.check_mode))
        except IncidentStoreError as exc:
            raise AnsibleActionFail(str(exc))
        return result
