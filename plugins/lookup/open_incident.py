# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: open_incident
short_description: The open (unresolved) incident record of a service, read on the controller
version_added: 0.1.0
description:
  - Reads the incident store the way M(sre.incident.incident_record) does and returns the newest unresolved
    record of each service given, or an empty dict when it has none. Never writes.
  - Cheap enough to ask for every service of a fleet triage, where a module run per service would not be.
author:
  - sre.incident maintainers (@sre-incident)
options:
  _terms:
    description: Service names (inventory hosts).
    required: true
    type: list
    elements: str
  store:
    description: The incident store directory.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Is an incident open for this service?
  ansible.builtin.debug:
    msg: "{{ lookup('sre.incident.open_incident', inventory_hostname, store=incident_store) }}"
"""

RETURN = r"""
_raw:
  description: One record (dict) per service; empty when the service has no open incident.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.sre.incident.plugins.module_utils.incident_store import IncidentStoreError, find_open


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        store = os.path.expanduser(self.get_option("store"))
        found = []
        for service in terms:
            try:
                _incident_id, record = find_open(store, str(service))
            except IncidentStoreError as exc:
                raise AnsibleError("open_incident: %s" % exc) from None
            found.append(record or {})
        return found
