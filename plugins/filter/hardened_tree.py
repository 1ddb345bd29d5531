# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: hardened_tree
short_description: Build the firewall tree of the hardened defaults for a cluster
version_added: 0.2.0
author:
  - pve.firewall maintainers (@pve-firewall)
description:
  - Takes what M(pve.firewall.firewall_info) says about a cluster's nodes and guests and returns
    a firewall tree, the shape M(pve.firewall.firewall_info) returns and the
    C(pve.firewall.safe_rollout) role takes, that denies inbound traffic by default and keeps
    the web interface (8006) and SSH (22) open to the administrators. The
    C(pve.firewall.hardened_defaults) role builds its tree with it; the options are that role's
    variables without their C(hardened_defaults_) prefix.
  - The datacenter (C(cluster)) gets the options O(enable), O(policy_in) and O(policy_out),
    with O(cluster_options) over them; the IP set O(admin_ipset) of O(admin_networks); with
    O(admin_rules) two rules that accept tcp 8006 and SSH from that set, then O(cluster_rules);
    and the security groups of O(group_library) that some guest is given.
  - Each guest that an entry of O(guest_groups) selects, by vmid or by any of its PVE tags,
    gets a C(GROUP) rule for each group of every entry that selects it, each group once in the
    order listed, the options O(guest_options), and C(nic_firewall) set to
    O(guest_nic_firewall). Guests no entry selects are not in the tree. Group names that differ in case only count as one,
    the first spelling listed.
  - The IP set O(database_clients_ipset) of O(database_clients) is in the tree only when a guest
    is given the C(database) group.
  - Each node of O(nodes), or of the cluster when O(nodes) is empty, gets the options
    O(node_options).
  - Values go into the tree as given; the modules that apply it check them. The task fails when
    O(admin_networks) is empty, when O(guest_groups) names a group that O(group_library) does
    not have, when an entry of O(guest_groups) names a vmid the cluster does not have (naming
    it and listing the cluster's guests), or when an input has the wrong shape.
options:
  _input:
    description:
      - The cluster as M(pve.firewall.firewall_info) returns it, with at least the levels
        V(node), V(vm) and V(ct) (its C(nodes) and C(guests); guests carry C(vmid) and C(tags)).
    type: dict
    required: true
  admin_networks:
    description:
      - The networks and addresses the administrators work from; must not be empty.
    type: list
    elements: str
    required: true
  admin_ipset:
    description:
      - The datacenter IP set that holds O(admin_networks) and that the admin rules accept.
    type: str
    default: management
  admin_rules:
    description:
      - Put datacenter rules accepting tcp 8006 and SSH from O(admin_ipset) first in the rule list.
    type: bool
    default: true
  cluster_rules:
    description:
      - More datacenter rules, after the admin rules, in the shape M(pve.firewall.firewall_rule) takes.
    type: list
    elements: dict
    default: []
  enable:
    description:
      - The datacenter's C(enable) option.
    type: bool
    default: true
  policy_in:
    description:
      - The datacenter's inbound policy.
    type: str
    default: DROP
  policy_out:
    description:
      - The datacenter's outbound policy.
    type: str
    default: ACCEPT
  cluster_options:
    description:
      - More datacenter options; they win over O(enable), O(policy_in) and O(policy_out).
    type: dict
    default: {}
  nodes:
    description:
      - The nodes that get O(node_options); empty for every node of the cluster.
    type: list
    elements: str
    default: []
  node_options:
    description:
      - The host firewall options of each node.
    type: dict
    default: {}
  group_library:
    description:
      - Security groups by name, each with C(rules) and optionally C(comment), in the shape
        M(pve.firewall.security_group) takes. Only the groups some guest is given go into the tree.
    type: dict
    default: {}
  database_clients_ipset:
    description:
      - The datacenter IP set of the hosts that may reach the C(database) group's ports.
    type: str
    default: dbclients
  database_clients:
    description:
      - The entries of O(database_clients_ipset).
    type: list
    elements: str
    default: []
  guest_groups:
    description:
      - Which guests get which groups. Each entry has C(groups) (names in O(group_library)) and
        selects the guests with one of its C(vmids) or any of its C(tags).
    type: list
    elements: dict
    default: []
  guest_options:
    description:
      - The firewall options of every selected guest.
    type: dict
    default: {}
  guest_nic_firewall:
    description:
      - The C(nic_firewall) of every selected guest (the C(firewall) flag of its NICs).
    type: bool
    default: true
seealso:
  - module: pve.firewall.firewall_info
  - module: pve.firewall.firewall_simulate
"""

EXAMPLES = r"""
- name: Read the cluster's nodes and guests (with their tags)
  pve.firewall.firewall_info:
    levels: [node, vm, ct]
    include: []
  register: cluster

- name: Build the tree - admins on 8006 and SSH, web servers (tagged web) in the web group
  ansible.builtin.set_fact:
    tree: >-
      {{ cluster | pve.firewall.hardened_tree(
           admin_networks=['192.0.2.0/24'],
           group_library={'web': {'comment': 'web server', 'rules': [
             {'type': 'in', 'action': 'ACCEPT', 'macro': 'HTTPS'},
             {'type': 'in', 'action': 'ACCEPT', 'macro': 'SSH', 'source': '+management'}]}},
           guest_groups=[{'groups': ['web'], 'tags': ['web']}],
           guest_options={'enable': true, 'policy_in': 'DROP'}) }}

# With nodes pve1 and pve2 and VM 100 tagged web, tree is
#   cluster:
#     options: {enable: true, policy_in: DROP, policy_out: ACCEPT}
#     ipsets: [{name: management, comment: administrators, entries: [192.0.2.0/24]}]
#     groups: [{name: web, rules: [...], comment: web server}]
#     rules:
#       - {type: in, action: ACCEPT, proto: tcp, dport: '8006', source: +management, comment: web interface from the admins}
#       - {type: in, action: ACCEPT, macro: SSH, source: +management, comment: SSH from the admins}
#   nodes: {pve1: {options: {}}, pve2: {options: {}}}
#   guests:
#     '100': {options: {enable: true, policy_in: DROP}, rules: [{type: group, action: web}], nic_firewall: true}

- name: Roll it out without losing access
  ansible.builtin.include_role:
    name: pve.firewall.safe_rollout
  vars:
    safe_rollout_tree: "{{ tree }}"
"""

RETURN = r"""
_value:
  description:
    - The firewall tree - C(cluster) with C(options), C(ipsets), C(groups) and C(rules); C(nodes)
      with C(options) per node name; C(guests) with C(options), C(rules) and C(nic_firewall) per
      vmid (a string).
  type: dict
"""

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

from ..module_utils._compiler.hardened_tree import HardenedSettings, build_hardened_tree


def hardened_tree(
    cluster: Mapping[str, Any],
    admin_networks: Sequence[str],
    admin_ipset: str = "management",
    admin_rules: bool = True,
    cluster_rules: Sequence[Mapping[str, Any]] | None = None,
    enable: bool = True,
    policy_in: str = "DROP",
    policy_out: str = "ACCEPT",
    cluster_options: Mapping[str, Any] | None = None,
    nodes: Sequence[str] | None = None,
    node_options: Mapping[str, Any] | None = None,
    group_library: Mapping[str, Any] | None = None,
    database_clients_ipset: str = "dbclients",
    database_clients: Sequence[str] | None = None,
    guest_groups: Sequence[Mapping[str, Any]] | None = None,
    guest_options: Mapping[str, Any] | None = None,
    guest_nic_firewall: bool = True,
) -> dict[str, Any]:
    """The hardened defaults' firewall tree for ``cluster`` (see DOCUMENTATION)."""
    settings = HardenedSettings(
        admin_networks=admin_networks,
        admin_ipset=admin_ipset,
        admin_rules=admin_rules,
        cluster_rules=cluster_rules or (),
        enable=enable,
        policy_in=policy_in,
        policy_out=policy_out,
        cluster_options=cluster_options or {},
        nodes=nodes or (),
        node_options=node_options or {},
        group_library=group_library or {},
        database_clients_ipset=database_clients_ipset,
        database_clients=database_clients or (),
        guest_groups=guest_groups or (),
        guest_options=guest_options or {},
        guest_nic_firewall=guest_nic_firewall,
    )
    try:
        return build_hardened_tree(cluster, settings)
    except (TypeError, ValueError) as error:
        raise AnsibleFilterError(f"hardened_tree: {error}") from None


class FilterModule:
    """The collection's filters."""

    def filters(self) -> dict[str, Any]:
        return {"hardened_tree": hardened_tree}
