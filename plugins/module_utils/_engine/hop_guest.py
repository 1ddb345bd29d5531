"""The guest hops (reference 5.3): ``tap<vmid>i<n>-OUT``/``veth...-OUT`` when a packet
leaves a firewalled guest NIC, ``PVEFW-FWBR-IN`` and then ``...-IN`` when it reaches one;
the guest's built-in filters (DHCP, MAC filter, router advertisements, ipfilter, NDP) come
before its rules, and its policy last."""

from __future__ import annotations

from collections.abc import Mapping

from .._model.inventory import Guest, Nic
from .._model.objects import Level, OptionValue
from .hop_context import ICMPV6, UDP, HopContext, ndp_type, policy_name
from .hop_host import input_filters
from .hop_rules import run_rules
from .matchers import PacketView, RuleContext, option_flag
from .std_chains import ACCEPT, DROP, policy
from .verdict_places import Place
from .verdict_trail import Hop, Trail
from .verdict_types import Step, VerdictError


def guest_nic(place: Place) -> tuple[Guest, Nic]:
    if place.guest is None or place.nic is None:
        raise VerdictError(f"{place.label} is not a guest NIC")
    return place.guest, place.nic


def device_name(guest: Guest, nic: Nic) -> str:
    """The host side of a guest NIC: tap<vmid>i<n> (qemu) or veth<vmid>i<n> (lxc)."""
    return f"{'tap' if guest.type == 'qemu' else 'veth'}{guest.vmid}i{nic.index}"


def guest_chain(context: HopContext, place: Place, direction: str, view: PacketView, trail: Trail) -> str:
    """The hop of a guest NIC in ``direction`` (in: towards the guest, out: from it) on the iptables backend."""
    guest, nic = guest_nic(place)
    device = device_name(guest, nic)
    hop = Hop(f"{place.label} {direction.upper()}", f"{device}-{direction.upper()}", guest.node, nic.name, direction)
    if nic.bridge in context.config.vnets:
        trail.note(hop, f"vnet {nic.bridge} has a firewall configuration: it is inert on the iptables backend (needs nftables: 1)")
    if not nic.firewall:
        return unfiltered(hop, guest, f"{nic.name} has no firewall=1: the NIC is not filtered", trail)
    if direction == "in":
        fwbr = Hop(f"{place.label} IN", "PVEFW-FWBR-IN", guest.node, nic.name, "in")
        filtered = input_filters(context, fwbr, context.host_file(guest.node).options, view, trail)
        if filtered is not None:
            return filtered
    fw = context.guest_file(guest.vmid)
    if fw is None or not option_flag(fw.options, "vm", "enable"):
        why = "has no firewall file" if fw is None else "is not enabled (no 'enable: 1')"
        return unfiltered(hop, guest, f"guest {guest.vmid} {why}: its traffic is not filtered", trail)
    options = fw.options
    decided = _guest_builtins(context, hop, guest, nic, options, view, trail)
    if decided is not None:
        return decided
    level = Level.CT if guest.type == "lxc" else Level.VM
    rule_context = RuleContext(level, context.refs(fw), guest.vmid)
    index = context.rule_index(("guest-rules", guest.vmid), fw.rules, rule_context, view, direction, f"{guest.vmid}.fw")
    decided = run_rules(context, index, hop, guest.level, view, trail, vmid=guest.vmid)
    if decided is not None:
        return decided
    key = f"policy_{direction}"
    name = policy_name(options, "vm", key)
    action, why = policy(name, view)
    trail.add(Step(hop.label, hop.chain, "policy", action, f"guest {guest.vmid} {key} {name}: {why}", level=guest.level, node=guest.node, vmid=guest.vmid))
    return action


def _guest_builtins(context: HopContext, hop: Hop, guest: Guest, nic: Nic, options: Mapping[str, OptionValue], view: PacketView, trail: Trail) -> str | None:
    """DHCP, MAC filter, router advertisements, ipfilter, NDP: before the guest's rules."""
    outgoing = hop.direction == "out"
    if option_flag(options, "vm", "dhcp") and view.proto == UDP:
        client, server = (68, 67) if view.version == 4 else (546, 547)
        sport, dport = (client, server) if outgoing else (server, client)
        if view.sport == sport and view.dport == dport:
            return trail.builtin(hop, ACCEPT, f"DHCP {'request' if outgoing else 'reply'} (udp {sport} -> {dport}) is allowed (guest option dhcp)")
    if outgoing:
        if option_flag(options, "vm", "macfilter") and view.source_mac != nic.mac.lower():
            return trail.builtin(hop, DROP, f"MAC filter: source MAC {view.source_mac} is not {nic.name}'s {nic.mac} (guest option macfilter)")
        if view.version == 6 and not option_flag(options, "vm", "radv") and view.proto == ICMPV6 and view.icmp and view.icmp[0] == 134:
            return trail.builtin(hop, DROP, "router advertisements from the guest are dropped (guest option radv not set)")
        if context.sets.ipfilter_applies(guest.vmid, nic, options):
            members = context.sets.ipset(guest.vmid, f"ipfilter-{nic.name}", view.version)
            if view.source not in members:
                return trail.builtin(hop, DROP, f"ipfilter: source is not in ipset ipfilter-{nic.name} ({len(members)} address ranges of IPv{view.version})")
    ndp = ndp_type(options, "vm", view)
    if ndp and (not outgoing or ndp != "router-advertisement" or option_flag(options, "vm", "radv")):
        return trail.builtin(hop, ACCEPT, f"neighbor discovery ({ndp}) is allowed (guest option ndp)")
    return None


def unfiltered(hop: Hop, guest: Guest, detail: str, trail: Trail) -> str:
    """A guest hop PVE does not filter at all: recorded as a pass, accepted."""
    trail.add(Step(hop.label, hop.chain, "pass", ACCEPT, detail, level=guest.level, node=guest.node, vmid=guest.vmid))
    return ACCEPT
