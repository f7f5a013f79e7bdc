# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
notes:
  - Inputs are strict - a value of the wrong type is refused, not converted (C(true) or C(1.5) for a number, a
    mapping, a list or C(true) for text, a NUL byte in text), and so is a value outside the bounds given with each
    option. A number as text (C("4"), as Jinja templates give it) is still a number. A refusal is one line naming
    the option, what is wrong and what is allowed, and ends with C(Nothing was changed.); it comes before any call
    to a backend.
"""
