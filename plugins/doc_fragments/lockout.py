# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """The lockout guard every state-changing module shares."""

    DOCUMENTATION = r"""
options:
  allow_lockout:
    description:
      - Apply a change even though the lockout analysis says it would cut off access.
      - Before any write that can change whether a node accepts new connections (the rules,
        options, security groups, IP sets and aliases of the datacenter and the nodes), the
        module lays its planned change over the configuration it reads and asks the lockout
        analysis whether every client in O(lockout_clients) still reaches every node on every
        port in O(lockout_ports). A change after which one of them would not, or after which
        the analysis cannot tell (a path the engine cannot evaluate), is refused before the first
        write, with the report in RV(lockout) and a fix for each lost access.
      - Nothing is checked while the datacenter firewall is off (then no node filters), or when
        the change leaves the rules and options of the datacenter and the nodes as they are.
    type: bool
    default: false
  lockout_clients:
    description:
      - The addresses that must keep access, as the nodes see them (after any NAT). Defaults
        to the address this module connects from.
      - Each must be an IPv4 or IPv6 address.
    type: list
    elements: str
    default: []
  lockout_ports:
    description:
      - The TCP ports that must stay reachable on every node (1 to 65535).
    type: list
    elements: int
    default: [8006, 22]
"""
