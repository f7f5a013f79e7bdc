# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redis connection handling for sre.incident modules: one place for URL/host, AUTH, TLS and timeouts."""

from __future__ import annotations

try:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry
    HAS_REDIS = True
    REDIS_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover
    HAS_REDIS = False
    REDIS_IMPORT_ERROR = exc

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.six.moves.urllib.parse import urlparse
from ansible_collections.sre.incident.plugins.module_utils.common import DEADLINE_ARGUMENT_SPEC, DeadlinePassed, bounded, time_left

REDIS_ARGUMENT_SPEC = dict(
    url=dict(type="str", no_log=True),
    host=dict(type="str"),
    port=dict(type="int", default=6379),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    db=dict(type="int", default=0),
    tls=dict(type="bool", default=False),
    tls_ca_cert=dict(type="path"),
    tls_verify=dict(type="bool", default=True),
    connect_timeout=dict(type="float", default=2),
    **DEADLINE_ARGUMENT_SPEC
)


def require_redis(module):
    if not HAS_REDIS:
        module.fail_json(msg=missing_required_lib("redis"), exception=str(REDIS_IMPORT_ERROR))


def endpoint_of(params):
    """(host, port) the options point at, never including the password."""
    if params.get("url"):
        parsed = urlparse(params["url"])
        return parsed.hostname or "localhost", parsed.port or 6379
    return params.get("host") or "localhost", params.get("port") or 6379


def connect(params, host=None, port=None):
    """A redis.Redis for the options; host/port override the endpoint (same AUTH/TLS), e.g. for a member node."""
    left = time_left(params)
    if left is not None and left <= 0:
        raise DeadlinePassed(-left)
    timeout = bounded(params["connect_timeout"], params)
    # No client-side retries: redis-py retries refused connections with backoff by default, which turns
    # an instant "connection refused" into seconds. A probe reports the first answer; callers retry.
    common = dict(socket_connect_timeout=timeout, socket_timeout=timeout,
                  retry=Retry(NoBackoff(), 0), health_check_interval=0)
    tls = {}
    if params.get("tls"):
        tls = dict(ssl=True, ssl_ca_certs=params.get("tls_ca_cert"),
                   ssl_cert_reqs="required" if params.get("tls_verify") else "none")
    if params.get("url") and host is None:
        kwargs = dict(common)
        if params.get("tls"):
            kwargs.update({k: v for k, v in tls.items() if k != "ssl"})
        if params.get("password"):
            kwargs["password"] = params["password"]
        if params.get("username"):
            kwargs["username"] = params["username"]
        return redis.Redis.from_url(params["url"], **kwargs)
    password = params.get("password")
    username = params.get("username")
    if params.get("url"):
        parsed = urlparse(params["url"])
        password = password or parsed.password
        username = username or parsed.username or None
    default_host, default_port = endpoint_of(params)
    return redis.Redis(host=host or default_host, port=port or default_port, db=params.get("db") or 0,
                       username=username, password=password, **dict(common, **tls))


def describe_error(exc, host, port, call=None, timeout=None):
    """One line for a failed Redis call (PING, INFO, ...), naming the endpoint (never the password)."""
    where = "Redis %s:%s%s" % (host, port, " " + call if call else "")
    if isinstance(exc, DeadlinePassed):
        return "%s: %s" % (where, exc)
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered:
        kind = "connection refused (ECONNREFUSED)"
    elif isinstance(exc, getattr(redis, "TimeoutError", ())) or "timed out" in lowered or "timeout" in lowered:
        kind = "timed out%s (connect_timeout) - the server is slow or unreachable" % (" after %g s" % timeout if timeout else "")
    elif "name or service not known" in lowered or "nodename nor servname" in lowered or "temporary failure in name" in lowered:
        kind = "DNS lookup failed"
    elif "ssl" in lowered or "certificate" in lowered or "tls" in lowered:
        kind = "TLS handshake failed"
    elif isinstance(exc, getattr(redis, "AuthenticationError", ())) or "auth" in lowered or "noauth" in lowered:
        kind = "authentication failed"
    else:
        kind = type(exc).__name__
    return "%s: %s: %s" % (where, kind, text)
