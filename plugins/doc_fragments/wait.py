# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - Wait until the operation has finished before returning.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait before giving up. On timeout the module fails with what it saw last. More than 0 and at
        most 3600.
    type: int
    default: 600
  wait_interval:
    description:
      - Seconds between two status polls; more than 0 and at most 300.
    type: float
    default: 5
"""
