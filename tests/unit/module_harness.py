"""Run a module's main() in-process with given arguments and a botocore-stubbed client."""

import json

import boto3
import pytest
from ansible.module_utils.testing import patch_module_args
from botocore.stub import Stubber


def stubbed_client(service):
    api = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return api, Stubber(api)


def run_module(module, args, api, monkeypatch, capsys, check_mode=False):
    """Returns the module's JSON result (failed or not). The stub must hold every expected call."""
    monkeypatch.setattr(module, "client", lambda _module, _service: api)
    args = dict(args, _ansible_check_mode=check_mode)
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)
