# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datadog API access for sre.incident modules: keys, site/URL, timeouts and error lines, written once."""

from __future__ import annotations

import os
import re

try:
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.exceptions import ApiException, OpenApiException
    from datadog_api_client.rest import ClientRetry
    HAS_DATADOG = True
    DATADOG_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover
    HAS_DATADOG = False
    DATADOG_IMPORT_ERROR = exc

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.sre.incident.plugins.module_utils.common import (
    DEADLINE_ARGUMENT_SPEC,
    DeadlinePassed,
    bounded,
    check_deadline,
    time_left,
)

DATADOG_ARGUMENT_SPEC = dict(
    api_key=dict(type="str", no_log=True),
    app_key=dict(type="str", no_log=True),
    api_url=dict(type="str"),
    site=dict(type="str", default="datadoghq.com"),
    request_timeout=dict(type="float", default=10),
    **DEADLINE_ARGUMENT_SPEC
)


def datadog_argument_spec(**extra):
    spec = dict(DATADOG_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def api_client(module):
    """An ApiClient configured from the module's options (or DD_* environment); fails with a clear line."""
    if not HAS_DATADOG:
        module.fail_json(msg=missing_required_lib("datadog-api-client"), exception=str(DATADOG_IMPORT_ERROR))
    check_deadline(module, "Datadog")
    params = module.params
    api_key = params.get("api_key") or os.environ.get("DD_API_KEY")
    app_key = params.get("app_key") or os.environ.get("DD_APP_KEY")
    if not api_key or not app_key:
        module.fail_json(msg="Datadog: api_key and app_key are required (options or DD_API_KEY / DD_APP_KEY)")
    site = os.environ.get("DD_SITE") or params.get("site") or "datadoghq.com"
    url = (params.get("api_url") or os.environ.get("DD_API_URL") or "https://api.%s" % site).rstrip("/")
    configuration = _BoundedConfiguration(params, host=url, request_timeout=params["request_timeout"],
                                          retry_policy=_bounded_retry(params))
    # The typed models' return-type checking costs ~9 ms per query response here (a fleet triage reads hundreds);
    # the answers are only summarised, so the plain deserialisation is enough.
    configuration.check_return_type = False
    configuration.api_key["apiKeyAuth"] = api_key
    configuration.api_key["appKeyAuth"] = app_key
    return ApiClient(configuration), url


if HAS_DATADOG:
    class _BoundedConfiguration(Configuration):
        """Each request's timeout (read at every call) is at most the time left before the run's deadline."""

        def __init__(self, params, **kwargs):
            self._params = params
            super().__init__(**kwargs)

        @property
        def request_timeout(self):
            left = time_left(self._params)
            if left is not None and left <= 0:
                raise DeadlinePassed(-left)
            return bounded(self._request_timeout, self._params)

        @request_timeout.setter
        def request_timeout(self, value):
            self._request_timeout = value

    class _BoundedRetry(ClientRetry):
        """Datadog's retry, whose rate-limit waits (X-RateLimit-Reset) end before the run's deadline."""

        def __init__(self, *args, params=None, **kwargs):
            self._params = params
            super().__init__(*args, **kwargs)

        def new(self, **kwargs):
            kwargs.setdefault("params", self._params)
            return super().new(**kwargs)

        def get_retry_after(self, response):
            after = super().get_retry_after(response)
            return after if after is None else bounded(after, self._params)


def _bounded_retry(params):
    # Throttling and a refused connection are retried; a timed-out request is not: a hang repeats far more often
    # than it clears, and three of them made one query take half a minute.
    return _BoundedRetry(total=2, connect=1, read=0, other=0, backoff_factor=2, params=params)


_TIMEOUT_SECONDS = re.compile(r"(?:read|connect) timeout=([0-9.]+)")


def describe_network_error(exc, where):
    """Timed out, refused, DNS or TLS - each said as what it is; None when exc is none of these."""
    if isinstance(exc, DeadlinePassed):
        return "%s: %s" % (where, exc)
    reason = getattr(exc, "reason", None) if type(exc).__name__ == "MaxRetryError" else exc
    reason = reason if reason is not None else exc
    name, text = type(reason).__name__, str(reason)
    lowered = text.lower()
    if name in ("ReadTimeoutError", "ConnectTimeoutError", "TimeoutError", "timeout") or "timed out" in lowered:
        seconds = _TIMEOUT_SECONDS.search(text)
        after = " after %g s" % round(float(seconds.group(1)), 1) if seconds else ""
        return "%s: timed out%s (request_timeout) - the API is slow or unreachable" % (where, after)
    if name == "NameResolutionError" or "name or service not known" in lowered or "failed to resolve" in lowered:
        return "%s: DNS lookup failed - check api_url/site and the resolver" % where
    if name == "SSLError" or "ssl" in lowered or "certificate" in lowered:
        return "%s: TLS handshake failed (%s) - check api_url and the CA bundle" % (where, _last_line(text))
    if "refused" in lowered:
        return "%s: cannot reach the API (connection refused) - check api_url/site and the network" % where
    if name in ("NewConnectionError", "ProtocolError", "MaxRetryError") or "max retries exceeded" in lowered:
        return "%s: cannot reach the API (%s) - check api_url/site and network" % (where, _last_line(text))
    return None


def _last_line(text):
    """urllib3 puts the reason last (an SSLError arrives as "SSLError\n<reason>")."""
    return text.splitlines()[-1].strip() if text else ""


def describe_error(exc, url, call):
    """One line naming Datadog, the call and the reason; never the keys."""
    where = "Datadog %s %s" % (url, call)
    if HAS_DATADOG and isinstance(exc, ApiException) and getattr(exc, "status", None) == 0:
        return describe_network_error(Exception(getattr(exc, "reason", "") or str(exc)), where) or "%s: %s" % (where, exc)
    if HAS_DATADOG and isinstance(exc, ApiException):
        status = getattr(exc, "status", None)
        if status in (401, 403):
            return "%s: HTTP %s - the API or application key is wrong or lacks the scope for this call" % (where, status)
        if status == 429:
            return "%s: HTTP 429 - rate limited after retries; retry in a minute" % where
        return "%s: HTTP %s %s" % (where, status, (getattr(exc, "reason", "") or "").strip())
    network = describe_network_error(exc, where)
    if network:
        return network
    text = str(exc)
    if HAS_DATADOG and isinstance(exc, OpenApiException):
        return "%s: unexpected answer: %s" % (where, text.splitlines()[0] if text else type(exc).__name__)
    return "%s: %s: %s" % (where, type(exc).__name__, text.splitlines()[0] if text else "")
