"""The guest hops of a node on the nftables backend (host option ``nftables: 1``).

Table ``bridge proxmox-firewall-guests``: base chain ``vm-out`` (bridge prerouting) sends a
packet from a firewalled guest NIC to ``guest-<vmid>-out``, ``vm-in`` (bridge postrouting)
one towards it to ``guest-<vmid>-in``; both accept ICMP errors first (``allow-icmp``). No
firewall bridge and no ``PVEFW-FWBR-IN``: the blacklist and the smurf filter do not apply to
guests. What the guest chains hold, in order (firewall.rs create_guest_chain,
create_ipsets, handle_guest_options, create_guest_rules):

* out: the ipfilter (only with ``ipfilter: 1``; a defined ``ipfilter-netN`` is used as it
  is, without the implicit link-local address), the MAC filter, then DHCP, NDP and router
  advertisements each *accepted or dropped* by its option whatever the policy;
* in: DHCP and NDP, each accepted or dropped by its option;
* then the guest's rules and its policy; REJECT towards the guest is a drop
  (rule.rs generate_verdict), from the guest it is ``do-reject``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from .._model.inventory import Guest, Nic
from .._model.objects import Level, OptionValue
from .hop_context import HopContext, policy_name
from .hop_guest import device_name, guest_nic, unfiltered
from .hop_rules import RuleFlavour, run_rules
from .matchers import PacketView, RuleContext, option_flag
from .nft_chains import (
    DHCP_IN,
    DHCP_OUT,
    GUEST_TABLE,
    NDP_IN,
    NDP_OUT,
    RA_OUT,
    allowed_icmp,
    dhcp_message,
    do_reject,
    guest_in_reject,
    ndp_message,
    policy,
)
from .std_chains import ACCEPT, DROP
from .verdict_places import Place
from .verdict_trail import Hop, Trail
from .verdict_types import Step

_GROUPS = f"{GUEST_TABLE} group-{{name}}-{{direction}}"
GUEST_IN_RULES = RuleFlavour(nft=True, group_chain=_GROUPS, reject=guest_in_reject)
GUEST_OUT_RULES = RuleFlavour(nft=True, group_chain=_GROUPS, reject=do_reject)


def guest_chain(context: HopContext, place: Place, direction: str, view: PacketView, trail: Trail) -> str:
    """``vm-in``/``vm-out`` and the guest's chain for a NIC in ``direction`` (in: towards the guest)."""
    guest, nic = guest_nic(place)
    device = device_name(guest, nic)
    hop = Hop(f"{place.label} {direction.upper()}", f"{GUEST_TABLE} guest-{guest.vmid}-{direction}", guest.node, nic.name, direction)
    if not nic.firewall:
        return unfiltered(hop, guest, f"{nic.name} has no firewall=1: {device} is not in vm-map-{direction}, the NIC is not filtered", trail)
    fw = context.guest_file(guest.vmid)
    if fw is None or not option_flag(fw.options, "vm", "enable"):
        why = "has no firewall file" if fw is None else "is not enabled (no 'enable: 1')"
        return unfiltered(hop, guest, f"guest {guest.vmid} {why}: proxmox-firewall generates no chain, its traffic is not filtered", trail)
    icmp_error = allowed_icmp(view)
    if icmp_error:
        return trail.builtin(replace(hop, chain=f"{GUEST_TABLE} allow-icmp"), ACCEPT, f"vm-{direction}: {icmp_error}")
    options = fw.options
    if direction == "out":
        decided = _guest_out_options(context, hop, guest, nic, options, view, trail)
    else:
        decided = _guest_in_options(hop, options, view, trail)
    if decided is not None:
        return decided
    level = Level.CT if guest.type == "lxc" else Level.VM
    rule_context = RuleContext(level, context.refs(fw), guest.vmid)
    index = context.rule_index(("guest-rules", guest.vmid), fw.rules, rule_context, view, direction, f"{guest.vmid}.fw", nft=True)
    flavour = GUEST_IN_RULES if direction == "in" else GUEST_OUT_RULES
    decided = run_rules(context, index, hop, guest.level, view, trail, vmid=guest.vmid, flavour=flavour)
    if decided is not None:
        return decided
    key = f"policy_{direction}"
    name = policy_name(options, "vm", key)
    action, why = policy(name, view, guest_in=direction == "in")
    trail.add(Step(hop.label, hop.chain, "policy", action, f"guest {guest.vmid} {key} {name}: {why}", level=guest.level, node=guest.node, vmid=guest.vmid))
    return action


def _option_chain(hop: Hop, allowed: bool, kind: str, direction: str, message: str, option: str, trail: Trail) -> str:
    """An allow-/block- chain of the guest options decided."""
    if allowed:
        return trail.builtin(hop, ACCEPT, f"allow-{kind}-{direction} accepts {message} (guest option {option})")
    return trail.builtin(hop, DROP, f"block-{kind}-{direction} drops {message} whatever the rules and policy (guest option {option}: 0)")


def _guest_in_options(hop: Hop, options: Mapping[str, OptionValue], view: PacketView, trail: Trail) -> str | None:
    if dhcp_message(view, DHCP_IN):
        return _option_chain(hop, option_flag(options, "vm", "dhcp"), "dhcp", "in", "a DHCP reply", "dhcp", trail)
    message = ndp_message(view, NDP_IN)
    if message:
        return _option_chain(hop, option_flag(options, "vm", "ndp"), "ndp", "in", f"neighbor discovery ({message})", "ndp", trail)
    return None


def _guest_out_options(context: HopContext, hop: Hop, guest: Guest, nic: Nic, options: Mapping[str, OptionValue], view: PacketView, trail: Trail) -> str | None:
    if option_flag(options, "vm", "ipfilter"):
        members = context.nft_sets.ipset(guest.vmid, f"ipfilter-{nic.name}", view.version)
        if view.source not in members:
            detail = f"ipfilter: source is not in ipset ipfilter-{nic.name} ({len(members)} address ranges of IPv{view.version}, nomatch excluded)"
            return trail.builtin(hop, DROP, detail)
    if option_flag(options, "vm", "macfilter") and view.source_mac != nic.mac.lower():
        return trail.builtin(hop, DROP, f"MAC filter: source MAC {view.source_mac} is not {nic.name}'s {nic.mac} (guest option macfilter)")
    if dhcp_message(view, DHCP_OUT):
        return _option_chain(hop, option_flag(options, "vm", "dhcp"), "dhcp", "out", "a DHCP request", "dhcp", trail)
    message = ndp_message(view, NDP_OUT)
    if message:
        return _option_chain(hop, option_flag(options, "vm", "ndp"), "ndp", "out", f"neighbor discovery ({message})", "ndp", trail)
    message = ndp_message(view, RA_OUT)
    if message:
        return _option_chain(hop, option_flag(options, "vm", "radv"), "ra", "out", f"a {message}", "radv", trail)
    return None
