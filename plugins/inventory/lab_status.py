# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: lab_status
short_description: The running lab's endpoints and credentials as the variable lab, read once per run
version_added: 0.1.0
description:
  - Reads the local lab's C(status.json) (written by C(python -m lab up)) when the inventory is loaded and sets it
    as the variable C(lab) of every host loaded so far (name the file so that it sorts after the hosts files, as
    C(lab_status.yml) does after C(hosts.yml)). Every variable of the lab inventory (C(redis_url),
    C(aws_endpoint_url), ...) is then a lookup in memory rather than a file read and a JSON parse each time a
    task uses one. Host variables win over the inventory's C(group_vars/all/lab.yml), whose C(file) lookup stays
    as the fallback.
  - The lab's state directory is O(state_dir) when set (a fleet inventory pins its lab), else E(SRE_LAB_DIR), else
    C(../../.lab) from the inventory directory (the repository's C(.lab)).
  - When the lab is not running there is no status file and nothing is set; the fallback names the missing file
    when a task first needs the lab.
  - Only for the lab inventory (C(inventories/lab)); production inventories do not use it.
author:
  - sre.incident maintainers (@sre-incident)
options:
  plugin:
    description: The name of this plugin, which makes the file a source for it.
    required: true
    choices: [sre.incident.lab_status]
    type: str
  state_dir:
    description: The lab's state directory, when the inventory is not the repository's (a fleet inventory).
    type: path
"""

EXAMPLES = r"""
# inventories/lab/lab_status.yml
plugin: sre.incident.lab_status
"""

import json
import os

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin


class InventoryModule(BaseInventoryPlugin):

    NAME = "sre.incident.lab_status"

    def verify_file(self, path):
        return super().verify_file(path) and os.path.basename(path) in ("lab_status.yml", "lab_status.yaml")

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        state_dir = self.get_option("state_dir") or os.environ.get("SRE_LAB_DIR") \
            or os.path.join(os.path.dirname(os.path.abspath(path)), "..", "..", ".lab")
        status_path = os.path.join(state_dir, "status.json")
        try:
            with open(status_path) as handle:
                status = json.load(handle)
        except FileNotFoundError:
            return  # the lab is not up: the inventory's fallback says so when a task needs it
        except (OSError, ValueError) as exc:
            raise AnsibleParserError("lab status %s cannot be read: %s - restart the lab (make lab-up)" % (status_path, exc))
        for host in inventory.hosts:
            inventory.set_variable(host, "lab", status)
