# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  cluster:
    description: ECS cluster name (letters, digits, - and _; at most 255) or ARN.
    type: str
    required: true
  service:
    description: ECS service name (letters, digits, - and _; at most 255) or ARN.
    type: str
    required: true
"""
