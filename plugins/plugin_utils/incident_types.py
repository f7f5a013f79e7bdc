# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident types of playbooks/vars/incident_types.yml, for the controller-side plugins and scripts."""

from __future__ import annotations

import functools
import os

import yaml

REGISTRY = os.path.join(os.path.dirname(__file__), "..", "..", "playbooks", "vars", "incident_types.yml")
TESTS = ("below", "above", "at_most", "unhealthy")


@functools.lru_cache(maxsize=None)
def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["incident_types"]


def incident_types(path=None):
    """Type name -> its entry, in the order triage tries them."""
    return _load(os.path.abspath(path or REGISTRY))


def matches(rule, value, options):
    """Whether a symptom rule holds for a value: (True, limit) or (False, limit); None never matches but unhealthy."""
    if rule.get("unhealthy"):
        return value is None or value >= 500, None
    test = next(name for name in TESTS if name in rule)
    limit = rule[test]
    limit = options[limit] if isinstance(limit, str) else limit
    if value is None:
        return False, limit
    return {"below": value < limit, "above": value > limit, "at_most": value <= limit}[test], limit
