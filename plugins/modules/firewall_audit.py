#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_audit
short_description: Find weak spots in the Proxmox VE firewall configuration of a whole cluster
version_added: 0.2.0
description:
  - Reads the firewall configuration of the cluster through the Proxmox VE API and reports
    findings, each with a severity, the object it is about, a message and a concrete fix
    naming the module and option that make it.
  - "C(critical): C(guest-unfiltered), a guest that has rules while PVE does not filter it
    because one of the three switches is off (the datacenter firewall, the guest's own
    firewall, C(firewall=1) on each of its NICs)."
  - "C(high): C(no-management-access), an inbound policy of C(DROP) or C(REJECT) with neither
    entries in the datacenter IP set C(management) nor a rule accepting tcp 8006 or 22 (only
    the nodes' local network then keeps the API and SSH); C(missing-reference), a rule or IP
    set entry naming an IP set, alias or security group that does not exist (PVE leaves the
    rule out, or jumps to an empty group); C(group-case-mismatch), a C(GROUP) rule naming a
    security group in another case (PVE looks groups up by the exact name, so the rule jumps
    to nothing)."
  - "C(medium): C(rule-shadowed), a rule that can never match because an earlier rule of the
    same list already decides every packet it would match (macros, IP sets, aliases, port
    ranges, address families, interfaces and the rules of security groups are all taken into
    account, and a rule is reported only when that is proven); C(iface-missing), a datacenter
    or node rule bound to an interface a node does not have; C(forward-inert), a C(FORWARD)
    rule (datacenter, node or security group) or a vnet firewall on a cluster whose nodes all
    run the iptables backend (host option C(nftables) 0), which ignores them, so that they
    filter nothing (reported only when every node's host options are read); C(nic-missing), a guest rule
    bound to a NIC the guest does not have; C(guest-firewall-off) and C(nic-flag-off), a guest
    without rules whose own firewall or NIC flag is off while the datacenter firewall is on;
    C(guest-policy-accept), a guest with its firewall on and C(policy_in) C(ACCEPT)."
  - "C(low): C(rule-duplicate), a rule that repeats an earlier one of the same list (comments
    aside); C(too-many-rules), a guest with more active rules than O(max_rules_per_guest);
    C(unused-ipset), C(unused-alias) and C(unused-group), objects nothing refers to (PVE's
    special sets C(management), C(blacklist), C(ipfilter-net<N>) and the alias
    C(local_network) count as used)."
  - "C(info): C(macro-available), raw port rules one macro rule expresses; C(ipset-candidate),
    three or more consecutive rules differing only in source (or only in destination) that
    one IP set would collapse."
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
      - The firewalls whose findings are reported. V(cluster) is the datacenter with its IP
        sets, aliases and security groups, V(node) the host firewall of each node, V(vm) and
        V(ct) each guest's, V(vnet) each SDN vnet's.
      - With V(cluster), every firewall of the cluster is read, since unused objects can only
        be told by looking for references everywhere. Without it only the chosen levels and
        the datacenter firewall (whose switch, IP sets, aliases and groups the others use) are
        read.
    type: list
    elements: str
    choices: [cluster, node, vm, ct, vnet]
    default: [cluster, node, vm, ct, vnet]
  nodes:
    description:
      - Report on the host firewalls of these nodes only (default every node).
      - Limits the V(node) level only. A name that is no node of the cluster fails the task.
    type: list
    elements: str
  vmids:
    description:
      - Report on the firewalls of these guests only (default every guest).
      - Limits the V(vm) and V(ct) levels. An id that is no guest of the cluster fails the task.
    type: list
    elements: int
  checks:
    description:
      - The checks to run (default all of them).
    type: list
    elements: str
    choices:
      - guest-unfiltered
      - no-management-access
      - missing-reference
      - group-case-mismatch
      - rule-shadowed
      - iface-missing
      - forward-inert
      - nic-missing
      - guest-firewall-off
      - nic-flag-off
      - guest-policy-accept
      - rule-duplicate
      - too-many-rules
      - unused-ipset
      - unused-alias
      - unused-group
      - macro-available
      - ipset-candidate
  skip_checks:
    description:
      - Checks not to run, taken away from O(checks).
    type: list
    elements: str
    default: []
    choices:
      - guest-unfiltered
      - no-management-access
      - missing-reference
      - group-case-mismatch
      - rule-shadowed
      - iface-missing
      - forward-inert
      - nic-missing
      - guest-firewall-off
      - nic-flag-off
      - guest-policy-accept
      - rule-duplicate
      - too-many-rules
      - unused-ipset
      - unused-alias
      - unused-group
      - macro-available
      - ipset-candidate
  max_rules_per_guest:
    description:
      - The number of active rules of a guest's own list above which C(too-many-rules) reports
        it (a C(GROUP) rule counts as one).
    type: int
    default: 20
  min_severity:
    description:
      - Report only findings of this severity or a more severe one.
    type: str
    choices: [critical, high, medium, low, info]
    default: info
  fail_on:
    description:
      - Fail the task when a reported finding has this severity or a more severe one, for
        example in a CI job. The failed result still holds every finding, the summary and the
        counts.
      - Only reported findings count (see O(min_severity)).
    type: str
    choices: [critical, high, medium, low, info]
notes:
  - Interface names come from C(/nodes/<node>/network), read only for nodes whose rules (or the
    datacenter's) are bound to an interface; a node that does not answer is skipped with a
    warning. C(lo) always exists.
  - Rules are judged as the iptables backend of C(pve-firewall) compiles them.
seealso:
  - module: pve.firewall.firewall_info
  - module: pve.firewall.firewall_simulate
"""

EXAMPLES = r"""
- name: Audit the whole cluster
  pve.firewall.firewall_audit:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
  register: audit

- name: Show what was found
  ansible.builtin.debug:
    msg: "{{ audit.summary }}"

- name: CI gate - fail on anything high or critical, leave the suggestions out
  pve.firewall.firewall_audit:
    fail_on: high
    skip_checks: [macro-available, ipset-candidate]

- name: Audit two guests only, with a lower rule threshold
  pve.firewall.firewall_audit:
    levels: [vm, ct]
    vmids: [100, 200]
    max_rules_per_guest: 10
    min_severity: medium
  register: guests
"""

RETURN = r"""
findings:
  description:
    - The findings, most severe first (within a severity the datacenter, its security groups,
      the nodes, the guests and the vnets, each in list order).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The check and the object's place, stable while the object keeps it.
      type: str
      sample: rule-shadowed@vm 100 rules[3]
    check:
      description: The check's code (see O(checks)).
      type: str
      sample: rule-shadowed
    severity:
      description: C(critical), C(high), C(medium), C(low) or C(info).
      type: str
      sample: medium
    object:
      description:
        - What the finding is about. C(level) (C(cluster), C(node), C(vm), C(ct), C(vnet)),
          and where they apply C(node), C(vmid), C(vnet), C(group) (a security group, at the
          datacenter), C(ipset), C(alias), C(nic), C(position) (the rule's position in its
          list, as PVE numbers it) and C(entry) (an IP set entry's index).
      type: dict
      sample: {level: vm, node: pve1, vmid: 100, position: 3}
    where:
      description: The object as text.
      type: str
      sample: vm 100 rules[3]
    message:
      description: What is wrong.
      type: str
      sample: "rules[3] (IN DROP -p tcp -dport 8080) can never match: rules[1] (IN ACCEPT -p tcp -dport 8000:8100) already decides every packet it would match"
    fix:
      description: A concrete change, naming the module of this collection that makes it.
      type: str
      sample: "delete rules[3], or move it above rules[1] if it is meant to decide first (pve.firewall.firewall_rule)"
summary:
  description: A heading with the counts, then one line per finding.
  returned: always
  type: list
  elements: str
  sample:
    - "2 findings: 1 critical, 1 medium"
    - "CRITICAL guest-unfiltered vm 100: vm 100 has 3 active rules but PVE does not filter its traffic: the guest's firewall is off"
    - "MEDIUM rule-shadowed vm 100 rules[3]: rules[3] (IN DROP -p tcp -dport 8080) can never match: ..."
counts:
  description: The number of findings, in all, per severity (every severity present) and per check.
  returned: always
  type: dict
  sample: {total: 2, by_severity: {critical: 1, high: 0, medium: 1, low: 0, info: 0}, by_check: {guest-unfiltered: 1, rule-shadowed: 1}}
"""

import time
from functools import partial
from typing import Any

from ..module_utils._analysis.audit import (
    CHECKS,
    LEVELS,
    SEVERITIES,
    AuditFacts,
    AuditScope,
    AuditSettings,
    at_or_above,
    audit,
    counts,
    severity_rank,
    summary_lines,
)
from ..module_utils._api.service import FanOut, FirewallApi, Scope
from ..module_utils._api.transport import PveApiError
from ..module_utils._model.errors import FieldError, raise_if_errors
from ..module_utils._model.inventory import Guest, Inventory
from ..module_utils._model.objects import ClusterConfig, FirewallFile
from ..module_utils._module_kit.arguments import argument_spec
from ..module_utils._module_kit.connections import PARALLEL_ARG, connection_pool, parallel_problems
from ..module_utils._module_kit.references import unknown_names
from ..module_utils._module_kit.report import ModuleContext
from ..module_utils._module_kit.runner import ModuleFailure, ModuleSpec, Run, connect, run_module

CHECK_CODES = list(CHECKS)
GUEST_LEVELS = {"qemu": "vm", "lxc": "ct"}


def _bound(fw: FirewallFile | None) -> bool:
    """The file has an active rule bound to an interface."""
    return fw is not None and any(rule.enable and rule.iface for rule in fw.rules)


class FirewallAudit:
    """One run: check the filters, read what the levels need, audit, report."""

    def __init__(self, module: ModuleContext) -> None:
        self.module = module
        self.params = module.params
        self.levels = frozenset(self.params["levels"])
        self.checks = frozenset(self.params["checks"] or CHECK_CODES) - frozenset(self.params["skip_checks"])

    def run(self, api: FirewallApi, fan_out: FanOut) -> dict[str, Any]:
        params = self.params
        nodes = api.node_names()
        guests = api.guests()
        errors = unknown_names("nodes", "node", params["nodes"] or [], nodes)
        errors += unknown_names("vmids", "guest", params["vmids"] or [], [vmid for vmid, _type, _node in guests])
        if params["max_rules_per_guest"] < 0:
            errors.append(FieldError("max_rules_per_guest", "max_rules_per_guest", params["max_rules_per_guest"], "must not be negative", "0 or more"))
        raise_if_errors(errors)

        scope = AuditScope(
            self.levels,
            frozenset(params["nodes"]) if params["nodes"] is not None else None,
            frozenset(params["vmids"]) if params["vmids"] is not None else None,
        )
        whole = "cluster" in self.levels
        audited = {vmid for vmid, guest_type, _node in guests if GUEST_LEVELS[guest_type] in self.levels and (scope.vmids is None or vmid in scope.vmids)}
        # the configs of the audited guests at once; the others are only placed
        read = [(vmid, guest_type, node) for vmid, guest_type, node in guests if vmid in audited]
        configs = {
            guest.vmid: guest for guest in fan_out([partial(FirewallApi.guest_config, vmid=vmid, guest_type=kind, node=node) for vmid, kind, node in read])
        }
        inventory = Inventory(
            guests={vmid: configs[vmid] if vmid in audited else Guest(vmid, guest_type, node) for vmid, guest_type, node in guests if whole or vmid in audited}
        )
        hosts = nodes if whole else [node for node in nodes if "node" in self.levels and (scope.nodes is None or node in scope.nodes)]
        config = api.gather(inventory, nodes=hosts, vnets=whole or "vnet" in self.levels, fan_out=fan_out)
        facts = AuditFacts(
            inventory,
            node_names=tuple(nodes),
            node_interfaces=self.interfaces(api, config, nodes, scope),
            sdn_ipsets=self.sdn_ipsets(api),
            now=time.time(),
        )
        found = audit(config, facts, scope, AuditSettings(self.checks, params["max_rules_per_guest"]))
        floor = severity_rank(params["min_severity"])
        reported = [finding for finding in found if severity_rank(finding.severity) >= floor]
        result: dict[str, Any] = {
            "changed": False,
            "findings": [finding.as_dict() for finding in reported],
            "summary": summary_lines(reported),
            "counts": counts(reported),
        }
        failing = at_or_above(reported, params["fail_on"]) if params["fail_on"] else ()
        if failing:
            lines = [f"- {finding.line()}" for finding in failing]
            raise ModuleFailure("\n".join([f"{len(failing)} finding(s) at {params['fail_on']} or above (fail_on):", *lines]), **result)
        return result

    def interfaces(self, api: FirewallApi, config: ClusterConfig, nodes: list[str], scope: AuditScope) -> dict[str, frozenset[str]]:
        """The interface names of the nodes some audited rule is bound to an interface on."""
        if "iface-missing" not in self.checks:
            return {}
        wanted = set(nodes) if "cluster" in self.levels and _bound(config.cluster) else set()
        if "node" in self.levels:
            wanted |= {node for node in nodes if (scope.nodes is None or node in scope.nodes) and _bound(config.hosts.get(node))}
        found: dict[str, frozenset[str]] = {}
        for node in sorted(wanted):
            try:
                data = api.interfaces(node)
            except PveApiError as error:
                self.module.warn(f"iface-missing: the interfaces of node {node} cannot be read ({error}); its rules are not checked")
                continue
            names = {"lo"}
            for item in data:
                names.add(str(item.get("iface")))
                names.update(str(name) for name in item.get("altnames") or ())
            found[node] = frozenset(names)
        return found

    def sdn_ipsets(self, api: FirewallApi) -> frozenset[str] | None:
        """The IP sets SDN generates, as the datacenter's refs list them (for missing-reference)."""
        if "missing-reference" not in self.checks:
            return None
        try:
            refs = api.refs(Scope("cluster"))
        except PveApiError as error:
            self.module.warn(f"missing-reference: the SDN IP sets cannot be read ({error}); +sdn/ references are not checked")
            return None
        return frozenset(str(item["name"]) for item in refs if item.get("scope") == "sdn" and item.get("type") == "ipset")


def start(module: ModuleContext) -> Run:
    def work() -> dict[str, Any]:
        raise_if_errors(parallel_problems(module.params))
        with connect(module) as api, connection_pool(api, module.params) as pool:
            return FirewallAudit(module).run(api, pool.fan_out)

    return Run(work)


SPEC = ModuleSpec(
    argument_spec=argument_spec(
        {
            "levels": {"type": "list", "elements": "str", "choices": list(LEVELS), "default": list(LEVELS)},
            "nodes": {"type": "list", "elements": "str"},
            "vmids": {"type": "list", "elements": "int"},
            "checks": {"type": "list", "elements": "str", "choices": CHECK_CODES},
            "skip_checks": {"type": "list", "elements": "str", "choices": CHECK_CODES, "default": []},
            "max_rules_per_guest": {"type": "int", "default": 20},
            "parallel": PARALLEL_ARG,
            "min_severity": {"type": "str", "choices": list(SEVERITIES), "default": "info"},
            "fail_on": {"type": "str", "choices": list(SEVERITIES)},
        },
        scope=False,
    ),
    start=start,
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
