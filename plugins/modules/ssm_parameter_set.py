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
  - Refuses, writing nothing, a value that is not text (a mapping, a list or an unquoted C(true) - quote it, or
    pass JSON text), empty, with a NUL byte, or larger than the tier allows (4096 bytes in UTF-8 for
    C(standard), 8192 for C(advanced)), and a value that is not valid JSON where the parameter holds JSON
    (O(value_format)).
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.aws
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  name:
    description: Parameter name.
    type: str
    required: true
  value:
    description: Value to set (text; a JSON document as text where the parameter holds JSON).
    type: str
    required: true
  value_format:
    description:
      - C(json) - the value must be a JSON document (checked before any call); C(text) - any text.
      - C(auto) - C(json) when the parameter's current value is a JSON object or array (the runtime config), else
        C(text); checked after reading the current value, before writing.
    type: str
    choices: [auto, json, text]
    default: auto
  tier:
    description:
      - The parameter's tier, which bounds the value's size - C(standard) 4096 bytes, C(advanced) 8192 bytes.
        C(advanced) also writes the parameter as Advanced (AWS cannot turn an advanced parameter back into a
        standard one).
    type: str
    choices: [standard, advanced]
    default: standard
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

import json

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, call, client, fail, is_not_found
from ansible_collections.sre.incident.plugins.module_utils.validate import SSM_NAME, StrictModule, Text, refuse

BACKEND = "SSM"
TIER_BYTES = {"standard": 4096, "advanced": 8192}


def json_problem(value):
    try:
        json.loads(value)
    except ValueError as exc:
        return "it is not valid JSON (%s)" % exc
    return None


def holds_json(value):
    return bool(value) and value.lstrip()[:1] in ("{", "[") and json_problem(value) is None


def main():
    module = StrictModule(
        argument_spec=aws_argument_spec(
            name=dict(type="str", required=True),
            value=dict(type="str", required=True),
            value_format=dict(type="str", choices=["auto", "json", "text"], default="auto"),
            tier=dict(type="str", choices=["standard", "advanced"], default="standard"),
            must_exist=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
        limits=dict(name=SSM_NAME, value=Text(None, "text of at most 8192 characters", max_length=8192)),
    )
    params = module.params
    size, limit = len(params["value"].encode("utf-8")), TIER_BYTES[params["tier"]]
    if size > limit:
        refuse(module, "value", "%d bytes is more than the %s tier's %d" % (size, params["tier"], limit),
               "at most 4096 bytes (tier standard) or 8192 (tier advanced)")
    if params["value_format"] == "json" and json_problem(params["value"]):
        refuse(module, "value", json_problem(params["value"]), "a JSON document (value_format=json)")
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
    if params["value_format"] == "auto" and holds_json(before) and json_problem(params["value"]):
        refuse(module, "value", "%s holds JSON and %s" % (params["name"], json_problem(params["value"])),
               "a JSON document (the current value is JSON; value_format=text to write other text)", previous_value=before)
    result = dict(changed=before != params["value"], previous_value=before, value=params["value"],
                  diff=dict(before={params["name"]: before}, after={params["name"]: params["value"]}))
    if not result["changed"]:
        module.exit_json(msg="%s is already %s" % (params["name"], before), **result)
    if module.check_mode:
        module.exit_json(msg="would set %s from %s to %s" % (params["name"], before, params["value"]), **result)
    tier = {"Tier": "Advanced"} if params["tier"] == "advanced" else {}
    written = call(module, BACKEND, api, "put_parameter", Name=params["name"], Value=params["value"], Type="String",
                   Overwrite=current is not None, **tier)
    result["version"] = written.get("Version")
    module.exit_json(msg="set %s from %s to %s" % (params["name"], before, params["value"]), **result)


if __name__ == "__main__":
    main()
