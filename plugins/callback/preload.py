# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: preload
type: aggregate
short_description: Load the Jinja filters and tests once in the controller, before the first task
version_added: 0.1.0
description:
  - ansible-core runs every task in a new worker process forked from the controller. A worker that evaluates a
    condition or a template loads the Jinja filter and test plugins (ansible.builtin's and this collection's) and
    builds Jinja's lexer for itself, unless the controller already had them when it forked. This callback has the
    controller load them once, when the playbook starts, so every worker inherits them.
  - Measured on the lab (2 cores) - C(redis_down.yml --check), about 38 tasks, ran about 0.2 s faster.
  - It changes no output and no behaviour; anything it cannot load is left to the workers, as without it.
author:
  - sre.incident maintainers (@sre-incident)
requirements:
  - Enable it in ansible.cfg (C(callbacks_enabled = sre.incident.timeline, sre.incident.preload)).
"""

import os

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, test_loader
from ansible.template import Templar

COLLECTION = "sre.incident"
FILTER_DIR = os.path.join(os.path.dirname(__file__), "..", "filter")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "sre.incident.preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        try:
            list(filter_loader.all())
            list(test_loader.all())
            for file_name in sorted(os.listdir(FILTER_DIR)):
                if file_name.endswith(".py") and not file_name.startswith("_"):
                    filter_loader.get("%s.%s" % (COLLECTION, file_name[:-3]))
            Templar(loader=playbook.get_loader(), variables={"names": ["x"]}).template("{{ names | length > 0 and names is defined }}")
        except Exception as exc:  # noqa: BLE001 - a speed-up only: whatever fails here, each worker loads for itself
            self._display.vvv("sre.incident.preload: %s: %s" % (type(exc).__name__, exc))
