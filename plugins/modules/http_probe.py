#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: http_probe
short_description: Check several HTTP health endpoints at once - status, latency, a short body
version_added: 0.1.0
description:
  - "The runbook's C(curl -i https://api.stripe.com/v1/health) and C(curl https://api.example.com/v1/health) checks,
    for a list of endpoints probed concurrently."
  - An endpoint that fails or answers an unexpected status is a finding, not a module failure (set
    O(require_healthy=true) to fail instead).
  - Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.deadline
  - sre.incident.read_only
  - sre.incident.strict_inputs
options:
  urls:
    description:
      - 'Endpoints to check, by name, for example C({"stripe": "https://api.stripe.com/v1/health"}).'
      - At most 50, each an C(http://) or C(https://) URL with a host.
    type: dict
    required: true
  healthy_status:
    description: Status codes that count as healthy (1 to 20 codes, each 100 to 599).
    type: list
    elements: int
    default: [200, 204]
  timeout:
    description: Seconds allowed per request (connect and read).
    type: float
    default: 5
  validate_certs:
    description: Verify TLS certificates.
    type: bool
    default: true
  require_healthy:
    description: Fail when any endpoint is not healthy.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Check external dependencies
  sre.incident.http_probe:
    urls:
      stripe: https://api.stripe.com/v1/health
      sendgrid: https://api.sendgrid.com/v3/health
  register: dependencies
"""

RETURN = r"""
endpoints:
  description: By name - url, status (null when no answer), healthy, latency_ms, error, body (first 200 characters).
  returned: always
  type: dict
unhealthy:
  description: Names of the endpoints that are not healthy.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.sre.incident.plugins.module_utils.steps import http_probe as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
