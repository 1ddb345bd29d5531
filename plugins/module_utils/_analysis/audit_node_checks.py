"""The checks of what reaches the nodes: whether administrators keep the API and SSH under a
DROP or REJECT datacenter policy, and whether datacenter and host rules name interfaces
the nodes have."""

from __future__ import annotations

from collections.abc import Iterator

from .._engine.hop_context import TCP, policy_name
from .._engine.matchers import option_flag
from .._model.objects import Level
from .audit_context import AuditContext
from .audit_coverage import RuleList
from .audit_findings import AuditObject, Issue

MANAGEMENT_PORTS = (8006, 22)


def no_management_access(context: AuditContext) -> Iterator[Issue]:
    cluster = context.config.cluster
    policy = policy_name(cluster.options, "cluster", "policy_in")
    target = AuditObject("cluster")
    if not context.dc_on or policy not in ("DROP", "REJECT") or not context.scope.covers(target):
        return
    management = cluster.ipset("management")
    if management is not None and any(not entry.nomatch for entry in management.entries):
        return
    if _accepts_management(context, context.lists[0]):  # the datacenter's rules
        return
    hosts = {rules.target.node: rules for rules in context.lists if rules.level is Level.HOST}
    nodes = context.nodes()
    blocked = []
    for node in nodes:
        host = context.config.hosts.get(node)
        if host is not None and not option_flag(host.options, "host", "enable"):
            continue  # no host chain on this node
        host_rules = hosts.get(node)
        if host_rules is None or not _accepts_management(context, host_rules):
            blocked.append(node)
    if nodes and not blocked:
        return
    on = f" on {', '.join(blocked)}" if blocked else ""
    ports = " and ".join(str(port) for port in MANAGEMENT_PORTS)
    yield Issue(
        target,
        f"policy_in is {policy}{on} with no entry in ipset 'management' and no rule accepting tcp {ports}: only the nodes' "
        f"local network keeps the API (8006) and SSH (22), through PVE's built-in management exception",
        "add the administrators' networks to the datacenter ipset 'management' (pve.firewall.ipset level: cluster, name: management), "
        "or accept tcp 8006 and 22 from them with a datacenter rule (pve.firewall.firewall_rule level: cluster)",
    )


def _accepts_management(context: AuditContext, rules: RuleList) -> bool:
    for position in range(len(rules.rules)):
        for atom in context.compiler.atoms(rules, position, exact=False) or ():
            if atom.direction != "in" or atom.action != "ACCEPT":
                continue
            template = atom.template
            if template.proto is None:
                return True
            if template.proto == TCP and (template.dport is None or any(template.dport.matches(port) for port in MANAGEMENT_PORTS)):
                return True
    return False


def iface_missing(context: AuditContext) -> Iterator[Issue]:
    known = context.facts.node_interfaces
    for rules in context.audited_lists():
        if rules.level not in (Level.CLUSTER, Level.HOST):
            continue
        for position, rule in enumerate(rules.rules):
            if not rule.enable or not rule.iface or rule.iface == "lo":
                continue
            if rules.level is Level.HOST:
                names = known.get(str(rules.target.node))
                missing = [str(rules.target.node)] if names is not None and rule.iface not in names else []
                fix = f"bind the rule to an interface node {rules.target.node} has, or remove iface (pve.firewall.firewall_rule level: node)"
            else:
                missing = [node for node, names in sorted(known.items()) if rule.iface not in names]
                fix = (
                    "use an interface name every node has, move the rule to the host firewall of the nodes that have the "
                    "interface (pve.firewall.firewall_rule level: node), or remove iface"
                )
            if missing:
                where = f"node {missing[0]} does" if len(missing) == 1 else f"nodes {', '.join(missing)} do"
                yield Issue(
                    rules.at(position),
                    f"{rules.where(position)} is bound to interface {rule.iface}, which {where} not have: it never matches there",
                    fix,
                )
