# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: incident_types
short_description: The collection's incident types - playbook, title, symptom, follow-ups, alert names
version_added: 0.2.0
description:
  - The registry in C(playbooks/vars/incident_types.yml) of this collection, the one place that lists the
    incident types (docs/adding-an-incident.md).
  - Without a term, one dict of type name to its entry; with a term (a field such as C(follow_up) or C(title)),
    one dict of type name to that field.
author:
  - sre.incident maintainers (@sre-incident)
options:
  _terms:
    description: At most one field of the entries; none for whole entries.
    type: list
    elements: str
    required: false
"""

EXAMPLES = r"""
- name: Say which incident types there are
  ansible.builtin.debug:
    msg: "{{ query('sre.incident.incident_types') | first | list }}"

- name: Every type's follow-up items
  ansible.builtin.debug:
    msg: "{{ query('sre.incident.incident_types', 'follow_up') | first }}"
"""

RETURN = r"""
_raw:
  description: One dict, type name to its entry (or to the field asked for), in the order triage tries them.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.sre.incident.plugins.plugin_utils.incident_types import incident_types


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        types = incident_types()
        if not terms:
            return [dict(types)]
        if len(terms) > 1:
            raise AnsibleLookupError("incident_types takes at most one field, got %d: %s" % (len(terms), ", ".join(terms)))
        field = terms[0]
        known = sorted({name for entry in types.values() for name in entry})
        if field not in known:
            raise AnsibleLookupError("incident_types has no field %r; the fields are: %s" % (field, ", ".join(known)))
        return [{name: entry.get(field) for name, entry in types.items()}]
