"""The checks of rules that fewer lines would say: consecutive raw port rules that are exactly
one macro, and runs of rules differing only in one address that one IP set would collapse."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace

from .._compiler.addresses import AddressError, AddressList, AddressRange, AliasRef, parse_address_spec
from .._compiler.normalise import normalise_rule
from .._compiler.ports import PortError, parse_port_list
from .._model.objects import Rule
from .._reference.macros import MACROS
from .._reference.netbase import icmp_family, protocol_number
from .audit_context import AuditContext
from .audit_coverage import PortKey, RuleList, ranges_merged
from .audit_findings import Issue

IPSET_RUN = 3  # consecutive rules differing only in one address that make an IP set worth it

MatchKey = frozenset[tuple[int, PortKey, PortKey]]


def macro_available(context: AuditContext) -> Iterator[Issue]:
    for rules in context.audited_lists():
        for first, end in _runs(rules.rules, _macro_run_key):
            position = first
            while position < end:
                size = next((size for size in range(min(_MACRO_SIZE, end - position), 0, -1) if _macro_for(rules, position, size)), 0)
                if not size:
                    position += 1
                    continue
                names = _macro_for(rules, position, size)
                span = _positions(position, position + size)
                choices = " or ".join(f"'macro: {name}'" for name in names)
                yield Issue(
                    rules.at(position),
                    f"{span} ({'; '.join(rules.text(index) for index in range(position, position + size))}) "
                    f"{'is' if size == 1 else 'are'} exactly macro {' or '.join(names)}",
                    f"replace {span} with one rule {choices} and no proto/dport/sport, keeping the other fields ({rules.fix_module})",
                )
                position += size


def ipset_candidate(context: AuditContext) -> Iterator[Issue]:
    for rules in context.audited_lists():
        where = "a datacenter IP set" if rules.owner == 0 else "an IP set of the guest or the datacenter"
        for field_name, other in (("source", "dest"), ("dest", "source")):

            def run_key(rule: Rule, varying: str = field_name) -> object:
                if rule.type == "group" or not rule.enable or not _collapsible(getattr(rule, varying)):
                    return None
                return normalise_rule(replace(rule, comment=None, **{varying: None}))  # type: ignore[arg-type]

            for first, end in _runs(rules.rules, run_key):
                if end - first < IPSET_RUN:
                    continue
                values = [str(getattr(rule, field_name)) for rule in rules.rules[first:end]]
                span = _positions(first, end)
                shown = ", ".join(values[:5]) + (", ..." if len(values) > 5 else "")
                yield Issue(
                    rules.at(first),
                    f"{span} ({end - first} rules) differ only in {field_name} ({shown}); the {other} and everything else is the same",
                    f"put the {field_name} addresses into {where} (pve.firewall.ipset) and replace {span} with one rule "
                    f"'{field_name}: +<set name>' ({rules.fix_module})",
                )


# ---------------------------------------------------------------------------------------
# Macros


def _port_key(text: str | None) -> PortKey:
    if not text:
        return None
    return ranges_merged((item.first, item.last) for item in parse_port_list(text).ranges)


def _match_key(templates: Iterable[tuple[str | None, str | None, str | None]]) -> MatchKey | None:
    """The packets of (proto, dport, sport) templates as one comparable value: the union of
    their ports per protocol and source ports. None for ICMP and unknown protocols."""
    merged: dict[tuple[int, PortKey], PortKey] = {}
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
            merged[key] = None if known is None or ports is None else ranges_merged(known + ports)
        else:
            merged[key] = ports
    return frozenset((number, sport_key, ports) for (number, sport_key), ports in merged.items())


def _build_macro_index() -> dict[MatchKey, tuple[str, ...]]:
    """Macros a rule can be replaced by without changing anything: the same templates in both
    IP families (Ping, for one, becomes icmpv6 in IPv6 and is left out)."""
    index: dict[MatchKey, list[str]] = {}
    for macro in MACROS.values():
        if macro.families != frozenset({4, 6}) or macro.ipv6_rules != macro.rules:
            continue
        key = _match_key((template.proto, template.dport, template.sport) for template in macro.rules)
        if key is not None:
            index.setdefault(key, []).append(macro.name)
    return {key: tuple(names) for key, names in index.items()}


_MACRO_INDEX = _build_macro_index()
_MACRO_SIZE = max(len(macro.rules) for macro in MACROS.values())


def _macro_run_key(rule: Rule) -> tuple[object, ...] | None:
    """What rules must share to be merged into one macro rule; None if the rule cannot take part."""
    if rule.type == "group" or rule.macro or not rule.proto or rule.icmp_type or not rule.enable:
        return None
    return (rule.type, rule.action, rule.iface, rule.source, rule.dest, rule.log)


def _macro_for(rules: RuleList, position: int, size: int) -> tuple[str, ...]:
    window = rules.rules[position : position + size]
    if len({(rule.proto, rule.dport, rule.sport) for rule in window}) < size:
        return ()  # a repeated rule adds nothing (rule-duplicate says so)
    key = _match_key((rule.proto, rule.dport, rule.sport) for rule in window)
    return () if key is None else _MACRO_INDEX.get(key, ())


# ---------------------------------------------------------------------------------------
# Runs of rules


def _collapsible(text: str | None) -> bool:
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


def _runs(rules: Sequence[Rule], key: Callable[[Rule], object]) -> Iterator[tuple[int, int]]:
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
