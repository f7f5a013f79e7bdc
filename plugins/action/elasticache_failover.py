# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.elasticache_failover's action: its --check plan made in the worker (plugins/plugin_utils/in_worker.py)."""

from __future__ import annotations

from ansible_collections.sre.incident.plugins.plugin_utils.in_worker import PlanInWorker


class ActionModule(PlanInWorker):
    """The module's --check plan in the worker when its host runs here; otherwise its module process."""
