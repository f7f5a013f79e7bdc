#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: redis_probe
short_description: PING a Redis endpoint and read the INFO essentials
version_added: 0.1.0
description:
  - Connects to a Redis endpoint the way the application does, sends C(PING) and measures its latency, then
    reads C(INFO) for role, connected clients, memory, evictions and keyspace hit rate.
  - An endpoint that does not answer is a finding, not a module failure; the result says why
    (for example C(connection refused (ECONNREFUSED))). Set O(require_pong=true) to fail instead, as a
    verification step does.
  - Extra endpoints (for example each replication-group member) can be probed in the same call with the
    same AUTH and TLS settings; they are probed concurrently.
  - Never changes anything; check mode runs the probe for real.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.redis
  - sre.incident.read_only
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  also_probe:
    description:
      - Further endpoints to probe with the same credentials and TLS settings (at most 20; ports 1 to 65535).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A label for the endpoint, for example the cache cluster id.
        type: str
        required: true
      host:
        description: Host name or address.
        type: str
        required: true
      port:
        description: Port.
        type: int
        default: 6379
      role:
        description:
          - Informational, copied to the result (lets M(sre.incident.elasticache_info)'s
            RV(sre.incident.elasticache_info#module:members) be passed as they are).
        type: str
      status:
        description: Informational, copied to the result.
        type: str
  require_pong:
    description:
      - Fail when the main endpoint does not answer C(PONG).
    type: bool
    default: false
notes:
  - Run it from where the application runs (delegate to an application host or run the controller in the same
    VPC) so the probe sees what the service sees.
"""

EXAMPLES = r"""
- name: Test Redis connectivity from the service's vantage point
  sre.incident.redis_probe:
    host: master.sample-service-redis-prod.abc123.use1.cache.amazonaws.com
    port: 6379
    tls: true
    password: "{{ vault_redis_auth_token }}"
  register: redis_ping

- name: Probe the endpoint and both members in one go
  sre.incident.redis_probe:
    url: "{{ redis_url }}"
    also_probe:
      - name: sample-service-redis-prod-001
        host: 10.0.1.10
      - name: sample-service-redis-prod-002
        host: 10.0.2.10

- name: Verify the cache answers
  sre.incident.redis_probe:
    url: "{{ redis_url }}"
    require_pong: true
"""

RETURN = r"""
endpoint:
  description: The probed endpoint as C(host:port) (never the password).
  returned: always
  type: str
  sample: 127.0.0.1:27110
ping:
  description: Whether the endpoint answered C(PONG).
  returned: always
  type: bool
latency_ms:
  description: Round-trip time of the PING in milliseconds; null when it failed.
  returned: always
  type: float
  sample: 0.42
error:
  description: Why the endpoint did not answer; null when it did.
  returned: always
  type: str
  sample: "Redis 127.0.0.1:27110: connection refused (ECONNREFUSED): Error 111 connecting to 127.0.0.1:27110. Connection refused."
info:
  description: INFO essentials; empty when the endpoint did not answer.
  returned: always
  type: dict
  contains:
    role: {description: C(master) or C(slave) as Redis reports it., type: str, returned: success}
    connected_clients: {description: Client connections., type: int, returned: success}
    connected_slaves: {description: Attached replicas., type: int, returned: success}
    master_link_status: {description: C(up)/C(down) on a replica., type: str, returned: success}
    used_memory: {description: Bytes in use., type: int, returned: success}
    used_memory_human: {description: "Memory in use, human readable.", type: str, returned: success}
    maxmemory: {description: Memory limit in bytes (0 = none)., type: int, returned: success}
    evicted_keys: {description: Keys evicted since start., type: int, returned: success}
    keyspace_hits: {description: Successful lookups since start., type: int, returned: success}
    keyspace_misses: {description: Failed lookups since start., type: int, returned: success}
    hit_rate: {description: "hits / (hits + misses), null before any lookup.", type: float, returned: success}
    redis_version: {description: Server version., type: str, returned: success}
    uptime_in_seconds: {description: Server uptime., type: int, returned: success}
also_probed:
  description: One result per O(also_probe) entry, in the same order, with the keys above plus C(name).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.sre.incident.plugins.module_utils.steps import redis_probe as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
