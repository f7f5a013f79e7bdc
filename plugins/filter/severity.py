# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: severity
short_description: The runbook's severity decision tree - SEV1 to SEV4 from health and the share of users affected
version_added: 0.1.0
description:
  - Health endpoint down (unreachable or a 5xx) means every user is affected - C(SEV1).
  - Otherwise by the percentage of users affected - at least O(all_users_percent) gives C(SEV1) ("all users"),
    at least O(major_percent) gives C(SEV2) ("> 50 %"; exactly 50 % takes the higher level), above
    O(impact_floor_percent) gives C(SEV3) ("< 50 %"), else C(SEV4) ("no user impact").
  - No impact data and a healthy endpoint gives C(SEV3) with the reason, never a silent SEV4.
  - The level's description, response time and example come from O(levels) (the runbook's table, role data).
author:
  - sre.incident maintainers (@sre-incident)
positional: levels
options:
  _input:
    description: C(health_status) (HTTP status, or null when unreachable) and C(affected_percent) (float or null).
    type: dict
    required: true
  levels:
    description: SEV1..SEV4 to a dict with C(description), C(response_time), C(response_minutes), C(example).
    type: dict
    required: true
  all_users_percent:
    description: Affected share that counts as "all users".
    type: float
    default: 99
  major_percent:
    description: Affected share from which SEV2 applies.
    type: float
    default: 50
  impact_floor_percent:
    description: Affected share at or below which there is no user impact.
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Decide the severity
  ansible.builtin.set_fact:
    triage_severity: "{{ {'health_status': 200, 'affected_percent': 62.5} | sre.incident.severity(triage_severity_levels) }}"
"""

RETURN = r"""
_value:
  description: level (SEV1..SEV4), reason, affected_percent, and the level's description, response_time,
    response_minutes and example.
  type: dict
"""


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def decide(health_status, affected_percent, all_users_percent=99, major_percent=50, impact_floor_percent=0):
    """(level, reason) - the decision tree alone."""
    status = _number(health_status)
    if status is None:
        return "SEV1", "health endpoint unreachable: all users affected"
    if status >= 500:
        return "SEV1", "health endpoint answers %d: all users affected" % status
    affected = _number(affected_percent)
    if affected is None:
        return "SEV3", "health %d but no data on affected users: assume some impact until measured" % status
    if affected >= all_users_percent:
        return "SEV1", "all users affected (%.1f %%)" % affected
    if affected >= major_percent:
        return "SEV2", "more than half of the users affected (%.1f %%)" % affected
    if affected > impact_floor_percent:
        return "SEV3", "fewer than half of the users affected (%.1f %%)" % affected
    return "SEV4", "no user impact (%.1f %% affected)" % affected


def severity(evidence, levels, all_users_percent=99, major_percent=50, impact_floor_percent=0):
    evidence = evidence or {}
    level, reason = decide(evidence.get("health_status"), evidence.get("affected_percent"),
                           all_users_percent, major_percent, impact_floor_percent)
    data = dict((levels or {}).get(level) or {})
    data.update(level=level, reason=reason, affected_percent=_number(evidence.get("affected_percent")))
    return data


class FilterModule:
    def filters(self):
        return {"severity": severity}
