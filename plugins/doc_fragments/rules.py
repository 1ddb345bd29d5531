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
        description: Protocol name or number from C(/etc/protocols), for example V(tcp).
        type: str
      dport:
        description: Destination ports, services or ranges (V(22), V(80,443), V(8000:8100)).
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
        description: Free text shown in the GUI.
        type: str
"""
