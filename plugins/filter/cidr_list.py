# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: cidr_list
short_description: Turn the text of an address blocklist into IP set entries
version_added: 0.2.0
author:
  - pve.firewall maintainers (@pve-firewall)
description:
  - Reads a list in the format public blocklists use (FireHOL netsets, Spamhaus DROP, plain
    feeds) and returns its addresses as a list for the O(pve.firewall.ipset#module:entries)
    option.
  - One IPv4 or IPv6 address or CIDR per line. Blank lines are skipped, and V(#) or V(;)
    starts a comment anywhere on a line, so V(192.0.2.0/24 ; SBL123) is the entry
    V(192.0.2.0/24).
  - Entries are checked exactly as the ipset module checks them and spelled as PVE stores
    them, host bits cleared and V(/32) or V(/128) dropped. A network listed twice
    (V(198.51.100.7) and V(198.51.100.7/32)) is returned once, where it is first listed.
  - Any other line fails the task naming each such line by its number and value, unless
    O(skip_invalid=true).
options:
  _input:
    description:
      - The text of the list, for example from C(lookup('ansible.builtin.file', path)), or a
        list of its lines.
    type: raw
    required: true
  skip_invalid:
    description:
      - With V(true), lines that are not an address or CIDR are left out, and a warning gives
        their count and the first of them with their line numbers.
    type: bool
    default: false
seealso:
  - module: pve.firewall.ipset
"""

EXAMPLES = r"""
- name: Refresh a blocklist IP set from a Spamhaus DROP style file
  pve.firewall.ipset:
    name: blocklist
    aggregate: true
    entries: "{{ lookup('ansible.builtin.file', '/srv/feeds/drop.txt') | pve.firewall.cidr_list }}"

# "# FireHOL level 1\n\n192.0.2.0/24 ; SBL1\n198.51.100.7\n2001:db8::1/64\n"
# gives ['192.0.2.0/24', '198.51.100.7', '2001:db8::/64']
- name: Leave out lines that are not addresses, with a warning that counts them
  ansible.builtin.set_fact:
    blocked: "{{ lookup('ansible.builtin.file', '/srv/feeds/mixed.txt') | pve.firewall.cidr_list(skip_invalid=true) }}"
"""

RETURN = r"""
_value:
  description: The entries, each an address or CIDR as PVE stores it, each network once, in the order first listed.
  type: list
  elements: str
"""

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display

from ..module_utils._compiler.cidr_list import describe_invalid, parse_cidr_list

display = Display()


def cidr_list(data: Any, skip_invalid: bool = False) -> list[str]:
    if isinstance(data, bytes):
        data = to_text(data, errors="surrogate_or_strict")
    if not isinstance(data, (str, list, tuple)):
        raise AnsibleFilterError(f"cidr_list: expects the text of a list or a list of its lines, not {type(data).__name__}")
    try:
        parsed = parse_cidr_list(data)
    except TypeError as error:
        raise AnsibleFilterError(f"cidr_list: {error}") from None
    if parsed.invalid:
        count = len(parsed.invalid)
        summary = f"{count} line{'s' if count != 1 else ''} {'are' if count != 1 else 'is'} not an IPv4 or IPv6 address or CIDR"
        if not skip_invalid:
            raise AnsibleFilterError(f"cidr_list: {summary}: {describe_invalid(parsed.invalid)}")
        display.warning(f"cidr_list: skipped {summary}: {describe_invalid(parsed.invalid, limit=5)}")
    return list(parsed.entries)


class FilterModule:
    """The collection's filters."""

    def filters(self) -> dict[str, Any]:
        return {"cidr_list": cidr_list}
