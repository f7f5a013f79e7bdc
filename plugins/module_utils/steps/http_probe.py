# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.http_probe - Check several HTTP health endpoints at once - status, latency, a short body.

Its logic (SPEC and run(module)); plugins/modules/http_probe.py holds the documentation and main()."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.urls import open_url
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible_collections.sre.incident.plugins.module_utils.common import DEADLINE_ARGUMENT_SPEC, bounded
from ansible_collections.sre.incident.plugins.module_utils.http_errors import describe_network_error
from ansible_collections.sre.incident.plugins.module_utils.validate import Each, Mapping, Text, Url, Whole

SPEC = dict(
    argument_spec=dict(
        urls=dict(type="dict", required=True),
        healthy_status=dict(type="list", elements="int", default=[200, 204]),
        timeout=dict(type="float", default=5),
        validate_certs=dict(type="bool", default=True),
        require_healthy=dict(type="bool", default=False),
        **DEADLINE_ARGUMENT_SPEC
    ),
    supports_check_mode=True,
    limits=dict(urls=Mapping(Text(None, "a name of at most 100 characters", max_length=100), Url(), max_items=50),
                healthy_status=Each(Whole(100, 599), max_items=20, min_items=1)),
)


def check(url, params):
    started = time.perf_counter()
    outcome = dict(url=url, status=None, healthy=False, latency_ms=None, error=None, body="")
    timeout = bounded(params["timeout"], params)
    try:
        response = open_url(url, method="GET", timeout=timeout, validate_certs=params["validate_certs"],
                            follow_redirects="safe")
        outcome["status"], body = response.getcode(), response.read(200)
    except HTTPError as exc:
        outcome["status"], body = exc.code, exc.read(200) if hasattr(exc, "read") else b""
    except Exception as exc:  # noqa: BLE001 - an unreachable dependency is the finding
        outcome["error"] = describe_network_error("HTTP GET %s" % url, exc, timeout, "the URL") or "%s: %s" % (type(exc).__name__, exc)
        body = b""
    outcome["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
    outcome["body"] = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    outcome["healthy"] = outcome["status"] in params["healthy_status"]
    return outcome


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
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
