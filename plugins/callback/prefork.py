# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: prefork
type: aggregate
short_description: Ready the controller for the task workers it forks - an incident run's tasks start faster
version_added: 0.1.0
description:
  - ansible-core runs every task in a new worker process forked from the controller. This callback changes no
    output and no behaviour; it makes each worker cheaper, before the first task and again when a play starts.
  - It loads the Jinja filter and test plugins (ansible.builtin's and this collection's), this collection's lookup
    plugins and builds Jinja's lexer once in the controller, so that no worker loads them for itself when it first
    evaluates a condition or a template.
  - It moves what the controller holds at that point (the parsed playbook, plugins, inventory) out of the garbage
    collector's view with Python's C(gc.freeze), as Python's documentation advises before forking; a worker's
    collections then neither walk nor copy the memory it shares with the controller. Objects frozen this way are
    never collected; they are the ones that live until the end of the run anyway.
  - Measured on the lab (2 cores, runs interleaved), C(redis_down.yml --check) (about 30 tasks) ran about 0.25 s
    faster from the loading and 0.1 to 0.2 s more from the freezing.
  - When a play is an incident's (it has C(incident_type)), it also imports boto3 (through the collection's AWS
    module_utils) once in the controller, so that the workers that read and plan in-process start with it.
  - Anything it cannot do is left as it would be without it.
author:
  - sre.incident maintainers (@sre-incident)
requirements:
  - Enable it in ansible.cfg (C(callbacks_enabled = sre.incident.timeline, sre.incident.prefork)).
"""

import gc
import importlib
import os

from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, lookup_loader, test_loader
from ansible.template import Templar

COLLECTION = "sre.incident"
PLUGINS_DIR = os.path.join(os.path.dirname(__file__), "..")
# The lookups this collection's roles use from ansible.builtin; the collection's own are all loaded.
BUILTIN_LOOKUPS = ("ansible.builtin.env", "ansible.builtin.file")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "sre.incident.prefork"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook):
        try:
            list(filter_loader.all())
            list(test_loader.all())
            for name in self._own("filter"):
                filter_loader.get(name)
            for name in self._own("lookup") + BUILTIN_LOOKUPS:
                lookup_loader.get(name, class_only=True)
            Templar(loader=playbook.get_loader(), variables={"names": ["x"]}).template("{{ names | length > 0 and names is defined }}")
        except Exception as exc:  # noqa: BLE001 - a speed-up only: whatever fails here, each worker loads for itself
            self._display.vvv("sre.incident.prefork: %s: %s" % (type(exc).__name__, exc))
        gc.freeze()

    @staticmethod
    def _own(plugin_type):
        """This collection's plugins of a type, by FQCN."""
        directory = os.path.join(PLUGINS_DIR, plugin_type)
        return tuple("%s.%s" % (COLLECTION, name[:-3]) for name in sorted(os.listdir(directory))
                     if name.endswith(".py") and not name.startswith("_"))

    def v2_playbook_on_play_start(self, play):
        if "incident_type" in (play.vars or {}):
            try:  # an incident play reads and plans in its workers: each would import boto3 for itself
                importlib.import_module("ansible_collections.sre.incident.plugins.module_utils.aws")
            except Exception as exc:  # noqa: BLE001 - a speed-up only: without boto3 here, a worker imports it
                self._display.vvv("sre.incident.prefork: %s: %s" % (type(exc).__name__, exc))
        gc.freeze()  # the play's compiled task list, too
