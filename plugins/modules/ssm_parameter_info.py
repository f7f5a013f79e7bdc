#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ssm_parameter_info
short_description: Read SSM Parameter Store values, such as feature flags
version_added: 0.1.0
description:
  - Reads parameters by name (for example the feature flags an application reads from Parameter Store) for a
    diagnosis. Missing parameters are reported, not failed. C(SecureString) values are never returned.
  - Never changes anything.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.read_only
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  names:
    description: Parameter names, 1 to 50 (at most 10 per call are read together).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Read the feature flags
  sre.incident.ssm_parameter_info:
    names:
      - /sample-service/prod/feature-flags/new-checkout
  register: flags
"""

RETURN = r"""
parameters:
  description: Name to value (null for a SecureString), for the parameters that exist.
  returned: always
  type: dict
  sample: {"/sample-service/prod/feature-flags/new-checkout": "on"}
missing:
  description: Names that do not exist.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.sre.incident.plugins.module_utils.steps import ssm_parameter_info as step
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule


def main():
    step.run(StrictModule(**step.SPEC))


if __name__ == "__main__":
    main()
