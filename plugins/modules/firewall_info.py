#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_info
short_description: Read the Proxmox VE firewall configuration of a whole cluster
version_added: 0.2.0
description:
  - Reads the firewall options, rules, security groups, IP sets, aliases and references of the
    datacenter, the nodes, the guests (VMs and containers) and the SDN vnets through the
    Proxmox VE API, and optionally the list of macros.
  - Every part comes back in exactly the shape the other modules of this collection take, so
    feeding it back changes nothing. Rules go to M(pve.firewall.firewall_rule), options to
    M(pve.firewall.firewall_options), IP sets to M(pve.firewall.ipset), aliases to
    M(pve.firewall.alias) and groups to M(pve.firewall.security_group).
  - The module never changes anything.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.api.READ_ONLY
  - pve.firewall.parallel
options:
  levels:
    description:
      - The firewalls to read. V(cluster) is the datacenter, V(node) the host firewall of each
        node, V(vm) and V(ct) each guest's, V(vnet) each SDN vnet's.
    type: list
    elements: str
    choices: [cluster, node, vm, ct, vnet]
    default: [cluster, node, vm, ct, vnet]
  nodes:
    description:
      - Read the host firewalls of these nodes only (default every node of the cluster).
      - Limits the V(node) level only; guests are chosen with O(vmids).
      - A name that is no node of the cluster fails the task.
    type: list
    elements: str
  vmids:
    description:
      - Read the firewalls of these guests only (default every guest of the cluster).
      - Limits the V(vm) and V(ct) levels; a container listed while O(levels) has no V(ct) is
        not read.
      - An id that is no guest of the cluster fails the task.
    type: list
    elements: int
  vnets:
    description:
      - Read the firewalls of these SDN vnets only (default every vnet).
      - A name that is no vnet of the cluster fails the task.
    type: list
    elements: str
  include:
    description:
      - What to return of each firewall read. A level returns only the parts it has
        (C(groups) at the datacenter; C(ipsets), C(aliases) and C(refs) at the datacenter and
        the guests; C(nics) at the guests; C(options) and C(rules) everywhere).
      - V(refs) is what rules may name in C(source) and C(dest) there, as C(GET .../refs)
        lists it (read only, not input of any module).
      - V(macros) adds RV(macros), the macros PVE knows. It is not included by default
        since it is the same fixed list on every cluster.
      - V(nics) adds C(nic_firewall) to each guest - its network devices (C(net0), C(net1),
        ...) mapped to their C(firewall) flag, the form M(pve.firewall.firewall_simulate)
        C(changes) and role P(pve.firewall.safe_rollout#role) take. It is not included by
        default since it costs one read of the guest config per guest.
      - Parts not read cost no API request.
    type: list
    elements: str
    choices: [options, rules, groups, ipsets, aliases, refs, macros, nics]
    default: [options, rules, groups, ipsets, aliases, refs]
notes:
  - Each listed part is always returned, empty when nothing is set, so a missing key never has
    to be guarded against.
  - Options hold only the keys set in the C(.fw) file, as PVE returns them; defaults are not
    filled in.
seealso:
  - module: pve.firewall.firewall_rule
  - module: pve.firewall.firewall_simulate
"""

EXAMPLES = r"""
- name: Read the whole firewall configuration of the cluster
  pve.firewall.firewall_info:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
  register: firewall

- name: Read the rules and options of one node and two guests
  pve.firewall.firewall_info:
    levels: [node, vm, ct]
    nodes: [pve1]
    vmids: [100, 200]
    include: [options, rules]
  register: some

- name: Put the datacenter's rules back exactly as they are (changes nothing)
  pve.firewall.firewall_rule:
    level: cluster
    state: overridden
    rules: "{{ firewall.cluster.rules }}"

- name: Read the guests' options with the firewall flag of each NIC (one config read per guest)
  pve.firewall.firewall_info:
    levels: [vm, ct]
    include: [options, nics]
  register: guests

- name: List the macros PVE knows
  pve.firewall.firewall_info:
    levels: []
    include: [macros]
  register: known
"""

RETURN = r"""
cluster:
  description:
    - The datacenter firewall, with the parts of O(include) it has.
    - C(options) is a mapping, C(rules) a list in the shape of the O(pve.firewall.firewall_rule#module:rules)
      option, C(groups) a list of C(name), C(comment) and C(rules), C(ipsets) a list of
      C(name), C(comment) and C(entries) (strings, C(!) for nomatch, or mappings with C(cidr),
      C(nomatch) and C(comment)), C(aliases) a list of C(name), C(cidr) and C(comment),
      C(refs) a list of C(type), C(name), C(ref), C(scope) and C(comment).
    - An C(enable) that PVE holds as the time of an armed auto-revert (it stores the time of
      the write for a value above 1, and reads it as on for 60 seconds) is returned as V(1),
      the setting the admin turned on, since the options take no timestamp back; the time
      itself is C(auto_revert_armed_at), a read-only key that applying the tree ignores.
  returned: when O(levels) has V(cluster)
  type: dict
  sample:
    options: {enable: 1, policy_in: DROP}
    rules: [{type: in, action: ACCEPT, macro: SSH, source: +management}]
    groups: [{name: web, comment: web servers, rules: [{type: in, action: ACCEPT, macro: HTTPS}]}]
    ipsets: [{name: management, entries: [192.0.2.0/24, "!192.0.2.128/25"]}]
    aliases: [{name: gateway, cidr: 192.0.2.1, comment: router}]
    refs: [{type: ipset, name: management, ref: +management, scope: dc}]
nodes:
  description: The host firewall per node name, each with C(options) and C(rules) as included.
  returned: when O(levels) has V(node)
  type: dict
  sample: {pve1: {options: {enable: true}, rules: [{type: in, action: ACCEPT, macro: SSH}]}}
guests:
  description:
    - The firewall per guest id (as a string), each with C(vmid), C(type) (C(qemu) or C(lxc)),
      C(level) (C(vm) or C(ct)), C(node), C(name), C(tags) (PVE's guest tags, a list) and the
      included parts of C(options),
      C(rules), C(ipsets), C(aliases) and C(refs).
    - With O(include) V(nics), C(nic_firewall) maps each network device of the guest to its
      C(firewall) flag (empty for a guest without one).
  returned: when O(levels) has V(vm) or V(ct)
  type: dict
  sample:
    "100":
      vmid: 100
      type: qemu
      level: vm
      node: pve1
      name: web1
      tags: [web]
      options: {enable: true}
      rules: [{type: in, action: ACCEPT, macro: HTTPS}]
      ipsets: []
      aliases: []
      refs: []
      nic_firewall: {net0: true, net1: false}
vnets:
  description: The firewall per SDN vnet, each with C(options) and C(rules) as included.
  returned: when O(levels) has V(vnet)
  type: dict
  sample: {vnet1: {options: {enable: true}, rules: [{type: forward, action: ACCEPT, macro: DNS}]}}
macros:
  description: The macros PVE knows, each with C(macro) and C(descr), sorted by name.
  returned: when O(include) has V(macros)
  type: list
  elements: dict
  sample: [{macro: SSH, descr: Secure shell traffic}]
"""

from collections.abc import Callable
from functools import partial
from typing import Any

from ..module_utils._api.service import FanOut, FirewallApi, Scope
from ..module_utils._compiler.user_input import file_to_user
from ..module_utils._model.errors import raise_if_errors
from ..module_utils._model.levels import GUEST_LEVEL_NAMES, LEVEL_NAMES
from ..module_utils._module_kit.arguments import argument_spec
from ..module_utils._module_kit.connections import PARALLEL_ARG, connection_pool, parallel_problems
from ..module_utils._module_kit.references import unknown_names
from ..module_utils._module_kit.report import ModuleContext
from ..module_utils._module_kit.runner import ModuleSpec, Run, connect, run_module

LEVELS = list(LEVEL_NAMES)
PARTS = ["options", "rules", "groups", "ipsets", "aliases", "refs", "macros", "nics"]
# macros: the same fixed list on every cluster; nics: one guest config read per guest
DEFAULT_PARTS = [part for part in PARTS if part not in ("macros", "nics")]
# What each level has: the rest of O(include) does not apply there.
_LEVEL_PARTS = {
    "cluster": ("options", "rules", "groups", "ipsets", "aliases", "refs"),
    "node": ("options", "rules"),
    "vm": ("options", "rules", "ipsets", "aliases", "refs"),
    "ct": ("options", "rules", "ipsets", "aliases", "refs"),
    "vnet": ("options", "rules"),
}


class FirewallInfo:
    """One run: check the filters against the cluster, then read each chosen firewall."""

    def __init__(self, module: ModuleContext) -> None:
        self.params = module.params
        self.levels = set(self.params["levels"])
        self.include = set(self.params["include"])

    def read(self, api: FirewallApi, scope: Scope) -> dict[str, Any]:
        """One firewall in the modules' input shape, every included part present."""
        parts = [part for part in _LEVEL_PARTS[scope.level] if part in self.include]
        read = api.read_file(scope, [part for part in parts if part != "refs"])
        out = file_to_user(read)
        shaped: dict[str, Any] = {}
        armed_at = read.options.get("enable") if scope.level == "cluster" else None
        if isinstance(armed_at, int) and not isinstance(armed_at, bool) and armed_at > 1:
            shaped["auto_revert_armed_at"] = armed_at  # read-only: what options.enable (1) stands for
        for part in parts:
            if part == "refs":
                refs = [{key: value for key, value in item.items() if key != "digest"} for item in api.refs(scope)]
                shaped["refs"] = sorted(refs, key=lambda item: (str(item.get("scope")), str(item.get("type")), str(item.get("name"))))
            else:
                shaped[part] = out.get(part, {} if part == "options" else [])
        return shaped

    def nic_flags(self, api: FirewallApi, guest: dict[str, Any]) -> dict[str, Any]:
        """With include nics: the guest's NICs mapped to their firewall flag, as a tree takes them."""
        if "nics" not in self.include:
            return {}
        config = api.guest_config(guest["vmid"], guest["type"], guest["node"])
        return {"nic_firewall": {nic.name: nic.firewall for nic in config.nics}}

    @staticmethod
    def guests(api: FirewallApi) -> list[dict[str, Any]]:
        """Every guest with its type, level, node and name, by id (one /cluster/resources read)."""
        return [
            {"vmid": guest.vmid, "type": guest.type, "level": guest.level, "node": guest.node, "name": guest.name, "tags": list(guest.tags)}
            for guest in api.resources()
        ]

    def guest_read(self, api: FirewallApi, guest: dict[str, Any]) -> dict[str, Any]:
        scope = Scope(guest["level"], guest["node"], guest["vmid"])
        return {**guest, **self.read(api, scope), **self.nic_flags(api, guest)}

    def run(self, api: FirewallApi, fan_out: FanOut) -> dict[str, Any]:
        params = self.params
        nodes = api.node_names() if "node" in self.levels or params["nodes"] else []
        guests = self.guests(api) if self.levels & set(GUEST_LEVEL_NAMES) or params["vmids"] else []
        vnets = api.vnet_names() if "vnet" in self.levels or params["vnets"] else []
        errors = unknown_names("nodes", "node", params["nodes"] or [], nodes)
        errors += unknown_names("vmids", "guest", params["vmids"] or [], [guest["vmid"] for guest in guests])
        errors += unknown_names("vnets", "vnet", params["vnets"] or [], vnets)
        raise_if_errors(errors)

        # every firewall to read, as (result key, name, read): the reads go at once over the pool
        reads: list[tuple[str, str, Callable[[FirewallApi], dict[str, Any]]]] = []
        if "cluster" in self.levels:
            reads.append(("cluster", "", partial(self.read, scope=Scope("cluster"))))
        if "node" in self.levels:
            chosen = [node for node in nodes if params["nodes"] is None or node in params["nodes"]]
            reads += [("nodes", node, partial(self.read, scope=Scope("node", node))) for node in chosen]
        if self.levels & set(GUEST_LEVEL_NAMES):
            chosen_guests = [guest for guest in guests if guest["level"] in self.levels and (params["vmids"] is None or guest["vmid"] in params["vmids"])]
            reads += [("guests", str(guest["vmid"]), partial(self.guest_read, guest=guest)) for guest in chosen_guests]
        if "vnet" in self.levels:
            chosen = [vnet for vnet in vnets if params["vnets"] is None or vnet in params["vnets"]]
            reads += [("vnets", vnet, partial(self.read, scope=Scope("vnet", vnet=vnet))) for vnet in chosen]

        result: dict[str, Any] = {"changed": False}
        if "cluster" in self.levels:
            result["cluster"] = {}
        result.update({"nodes": {}} if "node" in self.levels else {})
        result.update({"guests": {}} if self.levels & set(GUEST_LEVEL_NAMES) else {})
        result.update({"vnets": {}} if "vnet" in self.levels else {})
        for (key, name, _read), found in zip(reads, fan_out([read for _key, _name, read in reads])):
            if key == "cluster":
                result["cluster"] = found
            else:
                result[key][name] = found
        if "macros" in self.include:
            result["macros"] = [{key: value for key, value in item.items() if key != "digest"} for item in api.macros()]
        return result


def start(module: ModuleContext) -> Run:
    raise_if_errors(parallel_problems(module.params))

    def work() -> dict[str, Any]:
        with connect(module) as api, connection_pool(api, module.params) as pool:
            return FirewallInfo(module).run(api, pool.fan_out)

    return Run(work)


SPEC = ModuleSpec(
    argument_spec=argument_spec(
        {
            "levels": {"type": "list", "elements": "str", "choices": LEVELS, "default": list(LEVELS)},
            "nodes": {"type": "list", "elements": "str"},
            "vmids": {"type": "list", "elements": "int"},
            "vnets": {"type": "list", "elements": "str"},
            "include": {"type": "list", "elements": "str", "choices": PARTS, "default": list(DEFAULT_PARTS)},
            "parallel": PARALLEL_ARG,
        },
        scope=False,
    ),
    start=start,
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
