"""What GET returns for each object, computed from the parsed files the way PVE's parser does.

PVE verifies every rule and ipset entry while parsing (non-strict mode) and keeps invalid
ones with an ``errors`` map; rules get a derived ``ipversion``, aliases too. Those derived keys
are part of the list digests, so they are computed here on every read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import (
    AddressError,
    AliasRef,
    canonical_ipset_cidr,
    is_alias_reference,
    parse_address_spec,
    parse_ip_or_cidr,
)
from ansible_collections.pve.firewall.plugins.module_utils._compiler.api_mapping import RULE_API_FIELDS
from ansible_collections.pve.firewall.plugins.module_utils._compiler.rule_validation import References, check_rule
from ansible_collections.pve.firewall.plugins.module_utils._model.errors import FieldError
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Alias, FirewallFile, IPSetEntry, Level, Rule
from ansible_collections.pve.firewall.plugins.module_utils._reference.macros import canonical_macro_name

from .digests import with_digest

AliasLookup = Callable[[AliasRef], bool]
MIXED_FAMILY = "detected mixed ipv4/ipv6 addresses in rule"


def alias_family(cidr: str) -> int | None:
    try:
        return parse_ip_or_cidr(cidr).version
    except AddressError:
        return None


def is_uncollected(rule: Rule, error: FieldError) -> bool:
    """PVE's quirk: a literal address followed by an alias of the other family dies outside
    the error collector (HTTP 500 over the API; the whole line dropped when parsing)."""
    if error.message != MIXED_FAMILY or error.field != "dest" or rule.dest is None:
        return False
    try:
        return isinstance(parse_address_spec(rule.dest), AliasRef)
    except AddressError:
        return False


def rule_fields(rule: Rule) -> dict[str, object]:
    """The stored keys of a rule in API spelling (no derived keys)."""
    data: dict[str, object] = {"type": rule.type, "action": rule.action, "enable": int(rule.enable)}
    for attr, key in RULE_API_FIELDS:
        value = getattr(rule, attr)
        if value is not None:
            data[key] = value
    if rule.macro is not None:
        data["macro"] = canonical_macro_name(rule.macro) or rule.macro
    return data


def pve_rule_errors(rule: Rule, errors: Iterable[FieldError]) -> list[FieldError]:
    """The compiler's errors of a rule less those FW verify_rule does not have: an address
    Net::IP reads (a leading zero, a short quad) and an ICMP rule's port list, which PVE's
    API takes and only its ruleset compiler fails on. The collection refuses both."""
    from .handlers.common import pve_address_spec_problem  # noqa: PLC0415 - handlers import this module

    def kept(error: FieldError) -> bool:
        if error.field == "dport" and error.message.startswith("PVE's API takes dport"):
            return False
        value = getattr(rule, error.field, None) if error.field in ("source", "dest") else None
        return not (isinstance(value, str) and error.message.startswith("invalid IP address") and pve_address_spec_problem(value) is None)

    return [error for error in errors if kept(error)]


def rule_view(rule: Rule, level: Level, refs: References) -> dict[str, object] | None:
    """A parsed rule as GET shows it; None for a rule PVE's parser would have dropped."""
    check = check_rule(rule, level, location="rule", refs=refs)
    check = replace(check, errors=tuple(pve_rule_errors(rule, check.errors)))
    if any(is_uncollected(rule, error) for error in check.errors):
        return None
    data = rule_fields(rule)
    if check.ipversion is not None:
        data["ipversion"] = check.ipversion
    if check.errors:
        data["errors"] = {error.field: error.message for error in check.errors}  # later ones win, as in PVE
    return data


def rules_view(rules: Iterable[Rule], level: Level, refs: References) -> list[dict[str, object]]:
    views = [view for view in (rule_view(rule, level, refs) for rule in rules) if view is not None]
    return with_digest(views, positions=True)


def stored_cidr(cidr: str) -> str:
    """PVE's file parser drops a /32 (IPv4) or /128 (IPv6) suffix and nothing else."""
    if ":" in cidr:
        return cidr[: -len("/128")] if cidr.endswith("/128") else cidr
    return cidr[: -len("/32")] if cidr.endswith("/32") else cidr


def entries_view(entries: Iterable[IPSetEntry], alias_known: AliasLookup) -> list[dict[str, object]]:
    """ipset entries in file order with PVE's parse-time errors (unknown alias, bad cidr,
    zero prefix, duplicate)."""
    views: list[dict[str, object]] = []
    seen: set[str] = set()
    for entry in entries:
        cidr = stored_cidr(entry.cidr)
        data: dict[str, object] = {"cidr": cidr}
        if entry.nomatch:
            data["nomatch"] = 1
        if entry.comment:
            data["comment"] = entry.comment
        error = _entry_error(cidr, seen, alias_known)
        if error:
            data["errors"] = {"cidr": error}
        seen.add(cidr)
        views.append(data)
    return with_digest(views)


def _entry_error(cidr: str, seen: set[str], alias_known: AliasLookup) -> str | None:
    if is_alias_reference(cidr):
        spec = parse_address_spec(cidr)
        if not isinstance(spec, AliasRef) or not alias_known(spec):
            return f"no such alias '{spec.name}'"
    else:
        try:
            canonical = canonical_ipset_cidr(cidr)  # its IPv4 fast path keeps 50,000-entry sets quick
        except AddressError as error:
            return str(error)
        if canonical.endswith("/0"):
            return "a zero prefix is not allowed in ipset entries"
    if cidr in seen:
        return f"duplicate ipset entry for '{cidr}'"
    return None


def alias_view(alias: Alias) -> dict[str, object]:
    data: dict[str, object] = {"name": alias.name, "cidr": stored_cidr(alias.cidr)}
    if alias.comment:
        data["comment"] = alias.comment
    family = alias_family(alias.cidr)
    if family is not None:
        data["ipversion"] = family
    return data


def aliases_view(aliases: Iterable[Alias]) -> list[dict[str, object]]:
    return with_digest([alias_view(alias) for alias in sorted(aliases, key=lambda alias: alias.name.lower())])


def named_list_view(key: str, items: Iterable[tuple[str, str | None]]) -> list[dict[str, object]]:
    """The ipset list (``name``) or group list (``group``): sorted by name, list digest."""
    views = []
    for name, comment in sorted(items):
        data: dict[str, object] = {key: name}
        if comment:
            data["comment"] = comment
        views.append(data)
    return with_digest(views)


def option_values(fw: FirewallFile) -> dict[str, object]:
    """Options as stored: booleans as 0/1 integers, like PVE's parser keeps them."""
    return {key: int(value) if isinstance(value, bool) else value for key, value in fw.options.items()}
