# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The rule list option of firewall_rule and security_group: one rule, one shape."""

    DOCUMENTATION = r"""
options:
  rules:
    description:
      - The rules, first evaluated first. Keys use PVE's names; an empty string or C(-)
        leaves a key unset.
      - With O(state=merged) each listed rule is in the list exactly once afterwards, or as
        often as it is listed; further copies of it, equal but for O(rules[].enable),
        O(rules[].log) and O(rules[].comment), are removed.
      - An item may also be one rule line as a C(.fw) file holds it, for example
        V(IN ACCEPT -source +admins -p tcp -dport 22) or V(|OUT DROP -p udp -dport 53); a leading
        C(|) disables the rule, a macro is written V(SSH(ACCEPT\)) and the text after a C(#)
        is the comment. It stands for the mapping with the same keys. Quote such an item in
        YAML, where an unquoted C(|) starts a block and a blank then C(#) starts a YAML comment.
      - An item that is neither a mapping nor a rule line, or a string given for the whole list,
        fails the task naming it, before any request.
    type: list
    elements: dict
    default: []
    suboptions:
      type:
        description:
          - V(in), V(out), V(forward) (node, cluster and vnet levels, and security groups) or
            V(group), which jumps to the security group named in O(rules[].action) (not inside
            a security group).
        type: str
        required: true
      action:
        description: V(ACCEPT), V(DROP), V(REJECT), or the security group for V(group) rules.
        type: str
        required: true
      macro:
        description: A PVE macro such as V(SSH), V(HTTPS), V(Ping) (sets protocol and ports).
        type: str
      iface:
        description:
          - Interface the rule applies to (V(net0) for guests, V(vmbr0) for nodes). Not allowed
            in security groups and vnet rules, where the rule that uses them decides.
        type: str
      source:
        description:
          - Addresses, CIDRs, ranges, alias names or V(+ipset) references, comma separated.
            Security groups can refer to the datacenter's IP sets and aliases only.
        type: str
      dest:
        description: Like O(rules[].source), for the destination.
        type: str
      proto:
        description:
          - Protocol name or number from C(/etc/protocols), for example V(tcp).
          - V(0) is refused, PVE takes it for "not set" and would store the rule without it.
        type: str
      dport:
        description:
          - Destination ports, services or ranges (V(22), V(80,443), V(8000:8100)).
          - A lone port V(0) is refused, PVE takes it for "not set" and would store the rule
            without it.
        type: str
      sport:
        description: Source ports, like O(rules[].dport).
        type: str
      icmp_type:
        description: ICMP type for V(icmp) or V(icmpv6) rules (PVE's C(icmp-type)).
        type: str
      log:
        description: Log level for matches, V(nolog) to V(emerg).
        type: str
      enable:
        description: Whether the rule is active.
        type: bool
        default: true
      comment:
        description:
          - Free text shown in the GUI, on one line of the C(.fw) file. PVE's reader ends a line
            at a line feed only, so a carriage return, a vertical tab or U+2028 in a comment are
            kept; blanks around it are not.
          - Refused, as PVE would not read them back - a line feed; V(0), which PVE drops; a
            comment that ends in a character whose UTF-8 form ends in the byte 0xA0 (such as
            C(à) or a no-break space), which PVE's reader cuts in half.
        type: str
"""
