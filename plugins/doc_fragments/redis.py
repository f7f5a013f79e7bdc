# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - redis (redis-py) >= 5.0
options:
  url:
    description:
      - Redis URL, for example C(redis://:secret@cache.example.com:6379/0) or C(rediss://...) for TLS.
      - Mutually exclusive with O(host). Never logged (it may hold the password).
      - A C(redis://), C(rediss://) or C(unix://) URL with a host and a port from 1 to 65535; anything else is
        refused before connecting.
    type: str
  host:
    description:
      - Redis host name or address, for example the replication group's primary endpoint.
    type: str
  port:
    description:
      - Redis port (1 to 65535).
    type: int
    default: 6379
  username:
    description:
      - ACL user name (Redis 6+). Leave unset for the C(default) user.
    type: str
  password:
    description:
      - AUTH password or token. Never logged.
    type: str
  db:
    description:
      - Database number, from 0 to 15.
    type: int
    default: 0
  tls:
    description:
      - Use TLS (ElastiCache in-transit encryption).
    type: bool
    default: false
  tls_ca_cert:
    description:
      - CA bundle to verify the server certificate with.
    type: path
  tls_verify:
    description:
      - Verify the server certificate.
    type: bool
    default: true
  connect_timeout:
    description:
      - Seconds allowed for connecting and for each command; more than 0 and at most 300.
    type: float
    default: 2
"""
