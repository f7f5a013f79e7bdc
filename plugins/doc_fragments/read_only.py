# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Attributes of the modules that only read (diagnosis steps): they run for real in check mode.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode, so a --check diagnosis is a real one.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
"""
