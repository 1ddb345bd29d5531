#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_simulate
short_description: Ask whether the Proxmox VE firewall would accept packets
version_added: 0.2.0
description:
  - Evaluates packets against a whole Proxmox VE firewall configuration offline and returns,
    for each packet, the verdict (C(ACCEPT), C(DROP), C(REJECT)) and the trail that decided
    it, exactly as the iptables backend of C(pve-firewall) would.
  - The trail names each hop (guest OUT, host OUT, host FORWARD, vnet, host IN, guest IN), the
    level (cluster, host, vm, ct, group, vnet) and the rule position and comment, the policy or the built-in
    exception (management, corosync, DHCP, MAC filter, ipfilter, blacklist, smurfs) that decided.
  - With O(packets[].expect) set, the task fails when a verdict differs, listing every failed
    expectation, so a CI job can unit-test a firewall policy.
  - With O(lockout_check), reports for every node and port whether the operator keeps access and
    what to change if not.
  - The configuration comes from C(.fw) files (O(fw_dir)), from their text (O(cluster_fw),
    O(host_fw), O(hosts_fw), O(guests_fw)), from the structured variables the other modules
    of this collection take (O(config)), or with O(source=live) from the cluster itself,
    read through the Proxmox VE API together with its nodes and guests.
  - The module never changes anything.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: The module only reads its input; check mode changes nothing about it.
  diff_mode:
    support: partial
    description:
      - With O(changes), shows each firewall the changes touch before and after, as the C(.fw)
        file PVE keeps (the review of a rollout); otherwise there is nothing to compare.
options:
  source:
    description:
      - Where the configuration comes from.
      - V(files) is the offline input of O(fw_dir), the text options or O(config) (none of
        them is an empty configuration).
      - V(live) reads the whole configuration of the cluster through the API (datacenter,
        every node, every guest, every SDN vnet), and the inventory with it (see O(inventory));
        the connection options are then required, and O(fw_dir), O(config) and the text
        options cannot be given.
    type: str
    choices: [files, live]
    default: files
  fw_dir:
    description:
      - A directory with C(cluster.fw), the host file as C(host.fw) (for the inventory's only
        node) or C(nodes/<node>/host.fw), C(<vmid>.fw) per guest and C(sdn/firewall/<vnet>.fw).
      - Files are read like PVE reads them; lines PVE would skip are skipped with a warning.
      - Mutually exclusive with O(config) and the text options.
    type: path
  cluster_fw:
    description: The text of C(cluster.fw).
    type: str
  host_fw:
    description: The text of C(host.fw) of the inventory's only node.
    type: str
  hosts_fw:
    description: The text of C(host.fw) per node name.
    type: dict
  guests_fw:
    description: The text of C(<vmid>.fw) per guest id.
    type: dict
  config:
    description:
      - The configuration as structured data, in the shape the other modules take.
      - C(cluster) with C(options), C(aliases), C(ipsets), C(rules) and C(groups); C(hosts) maps
        node names to C(options) and C(rules); C(guests) maps guest ids to C(options),
        C(aliases), C(ipsets) and C(rules).
      - Rules use PVE's keys (C(type), C(action), C(macro), C(iface), C(source), C(dest),
        C(proto), C(dport), C(sport), C(icmp_type), C(log), C(enable), C(comment)); ipset
        entries are strings (C(!) for nomatch) or mappings with C(cidr), C(nomatch), C(comment).
    type: dict
  inventory:
    description:
      - The nodes and guests the configuration applies to.
      - C(nodes) maps node names to C(address) and optional C(local_network) (the network PVE's
        management exceptions allow; without it only the node's own address counts).
      - C(guests) maps guest ids to C(type) (C(qemu) or C(lxc)), C(node) (optional with one node)
        and C(nics), which map C(net<N>) to C(bridge), C(mac), C(firewall) (default false, as in
        PVE) and for containers C(ip)/C(ip6), or to PVE's NIC string such as
        C(virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1).
      - When omitted with O(source=live), the cluster's own, every node with the address
        C(/cluster/status) gives and the network of the interface holding it
        (C(/nodes/<node>/network), PVE's local network), every guest with the NICs of its
        configuration. Given with O(source=live), it replaces the cluster's for the simulation;
        the configuration is still read from the cluster.
      - C(sdn) is what the C(+sdn/) IP sets are generated from - C(vnets) maps vnet names to
        C(zone) and C(subnets), each a CIDR or a mapping with C(cidr), C(gateway) and
        C(dhcp_ranges) (C(first-last) strings); C(ipam) maps guest ids to their addresses in PVE's
        IPAM. Every vnet gets C(<vnet>-all), C(<vnet>-gateway), C(<vnet>-no-gateway) and
        C(<vnet>-dhcp), every guest with addresses C(guest-ipam-<vmid>). Without it a rule naming
        a C(+sdn/) set is left out with a warning; with O(source=live) the cluster's running SDN
        configuration and IPAM are read when a rule may name such a set.
      - When omitted otherwise, the fixed environment of PVE's own firewall test suite is used,
        node C(proxself) (172.16.1.2, local network 172.16.1.0/24) with VMs 100, 101, 110 and
        containers 200, 201, so that the upstream test zones work as they are.
    type: dict
  corosync_conf:
    description:
      - The text of C(corosync.conf), for the corosync exceptions between nodes.
      - When omitted, the membership is every inventory node on link 0 with its address
        (transport C(knet)), or PVE's test membership when O(inventory) is omitted as well and
        O(source=files).
    type: str
  now:
    description:
      - The UNIX time the configuration is evaluated at. A cluster C(enable) value greater than 1
        is the time the firewall was enabled with auto-revert and counts as disabled 60 seconds
        later.
      - Defaults to the current time.
    type: float
  parallel:
    description:
      - With O(source=live), how many firewalls are read at the same time, each through a
        connection of its own (1 to 16). V(1) reads one after the other.
    type: int
    default: 4
    version_added: 0.3.0
  packets:
    description: The packets to evaluate, each the first packet of a new connection.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name shown in results and failures.
        type: str
      from:
        description:
          - Where the packet comes from. A zone as in PVE's tests (C(host), C(outside),
            C(nfvm), C(vm<ID>), C(vm<ID>i<N>), C(ct<ID>), C(<bridge>/<port>)), C(host:<node>),
            or an IP address (a node's address is that node, a container's address that guest).
          - Prefixed with C(routed:) (C(routed:outside), C(routed:vm100)), the packet passes the
            node's routing at that end rather than a bridge, so on an nftables node the node's
            C(forward) chains (C(host-forward), C(cluster-forward), the datacenter's
            C(policy_forward)) filter it. Two ends on the same vnet (a guest on it or
            C(<vnet>/<port>)) are bridged in the vnet and pass its firewall (C(bridge-<vnet>)).
        type: str
        required: true
      to:
        description: Where the packet goes, in the same notation as O(packets[].from).
        type: str
        required: true
      proto:
        description: Protocol name or number.
        type: str
        default: tcp
      dport:
        description:
          - Destination port. For C(icmp) and C(icmpv6) without O(packets[].icmp_type) it is the
            ICMP type number, as in PVE's tests.
        type: int
      sport:
        description: Source port.
        type: int
      icmp_type:
        description: ICMP type name or number (C(type) or C(type/code)) for C(icmp) and C(icmpv6).
        type: str
      source:
        description:
          - Source address. Defaults to the node's address when the packet comes from a host,
            else 100.100.1.2 (PVE's test default).
        type: str
      dest:
        description:
          - Destination address. Defaults to the node's address when the packet goes to a host,
            else 100.200.3.4 (PVE's test default).
        type: str
      srctype:
        description: Source address type; derived from the address when omitted.
        type: str
        choices: [UNICAST, BROADCAST, MULTICAST, ANYCAST]
      dsttype:
        description: Destination address type; derived from the address when omitted.
        type: str
        choices: [UNICAST, BROADCAST, MULTICAST, ANYCAST]
      source_mac:
        description: Source MAC of a packet from a guest; defaults to the NIC's MAC.
        type: str
      expect:
        description:
          - The verdict the packet must get; the task fails if it gets another.
          - C(UNEVALUATED) is the answer for a path the engine cannot evaluate.
        type: str
        choices: [ACCEPT, DROP, REJECT, UNEVALUATED]
  changes:
    description:
      - A firewall tree to lay over the configuration before anything is evaluated, so that
        the packets and the lockout check answer for the cluster as it will be once the tree is
        applied - the preflight of a rollout. Nothing is written.
      - The tree has the shape RV(pve.firewall.firewall_info#module:cluster) and its siblings
        return - C(cluster), C(nodes), C(guests) and C(vnets), each firewall with C(options),
        C(rules), C(ipsets), C(aliases) and (datacenter) C(groups); guests may add
        C(nic_firewall), the C(firewall) flag of all their NICs (a boolean) or of each NIC by
        its key (a mapping of NIC key to flag, as C(firewall_info) returns it with
        C(include=nics); NICs not listed keep their flag). Keys only C(firewall_info) returns
        (C(refs), C(vmid), C(name), ...) are ignored.
      - Per firewall named, the options given are set and the others stay; C(rules) replace the
        list or are merged into it (O(changes_rules_state)); each IP set, alias and group listed
        replaces the one of its name, others stay unless O(changes_prune). Parts not named stay.
      - A problem the tree brings in (a rule naming a missing IP set, a node the cluster does
        not have, ...) fails the task naming its place in the tree.
    type: dict
  changes_rules_state:
    description:
      - How the rule lists of O(changes) apply - V(overridden) makes each list exactly so,
        V(merged) adds and updates rules as M(pve.firewall.firewall_rule) with C(state=merged) does.
    type: str
    choices: [overridden, merged]
    default: overridden
  changes_prune:
    description:
      - Remove the IP sets, aliases and groups of each firewall in O(changes) that names those
        parts but does not list them.
    type: bool
    default: false
  lockout_check:
    description:
      - Check that the operator keeps access to every node under the configuration.
    type: dict
    suboptions:
      clients:
        description:
          - The operator's addresses as the nodes see them.
          - Required with O(source=files). With O(source=live) it defaults to the address this
            module's own API connection comes from, as the node sees it (no NAT in between
            assumed), so the check answers whether the host running the module keeps access.
        type: list
        elements: str
      ports:
        description: TCP ports that must stay reachable.
        type: list
        elements: int
        default: [8006, 22]
      extra_ports:
        description: More ports to check, in addition to O(lockout_check.ports).
        type: list
        elements: int
        default: []
      node_addresses:
        description: The address the operator uses per node, when not the inventory's.
        type: dict
        default: {}
      nodes:
        description: Only check these nodes (default all inventory nodes).
        type: list
        elements: str
      fail_on_lockout:
        description: Fail the task when an access would be lost or cannot be evaluated.
        type: bool
        default: false
      stages:
        description:
          - With O(changes), also check every configuration a rollout of the tree passes
            through, step by step in the order M(pve.firewall.firewall_tree) and role
            P(pve.firewall.safe_rollout#role) write it (the datacenter's aliases, its IP sets and
            groups one by one, each node's options then rules, the datacenter's rules, the groups
            the change only narrows, the datacenter's options and enable, the entries the tree drops from each datacenter IP set, then each object
            O(changes_prune) removes).
          - An IP set holds its old and its new entries from its own stage until the one that
            drops entries (add before remove); a set that rules only deny loses its dropped
            entries first, in a stage just before its own.
          - The first stage that cuts an access off makes the check fail, even when the end
            state keeps it; RV(lockout.stages) lists every stage with its verdict.
        type: bool
        default: false
notes:
  - Both backends are evaluated, a node whose host option C(nftables) is 1 as proxmox-firewall filters it
    (see the nftables guide), C(forward) rules and vnet firewalls included; on the iptables
    backend they have no effect, which the trail says.
  - Every packet is treated as the first packet of a new connection; established traffic is
    always accepted by PVE before any rule.
  - With O(source=live) the configuration is read once, as the API returns it at that moment,
    with one request per firewall part (about five per guest); nothing is written.
seealso:
  - name: Proxmox VE firewall documentation
    description: How the Proxmox VE firewall works.
    link: https://pve.proxmox.com/wiki/Firewall
"""

EXAMPLES = r"""
- name: Unit-test a firewall policy written as .fw files
  pve.firewall.firewall_simulate:
    fw_dir: "{{ playbook_dir }}/firewall"
    inventory:
      nodes:
        pve1: {address: 192.0.2.11, local_network: 192.0.2.0/24}
      guests:
        100:
          type: qemu
          nics:
            net0: "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"
    packets:
      - name: web server reachable
        from: outside
        to: vm100
        dport: 443
        expect: ACCEPT
      - name: no SSH from the internet
        from: 203.0.113.9
        to: host:pve1
        dport: 22
        expect: DROP

- name: Check a structured configuration and that the admins keep access
  pve.firewall.firewall_simulate:
    config:
      cluster:
        options: {enable: 1, policy_in: DROP}
        ipsets:
          - name: management
            entries: [198.51.100.0/24]
        rules:
          - {type: in, action: ACCEPT, macro: HTTPS}
    inventory:
      nodes:
        pve1: {address: 192.0.2.11}
    packets:
      - name: SSH from the internet
        from: 203.0.113.9
        to: host:pve1
        dport: 22
    lockout_check:
      clients: [198.51.100.7]
      fail_on_lockout: true
  register: simulation

- name: Routed traffic out of an SDN vnet on an nftables node, allowed by an SDN set
  pve.firewall.firewall_simulate:
    config:
      cluster:
        options: {enable: 1, policy_forward: DROP}
        rules:
          - {type: forward, action: ACCEPT, source: +sdn/vnet1-no-gateway, proto: tcp, dport: "443"}
      hosts:
        pve1:
          options: {nftables: 1}
    inventory:
      nodes:
        pve1: {address: 192.0.2.11}
      guests:
        100:
          type: qemu
          nics:
            net0: {bridge: vnet1, mac: "BC:24:11:00:01:00", firewall: true}
      sdn:
        vnets:
          vnet1:
            subnets:
              - {cidr: 10.10.0.0/24, gateway: 10.10.0.1}
    packets:
      - name: HTTPS from the vnet to the internet
        from: vm100
        to: routed:outside
        source: 10.10.0.20
        dport: 443
        expect: ACCEPT
      - name: SSH from the vnet to the internet
        from: vm100
        to: routed:outside
        source: 10.10.0.20
        dport: 22
        expect: DROP

- name: Show why a packet is dropped
  ansible.builtin.debug:
    msg: "{{ simulation.results[0].trail | map(attribute='detail') | list }}"

- name: Ask the running cluster whether SSH is open to the internet and this host keeps access
  pve.firewall.firewall_simulate:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    source: live
    packets:
      - name: SSH from the internet to pve1
        from: 203.0.113.9
        to: host:pve1
        dport: 22
      - name: HTTPS to the web VM
        from: outside
        to: vm100
        dport: 443
    lockout_check:
      fail_on_lockout: true
  register: live
"""

RETURN = r"""
results:
  description: One entry per packet, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The packet's name, or C(from -> to).
      type: str
      sample: web server reachable
    packet:
      description: The packet as evaluated, defaults filled in.
      type: dict
      sample: {source: 100.100.1.2, dest: 100.200.3.4, proto: tcp, dport: 443}
    verdict:
      description: C(ACCEPT), C(DROP), C(REJECT) or C(UNEVALUATED).
      type: str
      sample: ACCEPT
    expected:
      description: The expected verdict, if one was given.
      type: str
      sample: ACCEPT
    passed:
      description: Whether the verdict is the expected one (true without an expectation).
      type: bool
      sample: true
    decided_by:
      description: The trail step that decided the verdict.
      type: dict
      sample: {hop: vm 100 net0 IN, chain: tap100i0-IN, kind: rule, action: ACCEPT, level: vm, position: 0}
    trail:
      description:
        - Every step of the evaluation, hop by hop. Each has C(hop), C(chain), C(kind)
          (C(rule), C(policy), C(builtin), C(pass), C(note)), C(action), C(detail), C(level),
          C(position), C(rule), C(comment), C(group), C(node) and C(vmid).
      type: list
      elements: dict
    warnings:
      description: What the evaluation could not take into account.
      type: list
      elements: str
failed_expectations:
  description: One line per packet whose verdict differs from its expectation.
  returned: always
  type: list
  elements: str
  sample: ["no SSH from the internet: expected DROP, got ACCEPT (host pve1 IN: cluster rule pos 0: IN ACCEPT -p tcp -dport 22)"]
changes:
  description: What O(changes) changes, when given.
  returned: when changes is given
  type: dict
  contains:
    files:
      description: The firewalls whose configuration differs (C(cluster), C(node pve1), C(vm 100), C(vnet vnet1)).
      type: list
      elements: str
      sample: [cluster, vm 100]
    nics:
      description: The guests whose NICs' C(firewall) flag O(changes) turns on or off (C(nic_firewall)).
      type: list
      elements: int
      sample: [100]
    node_access:
      description:
        - Whether the change can decide if the nodes accept new connections (the datacenter or a
          node firewall changes), so that a rollout should arm PVE's auto-revert first.
      type: bool
      sample: true
nodes:
  description: The nodes of the inventory with their C(address) and C(local_network).
  returned: always
  type: dict
  sample: {pve1: {address: 192.0.2.11, local_network: 192.0.2.0/24}}
lockout:
  description: The lockout report, when O(lockout_check) is given.
  returned: when lockout_check is given
  type: dict
  contains:
    ok:
      description: Whether every access is kept.
      type: bool
      sample: true
    summary:
      description: A readable summary naming each lost access and its fix.
      type: str
      sample: "lockout check: 2 of 2 accesses kept."
    accesses:
      description:
        - One entry per node, client and port with C(node), C(node_address), C(client),
          C(port), C(status) (C(kept), C(lost), C(unknown)), C(verdict), C(reason), C(fix)
          and C(trail).
      type: list
      elements: dict
    stages:
      description:
        - With O(lockout_check.stages), each stage of the rollout in its order, with C(stage) (what
          was just written), C(ok) and C(summary).
      returned: when O(lockout_check.stages) is set and O(changes) is given
      type: list
      elements: dict
      sample: [{"stage": "datacenter security group admin", "ok": false, "summary": "lockout check: 4 of 6 accesses kept; ..."}]
"""

from typing import Any

from ..module_utils._module_kit.arguments import argument_spec as with_connection
from ..module_utils._module_kit.connections import PARALLEL_ARG
from ..module_utils._module_kit.runner import ModuleSpec, Run, run_module
from ..module_utils._module_simulate.loading import TEXT_OPTIONS
from ..module_utils._module_simulate.runner import run

VERDICT_CHOICES = ["ACCEPT", "DROP", "REJECT", "UNEVALUATED"]
ADDRESS_TYPES = ["UNICAST", "BROADCAST", "MULTICAST", "ANYCAST"]


def argument_spec() -> dict[str, Any]:
    packet = {
        "name": {"type": "str"},
        "from": {"type": "str", "required": True},
        "to": {"type": "str", "required": True},
        "proto": {"type": "str", "default": "tcp"},
        "dport": {"type": "int"},
        "sport": {"type": "int"},
        "icmp_type": {"type": "str"},
        "source": {"type": "str"},
        "dest": {"type": "str"},
        "srctype": {"type": "str", "choices": ADDRESS_TYPES},
        "dsttype": {"type": "str", "choices": ADDRESS_TYPES},
        "source_mac": {"type": "str"},
        "expect": {"type": "str", "choices": VERDICT_CHOICES},
    }
    lockout = {
        "clients": {"type": "list", "elements": "str"},
        "ports": {"type": "list", "elements": "int", "default": [8006, 22]},
        "extra_ports": {"type": "list", "elements": "int", "default": []},
        "node_addresses": {"type": "dict", "default": {}},
        "nodes": {"type": "list", "elements": "str"},
        "fail_on_lockout": {"type": "bool", "default": False},
        "stages": {"type": "bool", "default": False},
    }
    own: dict[str, dict[str, Any]] = {
        "source": {"type": "str", "default": "files", "choices": ["files", "live"]},
        "fw_dir": {"type": "path"},
        "cluster_fw": {"type": "str"},
        "host_fw": {"type": "str"},
        "hosts_fw": {"type": "dict"},
        "guests_fw": {"type": "dict"},
        "config": {"type": "dict"},
        "inventory": {"type": "dict"},
        "corosync_conf": {"type": "str"},
        "now": {"type": "float"},
        "parallel": PARALLEL_ARG,
        "packets": {"type": "list", "elements": "dict", "default": [], "options": packet},
        "changes": {"type": "dict"},
        "changes_rules_state": {"type": "str", "default": "overridden", "choices": ["overridden", "merged"]},
        "changes_prune": {"type": "bool", "default": False},
        "lockout_check": {"type": "dict", "options": lockout},
    }
    return with_connection(own, scope=False)


SPEC = ModuleSpec(
    argument_spec=argument_spec(),
    start=lambda module: Run(lambda: run(module)),
    mutually_exclusive=[("fw_dir", "config", text) for text in TEXT_OPTIONS],
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
