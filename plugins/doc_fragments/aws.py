# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
requirements:
  - boto3 >= 1.34
options:
  region:
    description:
      - AWS region, for example C(us-east-1). Falls back to E(AWS_REGION) / E(AWS_DEFAULT_REGION).
      - Must look like a region (letters, hyphens, a number); anything else is refused before any call.
    type: str
    aliases: [aws_region]
  endpoint_url:
    description:
      - Alternative AWS API endpoint, for example the lab's emulator. Falls back to E(AWS_ENDPOINT_URL).
      - An C(http://) or C(https://) URL with a host.
    type: str
    aliases: [aws_endpoint_url]
  access_key:
    description:
      - AWS access key id. When unset, boto3's usual credential chain applies (environment, profile, instance role).
    type: str
    aliases: [aws_access_key_id]
  secret_key:
    description:
      - AWS secret access key. Never logged.
    type: str
    aliases: [aws_secret_access_key]
  session_token:
    description:
      - AWS session token for temporary credentials. Never logged.
    type: str
    aliases: [aws_session_token]
  profile:
    description:
      - Named profile from the AWS config files.
    type: str
    aliases: [aws_profile]
  connect_timeout:
    description:
      - Seconds to wait for a TCP connection to the AWS endpoint; more than 0 and at most 300.
    type: float
    default: 5
  read_timeout:
    description:
      - Seconds to wait for an AWS API answer, per attempt; more than 0 and at most 900. An attempt that times out
        is not retried - the module fails with C(timed out after N s (read_timeout)) - so a call on a hung API costs
        this once, not once per attempt.
    type: float
    default: 10
  max_attempts:
    description:
      - Attempts per API call in botocore's standard retry mode (throttling, 5xx and refused connections are
        retried; timeouts are not); from 1 to 10. No attempt starts after O(deadline).
    type: int
    default: 3
"""
