"""The shape users write (module options, vars trees) to the model and back.

One table of keys serves both directions, so what ``*_to_user`` returns (gathered output)
feeds straight back in as input. Rule keys use PVE's names with ``icmp_type`` for
``icmp-type``. Conversion checks shapes and types only and collects every problem; field
values are checked by the validators afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._model.errors import FieldError
from .._model.objects import FILE_OPTION_LEVEL, Alias, FileKind, FirewallFile, IPSet, IPSetEntry, OptionValue, Rule, SecurityGroup
from .fw_format import FwSyntaxError, parse_rule_line
from .normalise import comment_problem
from .options import KIND_INTEGER, normalise_option, option_spec, unkept_value_problem

RULE_KEYS = ("type", "action", "macro", "iface", "source", "dest", "proto", "dport", "sport", "icmp_type", "log", "enable", "comment")
ENTRY_KEYS = ("cidr", "nomatch", "comment")
ALIAS_KEYS = ("name", "cidr", "comment")
_TEXT_OR_NUMBER = (str, int)
UNSET_MARKERS = ("", "-")  # PVE's copy_rule_data: '' and '-' mean "not set"
RULE_LINE_ACCEPTED = f"a mapping with keys {', '.join(RULE_KEYS)}, or one .fw rule line such as 'IN SSH(ACCEPT) -source +admins # ssh'"
COMMENT_ACCEPTED = "one line of text but '0', not ending in a character whose UTF-8 form ends in the byte 0xA0 (à, NBSP, ...)"
_ZERO_RE = re.compile(r"0+")


def line_break_errors(location: str, key: str, text: str | None) -> list[FieldError]:
    """Text PVE's API would store but not read back from the .fw line it is written on.

    PVE's reader ends a line at \\n only (FW generic_fw_config_parser), so a comment may hold
    \\r, VT or U+2028; no other field takes a \\r either. A comment must also survive PVE's
    trimming of the line (``comment_problem``)."""
    if text is None:
        return []
    if any(char in text for char in ("\n" if key == "comment" else "\n\r")):
        return [FieldError(location, key, text, f"{key} cannot contain line breaks", "a single line of text")]
    problem = comment_problem(text) if key == "comment" else None
    return [FieldError(location, key, text, problem, COMMENT_ACCEPTED)] if problem else []


def false_value_errors(rule: Rule, location: str) -> list[FieldError]:
    """Values PVE takes for "not set" because '0' is false to Perl: FW verify_rule skips such a
    proto, dport or sport and FW format_rules does not write it, so the rule would be stored
    without it (and a plan would write it again and again). '00' counts, as it is written '0'."""
    errors: list[FieldError] = []
    if rule.proto is not None and rule.proto.strip() == "0":
        message = "PVE drops proto '0': it is false to Perl, so verify_rule skips it and the .fw writer leaves it out (FW format_rules)"
        errors.append(FieldError(location, "proto", rule.proto, message, "a protocol name or a number but 0 from /etc/protocols, or no proto"))
    for key in ("dport", "sport"):
        value = getattr(rule, key)
        if value is not None and _ZERO_RE.fullmatch(value.strip()):
            message = "PVE drops a lone port 0: '0' is false to Perl, so verify_rule skips it and the .fw writer leaves it out (FW format_rules)"
            errors.append(FieldError(location, key, value, message, f"a port 1-65535, a range or a list, or no {key}"))
    # Measured against PVE's API: it stores a rule with macro, source or dest '0' without them
    # (Net::IP reads '0' as 0.0.0.0, then verify_rule and FW format_rules skip the false value),
    # so 'from 0' would become 'from anywhere'.
    for key, accepted in (
        ("macro", "a macro name, or no macro"),
        ("source", "an address, set or alias, or no source"),
        ("dest", "an address, set or alias, or no dest"),
    ):
        value = getattr(rule, key)
        if value is not None and value.strip() == "0":
            message = f"PVE drops {key} '0': it is false to Perl, so verify_rule skips it and the .fw writer leaves it out (FW format_rules)"
            errors.append(FieldError(location, key, value, message, accepted))
    return errors


# What PVE's .fw writer keeps of a group rule (FW format_rules): the group, -i and the comment.
GROUP_RULE_ACCEPTED = "a group rule takes the group (action), iface, enable and comment; match in the group's own rules instead"
_GROUP_RULE_DROPPED = (
    ("source", "source"),
    ("dest", "dest"),
    ("proto", "proto"),
    ("dport", "dport"),
    ("sport", "sport"),
    ("log", "log"),
    ("icmp_type", "icmp_type"),
)


def group_rule_errors(rule: Rule, location: str) -> list[FieldError]:
    """Fields a group rule cannot keep. FW verify_rule checks them as for any rule and the API
    stores them, but FW format_rules writes a group rule as 'GROUP <name> [-i iface]' only: a
    match field is left out (the jump would then take all traffic, and every run would write
    the rule again), and a macro is written in front of the name, 'GROUP SSH(webgrp)', which
    FW parse_fw_rule reads back as a jump to a group of that name, refused, so the rule is
    skipped and the group never reached."""
    if rule.type != "group":
        return []
    errors: list[FieldError] = []
    if rule.macro is not None:
        message = (
            f"PVE writes a group rule with a macro as 'GROUP {rule.macro}({rule.action})' and reads that back "
            "as a group name it refuses, so the rule is skipped (FW format_rules, parse_fw_rule)"
        )
        errors.append(FieldError(location, "macro", rule.macro, message, GROUP_RULE_ACCEPTED))
    for attribute, key in _GROUP_RULE_DROPPED:
        value = getattr(rule, attribute)
        if value is not None:
            message = f"PVE's .fw writer leaves {key} out of a group rule (FW format_rules): the jump would take all traffic, and each run would write it again"
            errors.append(FieldError(location, key, value, message, GROUP_RULE_ACCEPTED))
    return errors


class _Issues:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, location: str, key: str, value: object, message: str, accepted: str = "") -> None:
        self.errors.append(FieldError(location, key, value, message, accepted))

    def mapping(self, data: object, location: str, keys: Sequence[str], what: str) -> Mapping[str, Any] | None:
        if not isinstance(data, Mapping):
            self.add(location, what, data, f"a {what} must be a mapping", f"a mapping with keys {', '.join(keys)}")
            return None
        for key in data:
            if key not in keys:
                self.add(location, str(key), data[key], f"unknown {what} key '{key}'", ", ".join(keys))
        return data

    def text(self, data: Mapping[str, Any], key: str, location: str, *, required: bool = False) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(location, key, None, "missing property", f"{key} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, _TEXT_OR_NUMBER):
            self.add(location, key, value, f"{key} must be text", "a string (or a number for ports)")
            return None
        text = str(value)
        problems = line_break_errors(location, key, text)
        if problems:
            self.errors += problems
            return None
        return text

    def flag(self, data: Mapping[str, Any], key: str, location: str, default: bool) -> bool:
        value = data.get(key, default)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if value in (0, 1, "0", "1"):
            return bool(int(value))
        self.add(location, key, value, f"{key} must be a boolean", "true, false, 0 or 1")
        return default


def _rule_value(text: str | None) -> str | None:
    return None if text is None or text.strip() in UNSET_MARKERS else text


def rule_from_line(text: str, location: str) -> tuple[Rule | None, list[FieldError]]:
    """One ``.fw`` rule line as a rule (FW parse_fw_rule's grammar), with its comment checked."""
    if "\n" in text:
        return None, [FieldError(location, "rule", text, "an item holds one rule line, without line breaks", RULE_LINE_ACCEPTED)]
    try:
        rule = parse_rule_line(text)
    except FwSyntaxError as error:
        return None, [FieldError(location, "rule", text, str(error), RULE_LINE_ACCEPTED)]
    return rule, line_break_errors(location, "comment", rule.comment) + false_value_errors(rule, location) + group_rule_errors(rule, location)


def rule_from_user(data: object, location: str) -> tuple[Rule | None, list[FieldError]]:
    """A rule as a mapping, or as one ``.fw`` rule line."""
    if isinstance(data, str):
        return rule_from_line(data, location)
    issues = _Issues()
    mapping = issues.mapping(data, location, RULE_KEYS, "rule")
    if mapping is None:
        return None, issues.errors
    values = {key: _rule_value(issues.text(mapping, key, location)) for key in RULE_KEYS if key not in ("type", "action", "enable")}
    rule = Rule(
        type=issues.text(mapping, "type", location, required=True) or "",
        action=issues.text(mapping, "action", location, required=True) or "",
        enable=issues.flag(mapping, "enable", location, True),
        **values,
    )
    return rule, issues.errors + false_value_errors(rule, location) + group_rule_errors(rule, location)


def rules_from_user(items: object, location: str = "rules") -> tuple[tuple[Rule, ...], list[FieldError]]:
    return _list_from_user(items, location, rule_from_user)


def rule_lines_as_mappings(items: object, location: str = "rules") -> tuple[object, list[FieldError]]:
    """A module's ``rules`` as its argument spec takes them (a list of mappings): each string
    item, a ``.fw`` rule line, becomes the mapping it stands for. An item that is no rule line
    is left out and reported, as is a string given for the whole list; anything else is left
    to the argument spec."""
    if isinstance(items, str):
        return [], [FieldError(location, location, items, f"{location} must be a list", "a list of rules: mappings, or .fw rule lines (one per item)")]
    if not isinstance(items, list) or not any(isinstance(item, str) for item in items):
        return items, []
    converted: list[object] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            converted.append(item)
            continue
        rule, problems = rule_from_line(item, f"{location}[{index}]")
        errors += problems
        if rule is not None:
            converted.append(rule_to_user(rule))
    return converted, errors


def rule_to_user(rule: Rule) -> dict[str, Any]:
    """Only set keys; ``enable`` only when the rule is disabled (enabled is the default)."""
    out: dict[str, Any] = {"type": rule.type, "action": rule.action}
    for key in RULE_KEYS[2:]:
        value = getattr(rule, key)
        if key == "enable":
            if not value:
                out["enable"] = False
        elif value is not None:
            out[key] = value
    return out


def entry_from_user(data: object, location: str) -> tuple[IPSetEntry | None, list[FieldError]]:
    """An ipset entry: a string (``'10.0.0.0/8'``, ``'!10.1.0.0/16'`` for nomatch) or a mapping."""
    issues = _Issues()
    if isinstance(data, str):
        text = data.strip()
        nomatch = text.startswith("!")
        cidr = text[1:].strip() if nomatch else text
        if not cidr:
            issues.add(location, "cidr", data, "missing property", "an address, CIDR or alias name")
            return None, issues.errors
        return IPSetEntry(cidr, nomatch), issues.errors
    mapping = issues.mapping(data, location, ENTRY_KEYS, "ipset entry")
    if mapping is None:
        return None, issues.errors
    given = issues.text(mapping, "cidr", location, required=True)
    entry = IPSetEntry(given or "", issues.flag(mapping, "nomatch", location, False), issues.text(mapping, "comment", location))
    return (entry if given else None), issues.errors


def entries_from_user(items: object, location: str) -> tuple[tuple[IPSetEntry, ...], list[FieldError]]:
    return _list_from_user(items, location, entry_from_user)


def entry_to_user(entry: IPSetEntry) -> str | dict[str, Any]:
    """The short string form unless the entry has a comment."""
    if entry.comment is None:
        return ("!" if entry.nomatch else "") + entry.cidr
    out: dict[str, Any] = {"cidr": entry.cidr}
    if entry.nomatch:
        out["nomatch"] = True
    out["comment"] = entry.comment
    return out


def alias_from_user(data: object, location: str) -> tuple[Alias | None, list[FieldError]]:
    issues = _Issues()
    mapping = issues.mapping(data, location, ALIAS_KEYS, "alias")
    if mapping is None:
        return None, issues.errors
    name = issues.text(mapping, "name", location, required=True)
    cidr = issues.text(mapping, "cidr", location, required=True)
    if name is None or cidr is None:
        return None, issues.errors
    return Alias(name, cidr, issues.text(mapping, "comment", location)), issues.errors


def alias_to_user(alias: Alias) -> dict[str, Any]:
    out: dict[str, Any] = {"name": alias.name, "cidr": alias.cidr}
    if alias.comment:
        out["comment"] = alias.comment
    return out


def ipset_to_user(ipset: IPSet) -> dict[str, Any]:
    out: dict[str, Any] = {"name": ipset.name}
    if ipset.comment:
        out["comment"] = ipset.comment
    out["entries"] = [entry_to_user(entry) for entry in ipset.entries]
    return out


def group_to_user(group: SecurityGroup) -> dict[str, Any]:
    out: dict[str, Any] = {"name": group.name}
    if group.comment:
        out["comment"] = group.comment
    out["rules"] = [rule_to_user(rule) for rule in group.rules]
    return out


def options_from_user(level: str, data: object, location: str = "options") -> tuple[dict[str, OptionValue], list[FieldError]]:
    if data is None:
        return {}, []
    if not isinstance(data, Mapping):
        return {}, [FieldError(location, "options", data, "options must be a mapping", "option names mapped to values")]
    options: dict[str, OptionValue] = {}
    errors: list[FieldError] = []
    for key, raw in data.items():
        spec = option_spec(level, str(key))
        if isinstance(raw, bool) and spec is not None and spec.kind == KIND_INTEGER:
            raw = int(raw)  # YAML's `enable: true` for the datacenter's integer enable
        value, problems = normalise_option(level, str(key), raw, location=location)
        unkept = unkept_value_problem(level, str(key), value) if not problems and value is not None else None
        if unkept is not None:
            problems = [FieldError(location, str(key), raw, *unkept)]
        errors += problems
        if not problems and value is not None:
            options[str(key)] = value
    return options, errors


def file_to_user(fw: FirewallFile) -> dict[str, Any]:
    """A whole file in the input shape: options, aliases, ipsets, rules, groups (set ones).

    A datacenter ``enable`` above 1 is the time of an armed auto-revert (FW API2 Cluster
    set_options stores it; parse_clusterfw_option reads it as on for 60 s, then as 0): the
    input shape refuses it (``unkept_value_problem``), so it is given as 1, what the admin
    turned on; confirming it is firewall_options' business."""
    out: dict[str, Any] = {}
    if fw.options:
        out["options"] = dict(fw.options)
        enable = fw.options.get("enable")
        if fw.kind is FileKind.CLUSTER and isinstance(enable, int) and not isinstance(enable, bool) and enable > 1:
            out["options"]["enable"] = 1
    if fw.aliases:
        out["aliases"] = [alias_to_user(alias) for alias in fw.aliases]
    if fw.ipsets:
        out["ipsets"] = [ipset_to_user(ipset) for ipset in fw.ipsets]
    if fw.rules:
        out["rules"] = [rule_to_user(rule) for rule in fw.rules]
    if fw.groups:
        out["groups"] = [group_to_user(group) for group in fw.groups]
    return out


def _named_from_user(data: object, location: str, keys: Sequence[str], what: str) -> tuple[Mapping[str, Any] | None, str | None, str | None, _Issues]:
    issues = _Issues()
    mapping = issues.mapping(data, location, keys, what)
    if mapping is None:
        return None, None, None, issues
    name = issues.text(mapping, "name", location, required=True)
    return mapping, name, issues.text(mapping, "comment", location), issues


def ipset_from_user(data: object, location: str) -> tuple[IPSet | None, list[FieldError]]:
    mapping, name, comment, issues = _named_from_user(data, location, ("name", "comment", "entries"), "ipset")
    if mapping is None or name is None:
        return None, issues.errors
    entries, problems = entries_from_user(mapping.get("entries"), f"{location}.entries")
    return IPSet(name, comment, entries), issues.errors + problems


def group_from_user(data: object, location: str) -> tuple[SecurityGroup | None, list[FieldError]]:
    mapping, name, comment, issues = _named_from_user(data, location, ("name", "comment", "rules"), "group")
    if mapping is None or name is None:
        return None, issues.errors
    rules, problems = rules_from_user(mapping.get("rules"), f"{location}.rules")
    return SecurityGroup(name, comment, rules), issues.errors + problems


def _list_from_user(items: object, location: str, convert: Any) -> tuple[tuple[Any, ...], list[FieldError]]:
    if items is None:
        return (), []
    if not isinstance(items, Sequence) or isinstance(items, str):
        return (), [FieldError(location, location.rsplit(".", 1)[-1], items, "must be a list", "a list of mappings")]
    converted: list[Any] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        value, problems = convert(item, f"{location}[{index}]")
        errors += problems
        if value is not None:
            converted.append(value)
    return tuple(converted), errors


FILE_KEYS = ("options", "aliases", "ipsets", "rules", "groups")


def file_from_user(kind: FileKind, data: object, location: str = "") -> tuple[FirewallFile | None, list[FieldError]]:
    """The inverse of ``file_to_user``."""
    issues = _Issues()
    mapping = issues.mapping(data, location or kind.value, FILE_KEYS, "firewall")
    if mapping is None:
        return None, issues.errors
    prefix = f"{location}." if location else ""
    options, errors = options_from_user(FILE_OPTION_LEVEL[kind], mapping.get("options"), f"{prefix}options")
    aliases, problems = _list_from_user(mapping.get("aliases"), f"{prefix}aliases", alias_from_user)
    errors += problems
    ipsets, problems = _list_from_user(mapping.get("ipsets"), f"{prefix}ipsets", ipset_from_user)
    errors += problems
    rules, problems = rules_from_user(mapping.get("rules"), f"{prefix}rules")
    errors += problems
    groups, problems = _list_from_user(mapping.get("groups"), f"{prefix}groups", group_from_user)
    errors += problems
    fw = FirewallFile(kind, options, aliases, ipsets, rules, groups)
    return fw, issues.errors + errors
