"""Canonical forms, so that equal meaning compares equal.

What a user writes, what the API returns and what a ``.fw`` file holds all pass through here
before they are compared. Values that are invalid are left as they are: validation reports
them, normalisation never hides them.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache

from .._model.objects import FILE_OPTION_LEVEL, Alias, FirewallFile, IPSet, IPSetEntry, OptionValue, Rule, SecurityGroup
from .._reference.macros import canonical_macro_name
from .._reference.netbase import canonical_protocol, icmp_family
from .addresses import AddressError, canonical_address_spec, canonical_alias_cidr, canonical_ipset_cidr, is_alias_reference
from .options import normalise_option
from .ports import canonical_port_list

# Perl's \s on the bytes of a .fw line, ASCII only there: what PVE's readers trim around a
# comment (FW parse_fw_rule, parse_alias, generic_fw_config_parser's ipset entries).
FW_BLANKS = " \t\n\r\f\v"
# Perl's \s with Unicode rules, as the writers test a comment (FW format_rules, $format_aliases,
# $format_ipsets): one made of these only is not written at all.
_PERL_BLANKS = frozenset(FW_BLANKS + "\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))
# Perl's \h on those bytes: what PVE trims around every line of a .fw file.
_LINE_BLANKS = b" \t\xa0"


def optional_text(value: str | None) -> str | None:
    """PVE treats '' (and '-' for rule fields) as unset, trims the ASCII blanks around a value
    as its .fw readers do, and writes no text that is made of (Unicode) blanks only."""
    if value is None:
        return None
    text = value.strip(FW_BLANKS)
    # the first character decides almost always: only a blank one needs the rest looked at
    if not text or (text[0] in _PERL_BLANKS and all(char in _PERL_BLANKS for char in text)):
        return None
    return text


def fw_line(raw: str) -> str:
    """One line of a ``.fw`` file as PVE reads it (FW generic_fw_config_parser): its regex trims
    horizontal blanks from the file's bytes, where 0xA0 counts as one, so a line that ends in a
    character whose UTF-8 form ends in 0xA0 (à, NBSP, ...) loses that byte and reads back with
    U+FFFD in place of the character."""
    line = raw.strip(" \t")
    if line and not line[-1].isascii():
        line = line.encode("utf-8", "surrogatepass").rstrip(_LINE_BLANKS).decode("utf-8", "replace")
    return line


def written_comment(comment: str | None) -> str | None:
    """The comment PVE's writers put on a line: none for '0' (false to Perl) or a blank one."""
    return None if comment is None or comment == "0" or optional_text(comment) is None else comment


def comment_problem(comment: str | None) -> str | None:
    """Why PVE would not read ``comment`` back as the collection writes it (its form after
    ``optional_text``), or None. Line breaks are the caller's business."""
    text = optional_text(comment)
    if text is None:
        return None
    if text == "0":
        return "PVE drops the comment '0': it is false to Perl, so the API and the .fw writer (FW format_rules) skip it"
    read = optional_text(fw_line(text))
    if read != text:
        return (
            "PVE's .fw reader trims the byte 0xA0 that ends the line (FW generic_fw_config_parser), "
            f"so it would read back as {read!r}, U+FFFD in place of its last character"
        )
    return None


def _rule_field(value: str | None) -> str | None:
    text = optional_text(value)
    return None if text == "-" else text


def _canonical_protocol(proto: str) -> str:
    """PVE accepts only /etc/protocols' first-column spelling; fold case onto it ('TCP' -> 'tcp')."""
    if canonical_protocol(proto) is not None:
        return proto
    lowered = proto.lower()
    return lowered if canonical_protocol(lowered) is not None else proto


def _lower_ipset_reference(text: str | None) -> str | None:
    if text is None or not text.startswith("+"):
        return text
    scope, slash, name = text[1:].rpartition("/")
    if scope == "sdn":
        # SDN sets are named after vnets, whose IDs may hold capitals (pve-network's
        # pve-sdn-vnet-id), and PVE looks them up as written
        return text
    return "+" + scope + slash + name.lower()


@lru_cache(maxsize=8192)  # pure and immutable; configs repeat the same values a lot
def normalise_rule(rule: Rule) -> Rule:
    """The canonical form of a rule (see module docstring)."""
    proto = _rule_field(rule.proto)
    proto = _canonical_protocol(proto) if proto else None
    is_icmp = proto is not None and icmp_family(proto) is not None
    rule_type = (_rule_field(rule.type) or "").lower()
    # A GROUP rule's name keeps its case: PVE looks the group up as written (FW
    # ruleset_add_group_rule), so 'WebGrp' jumps to no group while 'webgrp' does
    action = _rule_field(rule.action) or ""
    macro = _rule_field(rule.macro)
    dport = _rule_field(rule.dport)
    sport = _rule_field(rule.sport)
    source = _lower_ipset_reference(_rule_field(rule.source))
    dest = _lower_ipset_reference(_rule_field(rule.dest))
    log = _rule_field(rule.log)
    return Rule(
        type=rule_type,
        action=action,
        macro=(canonical_macro_name(macro) or macro) if macro else None,
        iface=_rule_field(rule.iface),
        source=canonical_address_spec(source) if source else None,
        dest=canonical_address_spec(dest) if dest else None,
        proto=proto,
        dport=dport if dport is None or is_icmp else canonical_port_list(dport),
        sport=canonical_port_list(sport) if sport else None,
        icmp_type=_rule_field(rule.icmp_type),
        log=None if log == "nolog" else log,
        enable=bool(rule.enable),
        comment=optional_text(rule.comment),
    )


def normalise_ipset_cidr(cidr: str) -> str:
    text = cidr.strip()
    if is_alias_reference(text):
        scope, slash, name = text.rpartition("/")
        return scope + slash + name.lower()
    try:
        return canonical_ipset_cidr(text)
    except AddressError:
        return text


def normalise_ipset_entry(entry: IPSetEntry) -> IPSetEntry:
    return IPSetEntry(normalise_ipset_cidr(entry.cidr), bool(entry.nomatch), optional_text(entry.comment))


def normalise_entries(entries: Iterable[IPSetEntry]) -> tuple[IPSetEntry, ...]:
    """Entries sorted by cidr string as PVE writes them; a duplicate cidr keeps the first."""
    return _unique_entries(map(normalise_ipset_entry, entries))


def normalise_ipset(ipset: IPSet) -> IPSet:
    return IPSet(ipset.name.strip().lower(), optional_text(ipset.comment), normalise_entries(ipset.entries))


def normalise_alias(alias: Alias) -> Alias:
    cidr = alias.cidr.strip()
    try:
        cidr = canonical_alias_cidr(cidr)
    except (AddressError, ValueError):
        pass
    return Alias(alias.name.strip(), cidr, optional_text(alias.comment))


def normalise_group(group: SecurityGroup) -> SecurityGroup:
    return SecurityGroup(group.name.strip().lower(), optional_text(group.comment), tuple(map(normalise_rule, group.rules)))


def _unique_entries(entries: Iterable[IPSetEntry]) -> tuple[IPSetEntry, ...]:
    unique: dict[str, IPSetEntry] = {}
    for entry in entries:
        unique.setdefault(entry.cidr, entry)
    return tuple(unique[cidr] for cidr in sorted(unique))


def order_like_pve(fw: FirewallFile) -> FirewallFile:
    """PVE's write order, values untouched: aliases by lowercased name, ipsets and groups by
    name, entries by cidr string with duplicates dropped (the first kept)."""
    return replace(
        fw,
        aliases=tuple(sorted(fw.aliases, key=lambda alias: alias.name.lower())),
        ipsets=tuple(sorted((replace(ipset, entries=_unique_entries(ipset.entries)) for ipset in fw.ipsets), key=lambda ipset: ipset.name)),
        groups=tuple(sorted(fw.groups, key=lambda group: group.name)),
    )


# The files normalise_file made, by identity: normalising one again (render_fw of a normalised
# file does) returns it at once instead of walking 10,000 rules a second time. Weak, so a file
# lives no longer than its users keep it; an object is frozen, so what it holds stays canonical.
_NORMALISED: weakref.WeakValueDictionary[int, FirewallFile] = weakref.WeakValueDictionary()


def _canonical_options(fw: FirewallFile) -> dict[str, OptionValue]:
    """Options in canonical form: a file holds text values as PVE stores them (a log level
    '', a property string as written). A value with no canonical form stays as it is."""
    level = FILE_OPTION_LEVEL[fw.kind]
    options = {}
    for key, value in fw.options.items():
        canonical, errors = normalise_option(level, key, value, location=key)
        options[key] = value if errors or canonical is None else canonical
    return options


def normalise_file(fw: FirewallFile) -> FirewallFile:
    """Canonical file: canonical values in PVE's write order."""
    if _NORMALISED.get(id(fw)) is fw:
        return fw
    result = order_like_pve(
        replace(
            fw,
            options=_canonical_options(fw),
            aliases=tuple(map(normalise_alias, fw.aliases)),
            ipsets=tuple(map(normalise_ipset, fw.ipsets)),
            rules=tuple(map(normalise_rule, fw.rules)),
            groups=tuple(map(normalise_group, fw.groups)),
        )
    )
    _NORMALISED[id(result)] = result
    return result
