#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_heapdump_info
short_description: List the heap dumps in an S3 bucket, newest first, with size and age
version_added: 0.1.0
description:
  - The runbook's "Analyze heap dump (if available)" (C(aws s3 ls s3://sample-service-heapdumps/)) for the
    Memory Leak / OOM diagnosis. Lists objects under a prefix, newest first, with size and age, and says how many
    were written in the recent window.
  - Never changes anything and never downloads a dump.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.read_only
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  bucket:
    description: Bucket name (3-63 lowercase letters, digits, . and -).
    type: str
    required: true
  prefix:
    description: Key prefix.
    type: str
    default: ""
  limit:
    description: Most objects to return (the newest), 1 to 1000.
    type: int
    default: 20
  recent:
    description: Window for RV(recent_count), in seconds or with a unit (C(1h)); more than 0 and at most 30 days.
    type: raw
    default: 1h
"""

EXAMPLES = r"""
- name: Analyze heap dump (if available)
  sre.incident.s3_heapdump_info:
    region: us-east-1
    bucket: sample-service-heapdumps
  register: heapdumps
"""

RETURN = r"""
dumps:
  description: Newest first - key, size (bytes), size_human, last_modified (ISO 8601), age_seconds, url (s3://).
  returned: always
  type: list
  elements: dict
count:
  description: Objects found under the prefix (at most 10000 are looked at).
  returned: always
  type: int
recent_count:
  description: Objects written within O(recent).
  returned: always
  type: int
"""

from ansible_collections.sre.incident.plugins.module_utils.steps import s3_heapdump_info as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
