"""Rule coverage: what each rule of a list matches, compiled the way pve-firewall compiles it,
and whether earlier rules already decide every packet a rule could match.

Rules are compiled per IP family into atoms (one per macro template; a GROUP rule gives the
atoms of its group's rules). One atom covers another when every packet the second matches,
the first matches too: same family and direction, an interface that agrees, a protocol,
ports and ICMP type at least as wide, and addresses that are a superset. Rules naming a set
PVE fills itself (its content is more than the configuration says) are not compared exactly.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Optional

from .._compiler.addresses import IPSetRef, address_refs
from .._compiler.fw_format import rule_text
from .._engine.addrset import AddressSet
from .._engine.matchers import CompiledRule, RuleContext, SetLibrary, Template, compile_rule, references
from .._model.inventory import Inventory
from .._model.objects import ClusterConfig, FirewallFile, Level, Rule, SecurityGroup
from .audit_findings import AuditObject

PortKey = Optional[tuple[tuple[int, int], ...]]  # noqa: UP045 - merged (first, last) port intervals; None: any port
AtomKey = tuple[int, str, Optional[int]]  # noqa: UP045 - (IP version, direction, protocol): the atoms that can cover each other

# Sets PVE fills itself: their content is more than the configuration says (reference 5.2, 5.3).
SPECIAL_CLUSTER_SETS = ("management", "blacklist")
GUEST_FILTER_SET = "ipfilter-net"


@dataclass(frozen=True)
class RuleList:
    """One list of rules evaluated in order: a firewall's [RULES] or a security group."""

    target: AuditObject
    rules: tuple[Rule, ...]
    level: Level
    owner: int = 0  # whose IP sets and aliases the rules see first (0: the datacenter only)
    own: FirewallFile | None = None

    @property
    def in_group(self) -> bool:
        return self.level is Level.GROUP

    @property
    def fix_module(self) -> str:
        """The module that edits this list's rules."""
        return "pve.firewall.security_group" if self.in_group else "pve.firewall.firewall_rule"

    def at(self, position: int) -> AuditObject:
        return replace(self.target, position=position)

    def text(self, position: int) -> str:
        return rule_text(self.rules[position], in_group=self.in_group)

    def where(self, position: int) -> str:
        return f"rules[{position}] ({self.text(position)})"


@dataclass(frozen=True)
class Atom:
    """One compiled match of one IP family: a rule gives one per macro template, a GROUP rule
    those of its group's rules."""

    version: int
    direction: str
    action: str
    iface: str | None
    source: AddressSet | None
    dest: AddressSet | None
    template: Template
    # the template's ports as merged (first, last) intervals, computed once for the comparisons
    dports: PortKey = field(init=False)
    sports: PortKey = field(init=False)

    def __post_init__(self) -> None:
        for name, ports in (("dports", self.template.dport), ("sports", self.template.sport)):
            merged = None if ports is None else ranges_merged((item.first, item.last) for item in ports.ranges)
            object.__setattr__(self, name, merged)

    @property
    def key(self) -> AtomKey:
        return (self.version, self.direction, self.template.proto)


def ranges_merged(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Inclusive intervals sorted and merged where they overlap or touch."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _within(inner: Iterable[tuple[int, int]], outer: tuple[tuple[int, int], ...]) -> bool:
    """Every interval of ``inner`` lies inside one of the merged intervals of ``outer``."""
    starts = [first for first, _last in outer]
    for first, last in inner:
        index = bisect_right(starts, first) - 1
        if index < 0 or last > outer[index][1]:
            return False
    return True


def _in_set(first: int, last: int, wider: AddressSet) -> bool:
    """``first..last`` lies inside one interval of ``wider`` (its intervals are merged)."""
    index = bisect_right(wider.starts, first) - 1
    return index >= 0 and last <= wider.ends[index]


def _address_covers(wider: AddressSet | None, narrower: AddressSet | None, version: int) -> bool:
    if wider is None:
        return True
    if narrower is None:
        return _in_set(0, (1 << (32 if version == 4 else 128)) - 1, wider)
    return all(_in_set(first, last, wider) for first, last in zip(narrower.starts, narrower.ends))


def _ports_cover(wider: PortKey, narrower: PortKey) -> bool:
    if wider is None:
        return True
    if narrower is None:
        return False
    return _within(narrower, wider)


def _icmp_covers(wider: tuple[int | None, int | None] | None, narrower: tuple[int | None, int | None] | None) -> bool:
    if wider is None or wider == (None, None):
        return True
    if narrower is None or narrower == (None, None):
        return False
    return wider[0] == narrower[0] and (wider[1] is None or wider[1] == narrower[1])


def _template_covers(wider: Atom, narrower: Atom) -> bool:
    if wider.template.proto is None:
        return True  # no protocol: no port or type either, every packet
    return (
        wider.template.proto == narrower.template.proto
        and _ports_cover(wider.dports, narrower.dports)
        and _ports_cover(wider.sports, narrower.sports)
        and _icmp_covers(wider.template.icmp, narrower.template.icmp)
    )


def _may_cover(wider: Atom, narrower: Atom) -> bool:
    """A cheap first test on the span of the destination ports."""
    if wider.dports is None:
        return True
    return narrower.dports is not None and wider.dports[0][0] <= narrower.dports[0][0] and wider.dports[-1][1] >= narrower.dports[-1][1]


def _covers(wider: Atom, narrower: Atom) -> bool:
    """Every packet ``narrower`` matches, ``wider`` matches too."""
    return (
        wider.version == narrower.version
        and wider.direction == narrower.direction
        and (wider.iface is None or wider.iface == narrower.iface)
        and _template_covers(wider, narrower)
        and _address_covers(wider.source, narrower.source, narrower.version)
        and _address_covers(wider.dest, narrower.dest, narrower.version)
    )


def deciders(atoms: tuple[Atom, ...], earlier: Mapping[AtomKey, list[tuple[int, Atom]]]) -> list[int]:
    """The earlier rules that together decide every atom, or [] when one atom is left.
    ``earlier``: the (position, atom) of the rules above, by atom key, in list order."""
    if not atoms:
        return []
    found: set[int] = set()
    for atom in atoms:
        buckets = [earlier.get(atom.key, [])]
        if atom.template.proto is not None:
            buckets.append(earlier.get((atom.version, atom.direction, None), []))
        # each bucket is in list order: its first covering atom is its earliest
        firsts = [next((position for position, wider in bucket if _may_cover(wider, atom) and _covers(wider, atom)), None) for bucket in buckets]
        decider = min((position for position in firsts if position is not None), default=None)
        if decider is None:
            return []
        found.add(decider)
    return sorted(found)


def _filled_by_pve(rule: Rule) -> bool:
    """The rule names a set PVE adds members to (its content is not all in the file)."""
    return any(
        isinstance(ref, IPSetRef) and (ref.name == "management" or ref.name.startswith(GUEST_FILTER_SET) or ref.scope == "sdn")
        for _field, ref in address_refs(rule)
    )


def _matches_nothing(atom: Atom) -> bool:
    return any(addresses is not None and addresses.empty for addresses in (atom.source, atom.dest))


def _skipped_for_family(reason: str) -> bool:
    """The rule is absent in this IP family only (it exists in the other)."""
    return reason.startswith("IPv") or " has no IPv" in reason


class RuleCompiler:
    """Rules compiled per IP family into atoms, with the IP sets built once."""

    def __init__(self, config: ClusterConfig, inventory: Inventory) -> None:
        self.config = config
        guests = {vmid: (guest.file, inventory.guest(vmid)) for vmid, guest in config.guests.items()}
        self.sets = SetLibrary(config.cluster, guests)
        self.group_context = RuleContext(Level.GROUP, references(config.cluster))
        self._contexts: dict[tuple[int, Level], RuleContext] = {}
        self._groups: dict[tuple[str, int, bool], list[Atom] | None] = {}

    def context(self, rules: RuleList) -> RuleContext:
        key = (rules.owner, rules.level)
        found = self._contexts.get(key)
        if found is None:
            found = self._contexts[key] = RuleContext(rules.level, references(self.config.cluster, rules.own), rules.owner)
        return found

    def group(self, name: str) -> SecurityGroup | None:
        lowered = name.lower()
        return next((group for group in self.config.cluster.groups if group.name.lower() == lowered), None)

    def group_atoms(self, name: str, version: int, exact: bool) -> list[Atom] | None:
        """The atoms of a security group's rules; None when the group does not exist or (with
        ``exact``) a rule of it cannot be judged exactly."""
        key = (name, version, exact)
        if key not in self._groups:
            self._groups[key] = self._group_atoms(name, version, exact)
        return self._groups[key]

    def _group_atoms(self, name: str, version: int, exact: bool) -> list[Atom] | None:
        # the compiler's lookup: the stored (lowercase) name, compared as it is
        group = next((item for item in self.config.cluster.groups if item.name == name), None)
        if group is None:
            return None
        atoms: list[Atom] = []
        for position, rule in enumerate(group.rules):
            if exact and rule.enable and _filled_by_pve(rule):
                return None
            entry = compile_rule(position, rule, self.group_context, version, self.sets, location=f"group {group.name}")
            if isinstance(entry, CompiledRule):
                atoms += [Atom(version, rule.type, rule.action, None, entry.source, entry.dest, template) for template in entry.templates]
        return atoms

    def atoms(self, rules: RuleList, position: int, *, exact: bool) -> tuple[Atom, ...] | None:
        """What the rule at ``position`` matches, in both families. None when it matches
        nothing PVE would evaluate (disabled, errors, not compiled) or, with ``exact``, when
        its matches are not known exactly."""
        rule = rules.rules[position]
        if not rule.enable or (exact and _filled_by_pve(rule)):
            return None
        context = self.context(rules)
        found: list[Atom] = []
        for version in (4, 6):
            entry = compile_rule(position, rule, context, version, self.sets, location=rules.target.firewall)
            if not isinstance(entry, CompiledRule):
                if _skipped_for_family(entry.reason):
                    continue
                return None
            if rule.type == "group":
                members = self.group_atoms(rule.action, version, exact)
                if members is None:
                    return None
                found += [replace(atom, iface=rule.iface) for atom in members]
            else:
                found += [Atom(version, rule.type, rule.action, rule.iface, entry.source, entry.dest, template) for template in entry.templates]
        # an empty set matches nothing (an IP set without addresses of this family)
        return tuple(atom for atom in found if not _matches_nothing(atom))
