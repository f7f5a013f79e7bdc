# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - datadog-api-client >= 2.20
options:
  api_key:
    description:
      - Datadog API key. Falls back to E(DD_API_KEY). Never logged.
    type: str
  app_key:
    description:
      - Datadog application key. Falls back to E(DD_APP_KEY). Never logged.
    type: str
  api_url:
    description:
      - Datadog API base URL, for example C(https://api.datadoghq.eu) or the lab's emulator.
      - Falls back to E(DD_API_URL), then to C(https://api.) followed by O(site).
    type: str
  site:
    description:
      - Datadog site used when O(api_url) is not set. Falls back to E(DD_SITE).
    type: str
    default: datadoghq.com
  request_timeout:
    description:
      - Seconds allowed for each Datadog API request, connection included; more than 0 and at most 300. A request
        that times out is not retried (throttling, 5xx and one refused connection are).
    type: float
    default: 10
"""
