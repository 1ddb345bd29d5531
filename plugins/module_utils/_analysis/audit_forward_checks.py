"""The check of forward rules and vnet firewalls that filter nothing.

``FORWARD`` rules (datacenter, node, security group) and the vnet firewalls of
``/etc/pve/sdn/firewall/<vnet>.fw`` only act on nodes that run proxmox-firewall (host option
``nftables: 1``): it builds ``host-forward``, ``cluster-forward`` and ``bridge-<vnet>`` from
them (proxmox-firewall firewall.rs ``create_host_rules``, ``create_cluster_rules``,
``create_bridge_chain``), while pve-firewall generates nothing from them (reference 7.13). On a
cluster whose nodes all run the iptables backend they look like protection and give none.

The check needs every node's host options: when a node's host file is not part of the audited
configuration (an audit of guests only), it reports nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

from .._engine.matchers import option_flag
from .audit_context import AuditContext, count
from .audit_findings import AuditObject, Issue

_FIX = "set the host option nftables: 1 on the nodes (pve.firewall.firewall_options, level: node) so that proxmox-firewall filters forwarded traffic"


def forward_inert(context: AuditContext) -> Iterator[Issue]:
    nodes = context.nodes()
    hosts = context.config.hosts
    if not nodes or any(node not in hosts for node in nodes):
        return
    if any(option_flag(hosts[node].options, "host", "nftables") for node in nodes):
        return
    backend = f"every node ({', '.join(nodes)}) runs the iptables backend (nftables: 0), which ignores forward rules"
    for rules in context.audited_lists():
        if rules.target.level == "vnet":
            continue
        for position, rule in enumerate(rules.rules):
            if rule.type == "forward" and rule.enable:
                yield Issue(
                    rules.at(position),
                    f"{rules.where(position)}: a forward rule has no effect: {backend}",
                    f"{_FIX}, or remove the rule ({rules.fix_module})",
                )
    for vnet, fw in sorted(context.config.vnets.items()):
        target = AuditObject("vnet", vnet=vnet)
        enabled = option_flag(fw.options, "vnet", "enable")
        active = sum(rule.enable for rule in fw.rules)
        if not context.scope.covers(target) or not (enabled or active):
            continue
        what = f"its firewall ({'enable: 1, ' if enabled else ''}{count(active, 'active rule')})"
        yield Issue(
            target,
            f"vnet {vnet}: {what} has no effect: {backend}",
            f"{_FIX}, or drop the vnet firewall (pve.firewall.firewall_rule and pve.firewall.firewall_options, level: vnet)",
        )
