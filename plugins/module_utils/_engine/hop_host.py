"""The host hops (reference 5.2): ``PVEFW-HOST-IN`` when a packet reaches a node and
``PVEFW-HOST-OUT`` when it leaves one, with the built-in exceptions PVE puts around the
host and datacenter rules (NDP, blacklist, smurfs, IGMP, management, corosync) and the
datacenter policy last."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from .._model.objects import Level, OptionValue
from .hop_context import IGMP, TCP, UDP, HopContext, ndp_type, policy_name
from .hop_rules import run_rules
from .matchers import PacketView, RuleContext, option_flag
from .std_chains import ACCEPT, DROP, policy, port_in, smurf
from .verdict_trail import Hop, Trail
from .verdict_types import Step

# Built-in exceptions of the host chains (reference 5.2, FW:2949-2957 and the OUT list).
MANAGEMENT_PORTS_IN = ((8006, 8006), (5900, 5999), (3128, 3128), (22, 22), (60000, 60050))
MANAGEMENT_PORTS_OUT = ((8006, 8006), (22, 22), (5900, 5999), (3128, 3128))
COROSYNC_PORTS = (5404, 5405)


def host_chain(context: HopContext, hop: Hop, view: PacketView, trail: Trail) -> str:
    """``PVEFW-HOST-IN``/``-OUT`` of a node on the iptables backend."""
    host = context.host_file(hop.node)
    options = host.options
    if not option_flag(options, "host", "enable"):
        trail.add(
            Step(
                hop.label,
                hop.chain,
                "pass",
                ACCEPT,
                f"host firewall of {hop.node} disabled (host.fw enable: 0): {hop.chain} is not generated",
                level="host",
                node=hop.node,
            )
        )
        return ACCEPT
    _note_forward_rules(context, hop, trail)
    incoming = hop.direction == "in"
    ndp = ndp_type(options, "host", view)
    if ndp and (incoming or ndp != "router-advertisement"):
        return trail.builtin(hop, ACCEPT, f"neighbor discovery ({ndp}) is allowed (host option ndp)")
    if incoming:
        filtered = input_filters(context, hop, options, view, trail)
        if filtered is not None:
            return filtered
    if view.proto == IGMP:
        return trail.builtin(hop, ACCEPT, "IGMP is always allowed (multicast)")
    levels = (("host", host, Level.HOST), ("cluster", context.config.cluster, Level.CLUSTER))
    for level_name, fw, level in levels:
        key = ("host-rules", level_name, hop.node if level_name == "host" else "")
        index = context.rule_index(key, fw.rules, RuleContext(level, context.refs(None)), view, hop.direction, f"{level_name}.fw")
        decided = run_rules(context, index, hop, level_name, view, trail)
        if decided is not None:
            return decided
    decided = _management(context, hop, view, trail) or _corosync(context, hop, view, trail)
    if decided is not None:
        return decided
    option = "policy_in" if incoming else "policy_out"
    name = policy_name(context.config.cluster.options, "cluster", option)
    action, why = policy(name, view)
    trail.add(Step(hop.label, hop.chain, "policy", action, f"cluster {option} {name}: {why}", level="cluster", node=hop.node))
    return action


def input_filters(context: HopContext, hop: Hop, host_options: Mapping[str, OptionValue], view: PacketView, trail: Trail) -> str | None:
    """Blacklist, smurfs (and tcpflags, which a SYN never trips): HOST-IN and FWBR-IN."""
    sets = context.sets
    if sets.has_set(0, "blacklist") and view.source in sets.ipset(0, "blacklist", view.version):
        return trail.builtin(hop, DROP, "source is in the cluster ipset 'blacklist'")
    if option_flag(host_options, "host", "nosmurfs"):
        why = smurf(view)
        if why:
            return trail.builtin(hop, DROP, why)
    return None


def _management(context: HopContext, hop: Hop, view: PacketView, trail: Trail) -> str | None:
    if view.proto != TCP:
        return None
    warn_unknown_local_network(context, hop.node, trail)
    if hop.direction == "in":
        if port_in(view.dport, *MANAGEMENT_PORTS_IN) and view.source in context.management_set(hop.node, view.version):
            return trail.builtin(hop, ACCEPT, f"management exception: source in ipset 'management' (with local_network), tcp port {view.dport}")
        return None
    network = context.local_network(context.node(hop.node))
    if network is not None and network.version == view.version and port_in(view.dport, *MANAGEMENT_PORTS_OUT):
        if int(network.network_address) <= view.dest <= int(network.broadcast_address):
            return trail.builtin(hop, ACCEPT, f"local_network exception: destination in {network}, tcp port {view.dport}")
    return None


def warn_unknown_local_network(context: HopContext, node: str, trail: Trail) -> None:
    """The management exceptions of both backends count on the node's local network."""
    if context.config.cluster.alias("local_network") is None and context.node(node).local_network is None:
        trail.warn(
            f"local_network of node {node} is unknown (no cluster alias local_network, no local_network in the inventory): "
            "only the node's own address counts as local"
        )


def _corosync(context: HopContext, hop: Hop, view: PacketView, trail: Trail) -> str | None:
    corosync = context.environment.corosync
    if corosync is None or view.proto != UDP or not port_in(view.dport, COROSYNC_PORTS):
        return None
    if corosync.multicast and view.dsttype == "MULTICAST":
        return trail.builtin(hop, ACCEPT, "corosync multicast (transport udp), udp 5404:5405")
    local = corosync.node(hop.node)
    if local is None:
        return None
    incoming = hop.direction == "in"
    for other in corosync.nodes:
        if other.name == hop.node:
            continue
        for link, address in other.links.items():
            mine = local.links.get(link)
            if mine is None:
                continue
            local_end, remote_end = (view.dest, view.source) if incoming else (view.source, view.dest)
            if _same_int(mine, view.version, local_end) and _same_int(address, view.version, remote_end):
                return trail.builtin(hop, ACCEPT, f"corosync link {link} with node {other.name} ({address}), udp 5404:5405")
    return None


def _note_forward_rules(context: HopContext, hop: Hop, trail: Trail) -> None:
    """Forward rules are inert on the iptables backend: said, since a user may expect them to act."""
    count = sum(rule.type == "forward" for fw in (context.host_file(hop.node), context.config.cluster) for rule in fw.rules)
    if count:
        trail.note(hop, f"{count} forward rule(s) at host/cluster level ignored: forward rules only take effect with the nftables backend (nftables: 1)")


def _same_int(text: str, version: int, value: int) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address.version == version and int(address) == value
