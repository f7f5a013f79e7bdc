# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Datadog API access for sre.incident modules: keys, site/URL, timeouts and error lines, written once."""

from __future__ import annotations

import os

try:
    from datadog_api_client import ApiClient, Configuration
    from datadog_api_client.exceptions import ApiException, OpenApiException
    HAS_DATADOG = True
    DATADOG_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover
    HAS_DATADOG = False
    DATADOG_IMPORT_ERROR = exc

from ansible.module_utils.basic import missing_required_lib

DATADOG_ARGUMENT_SPEC = dict(
    api_key=dict(type="str", no_log=True),
    app_key=dict(type="str", no_log=True),
    api_url=dict(type="str"),
    site=dict(type="str", default="datadoghq.com"),
    request_timeout=dict(type="float", default=10),
)


def datadog_argument_spec(**extra):
    spec = dict(DATADOG_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def api_client(module):
    """An ApiClient configured from the module's options (or DD_* environment); fails with a clear line."""
    if not HAS_DATADOG:
        module.fail_json(msg=missing_required_lib("datadog-api-client"), exception=str(DATADOG_IMPORT_ERROR))
    params = module.params
    api_key = params.get("api_key") or os.environ.get("DD_API_KEY")
    app_key = params.get("app_key") or os.environ.get("DD_APP_KEY")
    if not api_key or not app_key:
        module.fail_json(msg="Datadog: api_key and app_key are required (options or DD_API_KEY / DD_APP_KEY)")
    site = os.environ.get("DD_SITE") or params.get("site") or "datadoghq.com"
    url = (params.get("api_url") or os.environ.get("DD_API_URL") or "https://api.%s" % site).rstrip("/")
    configuration = Configuration(host=url, request_timeout=params["request_timeout"],
                                  enable_retry=True, max_retries=2, retry_backoff_factor=2)
    # The typed models' return-type checking costs ~9 ms per query response here (a fleet triage reads hundreds);
    # the answers are only summarised, so the plain deserialisation is enough.
    configuration.check_return_type = False
    configuration.api_key["apiKeyAuth"] = api_key
    configuration.api_key["appKeyAuth"] = app_key
    return ApiClient(configuration), url


def describe_error(exc, url, call):
    """One line naming Datadog, the call and the reason; never the keys."""
    where = "Datadog %s %s" % (url, call)
    if HAS_DATADOG and isinstance(exc, ApiException):
        status = getattr(exc, "status", None)
        if status in (401, 403):
            return "%s: HTTP %s - the API or application key is wrong or lacks the scope for this call" % (where, status)
        if status == 429:
            return "%s: HTTP 429 - rate limited after retries; retry in a minute" % where
        return "%s: HTTP %s %s" % (where, status, (getattr(exc, "reason", "") or "").strip())
    text = str(exc)
    if "Max retries exceeded" in text or "Connection refused" in text or "NewConnectionError" in text:
        return "%s: cannot reach the API (connection refused or no route) - check api_url/site and network" % where
    if "timed out" in text.lower():
        return "%s: no answer within request_timeout" % where
    if HAS_DATADOG and isinstance(exc, OpenApiException):
        return "%s: unexpected answer: %s" % (where, text.splitlines()[0] if text else type(exc).__name__)
    return "%s: %s: %s" % (where, type(exc).__name__, text.splitlines()[0] if text else "")
