#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: ssm_parameter_set
short_description: Set an SSM Parameter Store value, such as a feature flag, with check mode and diff
version_added: 0.1.0
description:
  - The mechanism behind the runbook's "Option 2 - Disable failing feature" of "High Error Rate" when the
    application reads its feature flags from SSM Parameter Store (for example
    C(/sample-service/prod/feature-flags/new-checkout) = C(on)/C(off)).
  - Idempotent - nothing is written when the parameter already holds the value. Only C(String) parameters are
    written; a C(SecureString) is refused so that a flag change can never overwrite a secret.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
options:
  name:
    description: Parameter name.
    type: str
    required: true
  value:
    description: Value to set.
    type: str
    required: true
  must_exist:
    description: Refuse to create the parameter when it does not exist yet (a typo in a flag name is an error).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Returns the planned change and diff; writes nothing.
  diff_mode:
    support: full
    description: Before/after value.
"""

EXAMPLES = r"""
- name: Disable failing feature
  sre.incident.ssm_parameter_set:
    region: us-east-1
    name: /sample-service/prod/feature-flags/new-checkout
    value: "off"
"""

RETURN = r"""
previous_value:
  description: Value before (null when the parameter did not exist).
  returned: always
  type: str
value:
  description: Value afterwards.
  returned: always
  type: str
version:
  description: Parameter version after the write.
  returned: when written
  type: int
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, call, client, fail, is_not_found

BACKEND = "SSM"


def main():
    module = AnsibleModule(
        argument_spec=aws_argument_spec(
            name=dict(type="str", required=True),
            value=dict(type="str", required=True),
            must_exist=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    api = client(module, "ssm")
    current = None
    try:
        current = api.get_parameter(Name=params["name"])["Parameter"]
    except Exception as exc:  # noqa: BLE001
        if not is_not_found(exc, "ParameterNotFound"):
            fail(module, exc, BACKEND, "get_parameter")
    if current is None and params["must_exist"]:
        module.fail_json(msg="%s: parameter %s does not exist; check the name (must_exist=true). Nothing was changed." % (
            BACKEND, params["name"]))
    if current is not None and current.get("Type") == "SecureString":
        module.fail_json(msg="%s: %s is a SecureString; refusing to overwrite a secret. Nothing was changed." % (BACKEND, params["name"]))
    before = current.get("Value") if current else None
    result = dict(changed=before != params["value"], previous_value=before, value=params["value"],
                  diff=dict(before={params["name"]: before}, after={params["name"]: params["value"]}))
    if not result["changed"]:
        module.exit_json(msg="%s is already %s" % (params["name"], before), **result)
    if module.check_mode:
        module.exit_json(msg="would set %s from %s to %s" % (params["name"], before, params["value"]), **result)
    written = call(module, BACKEND, api, "put_parameter", Name=params["name"], Value=params["value"], Type="String",
                   Overwrite=current is not None)
    result["version"] = written.get("Version")
    module.exit_json(msg="set %s from %s to %s" % (params["name"], before, params["value"]), **result)


if __name__ == "__main__":
    main()
