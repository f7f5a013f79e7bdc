# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - slack_sdk >= 3.27
options:
  token:
    description:
      - Slack bot token (C(xoxb-...)). Falls back to E(SLACK_BOT_TOKEN). Never logged nor returned.
      - Required, also in check mode (a check run proves the real run has what it needs).
    type: str
  api_url:
    description:
      - Base URL of the Slack Web API; methods are called as O(api_url)/<method>.
      - The lab serves it at its Slack URL followed by C(/api).
    type: str
    default: https://slack.com/api
  timeout:
    description:
      - Seconds allowed for each Slack API request (connect and read). Requests are not retried, so a message
        is never posted twice. More than 0 and at most 900.
    type: float
    default: 10
"""
