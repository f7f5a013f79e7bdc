# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  routing_key:
    description:
      - Integration key (routing key) of the PagerDuty service or event orchestration the event goes to.
      - Falls back to E(PAGERDUTY_ROUTING_KEY). Never logged nor returned.
      - Required, also in check mode.
    type: str
  api_url:
    description:
      - Base URL of the PagerDuty Events API v2; events are posted to O(api_url)/v2/enqueue.
      - The lab serves it at its PagerDuty URL.
    type: str
    default: https://events.pagerduty.com
  timeout:
    description:
      - Seconds allowed for the request (connect and read). It is not retried. More than 0 and at most 900.
    type: float
    default: 10
  validate_certs:
    description:
      - Verify the TLS certificate of O(api_url).
    type: bool
    default: true
"""
