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
  - sre.incident.read_only
options:
  urls:
    description:
      - 'Endpoints to check, by name, for example C({"stripe": "https://api.stripe.com/v1/health"}).'
    type: dict
    required: true
  healthy_status:
    description: Status codes that count as healthy.
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

import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError


def check(url, params):
    started = time.perf_counter()
    outcome = dict(url=url, status=None, healthy=False, latency_ms=None, error=None, body="")
    try:
        response = open_url(url, method="GET", timeout=params["timeout"], validate_certs=params["validate_certs"],
                            follow_redirects="safe")
        outcome["status"], body = response.getcode(), response.read(200)
    except HTTPError as exc:
        outcome["status"], body = exc.code, exc.read(200) if hasattr(exc, "read") else b""
    except Exception as exc:  # noqa: BLE001 - an unreachable dependency is the finding
        outcome["error"] = "%s: %s" % (type(exc).__name__, exc)
        body = b""
    outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    outcome["body"] = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    outcome["healthy"] = outcome["status"] in params["healthy_status"]
    return outcome


def main():
    module = AnsibleModule(
        argument_spec=dict(
            urls=dict(type="dict", required=True),
            healthy_status=dict(type="list", elements="int", default=[200, 204]),
            timeout=dict(type="float", default=5),
            validate_certs=dict(type="bool", default=True),
            require_healthy=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    urls = module.params["urls"]
    if not urls:
        module.exit_json(changed=False, endpoints={}, unhealthy=[])
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        results = dict(zip(urls, pool.map(lambda url: check(url, module.params), urls.values())))
    unhealthy = sorted(name for name, outcome in results.items() if not outcome["healthy"])
    if unhealthy and module.params["require_healthy"]:
        module.fail_json(msg="HTTP: not healthy: %s" % ", ".join(
            "%s (%s)" % (name, results[name]["status"] or results[name]["error"]) for name in unhealthy),
            endpoints=results, unhealthy=unhealthy)
    module.exit_json(changed=False, endpoints=results, unhealthy=unhealthy)


if __name__ == "__main__":
    main()
