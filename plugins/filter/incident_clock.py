# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import time

from ansible_collections.sre.incident.plugins.module_utils.common import to_epoch

DOCUMENTATION = r"""
name: incident_clock
short_description: The times an incident's messages and post-mortem show - detected, resolved, duration, next update
version_added: 0.1.0
description:
  - Reads the ISO 8601 (or epoch) times of an incident record and returns them as the runbook writes them
    (C(2025-11-19 10:30), UTC) with the derived numbers - duration, minutes open, minutes since the last update
    posted, detection-to-acknowledgement delay and the time of the next update.
author:
  - sre.incident maintainers (@sre-incident)
positional: update_every_minutes
options:
  _input:
    description: The incident record.
    type: dict
    required: true
  update_every_minutes:
    description: Interval of the Update messages.
    type: float
    default: 15
  now:
    description: Epoch seconds to compute at (default now).
    type: float
"""

EXAMPLES = r"""
- name: Times for the resolution message
  ansible.builtin.set_fact:
    comms_clock: "{{ incident | sre.incident.incident_clock(15) }}"
"""

RETURN = r"""
_value:
  description: now, detected, acknowledged, resolved (C(YYYY-MM-DD HH:MM) or null), detected_epoch, now_hhmm, next_update (C(HH:MM)),
    duration_minutes, minutes_open, ack_delay_minutes, minutes_since_update (null when nothing was posted yet).
  type: dict
"""


def _show(epoch, fmt="%Y-%m-%d %H:%M"):
    return None if epoch is None else time.strftime(fmt, time.gmtime(epoch))


def _minutes(start, end):
    return None if start is None or end is None else int(round((end - start) / 60.0))


def incident_clock(record, update_every_minutes=15, now=None):
    record = record or {}
    now = time.time() if now is None else float(now)
    detected = to_epoch(record.get("detected_at"))
    acknowledged = to_epoch(record.get("acknowledged_at"))
    resolved = to_epoch(record.get("resolved_at"))
    posted = [to_epoch(item.get("at")) for item in record.get("notifications") or []
              if isinstance(item, dict) and item.get("kind") in ("initial", "update")]
    posted = [value for value in posted if value is not None]
    return {
        "now": _show(now),
        "now_hhmm": _show(now, "%H:%M"),
        "detected": _show(detected),
        "detected_epoch": detected,
        "acknowledged": _show(acknowledged),
        "resolved": _show(resolved),
        "next_update": _show(now + float(update_every_minutes) * 60, "%H:%M"),
        "duration_minutes": _minutes(detected, resolved if resolved is not None else now),
        "minutes_open": None if resolved is not None else _minutes(detected, now),
        "ack_delay_minutes": _minutes(detected, acknowledged),
        "minutes_since_update": _minutes(max(posted), now) if posted else None,
    }


class FilterModule:
    def filters(self):
        return {"incident_clock": incident_clock}
