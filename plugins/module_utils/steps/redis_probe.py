# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.redis_probe - PING a Redis endpoint and read the INFO essentials.

Its logic (SPEC and run(module)); plugins/modules/redis_probe.py holds the documentation and main()."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.sre.incident.plugins.module_utils.redis_client import (
    REDIS_ARGUMENT_SPEC,
    connect,
    describe_error,
    endpoint_of,
    require_redis,
)
from ansible_collections.sre.incident.plugins.module_utils.common import bounded
from ansible_collections.sre.incident.plugins.module_utils.validate import Each, Fields, HOST, Text, Whole

INFO_KEYS = ("role", "connected_clients", "connected_slaves", "master_link_status", "used_memory",
             "used_memory_human", "maxmemory", "evicted_keys", "keyspace_hits", "keyspace_misses",
             "redis_version", "uptime_in_seconds")

SPEC = dict(
    argument_spec=dict(
        REDIS_ARGUMENT_SPEC,
        also_probe=dict(type="list", elements="dict", default=[], options=dict(
            name=dict(type="str", required=True),
            host=dict(type="str", required=True),
            port=dict(type="int", default=6379),
            role=dict(type="str"),
            status=dict(type="str"),
        )),
        require_pong=dict(type="bool", default=False),
    ),
    supports_check_mode=True,
    limits=dict(also_probe=Each(Fields(name=Text(None, "a name of at most 255 characters", max_length=255), host=HOST, port=Whole(1, 65535)), max_items=20)),
    mutually_exclusive=[("url", "host")],
    required_one_of=[("url", "host")],
)


def probe(params, host, port, override):
    """PING and INFO one endpoint; override=False connects exactly as the options say (URL included)."""
    result = dict(endpoint="%s:%s" % (host, port), ping=False, latency_ms=None, error=None, info={})
    client = None
    call, timeout = "PING", bounded(params["connect_timeout"], params)  # redis-py connects at the first command
    try:
        client = connect(params, host=host, port=port) if override else connect(params)
        started = time.perf_counter()
        client.ping()
        result["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        result["ping"] = True
        call = "INFO"
        raw = client.info()
        info = {key: raw[key] for key in INFO_KEYS if key in raw}
        hits, misses = raw.get("keyspace_hits", 0), raw.get("keyspace_misses", 0)
        info["hit_rate"] = round(hits / float(hits + misses), 4) if hits + misses else None
        result["info"] = info
    except Exception as exc:  # noqa: BLE001 - any failure is the probe's finding
        result["error"] = describe_error(exc, host, port, call, round(timeout, 1))
    finally:
        if client is not None:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
    return result


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
    require_redis(module)
    params = module.params
    host, port = endpoint_of(params)

    targets = [dict(name=None, host=host, port=port)] + params["also_probe"]
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        results = list(pool.map(lambda t: probe(params, t["host"], t["port"], override=t["name"] is not None), targets))
    main_result = results[0]
    also = []
    for target, result in zip(targets[1:], results[1:]):
        result.update(name=target["name"], role=target["role"], status=target["status"])
        also.append(result)

    if params["require_pong"] and not main_result["ping"]:
        module.fail_json(msg=main_result["error"] or "Redis %s:%s did not answer PONG" % (host, port),
                         also_probed=also, **{k: v for k, v in main_result.items() if k != "error"})
    module.exit_json(changed=False, also_probed=also, **main_result)
