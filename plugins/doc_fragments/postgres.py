# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - psycopg >= 3.1
options:
  dsn:
    description:
      - libpq connection string or URI, for example C(postgresql://sre_automation@db.example.com:5432/sample).
      - Discrete options (O(host), O(user), ...) override what it says. Never logged (it may hold the password).
      - One psycopg cannot read, or a URI of another scheme, is refused before connecting (the message never
        repeats it).
    type: str
  host:
    description: Server host name or address.
    type: str
  port:
    description: Server port (1 to 65535).
    type: int
    default: 5432
  database:
    description: Database to connect to.
    type: str
    aliases: [db]
  user:
    description: Role to connect as; see docs/postgres-role.md for the least-privilege role the automation needs.
    type: str
  password:
    description: Password. Never logged.
    type: str
  sslmode:
    description: libpq sslmode.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  connect_timeout:
    description: Seconds allowed to connect, the handshake included (libpq counts whole seconds, at least 2); more than 0 and at most 300.
    type: int
    default: 5
  statement_timeout:
    description: Seconds any statement of the module may run (ended by the server); more than 0 and at most 3600.
    type: int
    default: 10
  application_name:
    description:
      - application_name of the module's own session (so it is easy to spot, and never terminated by itself); at
        most 63 characters.
    type: str
    default: sre.incident
"""
