# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: responder
short_description: Who responds to the incident - the name incident records, messages and the timeline carry
version_added: 0.1.0
description:
  - The environment variable E(SRE_INCIDENT_USER) when set, else O(awx_user) (the AWX or Tower user who launched
    the job) when given, else the operating system user running the playbook (from the environment, or the
    account database when the environment does not say; C(uid:N) when neither knows).
  - Asks no other program, so it is cheap to use in a role default that many tasks template.
author:
  - sre.incident maintainers (@sre-incident)
options:
  awx_user:
    description: The AWX or Tower job launcher (C(awx_user_name)); empty outside AWX.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Say who runs this
  ansible.builtin.debug:
    msg: "Investigating - {{ lookup('sre.incident.responder', awx_user=awx_user_name | default('')) }}"
"""

RETURN = r"""
_raw:
  description: One name.
  type: list
  elements: str
"""

from ansible.plugins.lookup import LookupBase
from ansible_collections.sre.incident.plugins.module_utils.incident_record import default_user


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        return [default_user(self.get_option("awx_user") or "")]
