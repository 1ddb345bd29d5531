"""The checks of each guest: whether PVE filters its traffic at all (three switches: the
datacenter firewall, the guest's own firewall, each NIC's firewall flag), its inbound
policy, how many rules it has and whether its rules name NICs it has."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from .._compiler.fw_format import rule_text
from .._engine.hop_context import policy_name
from .audit_context import AuditContext, AuditedGuest, count
from .audit_findings import Issue


def guest_unfiltered(context: AuditContext) -> Iterator[Issue]:
    for guest in context.audited_guests:
        flagless = guest.flagless
        if not guest.active or (context.dc_on and guest.firewall_on and not flagless):
            continue
        off: list[str] = []
        fixes: list[str] = []
        if not context.dc_on:
            off.append(f"the datacenter firewall is off ({context.dc_why})")
            fixes.append("turn the datacenter firewall on (pve.firewall.firewall_options level: cluster, options: {enable: true})")
        if not guest.firewall_on:
            off.append("the guest's firewall is off (no 'enable: 1' in its options)")
            fixes.append(f"turn the guest's firewall on (pve.firewall.firewall_options {guest.ident}, options: {{enable: true}})")
        if flagless:
            off.append(f"{', '.join(flagless)} {'has' if len(flagless) == 1 else 'have'} no firewall=1")
            fixes.append(f"set the NIC flag (pve.firewall.firewall_options {guest.ident}, nic_firewall: true, nics: [{', '.join(flagless)}])")
        traffic = "the traffic of " + ", ".join(flagless) if guest.firewall_on and context.dc_on else "its traffic"
        yield Issue(
            guest.target,
            f"{guest.level} {guest.vmid} has {count(guest.active, 'active rule')} but PVE does not filter {traffic}: {'; '.join(off)}",
            "; ".join(fixes),
        )


def guest_firewall_off(context: AuditContext) -> Iterator[Issue]:
    for guest in _ruleless_guests(context):
        if not guest.firewall_on:
            yield Issue(
                guest.target,
                f"the datacenter firewall is on but {guest.level} {guest.vmid}'s own firewall is off: its traffic is not filtered",
                f"turn it on with rules for the services it offers (pve.firewall.firewall_rule {guest.ident}, then "
                f"pve.firewall.firewall_options {guest.ident}, options: {{enable: true}})",
            )


def nic_flag_off(context: AuditContext) -> Iterator[Issue]:
    for guest in _ruleless_guests(context):
        for name in guest.flagless:
            yield Issue(
                replace(guest.target, nic=name),
                f"the datacenter firewall is on but {guest.level} {guest.vmid} {name} has no firewall=1: its traffic is not filtered",
                f"set the flag (pve.firewall.firewall_options {guest.ident}, nic_firewall: true, nics: [{name}])",
            )


def _ruleless_guests(context: AuditContext) -> Iterator[AuditedGuest]:
    """The guests without active rules while the datacenter firewall is on: a switch left off
    there is worth a finding of its own (with rules, guest-unfiltered says it)."""
    if context.dc_on:
        yield from (guest for guest in context.audited_guests if not guest.active)


def guest_policy_accept(context: AuditContext) -> Iterator[Issue]:
    for guest in context.audited_guests:
        if guest.firewall_on and policy_name(guest.file.options, "vm", "policy_in") == "ACCEPT":
            yield Issue(
                guest.target,
                f"{guest.level} {guest.vmid} has policy_in ACCEPT: every inbound connection its rules do not drop is accepted",
                f"accept the services it offers with rules (pve.firewall.firewall_rule {guest.ident}) and set policy_in to DROP "
                f"(pve.firewall.firewall_options {guest.ident}, options: {{policy_in: DROP}})",
            )


def too_many_rules(context: AuditContext) -> Iterator[Issue]:
    limit = context.max_rules_per_guest
    for guest in context.audited_guests:
        if guest.active > limit:
            yield Issue(
                guest.target,
                f"{guest.level} {guest.vmid} has {guest.active} active rules (threshold {limit})",
                "move rules that guests share into a security group used by one GROUP rule (pve.firewall.security_group), "
                "collapse rules differing only in address into an IP set (pve.firewall.ipset), and use macros",
            )


def nic_missing(context: AuditContext) -> Iterator[Issue]:
    for guest in context.audited_guests:
        if guest.known is None:
            continue  # its NICs are unknown
        names = [nic.name for nic in guest.nics]
        have = ", ".join(names) or "none"
        for position, rule in enumerate(guest.file.rules):
            if rule.enable and rule.iface and rule.iface not in names:
                yield Issue(
                    replace(guest.target, position=position),
                    f"rules[{position}] ({rule_text(rule)}) applies to NIC {rule.iface}, which {guest.level} {guest.vmid} does not have "
                    f"(it has {have}): it never matches",
                    f"set iface to one of the guest's NICs ({have}) or remove it (pve.firewall.firewall_rule {guest.ident})",
                )
