#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_tree
short_description: Converge the firewall of a whole Proxmox VE cluster in one task
version_added: 0.2.0
description:
  - Takes a firewall tree, the shape M(pve.firewall.firewall_info) returns and
    C(playbooks/export.yml) writes (C(cluster), C(nodes), C(guests), C(vnets)), and makes the
    cluster hold it, in one task.
  - Reads the cluster once, validates the whole tree against it (every problem named by
    its place in the tree, such as C(tree.guests.100 rules[2])) and refuses a file that would
    exceed pmxcfs' 1 MiB limit, all before the first write. It reads every file when the tree
    lists the datacenter's IP sets, aliases or groups (the rules of any file may name them) or
    prunes at the datacenter; otherwise the datacenter's and the nodes' files and the guests and
    vnets the tree names.
  - Runs the lockout analysis before the first write on every configuration the writes pass
    through - after each step of the datacenter's and the nodes' files, in the order the steps
    run - and refuses the whole change at the first step after which this controller would lose
    access to a node, unless O(allow_lockout) is set.
  - Writes in the safe order - aliases and IP sets, security groups, the guests', nodes' and
    vnets' options, NIC flags and rules, the datacenter's rules, its options, its C(enable) last,
    then the removals. A write that later ones depend on finishes before them. A group that the
    change only narrows (ACCEPT rules out, DROP or REJECT rules in), jumped to by no new file,
    follows the datacenter's rules instead, so rules that take over from it are there first.
  - Adds before it removes. An IP set that exists before and after gets its new entries (and
    the changed comments and C(nomatch) of the others) with the IP sets, and loses the entries
    the tree drops only with the removals, after the datacenter's C(enable) and before the
    objects O(prune) removes. Rules that move from the old entries to the new ones always find
    one of them. A datacenter IP set that rules only deny (C(blacklist), or a set every rule
    naming it drops or rejects) goes the other way - its dropped entries leave first - so a DROP
    rule the same tree adds never meets an entry on its way out.
    M(pve.firewall.firewall_simulate) judges the steps of a rollout in the same order.
    An alias whose address changes changes with the IP sets, at once.
  - Files that do not depend on each other are written at the same time, through at most
    O(parallel) kept-alive connections; PVE locks each file while it writes it, so one file is
    never written by two steps at once. The entries of an IP set and the aliases of a file,
    whose order does not matter, are spread over the connections that are idle.
  - Only what differs is written; each write carries the digest of a read, and a concurrent
    change is planned on top of. A failure stops further writes, waits for those under way, and
    names the file, the part and every write made, so a rerun converges from there.
  - What a part of the tree does not name stays as it is - options keys not given, IP sets,
    aliases and groups not listed (unless O(prune)), a file's rules when the file has no
    C(rules). The read-only keys M(pve.firewall.firewall_info) adds are ignored.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.lockout
attributes:
  check_mode:
    support: full
    description: Plans every step from the one read and returns the API calls it would make, in order; writes nothing.
  diff_mode:
    support: full
    description: Shows every file that changes before and after as C(.fw) text, each headed by the path PVE keeps it at.
options:
  tree:
    description:
      - The firewall tree. C(cluster) is the datacenter's firewall, C(nodes) maps node names,
        C(guests) vmids and C(vnets) vnet names to their firewall. Each firewall may have
        C(options), C(rules), C(ipsets) and C(aliases) (those two at the datacenter and guests),
        and the datacenter C(groups), in the shapes of the per-object modules.
      - A guest may have C(nic_firewall), V(true) or V(false) for all its NICs, or NIC keys mapped
        to their flag.
    type: dict
    required: true
  rules_state:
    description:
      - V(overridden) makes each rule list of the tree exactly so; V(merged) adds and updates the
        given rules and keeps the others (the states of M(pve.firewall.firewall_rule)).
    type: str
    choices: [overridden, merged]
    default: overridden
  prune:
    description:
      - Remove the IP sets, aliases and security groups that a firewall of the tree does not
        list (only where the tree has that part). Removals come last, after the rules that used
        them are gone; one still used by a rule the tree keeps fails the task before any write.
      - The entries the tree drops from an IP set it lists are removed whatever this option says
        (the tree says the set is exactly its list), in the stage V(prune).
    type: bool
    default: false
  exact_options:
    description:
      - Make the options of each firewall that has C(options) in the tree exactly those, resetting
        the keys it does not list (O(pve.firewall.firewall_options#module:exact)).
      - With the stages C(cluster_options) and C(enable) both selected, the datacenter's C(enable)
        is written in the same request as its other options, so it is never reset in between (the
        restore of a snapshot).
    type: bool
    default: false
  stages:
    description:
      - The stages of the safe order to apply in this call; default all of them. A rollout that
        verifies access between stages (the P(pve.firewall.safe_rollout#role) role) applies one or a few
        stages per task.
      - V(sets) the IP sets and aliases of every level (an IP set that exists gains its new
        entries and keeps those the tree drops; a datacenter set that rules only deny loses
        them first), V(groups) the security groups, V(guests) the guests' options, NIC flags
        and rules, V(nodes) and V(vnets) theirs, V(cluster_rules) (then the groups the change
        only narrows), V(cluster_options) (all but C(enable)), V(enable), and V(prune)
        the removals - the entries the tree drops from the IP sets it lists (whatever O(prune)),
        then the objects O(prune) removes.
      - A call whose stages leave out V(prune) leaves the dropped entries in their IP sets; the
        last call of a rollout, with V(prune), removes them. The default, every stage, makes the
        cluster hold exactly the tree in one call, and a rerun changes nothing.
      - The whole tree is validated whatever the stages.
    type: list
    elements: str
    choices: [sets, groups, guests, nodes, vnets, cluster_rules, cluster_options, enable, prune]
  parallel:
    description:
      - How many files may be read or written at the same time, each through a connection of
        its own (1 to 16); the one read of the cluster before the first write uses the same
        connections. V(1) reads and writes one after the other.
    type: int
    default: 4
  auto_revert:
    description:
      - Turn the datacenter firewall on through PVE's auto-revert - store a timestamp, prove
        access over a new connection, then confirm - as M(pve.firewall.firewall_options) does.
    type: bool
    default: true
notes:
  - The per-object modules stay for single changes; this module is the one task for a whole tree.
seealso:
  - module: pve.firewall.firewall_info
  - module: pve.firewall.firewall_simulate
"""

EXAMPLES = r"""
- name: Converge the cluster to the exported tree (refused if this controller would lose access)
  pve.firewall.firewall_tree:
    tree: "{{ lookup('ansible.builtin.file', 'firewall.yml') | from_yaml }}"
    prune: true

- name: Add a rule to a guest and keep its other rules
  pve.firewall.firewall_tree:
    rules_state: merged
    tree:
      guests:
        100:
          options:
            enable: true
          rules:
            - {type: in, action: ACCEPT, macro: HTTPS}
          nic_firewall: true

- name: Only the IP sets and aliases, two files at a time
  pve.firewall.firewall_tree:
    stages: [sets]
    parallel: 2
    tree:
      cluster:
        aliases:
          - {name: admin, cidr: 192.0.2.10}
        ipsets:
          - name: management
            entries: [admin]
"""

RETURN = r"""
commands:
  description:
    - The API calls made, or in check mode planned, in the safe order (steps of different files ran at the same time).
    - An IP set that changes shows two writes, the POSTs of its new entries among the first calls and the DELETEs of its dropped ones among the last.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/aliases name=admin cidr=192.0.2.10", "PUT /nodes/pve1/firewall/options enable=1"]
files:
  description:
    - Per firewall that changes (C(cluster), C(node pve1), C(vm 100), C(vnet vnet1)) where PVE keeps it, the parts written and how many calls.
    - An IP set whose entries the tree drops has two parts, C(ipset NAME) and C(prune_entries NAME).
  returned: always
  type: dict
  sample: {"vm 100": {"path": "/etc/pve/firewall/100.fw", "parts": ["options", "rules"], "commands": 3}}
stages:
  description: The stages this call applied, in their order.
  returned: always
  type: list
  elements: str
nics:
  description: The guests whose NICs' firewall flag changes.
  returned: always
  type: list
  elements: int
most_at_once:
  description: The most steps that ran at the same time (without check mode).
  returned: when something was written
  type: int
lockout:
  description:
    - The lockout analysis of the steps, when the change can decide node access - the report of
      the first step that loses an access, or else of the last one (the end state).
    - C(step) names that step, C(steps_judged) says how many steps were judged.
  returned: when the change touches the datacenter's or a node's firewall while the firewall is on
  type: dict
errors:
  description: Every problem of the tree, each with C(location) (its place in the tree), C(field), C(value), C(message) and C(accepted).
  returned: on a tree that fails validation
  type: list
  elements: dict
failed_steps:
  description: The steps that failed, with C(file), C(path), C(part), C(name) and C(message).
  returned: when a write failed
  type: list
  elements: dict
not_started:
  description: The steps not started because an earlier one failed.
  returned: when a write failed
  type: list
  elements: str
"""

from ..module_utils._module_firewall_tree.runner import FirewallTree
from ..module_utils._module_kit.access import ACCESS_ARGS
from ..module_utils._module_kit.arguments import argument_spec
from ..module_utils._module_kit.connections import PARALLEL_ARG
from ..module_utils._module_kit.runner import ModuleSpec, Run, run_module
from ..module_utils._plan.tree_steps import STAGES

SPEC = ModuleSpec(
    argument_spec=argument_spec(
        ACCESS_ARGS,
        {
            "tree": {"type": "dict", "required": True},
            "rules_state": {"type": "str", "default": "overridden", "choices": ["overridden", "merged"]},
            "prune": {"type": "bool", "default": False},
            "exact_options": {"type": "bool", "default": False},
            "stages": {"type": "list", "elements": "str", "choices": list(STAGES)},
            "parallel": PARALLEL_ARG,
            "auto_revert": {"type": "bool", "default": True},
        },
        scope=False,
    ),
    start=lambda module: Run.of(FirewallTree(module)),
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
