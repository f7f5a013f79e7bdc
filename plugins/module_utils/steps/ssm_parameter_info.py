# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.ssm_parameter_info - Read SSM Parameter Store values, such as feature flags.

Its logic (SPEC and run(module)); plugins/modules/ssm_parameter_info.py holds the documentation and main()."""

from __future__ import annotations

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, call, client
from ansible_collections.sre.incident.plugins.module_utils.validate import Each, SSM_NAME

BACKEND = "SSM"

SPEC = dict(
    argument_spec=aws_argument_spec(names=dict(type="list", elements="str", required=True)),
    supports_check_mode=True,
    limits=dict(names=Each(SSM_NAME, max_items=50, min_items=1)),
)


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
    names = module.params["names"]
    api = client(module, "ssm")
    parameters, missing = {}, []
    for start in range(0, len(names), 10):
        answer = call(module, BACKEND, api, "get_parameters", Names=names[start:start + 10], WithDecryption=False)
        for parameter in answer.get("Parameters", []):
            parameters[parameter["Name"]] = None if parameter.get("Type") == "SecureString" else parameter.get("Value")
        missing.extend(answer.get("InvalidParameters", []))
    module.exit_json(changed=False, parameters=parameters, missing=missing)
