"""The ``.fw`` file format (reference 3): parse and render as two directions of one table.

Both directions follow pve-firewall line by line (PVE::Firewall generic_fw_config_parser,
parse_fw_rule, parse_alias, parse_*fw_option; format_rules, format_aliases, format_ipsets and
the save_*_conf writers). ``parse_fw`` reads every line the way PVE reads it: what PVE keeps is
kept with PVE's value (a repeated flag's last value, an alias or a set's later definition, an
IPv4 /32 or IPv6 /128 dropped), and what PVE skips is skipped. Where the compiler is stricter
than PVE (a line PVE would read into a nonsense value, a later section that silently replaces
an earlier one) the line is reported, never read otherwise.

``parse_fw`` is strict by default: every reported line (all of them together) raises.
``lenient=True`` returns PVE's reading with the reports as warnings; the API emulator and the
directory reader read files that way. A file PVE cannot load at all (a cluster
``log_ratelimit`` its property-string parser refuses) raises ``FwFileUnreadable`` in both
modes. Semantic validation is separate (``config_validation``); the parser only records where
each object came from so that validation errors can name the line.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .._model.errors import FieldError, PveFirewallError, raise_if_errors
from .._model.objects import FILE_OPTION_LEVEL, FILE_SECTIONS, LOG_LEVELS, Alias, FileKind, FirewallFile, IPSet, IPSetEntry, OptionValue, Rule, SecurityGroup
from .normalise import FW_BLANKS, fw_line, normalise_file, order_like_pve, written_comment
from .options import normalise_option, parse_option_line, render_option_value

# Rule options: model attribute and the flag PVE's writer emits, in its order (FW format_rules;
# the -i of the rule head comes first).
RULE_FLAGS: tuple[tuple[str, str], ...] = (
    ("source", "-source"),
    ("dest", "-dest"),
    ("proto", "-p"),
    ("dport", "-dport"),
    ("sport", "-sport"),
    ("log", "-log"),
    ("icmp_type", "-icmp-type"),
)
# Every spelling FW parse_fw_rule reads (its loop of anchored substitutions), without dashes.
_FLAG_FIELDS = {"i": "iface", "p": "proto", "proto": "proto", "dport": "dport", "sport": "sport", "source": "source", "dest": "dest", "icmp-type": "icmp_type"}
# Rule types FW format_rules writes; any other type it dies on.
WRITABLE_RULE_TYPES = frozenset({"in", "out", "forward", "group"})
_MACRO_TYPES = frozenset({"in", "out", "forward"})  # FW parse_fw_rule splits MACRO(ACTION) for these only

# re.ASCII: PVE matches the file's bytes, where \s and \S know ASCII blanks only.
_A = re.ASCII
_PLAIN_HEADER_RE = re.compile(r"\[(options|aliases|rules)\]", re.IGNORECASE | _A)
_SET_HEADER_RE = re.compile(r"\[(ipset|group)\s+(\S+)\]\s*(?:#(.*))?", re.IGNORECASE | _A)
_RULE_HEAD_RE = re.compile(r"(\S+)\s+(\S+)\s*", _A)
_MACRO_ACTION_RE = re.compile(r"(\S+)\((ACCEPT|DROP|REJECT)\)", _A)
# One step of FW parse_fw_rule's loop: a flag, exactly one space, its value. -log takes a level only.
_RULE_OPTION_RE = re.compile(r"-(i|p|-?proto|-?dport|-?sport|-?source|-?dest|-?icmp-type) (\S+)\s*|--?log (" + "|".join(LOG_LEVELS) + r")\s*", _A)
_BAD_LOG_RE = re.compile(r"--?log (\S+)", _A)
_ENTRY_RE = re.compile(r"(!)?\s*(\S+)\s*", _A)  # FW generic_fw_config_parser, [IPSET] lines
_ALIAS_RE = re.compile(r"(\S+)\s(\S+)", _A)  # FW parse_alias: exactly one blank between name and CIDR
_IPV4_CIDR_RE = re.compile(r"([0-9.]+)(?:/([0-9]+))?", _A)
_IPV6_CIDR_RE = re.compile(r"([0-9A-Fa-f:.]+)(?:/([0-9]+))?", _A)
_SET_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-_]+", _A)  # FW security_group_name_pattern, ipset_name_pattern
_SET_REF_RE = re.compile(r"\+(?:(?:dc|guest)/)?([a-z][a-z0-9\-_]+)", _A)  # sets are keyed lowercase; +sdn/ is SDN's
_ALIAS_REF_RE = re.compile(r"(?:(dc|guest)/)?([A-Za-z][A-Za-z0-9\-_]+)", _A)  # FW ip_alias_pattern, scope ignored
_ALL_SECTIONS = frozenset({"options", "aliases", "ipsets", "rules", "groups"})
_SET_NAME_LIMITS = {"group": (18, "security group"), "ipset": (64, "ipset")}  # FW max_group_name_length, max_ipset_name_length
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

# A cluster enable timestamp older than this reads as 0 (FW parse_clusterfw_option).
ENABLE_REVERT_SECONDS = 60

FILE_NAMES = {FileKind.CLUSTER: "cluster.fw", FileKind.HOST: "host.fw", FileKind.GUEST: "<vmid>.fw", FileKind.VNET: "<vnet>.fw"}


class FwSyntaxError(PveFirewallError, ValueError):
    """A line PVE does not read; ``field`` and ``value`` name the part at fault when known."""

    def __init__(self, message: str, field: str | None = None, value: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class FwFileUnreadable(FwSyntaxError):
    """A file PVE cannot load at all: every read of it fails (FW load_clusterfw_conf).
    ``pve_message`` is the error PVE dies with."""

    def __init__(self, message: str, pve_message: str) -> None:
        super().__init__(message, "log_ratelimit")
        self.pve_message = pve_message


class FwWriteError(PveFirewallError, ValueError):
    """Content PVE's writer dies on (FW format_rules): every write of the file fails."""


@dataclass(frozen=True)
class ParsedFile:
    """A parsed file with the line each object came from, keyed by its path in the model:
    ``("rules", i)``, ``("groups", name, i)``, ``("ipsets", name, i)``, ``("aliases", i)``,
    ``("options", key)``, ``("ipsets", name)``, ``("groups", name)``."""

    file: FirewallFile
    lines: dict[tuple[object, ...], int] = field(default_factory=dict)
    warnings: tuple[FieldError, ...] = ()


def _ascii_lower(text: str) -> str:
    """Perl's lc on the bytes of a file: A-Z only."""
    return text.translate(_ASCII_LOWER)


def _split_comment(line: str) -> tuple[str, str | None]:
    """Content before the first '#' (untrimmed: PVE's own patterns take the blanks) and the
    comment after it with its ASCII blanks trimmed, as PVE's comment pattern takes it from the
    file's bytes (FW parse_fw_rule, parse_alias, ipset entries): a bare '#' gives '', and a
    comment of Unicode blanks only is kept as it is."""
    content, hash_sign, comment = line.partition("#")
    return content, (comment.strip(FW_BLANKS) if hash_sign else None)


def _kept_comment(comment: str | None) -> str | None:
    """Aliases, ipset entries, set and group headers keep a comment only when it is true to
    Perl (FW parse_alias, generic_fw_config_parser): '' and '0' are dropped as they are read.
    A rule keeps either (FW parse_fw_rule stores whatever the pattern took)."""
    return None if comment in ("", "0") else comment


def pve_ip_or_cidr(text: str) -> str | None:
    """``text`` as FW parse_ip_or_cidr stores it (an IPv4 /32 or IPv6 /128 dropped), or None
    when it dies ("value does not look like a valid IP address or CIDR network"). The prefix
    is any run of digits: that function does not check its range."""
    if ":" in text:
        match = _IPV6_CIDR_RE.fullmatch(text)
        address_ok = match is not None and _is_ip(ipaddress.IPv6Address, match.group(1))
        full = "/128"
    else:
        match = _IPV4_CIDR_RE.fullmatch(text)
        address_ok = match is not None and _is_ip(ipaddress.IPv4Address, match.group(1))
        full = "/32"
    if not address_ok:
        return None
    return text[: -len(full)] if text.endswith(full) else text


def _is_ip(kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address], text: str) -> bool:
    try:
        kind(text)
    except ValueError:
        return False
    return True


def parse_rule_line(text: str) -> Rule:
    """One rule line (without its line number), as FW parse_fw_rule reads it. Raises
    FwSyntaxError with PVE's message.

    A repeated flag keeps its last value; ``-log`` takes a log level only; only ``-i`` may
    follow a GROUP rule's name. A ``-i`` inside a security group parses (PVE's verify_rule
    then refuses it)."""
    content, comment = _split_comment(text)
    disabled = content.startswith("|")
    if disabled:
        content = content[1:]
    head = _RULE_HEAD_RE.match(content)
    if head is None:
        raise FwSyntaxError(f"unable to parse rule: {content}")
    rule_type, action = _ascii_lower(head.group(1)), head.group(2)
    values: dict[str, str] = {}
    if rule_type in _MACRO_TYPES:
        macro_match = _MACRO_ACTION_RE.fullmatch(action)
        if macro_match:
            values["macro"], action = macro_match.group(1), macro_match.group(2)
    position, end = head.end(), len(content)
    while position < end:
        option = _RULE_OPTION_RE.match(content, position)
        if option is None:
            break
        if option.group(3) is not None:
            name, value = "log", option.group(3)
        else:
            name, value = _FLAG_FIELDS[option.group(1).lstrip("-")], option.group(2)
        if rule_type == "group" and name != "iface":
            break
        values[name] = value
        position = option.end()
    if position < end:
        rest = content[position:]
        bad_log = _BAD_LOG_RE.match(rest)
        raise FwSyntaxError(f"unable to parse rule parameters: {rest}", *(("log", bad_log.group(1)) if bad_log else ()))
    return Rule(type=rule_type, action=action, enable=not disabled, comment=comment, **values)


def _perl_true(value: str | None) -> bool:
    return value is not None and value not in ("", "0")


def render_rule_line(rule: Rule, *, in_group: bool = False) -> str:
    """A rule as FW format_rules lays it out: a field is written only when it is true to Perl
    (so a ``dport``, ``proto``, ``source``, ... of '0' is lost), ``-icmp-type`` whenever it is
    not empty, and a GROUP rule gets no match fields at all. Raises FwWriteError for a type the
    writer dies on."""
    if rule.type not in WRITABLE_RULE_TYPES:
        raise FwWriteError(f"unknown rule type '{rule.type}'")
    head = ("|" if not rule.enable else "") + rule.type.upper()
    parts = [head, f"{rule.macro}({rule.action})" if _perl_true(rule.macro) else rule.action]
    if not in_group and _perl_true(rule.iface):
        parts.append(f"-i {rule.iface}")
    if rule.type != "group":
        for name, flag in RULE_FLAGS:
            value = getattr(rule, name)
            if (value is not None and value != "") if name == "icmp_type" else _perl_true(value):
                parts.append(f"{flag} {value}")
    line = " ".join(parts)
    comment = written_comment(rule.comment)
    return f"{line} # {comment}" if comment else line


def rule_text(rule: Rule, *, in_group: bool = False) -> str:
    """The rule as PVE writes it, without its comment: messages and trails show the comment
    apart, or not at all. A rule of a type PVE cannot write shows as read."""
    try:
        return render_rule_line(replace(rule, comment=None), in_group=in_group)
    except FwWriteError:
        return " ".join(part for part in ("|" if not rule.enable else "", rule.type.upper(), rule.action) if part)


def _parse_ipset_entry(text: str) -> IPSetEntry:
    """An [IPSET] line (FW generic_fw_config_parser). A line its pattern does not match PVE
    reads into an entry without a CIDR (the pattern's stale captures): reported instead."""
    content, comment = _split_comment(text)
    match = _ENTRY_RE.fullmatch(content)
    if match is None:
        raise FwSyntaxError(f"unable to parse ipset entry: {text}")
    cidr = match.group(2)
    return IPSetEntry(pve_ip_or_cidr(cidr) or cidr, match.group(1) is not None, _kept_comment(comment))


def _parse_alias(text: str) -> Alias:
    """An [ALIASES] line (FW parse_alias). PVE reads a line its pattern does not match (two
    blanks between name and CIDR, a missing CIDR) into a nameless alias: reported instead."""
    content, comment = _split_comment(text)
    match = _ALIAS_RE.fullmatch(content.rstrip(FW_BLANKS))
    if match is None:
        raise FwSyntaxError(f"unable to parse alias: {text} (PVE needs one blank between name and CIDR and drops the line otherwise; FW parse_alias)")
    cidr = pve_ip_or_cidr(match.group(2))
    if cidr is None:
        raise FwSyntaxError("value does not look like a valid IP address or CIDR network", "cidr", match.group(2))
    return Alias(match.group(1), cidr, _kept_comment(comment))


def _set_name_problem(keyword: str, name: str) -> str | None:
    """FW generic_fw_config_parser's checks of a lowercased [IPSET]/[group] name."""
    limit, words = _SET_NAME_LIMITS[keyword]
    if len(name) > limit:
        return f"{words} name too long"
    if not _SET_NAME_RE.fullmatch(name):
        return f"invalid {words} name '{name}'"
    return None


def expire_enable(fw: FirewallFile, now: float) -> FirewallFile:
    """The cluster ``enable`` as FW parse_clusterfw_option reads it at ``now``: a value above 1
    is the time of an armed auto-revert and reads as 0 once more than 60 s have passed."""
    enable = fw.options.get("enable")
    if fw.kind is FileKind.CLUSTER and isinstance(enable, int) and not isinstance(enable, bool) and enable > 1:
        if now - enable > ENABLE_REVERT_SECONDS:
            return replace(fw, options={**fw.options, "enable": 0})
    return fw


class _FileBuilder:
    """Collects sections while parsing, keyed like PVE's hashes: a later alias, set or group
    of the same (lowercased) name replaces the earlier one."""

    def __init__(self) -> None:
        self.options: dict[str, OptionValue] = {}
        self.aliases: dict[str, tuple[Alias, int]] = {}
        self.ipsets: dict[str, tuple[str | None, list[IPSetEntry]]] = {}
        self.rules: list[Rule] = []
        self.groups: dict[str, tuple[str | None, list[Rule]]] = {}

    def build(self, kind: FileKind) -> FirewallFile:
        return FirewallFile(
            kind=kind,
            options=self.options,
            aliases=tuple(alias for alias, _number in self.aliases.values()),
            ipsets=tuple(IPSet(name, comment, tuple(entries)) for name, (comment, entries) in self.ipsets.items()),
            rules=tuple(self.rules),
            groups=tuple(SecurityGroup(name, comment, tuple(rules)) for name, (comment, rules) in self.groups.items()),
        )


def parse_fw(
    text: str,
    kind: FileKind,
    *,
    filename: str | None = None,
    lenient: bool = False,
    now: float | None = None,
    expire: bool = True,
) -> ParsedFile:
    """Parse one ``.fw`` file of the given kind as PVE reads it (see the module docstring).

    The model keeps the file's own order for rules and entries; call ``normalise_file`` for
    the canonical form. Strict mode raises ``FirewallValidationError`` listing every reported
    line. ``now`` (default: the current time) is when a cluster ``enable`` timestamp is read
    (``expire_enable``); ``expire=False`` keeps it as written.
    """
    name = filename or FILE_NAMES[kind]
    option_level = FILE_OPTION_LEVEL[kind]
    allowed = FILE_SECTIONS[kind]
    builder = _FileBuilder()
    lines: dict[tuple[object, ...], int] = {}
    problems: list[FieldError] = []
    section: str | None = None
    target: str | None = None  # the ipset or group the current section belongs to

    quiet: set[int] = set()  # lines already reported: one problem per line
    first_alias: dict[str, int] = {}  # where each alias and set is first defined
    first_set: dict[str, int] = {}

    def problem(number: int, field_name: str, value: str, message: str, accepted: str = "") -> None:
        if number in quiet:
            return
        problems.append(FieldError(f"{name} line {number}", field_name, value, message, accepted))

    # PVE splits the file on \n only: a \r stays part of its line, so "[RULES]\r" is no header
    for number, raw in enumerate(text.split("\n"), start=1):
        line = fw_line(raw)
        if not line.strip(FW_BLANKS) or line.startswith("#"):
            continue
        header = _header(line, allowed)
        if header is None and line.startswith("[") and _header(line, _ALL_SECTIONS) is not None:
            problem(
                number,
                "section",
                line,
                f"section not allowed in {name}: PVE reads this line as part of the section before it",
                ", ".join(sorted(allowed)),
            )
            quiet.add(number)
        if header is not None:
            section, set_keyword, set_name, set_comment = header
            target = None
            if set_keyword is None:
                continue
            target = _ascii_lower(set_name)
            name_problem = _set_name_problem(set_keyword, target)
            if name_problem:
                problem(number, set_keyword, set_name, name_problem)
                section = target = None  # PVE ignores the section until the next header
                continue
            store = builder.ipsets if section == "ipsets" else builder.groups
            comment = _kept_comment(None if set_comment is None else set_comment.strip(FW_BLANKS))
            if target in store:
                problem(number, set_keyword, set_name, f"duplicate {set_keyword} section '{target}': PVE keeps this later one and drops the earlier lines")
                # PVE's hash keeps an earlier comment when the later header has none
                comment = comment or store[target][0]
                for stale in [place for place in lines if place[:2] == (section, target)]:
                    del lines[stale]
            store[target] = (comment, [])
            lines[(section, target)] = number
            if section == "ipsets":
                first_set.setdefault(target, number)
            continue
        if section is None:
            problem(number, "line", line, "skip line - no section", "content after a section header")
            continue
        try:
            if section == "options":
                parsed = parse_option_line(option_level, line, location=f"{name} line {number}")
                if isinstance(parsed, FieldError):
                    if number not in quiet:
                        problems.append(parsed)
                    continue
                key, value = parsed
                builder.options[key] = value
                lines[("options", key)] = number
            elif section == "aliases":
                alias = _parse_alias(line)
                builder.aliases[_ascii_lower(alias.name)] = (alias, number)
                first_alias.setdefault(_ascii_lower(alias.name), number)
            elif section == "ipsets" and target is not None:  # a set's lines follow its header
                entries = builder.ipsets[target][1]
                entry = _parse_ipset_entry(line)
                lines[("ipsets", target, len(entries))] = number
                entries.append(entry)
            elif section == "groups" and target is not None:
                rules = builder.groups[target][1]
                rule = parse_rule_line(line)
                _check_writable(rule, number, line, problem)
                lines[("groups", target, len(rules))] = number
                rules.append(rule)
            else:
                rule = parse_rule_line(line)
                _check_writable(rule, number, line, problem)
                lines[("rules", len(builder.rules))] = number
                builder.rules.append(rule)
        except FwSyntaxError as error:
            problem(number, error.field or section, line if error.value is None else error.value, str(error))
    for index, (_alias, number) in enumerate(builder.aliases.values()):
        lines[("aliases", index)] = number
    fw = builder.build(kind)
    if first_alias or first_set:
        for number, field_name, value, message in _references_below(fw, lines, first_alias, first_set):
            problem(number, field_name, value, message)
        problems.sort(key=_line_of)
    _check_readable(fw, name, lines)
    if expire:
        fw = expire_enable(fw, time.time() if now is None else now)
    if problems and not lenient:
        raise_if_errors(problems)
    return ParsedFile(fw, lines, tuple(problems))


def _line_of(error: FieldError) -> int:
    number = error.location.rpartition(" ")[2]
    return int(number) if number.isdigit() else 0


def _references_below(
    fw: FirewallFile, lines: dict[tuple[object, ...], int], first_alias: dict[str, int], first_set: dict[str, int]
) -> list[tuple[int, str, str, str]]:
    """Rules and ipset entries that name an alias or set of their own file defined only below
    them. PVE checks references as it reads each line, against what it has read so far (FW
    parse_fw_rule's verify_rule, and resolve_alias for entries): such a line is kept with an
    error and left out of the ruleset, until PVE's writer puts the sections in its order. In
    a guest file PVE may find a datacenter object of that name instead; the line is reported
    all the same, as its meaning then depends on the order of sections."""
    found: list[tuple[int, str, str, str]] = []

    def below(number: int, value: str | None, field_name: str, what: str) -> None:
        if not value:
            return
        ref = _SET_REF_RE.fullmatch(value)
        if ref is not None:
            defined, kind_word, name = first_set.get(ref.group(1)), "ipset", ref.group(1)
        else:
            ref = _ALIAS_REF_RE.fullmatch(value)
            if ref is None:
                return
            defined, kind_word, name = first_alias.get(_ascii_lower(ref.group(2))), "alias", ref.group(2)
        if defined is not None and defined > number:
            found.append(
                (
                    number,
                    field_name,
                    value,
                    f"{kind_word} '{name}' is defined on line {defined}, below this {what}: PVE checks references as it reads "
                    f"and keeps the {what} with an error, out of the ruleset (FW {'parse_fw_rule, verify_rule' if what == 'rule' else 'resolve_alias'}); "
                    "put the [ALIASES] and [IPSET] sections above it, as PVE's writer does",
                )
            )

    places: list[tuple[tuple[object, ...], Rule]] = [(("rules", index), rule) for index, rule in enumerate(fw.rules)]
    places += [(("groups", group.name, index), rule) for group in fw.groups for index, rule in enumerate(group.rules)]
    for place, rule in places:
        number = lines.get(place)
        if number is not None:
            below(number, rule.source, "source", "rule")
            below(number, rule.dest, "dest", "rule")
    for ipset in fw.ipsets:
        for index, entry in enumerate(ipset.entries):
            number = lines.get(("ipsets", ipset.name, index))
            # 'dc/' looks at the datacenter only, which for a guest file is another file
            if number is not None and not (fw.kind is FileKind.GUEST and entry.cidr.startswith("dc/")):
                below(number, entry.cidr, "cidr", "entry")
    return found


def _header(line: str, allowed: frozenset[str]) -> tuple[str, str | None, str, str | None] | None:
    """(section, 'ipset'/'group' or None, set name, comment) of a header line this kind of file
    has; None for any other line. A header of a section the kind lacks is a plain line to PVE
    (generic_fw_config_parser tests each header only where its empty config has the section)."""
    if not line.startswith("["):
        return None
    plain = _PLAIN_HEADER_RE.fullmatch(line)
    if plain:
        section = plain.group(1).lower()
        return (section, None, "", None) if section in allowed else None
    named = _SET_HEADER_RE.fullmatch(line)
    if named:
        keyword = named.group(1).lower()
        section = "ipsets" if keyword == "ipset" else "groups"
        return (section, keyword, named.group(2), named.group(3)) if section in allowed else None
    return None


def _check_writable(rule: Rule, number: int, line: str, problem: Callable[[int, str, str, str, str], None]) -> None:
    if rule.type not in WRITABLE_RULE_TYPES:
        problem(
            number,
            "type",
            line,
            f"unknown rule type '{rule.type}': PVE keeps the line, but its writer (FW format_rules) dies on it, so every later write to this file fails",
            "IN, OUT, FORWARD or GROUP",
        )


def _check_readable(fw: FirewallFile, name: str, lines: dict[tuple[object, ...], int]) -> None:
    """A cluster ``log_ratelimit`` that PVE's property-string parser refuses makes every load
    of cluster.fw die (FW load_clusterfw_conf, set_global_log_ratelimit)."""
    value = fw.options.get("log_ratelimit") if fw.kind is FileKind.CLUSTER else None
    if value is None:
        return
    location = f"{name} line {lines.get(('options', 'log_ratelimit'), 0)}"
    _canonical, errors = normalise_option("cluster", "log_ratelimit", value, location=location)
    if errors:
        raise FwFileUnreadable(f"{location}: log_ratelimit: {errors[0].message} - PVE cannot load {name} (FW load_clusterfw_conf)", errors[0].message)


def _comment_suffix(comment: str | None) -> str:
    written = written_comment(comment)
    return f" # {written}" if written else ""


def _section(header: str, body: list[str]) -> list[str]:
    return [header, "", *body, ""]


def render_fw(fw: FirewallFile, *, canonical: bool = True) -> str:
    """Render in PVE's section order and layout; an empty file renders as ''.

    Options are sorted by key (PVE's own order is random, so any order is as faithful).
    Aliases, ipsets, entries and groups are written in PVE's order, with what PVE's writers
    drop dropped (values false to Perl, the match fields of GROUP rules, a second entry of one
    CIDR). ``canonical`` also writes every value in canonical form; without it values are
    written as given, as PVE's writer does (the API emulator's choice). Raises FwWriteError for
    a rule type PVE's writer dies on.
    """
    fw = normalise_file(fw) if canonical else order_like_pve(fw)
    option_level = FILE_OPTION_LEVEL[fw.kind]
    out: list[str] = []
    if fw.options:
        out += _section("[OPTIONS]", [f"{key}: {render_option_value(option_level, key, value)}" for key, value in sorted(fw.options.items())])
    if fw.aliases:
        out += _section("[ALIASES]", [f"{alias.name} {alias.cidr}" + _comment_suffix(alias.comment) for alias in fw.aliases])
    for ipset in fw.ipsets:
        header = f"[IPSET {ipset.name}]" + _comment_suffix(ipset.comment)
        body = [("!" if entry.nomatch else "") + entry.cidr + _comment_suffix(entry.comment) for entry in ipset.entries]
        out += _section(header, body)
    if fw.rules:
        out += _section("[RULES]", [render_rule_line(rule) for rule in fw.rules])
    for group in fw.groups:
        header = f"[group {group.name}]" + _comment_suffix(group.comment)
        out += _section(header, [render_rule_line(rule, in_group=True) for rule in group.rules])
    return "\n".join(out) + "\n" if out else ""
