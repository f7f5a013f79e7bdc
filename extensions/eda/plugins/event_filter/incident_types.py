# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-rulebook event filter: adds the collection's incident types to each event, as
event.sre_incident_types = {types: [...], names: {alert name: type}, keywords: [[type, [word, ...]], ...]}.

rulebooks/alerts.yml maps an alert to its incident with them: the registry (playbooks/vars/incident_types.yml)
stays the one list, and a rulebook has no lookups of its own to read it with. Keywords keep the registry's order
(the first type with a word in the alert's title wins).
"""

from __future__ import annotations

import functools
import os

import yaml

REGISTRY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "playbooks", "vars", "incident_types.yml")


@functools.lru_cache(maxsize=None)
def _table(path):
    with open(path, encoding="utf-8") as handle:
        types = yaml.safe_load(handle)["incident_types"]
    return {
        "types": list(types),
        "names": {name: type_name for type_name, entry in types.items() for name in entry.get("alert_names") or []},
        "keywords": [[type_name, [str(word).lower() for word in entry.get("alert_keywords") or []]] for type_name, entry in types.items()],
    }


def main(event: dict, registry: str = "") -> dict:
    """The event with sre_incident_types added (registry: another registry file, for tests)."""
    event["sre_incident_types"] = _table(os.path.abspath(registry or REGISTRY))
    return event
