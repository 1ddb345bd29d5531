"""Findings over a whole firewall configuration: guests PVE does not filter, rules that can
never match, references that do not resolve, objects nobody uses, and rules a macro or an
IP set would say in fewer lines.

The backend of the ``firewall_audit`` module, without Ansible imports: :func:`audit` takes a
``ClusterConfig`` and the :class:`AuditFacts` of the cluster (guests with their NICs, the
nodes' interface names, the SDN IP sets) and returns frozen :class:`Finding` values, each with
a stable check code, a severity, the object, a message and a concrete fix.

Rules are judged the way pve-firewall compiles them (``_matchers``): macros expanded, IP sets
and aliases resolved as the compiler resolves them, disabled rules and rules with errors
absent. A rule is reported as shadowed only when that is proven: in every IP family, every
packet it can match is matched by an earlier enabled rule of the same list (or by a rule of a
security group that list jumps to), and that rule decides the packet. Pairs that cannot be
compared exactly (a set PVE fills itself, such as ``management``) are never reported.

The checks of unused objects look for references everywhere: the configuration given must
then hold every file of the cluster (the module reads them all when the cluster level is
audited).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Dict, FrozenSet, List, Optional, Set, Tuple, Union

from .._compiler.addresses import AddressError, AddressList, AddressRange, AliasRef, IPSetRef, is_alias_reference, parse_address_spec
from .._engine.addrset import AddressSet
from .._compiler.fw_format import render_rule_line
from .._model.inventory import Guest, Inventory
from .._reference.macros import MACROS
from .._engine.matchers import (
    CompiledRule,
    RuleContext,
    SetLibrary,
    Template,
    compile_rule,
    effective_option,
    option_flag,
    references,
)
from .._model.objects import ClusterConfig, FileKind, FirewallFile, Level, Rule, SecurityGroup
from .._reference.netbase import icmp_family, protocol_number
from .._compiler.normalise import normalise_rule
from .._compiler.ports import PortError, parse_port_list
from .._engine.verdict import cluster_enable_state

SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first
LEVELS = ("cluster", "node", "vm", "ct", "vnet")
DEFAULT_MAX_RULES_PER_GUEST = 20
IPSET_RUN = 3  # consecutive rules differing only in one address that make an IP set worth it
MANAGEMENT_PORTS = (8006, 22)

_RANK = {name: len(SEVERITIES) - index for index, name in enumerate(SEVERITIES)}
_TCP = 6
# Sets PVE fills itself: their content is more than the configuration says (reference 5.2, 5.3).
_SPECIAL_CLUSTER_SETS = ("management", "blacklist")
_GUEST_FILTER_SET = "ipfilter-net"
_BUILTIN_ALIAS = "local_network"
_GUEST_LEVELS = ("vm", "ct")

PortKey = Optional[Tuple[Tuple[int, int], ...]]  # merged (first, last) port intervals; None: any port
MatchKey = FrozenSet[Tuple[int, PortKey, PortKey]]


def severity_rank(severity: str) -> int:
    """Higher is more severe; an unknown name raises KeyError."""
    return _RANK[severity]


@dataclass(frozen=True)
class Check:
    code: str
    severity: str
    description: str


CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        check.code: check
        for check in (
            Check("guest-unfiltered", "critical", "a guest has rules but one of the three switches is off, so PVE does not filter it"),
            Check("no-management-access", "high", "policy_in DROP/REJECT with no management ipset entries and no rule accepting 8006 or 22"),
            Check("missing-reference", "high", "a rule or ipset entry names an ipset, alias or security group that does not exist"),
            Check("rule-shadowed", "medium", "an earlier rule of the same list already decides every packet the rule could match"),
            Check("iface-missing", "medium", "a datacenter or host rule is bound to an interface a node does not have"),
            Check("nic-missing", "medium", "a guest rule is bound to a NIC the guest does not have"),
            Check("guest-firewall-off", "medium", "the datacenter firewall is on but the own firewall of a guest without rules is off"),
            Check("nic-flag-off", "medium", "the datacenter firewall is on but a NIC of a guest without rules lacks firewall=1"),
            Check("guest-policy-accept", "medium", "a guest with its firewall on accepts all inbound traffic its rules do not decide"),
            Check("rule-duplicate", "low", "a rule repeats an earlier rule of the same list (comments aside)"),
            Check("too-many-rules", "low", "a guest has more active rules than the threshold"),
            Check("unused-ipset", "low", "an IP set no rule refers to"),
            Check("unused-alias", "low", "an alias no rule or IP set entry refers to"),
            Check("unused-group", "low", "a security group no rule uses"),
            Check("macro-available", "info", "raw port rules that one macro rule expresses"),
            Check("ipset-candidate", "info", "consecutive rules differing only in source (or dest) that one IP set would collapse"),
        )
    }
)


# ---------------------------------------------------------------------------------------
# Findings


@dataclass(frozen=True)
class AuditObject:
    """What a finding is about. ``level`` is the firewall it belongs to (security groups
    belong to the datacenter); ``position`` is a rule's PVE ``pos`` in its list, ``entry`` an
    IP set entry's index."""

    level: str
    node: Optional[str] = None
    vmid: Optional[int] = None
    vnet: Optional[str] = None
    group: Optional[str] = None
    ipset: Optional[str] = None
    alias: Optional[str] = None
    nic: Optional[str] = None
    position: Optional[int] = None
    entry: Optional[int] = None

    @property
    def firewall(self) -> str:
        if self.group is not None:
            return f"security group '{self.group}'"
        if self.level == "node":
            return f"node {self.node}"
        if self.level in _GUEST_LEVELS:
            return f"{self.level} {self.vmid}"
        if self.level == "vnet":
            return f"vnet {self.vnet}"
        return "cluster"

    @property
    def label(self) -> str:
        """``vm 100 rules[3]``, ``security group 'web' rules[0]``, ``cluster ipset 'x' entries[2]``."""
        parts = [self.firewall]
        if self.ipset is not None:
            parts.append(f"ipset '{self.ipset}'" + (f" entries[{self.entry}]" if self.entry is not None else ""))
        elif self.alias is not None:
            parts.append(f"alias '{self.alias}'")
        elif self.nic is not None:
            parts.append(self.nic)
        if self.position is not None:
            parts.append(f"rules[{self.position}]")
        return " ".join(parts)

    def as_dict(self) -> Dict[str, Union[str, int]]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    target: AuditObject
    message: str
    fix: str

    @property
    def key(self) -> str:
        """Stable while the object keeps its place: the check and where."""
        return f"{self.check}@{self.target.label}"

    def line(self) -> str:
        return f"{self.severity.upper()} {self.check} {self.target.label}: {self.message}"

    def as_dict(self) -> Dict[str, object]:
        return {
            "id": self.key,
            "check": self.check,
            "severity": self.severity,
            "object": self.target.as_dict(),
            "where": self.target.label,
            "message": self.message,
            "fix": self.fix,
        }


# ---------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class AuditFacts:
    """What the configuration is applied to.

    ``inventory``: guests with their NICs (a guest missing there is not judged on its NICs).
    ``node_names``: every node of the cluster (with the inventory's nodes and the host files).
    ``node_interfaces``: node -> its interface names (``/nodes/{node}/network``); a node not
    listed is not checked for missing interfaces. ``sdn_ipsets``: the IP sets SDN generates
    (None: unknown, ``+sdn/`` references are then not checked). ``now``: UNIX time for a
    datacenter ``enable`` timestamp (None: the current time).
    """

    inventory: Inventory = field(default_factory=Inventory)
    node_names: Tuple[str, ...] = ()
    node_interfaces: Mapping[str, FrozenSet[str]] = field(default_factory=dict)
    sdn_ipsets: Optional[FrozenSet[str]] = None
    now: Optional[float] = None


@dataclass(frozen=True)
class AuditScope:
    """Which findings to report: by level, and by node and guest id (None: all)."""

    levels: FrozenSet[str] = frozenset(LEVELS)
    nodes: Optional[FrozenSet[str]] = None
    vmids: Optional[FrozenSet[int]] = None

    def covers(self, target: AuditObject) -> bool:
        if target.level not in self.levels:
            return False
        if target.level == "node" and self.nodes is not None:
            return target.node in self.nodes
        if target.level in _GUEST_LEVELS and self.vmids is not None:
            return target.vmid in self.vmids
        return True


@dataclass(frozen=True)
class AuditSettings:
    checks: FrozenSet[str] = frozenset(CHECKS)
    max_rules_per_guest: int = DEFAULT_MAX_RULES_PER_GUEST


# ---------------------------------------------------------------------------------------
# Results


def at_or_above(findings: Iterable[Finding], severity: str) -> Tuple[Finding, ...]:
    """The findings of ``severity`` or a more severe one."""
    floor = severity_rank(severity)
    return tuple(finding for finding in findings if severity_rank(finding.severity) >= floor)


def counts(findings: Sequence[Finding]) -> Dict[str, object]:
    by_severity = {name: 0 for name in SEVERITIES}
    by_check: Dict[str, int] = {}
    for finding in findings:
        by_severity[finding.severity] += 1
        by_check[finding.check] = by_check.get(finding.check, 0) + 1
    return {"total": len(findings), "by_severity": by_severity, "by_check": dict(sorted(by_check.items()))}


def summary_lines(findings: Sequence[Finding]) -> List[str]:
    """A heading with the counts, then one line per finding, most severe first."""
    if not findings:
        return ["no findings"]
    by_severity = {name: sum(finding.severity == name for finding in findings) for name in SEVERITIES}
    shown = ", ".join(f"{number} {name}" for name, number in by_severity.items() if number)
    noun = "finding" if len(findings) == 1 else "findings"
    return [f"{len(findings)} {noun}: {shown}", *(finding.line() for finding in findings)]


# ---------------------------------------------------------------------------------------
# Rule lists and what their rules match


def _rule_text(rule: Rule, in_group: bool = False) -> str:
    """The rule as PVE writes it, without its comment."""
    return render_rule_line(replace(rule, comment=None), in_group=in_group)


@dataclass(frozen=True)
class _RuleList:
    """One list of rules evaluated in order: a firewall's [RULES] or a security group."""

    target: AuditObject
    rules: Tuple[Rule, ...]
    level: Level
    owner: int = 0  # whose IP sets and aliases the rules see first (0: the datacenter only)
    own: Optional[FirewallFile] = None

    @property
    def in_group(self) -> bool:
        return self.level is Level.GROUP

    def at(self, position: int) -> AuditObject:
        return replace(self.target, position=position)

    def text(self, position: int) -> str:
        return _rule_text(self.rules[position], self.in_group)

    def where(self, position: int) -> str:
        return f"rules[{position}] ({self.text(position)})"


@dataclass(frozen=True)
class _Atom:
    """One compiled match of one IP family: a rule gives one per macro template, a GROUP rule
    those of its group's rules."""

    version: int
    direction: str
    action: str
    iface: Optional[str]
    source: Optional[AddressSet]
    dest: Optional[AddressSet]
    template: Template
    # the template's ports as merged (first, last) intervals, computed once for the comparisons
    dports: PortKey = field(init=False)
    sports: PortKey = field(init=False)

    def __post_init__(self) -> None:
        for name, ports in (("dports", self.template.dport), ("sports", self.template.sport)):
            merged = None if ports is None else _ranges_merged((item.first, item.last) for item in ports.ranges)
            object.__setattr__(self, name, merged)


def _ranges_merged(ranges: Iterable[Tuple[int, int]]) -> Tuple[Tuple[int, int], ...]:
    merged: List[Tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return tuple(merged)


def _within(inner: Iterable[Tuple[int, int]], outer: Tuple[Tuple[int, int], ...]) -> bool:
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


def _address_covers(wider: Optional[AddressSet], narrower: Optional[AddressSet], version: int) -> bool:
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


def _icmp_covers(wider: Optional[Tuple[Optional[int], Optional[int]]], narrower: Optional[Tuple[Optional[int], Optional[int]]]) -> bool:
    if wider is None or wider == (None, None):
        return True
    if narrower is None or narrower == (None, None):
        return False
    return wider[0] == narrower[0] and (wider[1] is None or wider[1] == narrower[1])


def _template_covers(wider: _Atom, narrower: _Atom) -> bool:
    if wider.template.proto is None:
        return True  # no protocol: no port or type either, every packet
    return (
        wider.template.proto == narrower.template.proto
        and _ports_cover(wider.dports, narrower.dports)
        and _ports_cover(wider.sports, narrower.sports)
        and _icmp_covers(wider.template.icmp, narrower.template.icmp)
    )


def _may_cover(wider: _Atom, narrower: _Atom) -> bool:
    """A cheap first test on the span of the destination ports."""
    if wider.dports is None:
        return True
    return narrower.dports is not None and wider.dports[0][0] <= narrower.dports[0][0] and wider.dports[-1][1] >= narrower.dports[-1][1]


def _covers(wider: _Atom, narrower: _Atom) -> bool:
    """Every packet ``narrower`` matches, ``wider`` matches too."""
    return (
        wider.version == narrower.version
        and wider.direction == narrower.direction
        and (wider.iface is None or wider.iface == narrower.iface)
        and _template_covers(wider, narrower)
        and _address_covers(wider.source, narrower.source, narrower.version)
        and _address_covers(wider.dest, narrower.dest, narrower.version)
    )


def _address_refs(rule: Rule) -> Iterator[Tuple[str, Union[IPSetRef, AliasRef]]]:
    """(field, reference) of each ipset or alias reference a rule's addresses make."""
    for field_name in ("source", "dest"):
        text = getattr(rule, field_name)
        if not text:
            continue
        try:
            spec = parse_address_spec(text.strip())
        except AddressError:
            continue
        if isinstance(spec, (IPSetRef, AliasRef)):
            yield field_name, spec


def _filled_by_pve(rule: Rule) -> bool:
    """The rule names a set PVE adds members to (its content is not all in the file)."""
    return any(
        isinstance(ref, IPSetRef) and (ref.name == "management" or ref.name.startswith(_GUEST_FILTER_SET) or ref.scope == "sdn")
        for _field, ref in _address_refs(rule)
    )


def _matches_nothing(atom: _Atom) -> bool:
    return any(addresses is not None and addresses.empty for addresses in (atom.source, atom.dest))


def _skipped_for_family(reason: str) -> bool:
    """The rule is absent in this IP family only (it exists in the other)."""
    return reason.startswith("IPv") or " has no IPv" in reason


class _Compiler:
    """Rules compiled per IP family into atoms, with the IP sets built once."""

    def __init__(self, config: ClusterConfig, inventory: Inventory) -> None:
        self.config = config
        guests = {vmid: (guest.file, inventory.guest(vmid)) for vmid, guest in config.guests.items()}
        self.sets = SetLibrary(config.cluster, guests)
        self.group_context = RuleContext(Level.GROUP, references(config.cluster))
        self._contexts: Dict[Tuple[int, Level], RuleContext] = {}
        self._groups: Dict[Tuple[str, int, bool], Optional[List[_Atom]]] = {}

    def context(self, rules: _RuleList) -> RuleContext:
        key = (rules.owner, rules.level)
        found = self._contexts.get(key)
        if found is None:
            found = self._contexts[key] = RuleContext(rules.level, references(self.config.cluster, rules.own), rules.owner)
        return found

    def group(self, name: str) -> Optional[SecurityGroup]:
        lowered = name.lower()
        return next((group for group in self.config.cluster.groups if group.name.lower() == lowered), None)

    def group_atoms(self, name: str, version: int, exact: bool) -> Optional[List[_Atom]]:
        """The atoms of a security group's rules; None when the group does not exist or (with
        ``exact``) a rule of it cannot be judged exactly."""
        key = (name, version, exact)
        if key not in self._groups:
            self._groups[key] = self._group_atoms(name, version, exact)
        return self._groups[key]

    def _group_atoms(self, name: str, version: int, exact: bool) -> Optional[List[_Atom]]:
        # the compiler's lookup: the stored (lowercase) name, compared as it is
        group = next((item for item in self.config.cluster.groups if item.name == name), None)
        if group is None:
            return None
        atoms: List[_Atom] = []
        for position, rule in enumerate(group.rules):
            if exact and rule.enable and _filled_by_pve(rule):
                return None
            entry = compile_rule(position, rule, self.group_context, version, self.sets, location=f"group {group.name}")
            if isinstance(entry, CompiledRule):
                atoms += [_Atom(version, rule.type, rule.action, None, entry.source, entry.dest, template) for template in entry.templates]
        return atoms

    def atoms(self, rules: _RuleList, position: int, *, exact: bool) -> Optional[Tuple[_Atom, ...]]:
        """What the rule at ``position`` matches, in both families. None when it matches
        nothing PVE would evaluate (disabled, errors, not compiled) or, with ``exact``, when
        its matches are not known exactly."""
        rule = rules.rules[position]
        if not rule.enable or (exact and _filled_by_pve(rule)):
            return None
        context = self.context(rules)
        found: List[_Atom] = []
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
                found += [_Atom(version, rule.type, rule.action, rule.iface, entry.source, entry.dest, template) for template in entry.templates]
        # an empty set matches nothing (an IP set without addresses of this family)
        return tuple(atom for atom in found if not _matches_nothing(atom))


# ---------------------------------------------------------------------------------------
# Macros and address runs


def _port_key(text: Optional[str]) -> PortKey:
    if not text:
        return None
    return _ranges_merged((item.first, item.last) for item in parse_port_list(text).ranges)


def _match_key(templates: Iterable[Tuple[Optional[str], Optional[str], Optional[str]]]) -> Optional[MatchKey]:
    """The packets of (proto, dport, sport) templates as one comparable value: the union of
    their ports per protocol and source ports. None for ICMP and unknown protocols."""
    merged: Dict[Tuple[int, PortKey], PortKey] = {}
    for proto, dport, sport in templates:
        if proto is None or icmp_family(proto) is not None:
            return None
        number = protocol_number(proto)
        if number is None or number in (1, 58):
            return None
        try:
            key, ports = (number, _port_key(sport)), _port_key(dport)
        except PortError:
            return None
        if key in merged:
            known = merged[key]
            merged[key] = None if known is None or ports is None else _ranges_merged(known + ports)
        else:
            merged[key] = ports
    return frozenset((number, sport_key, ports) for (number, sport_key), ports in merged.items())


def _build_macro_index() -> Dict[MatchKey, Tuple[str, ...]]:
    """Macros a rule can be replaced by without changing anything: the same templates in both
    IP families (Ping, for one, becomes icmpv6 in IPv6 and is left out)."""
    index: Dict[MatchKey, List[str]] = {}
    for macro in MACROS.values():
        if macro.families != frozenset({4, 6}) or macro.ipv6_rules != macro.rules:
            continue
        key = _match_key((template.proto, template.dport, template.sport) for template in macro.rules)
        if key is not None:
            index.setdefault(key, []).append(macro.name)
    return {key: tuple(names) for key, names in index.items()}


_MACRO_INDEX = _build_macro_index()
_MACRO_SIZE = max(len(macro.rules) for macro in MACROS.values())


def _macro_run_key(rule: Rule) -> Optional[Tuple[object, ...]]:
    """What rules must share to be merged into one macro rule; None if the rule cannot take part."""
    if rule.type == "group" or rule.macro or not rule.proto or rule.icmp_type or not rule.enable:
        return None
    return (rule.type, rule.action, rule.iface, rule.source, rule.dest, rule.log)


def _collapsible(text: Optional[str]) -> bool:
    """An address value that can become IP set entries: addresses, CIDRs or an alias."""
    if not text:
        return False
    try:
        spec = parse_address_spec(text.strip())
    except AddressError:
        return False
    if isinstance(spec, AliasRef):
        return True
    return isinstance(spec, AddressList) and not any(isinstance(item, AddressRange) for item in spec.items)


def _runs(rules: Sequence[Rule], key: Callable[[Rule], object]) -> Iterator[Tuple[int, int]]:
    """(first, end) of each maximal run of consecutive rules with the same non-None key."""
    start = 0
    while start < len(rules):
        value = key(rules[start])
        end = start + 1
        if value is not None:
            while end < len(rules) and key(rules[end]) == value:
                end += 1
            yield start, end
        start = end


def _positions(first: int, end: int) -> str:
    return f"rules[{first}]" if end - first == 1 else f"rules[{first}]..rules[{end - 1}]"


# ---------------------------------------------------------------------------------------
# The audit


def _count(number: int, singular: str, plural: Optional[str] = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _guest_ident(level: str, vmid: int) -> str:
    return f"level: {level}, vmid: {vmid}"


class _Auditor:
    def __init__(self, config: ClusterConfig, facts: AuditFacts, scope: AuditScope, settings: AuditSettings) -> None:
        self.config = config
        self.facts = facts
        self.scope = scope
        self.settings = settings
        self.compiler = _Compiler(config, facts.inventory)
        self.lists = tuple(self._lists())
        self.dc_on, self.dc_why = cluster_enable_state(config.cluster.options, facts.now if facts.now is not None else time.time())

    # -- what there is ---------------------------------------------------------------------

    def _guest_of(self, vmid: int) -> Optional[Guest]:
        return self.facts.inventory.guest(vmid)

    def _guest_target(self, vmid: int, level: str) -> AuditObject:
        guest = self._guest_of(vmid)
        return AuditObject(level, node=guest.node if guest else None, vmid=vmid)

    def guests(self) -> List[Tuple[int, str, FirewallFile]]:
        """(vmid, vm|ct, file) of every guest known from the configuration or the inventory."""
        found = {vmid: (guest.level.value, guest.file) for vmid, guest in self.config.guests.items()}
        for vmid, guest in self.facts.inventory.guests.items():
            found.setdefault(vmid, (guest.level, FirewallFile(FileKind.GUEST)))
        return [(vmid, level, fw) for vmid, (level, fw) in sorted(found.items())]

    def nodes(self) -> List[str]:
        return sorted(set(self.facts.node_names) | set(self.facts.inventory.nodes) | set(self.config.hosts) | set(self.facts.node_interfaces))

    def _lists(self) -> Iterator[_RuleList]:
        cluster = self.config.cluster
        yield _RuleList(AuditObject("cluster"), cluster.rules, Level.CLUSTER)
        for group in cluster.groups:
            yield _RuleList(AuditObject("cluster", group=group.name), group.rules, Level.GROUP)
        for node, host in sorted(self.config.hosts.items()):
            yield _RuleList(AuditObject("node", node=node), host.rules, Level.HOST)
        for vmid, guest in sorted(self.config.guests.items()):
            yield _RuleList(self._guest_target(vmid, guest.level.value), guest.file.rules, guest.level, vmid, guest.file)
        for vnet, fw in sorted(self.config.vnets.items()):
            yield _RuleList(AuditObject("vnet", vnet=vnet), fw.rules, Level.VNET)

    def audited_lists(self) -> Iterator[_RuleList]:
        return (rules for rules in self.lists if self.scope.covers(rules.target))

    # -- guests ------------------------------------------------------------------------------

    def guest_checks(self) -> Iterator[Finding]:
        for vmid, level, fw in self.guests():
            target = self._guest_target(vmid, level)
            if not self.scope.covers(target):
                continue
            yield from self._guest_switches(vmid, level, fw, target)
            yield from self._guest_rules(vmid, level, fw, target)

    def _guest_switches(self, vmid: int, level: str, fw: FirewallFile, target: AuditObject) -> Iterator[Finding]:
        guest = self._guest_of(vmid)
        nics = guest.nics if guest else ()
        flagless = [nic.name for nic in nics if not nic.firewall]
        guest_on = option_flag(fw.options, "vm", "enable")
        active = sum(rule.enable for rule in fw.rules)
        ident = _guest_ident(level, vmid)
        if active and (not self.dc_on or not guest_on or flagless):
            off: List[str] = []
            fixes: List[str] = []
            if not self.dc_on:
                off.append(f"the datacenter firewall is off ({self.dc_why})")
                fixes.append("turn the datacenter firewall on (pve.firewall.firewall_options level: cluster, options: {enable: true})")
            if not guest_on:
                off.append("the guest's firewall is off (no 'enable: 1' in its options)")
                fixes.append(f"turn the guest's firewall on (pve.firewall.firewall_options {ident}, options: {{enable: true}})")
            if flagless:
                off.append(f"{', '.join(flagless)} {'has' if len(flagless) == 1 else 'have'} no firewall=1")
                fixes.append(f"set the NIC flag (pve.firewall.firewall_options {ident}, nic_firewall: true, nics: [{', '.join(flagless)}])")
            scope_text = "the traffic of " + ", ".join(flagless) if guest_on and self.dc_on else "its traffic"
            yield Finding(
                "guest-unfiltered",
                "critical",
                target,
                f"{level} {vmid} has {_count(active, 'active rule')} but PVE does not filter {scope_text}: {'; '.join(off)}",
                "; ".join(fixes),
            )
            return
        if active or not self.dc_on:
            return
        if not guest_on:
            yield Finding(
                "guest-firewall-off",
                "medium",
                target,
                f"the datacenter firewall is on but {level} {vmid}'s own firewall is off: its traffic is not filtered",
                f"turn it on with rules for the services it offers (pve.firewall.firewall_rule {ident}, then "
                f"pve.firewall.firewall_options {ident}, options: {{enable: true}})",
            )
        for name in flagless:
            yield Finding(
                "nic-flag-off",
                "medium",
                replace(target, nic=name),
                f"the datacenter firewall is on but {level} {vmid} {name} has no firewall=1: its traffic is not filtered",
                f"set the flag (pve.firewall.firewall_options {ident}, nic_firewall: true, nics: [{name}])",
            )

    def _guest_rules(self, vmid: int, level: str, fw: FirewallFile, target: AuditObject) -> Iterator[Finding]:
        ident = _guest_ident(level, vmid)
        if option_flag(fw.options, "vm", "enable") and str(effective_option(fw.options, "vm", "policy_in")).upper() == "ACCEPT":
            yield Finding(
                "guest-policy-accept",
                "medium",
                target,
                f"{level} {vmid} has policy_in ACCEPT: every inbound connection its rules do not drop is accepted",
                f"accept the services it offers with rules (pve.firewall.firewall_rule {ident}) and set policy_in to DROP "
                f"(pve.firewall.firewall_options {ident}, options: {{policy_in: DROP}})",
            )
        active = sum(rule.enable for rule in fw.rules)
        limit = self.settings.max_rules_per_guest
        if active > limit:
            yield Finding(
                "too-many-rules",
                "low",
                target,
                f"{level} {vmid} has {active} active rules (threshold {limit})",
                "move rules that guests share into a security group used by one GROUP rule (pve.firewall.security_group), "
                "collapse rules differing only in address into an IP set (pve.firewall.ipset), and use macros",
            )
        guest = self._guest_of(vmid)
        if guest is None:
            return
        names = [nic.name for nic in guest.nics]
        for position, rule in enumerate(fw.rules):
            if rule.enable and rule.iface and rule.iface not in names:
                have = ", ".join(names) or "none"
                yield Finding(
                    "nic-missing",
                    "medium",
                    replace(target, position=position),
                    f"rules[{position}] ({_rule_text(rule)}) applies to NIC {rule.iface}, which {level} {vmid} does not have "
                    f"(it has {have}): it never matches",
                    f"set iface to one of the guest's NICs ({have}) or remove it (pve.firewall.firewall_rule {ident})",
                )

    # -- interfaces --------------------------------------------------------------------------

    def iface_checks(self) -> Iterator[Finding]:
        known = self.facts.node_interfaces
        for rules in self.audited_lists():
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
                    yield Finding(
                        "iface-missing",
                        "medium",
                        rules.at(position),
                        f"{rules.where(position)} is bound to interface {rule.iface}, which {where} not have: it never matches there",
                        fix,
                    )

    # -- management access ---------------------------------------------------------------------

    def management_checks(self) -> Iterator[Finding]:
        cluster = self.config.cluster
        policy = str(effective_option(cluster.options, "cluster", "policy_in")).upper()
        target = AuditObject("cluster")
        if not self.dc_on or policy not in ("DROP", "REJECT") or not self.scope.covers(target):
            return
        management = cluster.ipset("management")
        if management is not None and any(not entry.nomatch for entry in management.entries):
            return
        cluster_list = self.lists[0]
        if self._accepts_management(cluster_list):
            return
        hosts = {rules.target.node: rules for rules in self.lists if rules.level is Level.HOST}
        nodes = self.nodes()
        blocked = []
        for node in nodes:
            host = self.config.hosts.get(node)
            if host is not None and not option_flag(host.options, "host", "enable"):
                continue  # no host chain on this node
            host_rules = hosts.get(node)
            if host_rules is None or not self._accepts_management(host_rules):
                blocked.append(node)
        if nodes and not blocked:
            return
        on = f" on {', '.join(blocked)}" if blocked else ""
        ports = " and ".join(str(port) for port in MANAGEMENT_PORTS)
        yield Finding(
            "no-management-access",
            "high",
            target,
            f"policy_in is {policy}{on} with no entry in ipset 'management' and no rule accepting tcp {ports}: only the nodes' "
            f"local network keeps the API (8006) and SSH (22), through PVE's built-in management exception",
            "add the administrators' networks to the datacenter ipset 'management' (pve.firewall.ipset level: cluster, name: management), "
            "or accept tcp 8006 and 22 from them with a datacenter rule (pve.firewall.firewall_rule level: cluster)",
        )

    def _accepts_management(self, rules: _RuleList) -> bool:
        for position in range(len(rules.rules)):
            for atom in self.compiler.atoms(rules, position, exact=False) or ():
                if atom.direction != "in" or atom.action != "ACCEPT":
                    continue
                template = atom.template
                if template.proto is None:
                    return True
                if template.proto == _TCP and (template.dport is None or any(template.dport.matches(port) for port in MANAGEMENT_PORTS)):
                    return True
        return False

    # -- rules that never decide ---------------------------------------------------------------

    def shadow_checks(self, duplicates: bool, shadowed: bool) -> Iterator[Finding]:
        for rules in self.audited_lists():
            yield from self._shadows(rules, duplicates, shadowed)

    def _shadows(self, rules: _RuleList, duplicates: bool, shadowed: bool) -> Iterator[Finding]:
        seen: Dict[Rule, int] = {}
        earlier: Dict[Tuple[int, str, Optional[int]], List[Tuple[int, _Atom]]] = {}
        fix_module = "pve.firewall.security_group" if rules.in_group else "pve.firewall.firewall_rule"
        for position, rule in enumerate(rules.rules):
            key = normalise_rule(replace(rule, comment=None))
            first = seen.setdefault(key, position)
            exact = self.compiler.atoms(rules, position, exact=True) if shadowed and first == position else None
            if first != position:
                if duplicates:
                    yield Finding(
                        "rule-duplicate",
                        "low",
                        rules.at(position),
                        f"{rules.where(position)} repeats rules[{first}]" + (": it never decides anything" if rule.enable else ""),
                        f"delete rules[{position}] ({fix_module})",
                    )
            elif shadowed and exact:
                deciders = self._deciders(exact, earlier)
                if deciders:
                    named = ", ".join(rules.where(index) for index in deciders[:3]) + (" ..." if len(deciders) > 3 else "")
                    yield Finding(
                        "rule-shadowed",
                        "medium",
                        rules.at(position),
                        f"{rules.where(position)} can never match: {named} already decide{'s' if len(deciders) == 1 else ''} every packet it would match",
                        f"delete rules[{position}], or move it above rules[{deciders[0]}] if it is meant to decide first ({fix_module})",
                    )
            atoms = exact if exact is not None else self.compiler.atoms(rules, position, exact=False)
            for atom in atoms or ():
                earlier.setdefault((atom.version, atom.direction, atom.template.proto), []).append((position, atom))

    @staticmethod
    def _deciders(atoms: Tuple[_Atom, ...], earlier: Mapping[Tuple[int, str, Optional[int]], List[Tuple[int, _Atom]]]) -> List[int]:
        """The earlier rules that together decide every atom, or [] when one atom is left."""
        if not atoms:
            return []
        found: Set[int] = set()
        for atom in atoms:
            buckets = [earlier.get((atom.version, atom.direction, atom.template.proto), [])]
            if atom.template.proto is not None:
                buckets.append(earlier.get((atom.version, atom.direction, None), []))
            # each bucket is in list order: its first covering atom is its earliest
            firsts = [next((position for position, wider in bucket if _may_cover(wider, atom) and _covers(wider, atom)), None) for bucket in buckets]
            decider = min((position for position in firsts if position is not None), default=None)
            if decider is None:
                return []
            found.add(decider)
        return sorted(found)

    # -- references ----------------------------------------------------------------------------

    def _ipset_owner(self, ref: IPSetRef, owner: int) -> Optional[str]:
        """Where the reference resolves (guest, cluster, sdn, unknown) or None: nowhere."""
        sdn = self.facts.sdn_ipsets
        if ref.scope == "sdn":
            return "unknown" if sdn is None else ("sdn" if ref.name in sdn else None)
        if owner and ref.scope in (None, "guest") and self.compiler.sets.has_set(owner, ref.name):
            return "guest"
        if ref.scope in (None, "dc") and self.compiler.sets.has_set(0, ref.name):
            return "cluster"
        if ref.scope is None and sdn is not None and ref.name in sdn:
            return "sdn"
        return None

    def _alias_owner(self, ref: AliasRef, own: Optional[FirewallFile]) -> Optional[str]:
        if own is not None and ref.scope in (None, "guest") and own.alias(ref.name) is not None:
            return "guest"
        if ref.scope in (None, "dc"):
            if self.config.cluster.alias(ref.name) is not None:
                return "cluster"
            if ref.name.lower() == _BUILTIN_ALIAS:
                return "builtin"  # PVE computes it when the datacenter does not define it
        return None

    def _group_exists(self, name: str) -> bool:
        return self.compiler.group(name) is not None

    def reference_checks(self, wanted: FrozenSet[str]) -> Iterator[Finding]:
        used_sets: Set[Tuple[int, str]] = set()
        used_aliases: Set[Tuple[int, str]] = set()
        used_groups: Set[str] = set()
        missing: List[Finding] = []
        for rules in self.lists:
            audited = self.scope.covers(rules.target)
            for position, rule in enumerate(rules.rules):
                problems = self._rule_references(rules, rule, used_sets, used_aliases, used_groups)
                if audited and rule.enable:
                    missing += [
                        Finding("missing-reference", "high", rules.at(position), f"{rules.where(position)}: {problem}", fix)
                        for problem, fix in problems
                    ]
        for owner, fw, target in self._set_owners():
            for ipset in fw.ipsets:
                for index, entry in enumerate(ipset.entries):
                    problem = self._entry_reference(owner, fw, entry.cidr.strip(), used_aliases)
                    if problem and self.scope.covers(target):
                        missing.append(
                            Finding(
                                "missing-reference",
                                "high",
                                replace(target, ipset=ipset.name, entry=index),
                                f"entry '{entry.cidr}' names alias '{problem}', which does not exist: PVE leaves the entry out",
                                "create the alias (pve.firewall.alias) or remove the entry (pve.firewall.ipset)",
                            )
                        )
        if "missing-reference" in wanted:
            yield from missing
        yield from self._unused(wanted, used_sets, used_aliases, used_groups)

    def _set_owners(self) -> Iterator[Tuple[int, FirewallFile, AuditObject]]:
        yield 0, self.config.cluster, AuditObject("cluster")
        for vmid, guest in sorted(self.config.guests.items()):
            yield vmid, guest.file, self._guest_target(vmid, guest.level.value)

    def _rule_references(
        self, rules: _RuleList, rule: Rule, used_sets: Set[Tuple[int, str]], used_aliases: Set[Tuple[int, str]], used_groups: Set[str]
    ) -> List[Tuple[str, str]]:
        """Record what the rule uses; return (problem, fix) for each reference that does not resolve."""
        problems: List[Tuple[str, str]] = []
        module = "pve.firewall.security_group" if rules.in_group else "pve.firewall.firewall_rule"
        if rule.type == "group":
            used_groups.add(rule.action.lower())
            if not self._group_exists(rule.action):
                problems.append(
                    (
                        f"security group '{rule.action}' does not exist: PVE jumps to an empty chain, the rule does nothing",
                        f"create the group (pve.firewall.security_group name: {rule.action.lower()}) or fix the name ({module})",
                    )
                )
        for field_name, ref in _address_refs(rule):
            if isinstance(ref, IPSetRef):
                found = self._ipset_owner(ref, rules.owner)
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
                found = self._alias_owner(ref, rules.own)
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

    def _entry_reference(self, owner: int, fw: FirewallFile, cidr: str, used_aliases: Set[Tuple[int, str]]) -> Optional[str]:
        """Record the alias an IP set entry names; return its name when it does not exist."""
        if not is_alias_reference(cidr):
            return None
        try:
            ref = parse_address_spec(cidr)
        except AddressError:
            return None
        if not isinstance(ref, AliasRef):
            return None
        found = self._alias_owner(ref, fw if owner else None)
        if found in ("guest", "cluster"):
            used_aliases.add((owner if found == "guest" else 0, ref.name.lower()))
        return str(ref) if found is None else None

    def _unused(
        self, wanted: FrozenSet[str], used_sets: Set[Tuple[int, str]], used_aliases: Set[Tuple[int, str]], used_groups: Set[str]
    ) -> Iterator[Finding]:
        for owner, fw, target in self._set_owners():
            if not self.scope.covers(target):
                continue
            ident = "level: cluster" if owner == 0 else _guest_ident(target.level, owner)
            if "unused-ipset" in wanted:
                for ipset in fw.ipsets:
                    special = ipset.name in _SPECIAL_CLUSTER_SETS if owner == 0 else ipset.name.startswith(_GUEST_FILTER_SET)
                    if not special and (owner, ipset.name) not in used_sets:
                        yield Finding(
                            "unused-ipset",
                            "low",
                            replace(target, ipset=ipset.name),
                            f"no rule uses IP set '{ipset.name}' ({_count(len(ipset.entries), 'entry', 'entries')})",
                            f"delete it (pve.firewall.ipset {ident}, name: {ipset.name}, state: absent) or use it in a rule",
                        )
            if "unused-alias" in wanted:
                for alias in fw.aliases:
                    special = owner == 0 and alias.name.lower() == _BUILTIN_ALIAS
                    if not special and (owner, alias.name.lower()) not in used_aliases:
                        yield Finding(
                            "unused-alias",
                            "low",
                            replace(target, alias=alias.name),
                            f"no rule or IP set entry uses alias '{alias.name}' ({alias.cidr})",
                            f"delete it (pve.firewall.alias {ident}, name: {alias.name}, state: absent) or use it",
                        )
        if "unused-group" in wanted and self.scope.covers(AuditObject("cluster")):
            for group in self.config.cluster.groups:
                if group.name.lower() not in used_groups:
                    yield Finding(
                        "unused-group",
                        "low",
                        AuditObject("cluster", group=group.name),
                        f"no GROUP rule uses security group '{group.name}' ({_count(len(group.rules), 'rule')})",
                        f"delete it (pve.firewall.security_group name: {group.name}, state: absent) or reference it with a GROUP rule",
                    )

    # -- shorter rules -------------------------------------------------------------------------

    def macro_checks(self) -> Iterator[Finding]:
        for rules in self.audited_lists():
            module = "pve.firewall.security_group" if rules.in_group else "pve.firewall.firewall_rule"
            for first, end in _runs(rules.rules, _macro_run_key):
                position = first
                while position < end:
                    size = next((size for size in range(min(_MACRO_SIZE, end - position), 0, -1) if self._macro_for(rules, position, size)), 0)
                    if not size:
                        position += 1
                        continue
                    names = self._macro_for(rules, position, size)
                    span = _positions(position, position + size)
                    choices = " or ".join(f"'macro: {name}'" for name in names)
                    yield Finding(
                        "macro-available",
                        "info",
                        rules.at(position),
                        f"{span} ({'; '.join(rules.text(index) for index in range(position, position + size))}) "
                        f"{'is' if size == 1 else 'are'} exactly macro {' or '.join(names)}",
                        f"replace {span} with one rule {choices} and no proto/dport/sport, keeping the other fields ({module})",
                    )
                    position += size

    @staticmethod
    def _macro_for(rules: _RuleList, position: int, size: int) -> Tuple[str, ...]:
        window = rules.rules[position:position + size]
        if len({(rule.proto, rule.dport, rule.sport) for rule in window}) < size:
            return ()  # a repeated rule adds nothing (rule-duplicate says so)
        key = _match_key((rule.proto, rule.dport, rule.sport) for rule in window)
        return () if key is None else _MACRO_INDEX.get(key, ())

    def ipset_checks(self) -> Iterator[Finding]:
        for rules in self.audited_lists():
            module = "pve.firewall.security_group" if rules.in_group else "pve.firewall.firewall_rule"
            where = "a datacenter IP set" if rules.owner == 0 else "an IP set of the guest or the datacenter"
            for field_name, other in (("source", "dest"), ("dest", "source")):

                def run_key(rule: Rule, varying: str = field_name) -> Optional[Tuple[object, ...]]:
                    if rule.type == "group" or not rule.enable or not _collapsible(getattr(rule, varying)):
                        return None
                    return normalise_rule(replace(rule, comment=None, **{varying: None}))  # type: ignore[arg-type]

                for first, end in _runs(rules.rules, run_key):
                    if end - first < IPSET_RUN:
                        continue
                    values = [str(getattr(rule, field_name)) for rule in rules.rules[first:end]]
                    span = _positions(first, end)
                    shown = ", ".join(values[:5]) + (", ..." if len(values) > 5 else "")
                    yield Finding(
                        "ipset-candidate",
                        "info",
                        rules.at(first),
                        f"{span} ({end - first} rules) differ only in {field_name} ({shown}); the {other} and everything else is the same",
                        f"put the {field_name} addresses into {where} (pve.firewall.ipset) and replace {span} with one rule "
                        f"'{field_name}: +<set name>' ({module})",
                    )


def audit(
    config: ClusterConfig,
    facts: Optional[AuditFacts] = None,
    scope: Optional[AuditScope] = None,
    settings: Optional[AuditSettings] = None,
) -> Tuple[Finding, ...]:
    """Every finding of the wanted checks on the objects in ``scope``, most severe first
    (within a severity: datacenter, groups, nodes, guests, vnets, in list order)."""
    facts = facts or AuditFacts()
    scope = scope or AuditScope()
    settings = settings or AuditSettings()
    unknown = sorted(settings.checks - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks: {', '.join(unknown)}")
    wanted = settings.checks
    auditor = _Auditor(config, facts, scope, settings)
    found: List[Finding] = []
    if wanted & {"guest-unfiltered", "guest-firewall-off", "nic-flag-off", "guest-policy-accept", "too-many-rules", "nic-missing"}:
        found += auditor.guest_checks()
    if "no-management-access" in wanted:
        found += auditor.management_checks()
    if wanted & {"missing-reference", "unused-ipset", "unused-alias", "unused-group"}:
        found += auditor.reference_checks(wanted)
    if wanted & {"rule-shadowed", "rule-duplicate"}:
        found += auditor.shadow_checks("rule-duplicate" in wanted, "rule-shadowed" in wanted)
    if "iface-missing" in wanted:
        found += auditor.iface_checks()
    if "macro-available" in wanted:
        found += auditor.macro_checks()
    if "ipset-candidate" in wanted:
        found += auditor.ipset_checks()
    kept = [finding for finding in found if finding.check in wanted and scope.covers(finding.target)]
    return tuple(sorted(kept, key=_order))


_LEVEL_ORDER = {"cluster": 0, "node": 1, "vm": 2, "ct": 2, "vnet": 3}
_CHECK_ORDER = {code: index for index, code in enumerate(CHECKS)}


def _order(finding: Finding) -> Tuple[object, ...]:
    """Most severe first; then the datacenter, its groups, the nodes, the guests by id, the
    vnets, each in list order."""
    target = finding.target
    return (
        -severity_rank(finding.severity),
        _LEVEL_ORDER.get(target.level, len(_LEVEL_ORDER)),
        target.group or "",
        target.node if target.level == "node" else "",
        target.vmid or 0,
        target.vnet or "",
        -1 if target.position is None else target.position,
        _CHECK_ORDER[finding.check],
        target.ipset or target.alias or target.nic or "",
        -1 if target.entry is None else target.entry,
    )
