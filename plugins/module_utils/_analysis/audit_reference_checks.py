"""The checks of names: references to IP sets, aliases and security groups that do not
resolve where the compiler looks, and objects no rule or IP set entry refers to.

Both read one scan of every rule list and IP set of the configuration (not only those in
scope: an object is used wherever a reference to it is), done once for all these checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from .._compiler.addresses import AddressError, AliasRef, IPSetRef, address_refs, is_alias_reference, parse_address_spec
from .._model.objects import FirewallFile, Rule
from .audit_context import AuditContext, count, guest_ident
from .audit_coverage import GUEST_FILTER_SET, SPECIAL_CLUSTER_SETS, RuleList
from .audit_findings import AuditObject, Issue

_BUILTIN_ALIAS = "local_network"

UsedName = tuple[int, str]  # (owner: 0 for the datacenter, else the guest id; name)


@dataclass(frozen=True)
class _Usage:
    """What the configuration refers to, and the references that do not resolve (in scope)."""

    sets: frozenset[UsedName]
    aliases: frozenset[UsedName]  # names in lower case
    groups: frozenset[str]  # names as GROUP rules write them: PVE looks groups up exactly
    missing: tuple[Issue, ...]


def missing_reference(context: AuditContext) -> Iterator[Issue]:
    yield from context.shared(_usage).missing


def unused_ipset(context: AuditContext) -> Iterator[Issue]:
    used = context.shared(_usage).sets
    for owner, fw, target in _audited_owners(context):
        for ipset in fw.ipsets:
            special = ipset.name in SPECIAL_CLUSTER_SETS if owner == 0 else ipset.name.startswith(GUEST_FILTER_SET)
            if not special and (owner, ipset.name) not in used:
                yield Issue(
                    replace(target, ipset=ipset.name),
                    f"no rule uses IP set '{ipset.name}' ({count(len(ipset.entries), 'entry', 'entries')})",
                    f"delete it (pve.firewall.ipset {_ident(owner, target)}, name: {ipset.name}, state: absent) or use it in a rule",
                )


def unused_alias(context: AuditContext) -> Iterator[Issue]:
    used = context.shared(_usage).aliases
    for owner, fw, target in _audited_owners(context):
        for alias in fw.aliases:
            special = owner == 0 and alias.name.lower() == _BUILTIN_ALIAS
            if not special and (owner, alias.name.lower()) not in used:
                yield Issue(
                    replace(target, alias=alias.name),
                    f"no rule or IP set entry uses alias '{alias.name}' ({alias.cidr})",
                    f"delete it (pve.firewall.alias {_ident(owner, target)}, name: {alias.name}, state: absent) or use it",
                )


def unused_group(context: AuditContext) -> Iterator[Issue]:
    if not context.scope.covers(AuditObject("cluster")):
        return
    used = context.shared(_usage).groups
    for group in context.config.cluster.groups:
        if group.name not in used:  # a GROUP rule in another case jumps to nothing (group-case-mismatch)
            yield Issue(
                AuditObject("cluster", group=group.name),
                f"no GROUP rule uses security group '{group.name}' ({count(len(group.rules), 'rule')})",
                f"delete it (pve.firewall.security_group name: {group.name}, state: absent) or reference it with a GROUP rule",
            )


def _ident(owner: int, target: AuditObject) -> str:
    return "level: cluster" if owner == 0 else guest_ident(target.level, owner)


def _set_owners(context: AuditContext) -> Iterator[tuple[int, FirewallFile, AuditObject]]:
    """(owner, file, object) of each firewall that holds IP sets and aliases."""
    yield 0, context.config.cluster, AuditObject("cluster")
    for vmid, guest in sorted(context.config.guests.items()):
        yield vmid, guest.file, context.guest_target(vmid, guest.level.value)


def _audited_owners(context: AuditContext) -> Iterator[tuple[int, FirewallFile, AuditObject]]:
    return (owner for owner in _set_owners(context) if context.scope.covers(owner[2]))


def _usage(context: AuditContext) -> _Usage:
    used_sets: set[UsedName] = set()
    used_aliases: set[UsedName] = set()
    used_groups: set[str] = set()
    missing: list[Issue] = []
    for rules in context.lists:
        audited = context.scope.covers(rules.target)
        for position, rule in enumerate(rules.rules):
            if rule.type == "group":
                used_groups.add(rule.action)
            problems = _rule_references(context, rules, rule, used_sets, used_aliases)
            if audited and rule.enable:
                missing += [Issue(rules.at(position), f"{rules.where(position)}: {problem}", fix) for problem, fix in problems]
    for owner, fw, target in _set_owners(context):
        for ipset in fw.ipsets:
            for index, entry in enumerate(ipset.entries):
                problem = _entry_reference(context, owner, fw, entry.cidr.strip(), used_aliases)
                if problem and context.scope.covers(target):
                    missing.append(
                        Issue(
                            replace(target, ipset=ipset.name, entry=index),
                            f"entry '{entry.cidr}' names alias '{problem}', which does not exist: PVE leaves the entry out",
                            "create the alias (pve.firewall.alias) or remove the entry (pve.firewall.ipset)",
                        )
                    )
    return _Usage(frozenset(used_sets), frozenset(used_aliases), frozenset(used_groups), tuple(missing))


def _rule_references(context: AuditContext, rules: RuleList, rule: Rule, used_sets: set[UsedName], used_aliases: set[UsedName]) -> list[tuple[str, str]]:
    """Record the IP sets and aliases the rule uses; return (problem, fix) for each reference that does not resolve."""
    problems: list[tuple[str, str]] = []
    module = rules.fix_module
    if rule.type == "group" and context.compiler.group(rule.action) is None:
        problems.append(
            (
                f"security group '{rule.action}' does not exist: PVE jumps to an empty chain, the rule does nothing",
                f"create the group (pve.firewall.security_group name: {rule.action.lower()}) or fix the name ({module})",
            )
        )
    for field_name, ref in address_refs(rule):
        if isinstance(ref, IPSetRef):
            found = _ipset_owner(context, ref, rules.owner)
            if found in ("guest", "cluster"):
                used_sets.add((rules.owner if found == "guest" else 0, ref.name))
            elif found is None:
                level = "the guest's or the datacenter's" if rules.owner else "the datacenter's"
                problems.append(
                    (
                        f"{field_name} '{ref}' names an IP set that does not exist ({level}): PVE leaves the rule out",
                        f"create the IP set (pve.firewall.ipset) or fix {field_name} ({module})",
                    )
                )
        else:
            found = _alias_owner(context, ref, rules.own)
            if found in ("guest", "cluster"):
                used_aliases.add((rules.owner if found == "guest" else 0, ref.name.lower()))
            elif found is None:
                problems.append(
                    (
                        f"{field_name} '{ref}' names an alias that does not exist: PVE leaves the rule out",
                        f"create the alias (pve.firewall.alias) or fix {field_name} ({module})",
                    )
                )
    return problems


def _entry_reference(context: AuditContext, owner: int, fw: FirewallFile, cidr: str, used_aliases: set[UsedName]) -> str | None:
    """Record the alias an IP set entry names; return its name when it does not exist."""
    if not is_alias_reference(cidr):
        return None
    try:
        ref = parse_address_spec(cidr)
    except AddressError:
        return None
    if not isinstance(ref, AliasRef):
        return None
    found = _alias_owner(context, ref, fw if owner else None)
    if found in ("guest", "cluster"):
        used_aliases.add((owner if found == "guest" else 0, ref.name.lower()))
    return str(ref) if found is None else None


def _ipset_owner(context: AuditContext, ref: IPSetRef, owner: int) -> str | None:
    """Where the reference resolves (guest, cluster, sdn, unknown) or None: nowhere."""
    sdn = context.facts.sdn_ipsets
    sets = context.compiler.sets
    if ref.scope == "sdn":
        return "unknown" if sdn is None else ("sdn" if ref.name in sdn else None)
    if owner and ref.scope in (None, "guest") and sets.has_set(owner, ref.name):
        return "guest"
    if ref.scope in (None, "dc") and sets.has_set(0, ref.name):
        return "cluster"
    if ref.scope is None and sdn is not None and ref.name in sdn:
        return "sdn"
    return None


def _alias_owner(context: AuditContext, ref: AliasRef, own: FirewallFile | None) -> str | None:
    if own is not None and ref.scope in (None, "guest") and own.alias(ref.name) is not None:
        return "guest"
    if ref.scope in (None, "dc"):
        if context.config.cluster.alias(ref.name) is not None:
            return "cluster"
        if ref.name.lower() == _BUILTIN_ALIAS:
            return "builtin"  # PVE computes it when the datacenter does not define it
    return None
