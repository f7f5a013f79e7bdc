# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PagerDuty Events API v2 for sre.incident modules: routing key, URL, timeout and error lines, written once.

Hand-written on ansible-core's open_url rather than PagerDuty's Python client (``pagerduty``, formerly pdpyras):
the Events API v2 is one JSON POST to /v2/enqueue, open_url already brings proxies, TLS settings and timeouts,
and the client retries HTTP 429 indefinitely by default, which would break the promise that a module ends
within its timeout with a readable line. No extra dependency for the controller or the execution environment.
"""

from __future__ import annotations

import json

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.urls import open_url
from ansible_collections.sre.incident.plugins.module_utils.common import DEADLINE_ARGUMENT_SPEC, bounded, check_deadline
from ansible_collections.sre.incident.plugins.module_utils.http_errors import describe_network_error as _network_error

PAGERDUTY_ARGUMENT_SPEC = dict(
    routing_key=dict(type="str", no_log=True, fallback=(env_fallback, ["PAGERDUTY_ROUTING_KEY"])),
    api_url=dict(type="str", default="https://events.pagerduty.com"),
    timeout=dict(type="float", default=10),
    validate_certs=dict(type="bool", default=True),
    **DEADLINE_ARGUMENT_SPEC
)

CALL = "Events API v2 enqueue"


def pagerduty_argument_spec(**extra):
    spec = dict(PAGERDUTY_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def check_settings(module):
    """Fails early (in check mode too) when the routing key or the timeout cannot work."""
    if not module.params.get("routing_key"):
        module.fail_json(msg="PagerDuty: a routing key is required (option routing_key or PAGERDUTY_ROUTING_KEY)")
    if module.params["timeout"] <= 0:
        module.fail_json(msg="option timeout: must be greater than zero")
    check_deadline(module, "PagerDuty")


def enqueue(module, event):
    """POSTs one event (a dict without the routing key) and returns PagerDuty's answer as a dict.

    Any failure ends the module with one line naming PagerDuty, the call and the URL; never the routing key.
    """
    params = module.params
    url = params["api_url"].rstrip("/")
    where = "PagerDuty %s at %s" % (CALL, url)
    body = dict(event, routing_key=params["routing_key"])
    check_deadline(module, where)
    timeout = bounded(params["timeout"], params)
    try:
        response = open_url(url + "/v2/enqueue", method="POST", data=json.dumps(body),
                            headers={"Content-Type": "application/json", "Accept": "application/json"},
                            timeout=timeout, validate_certs=params["validate_certs"],
                            follow_redirects="none")
        status, text = response.getcode(), response.read()
    except HTTPError as exc:
        module.fail_json(msg=describe_http_error(where, exc.code, _read(exc), exc.headers))
    except Exception as exc:  # noqa: BLE001 - becomes one readable line
        module.fail_json(msg=describe_network_error(where, exc, timeout))
    answer = _json(text)
    if status not in (200, 201, 202) or answer.get("status") != "success":
        module.fail_json(msg="%s: unexpected answer (HTTP %s): %s" % (where, status, _brief(answer, text)))
    return answer


def describe_http_error(where, status, text, headers=None):
    answer = _json(text)
    errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
    if status == 429:
        after = headers.get("Retry-After") if headers is not None else None
        return "%s: rate limited (HTTP 429) - PagerDuty throttles events per routing key; retry %s" % (
            where, "after %s s" % after if after else "in a minute")
    if status == 400:
        reasons = "; ".join(str(e) for e in errors) or answer.get("message") or "invalid event"
        hint = ""
        if any("routing key" in str(e).lower() or "routing_key" in str(e).lower() for e in errors):
            hint = " - check the routing key (the service's Events API v2 integration key)"
        return "%s: HTTP 400 invalid event: %s%s" % (where, reasons, hint)
    if status in (401, 403):
        return "%s: HTTP %s - PagerDuty refused the event - check the routing key" % (where, status)
    if status == 404:
        return "%s: HTTP 404 - no Events API at this URL - check api_url" % where
    if status >= 500:
        return "%s: HTTP %s - PagerDuty did not accept the event; retry, or page by phone" % (where, status)
    return "%s: HTTP %s %s" % (where, status, _brief(answer, text))


def describe_network_error(where, exc, timeout):
    network = _network_error(where, exc, timeout)
    return network or "%s: %s: %s" % (where, type(exc).__name__, _first_line(str(exc)))


def _read(exc):
    try:
        return exc.read()
    except Exception:  # noqa: BLE001 - no body is fine
        return b""


def _json(text):
    try:
        value = json.loads(to_text(text or b"", errors="surrogate_or_replace"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _brief(answer, text):
    if answer:
        return answer.get("message") or json.dumps(answer)[:200]
    return _first_line(to_text(text or b"", errors="surrogate_or_replace"))[:200] or "(empty body)"


def _first_line(text):
    return text.splitlines()[0] if text else ""
