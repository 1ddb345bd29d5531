# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The size of the result of the modules that manage long lists (IP set entries, rules)."""

    DOCUMENTATION = r"""
options:
  return_full:
    description:
      - Return RV(before) and RV(after) whatever the length of the list.
      - By default, when the list (the entries of the IP set, the rules) holds more than 500
        items before or after the change, RV(before) and RV(after) are left out of the result
        and RV(delta), which every run returns, alone says what changed. A 10,000-entry set
        that changes nothing then returns a few hundred bytes instead of its entries twice.
      - In diff mode RV(before) and RV(after) are always returned.
    type: bool
    default: false
"""
