# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet_queries
short_description: Every service's named queries (or URLs) in one dict, keyed C(<service>|<name>)
version_added: 0.1.0
description:
  - Collects a per-host dict variable (for example C(triage_metric_queries)) from every host of the play into one
    dict whose keys are C(<host>|<name>), so that one read (one Datadog call, one probe) serves the whole fleet;
    M(sre.incident.datadog_metric_query) runs the queries concurrently.
  - A host without the variable uses O(default).
author:
  - sre.incident maintainers (@sre-incident)
positional: hostvars, variable, default
options:
  _input:
    description: The hosts (usually C(ansible_play_hosts)).
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars).
    type: dict
    required: true
  variable:
    description: The per-host variable holding a dict of name to query.
    type: str
    required: true
  default:
    description: The dict for hosts that do not set the variable.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: One Datadog read for every service of the play
  sre.incident.datadog_metric_query:
    queries: "{{ ansible_play_hosts | sre.incident.fleet_queries(hostvars, 'triage_metric_queries', triage_metric_queries) }}"
  run_once: true
"""

RETURN = r"""
_value:
  description: C(<host>|<name>) to query.
  type: dict
"""


def fleet_queries(hosts, hostvars, variable, default=None):
    merged = {}
    for host in hosts or []:
        own = hostvars[host].get(variable) if variable in hostvars[host] else None
        for name, query in (own if isinstance(own, dict) else (default or {})).items():
            merged["%s|%s" % (host, name)] = query
    return merged


class FilterModule:
    def filters(self):
        return {"fleet_queries": fleet_queries}
