"""The ``.fw`` file format (reference 3): parse and render as two directions of one table.

``parse_fw`` is strict by default: every line it cannot read is reported with its line number
(all of them together), never silently dropped. ``lenient=True`` behaves like PVE's own parser
instead (unreadable lines are skipped and returned as warnings); the API emulator reads its
state that way. Semantic validation is separate (``_config_validation``); the parser only
records where each object came from so that validation errors can name the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from .._model.errors import FieldError, PveFirewallError, raise_if_errors
from .._model.objects import FILE_OPTION_LEVEL, FILE_SECTIONS, Alias, FileKind, FirewallFile, IPSet, IPSetEntry, OptionValue, Rule, SecurityGroup
from .config_validation import check_name
from .normalise import FW_BLANKS, fw_line, normalise_file, optional_text, order_like_pve, written_comment
from .options import parse_option_line, render_option_value

# Rule options: model attribute, flag written by PVE, and every spelling PVE reads.
# The order is the order PVE's writer emits them (after the -i of the rule head).
RULE_FLAGS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("source", "-source", ("-source", "--source")),
    ("dest", "-dest", ("-dest", "--dest")),
    ("proto", "-p", ("-p", "-proto", "--proto")),
    ("dport", "-dport", ("-dport", "--dport")),
    ("sport", "-sport", ("-sport", "--sport")),
    ("log", "-log", ("-log", "--log")),
    ("icmp_type", "-icmp-type", ("-icmp-type", "--icmp-type")),
)
_FLAG_TO_FIELD = {spelling: name for name, _flag, spellings in RULE_FLAGS for spelling in spellings}
_FLAG_TO_FIELD["-i"] = "iface"

# re.ASCII: PVE matches the file's bytes, where \s and \S know ASCII blanks only.
_HEADER_RE = re.compile(r"\[(OPTIONS|ALIASES|RULES)\]|\[(IPSET|group)\s+(\S+)\]\s*(?:#(.*))?", re.IGNORECASE | re.ASCII)
_MACRO_ACTION_RE = re.compile(r"(\S+)\((ACCEPT|DROP|REJECT)\)", re.ASCII)
_RULE_HEAD_RE = re.compile(r"(\|)?\s*(\S+)\s+(\S+)(.*)", re.ASCII)
_OPTION_RE = re.compile(r"(-{1,2}[a-z][a-z-]*) (\S+)\s*", re.ASCII)  # PVE: exactly one space before a value
_SECTION_OF_HEADER = {"options": "options", "aliases": "aliases", "rules": "rules", "ipset": "ipsets", "group": "groups"}

FILE_NAMES = {FileKind.CLUSTER: "cluster.fw", FileKind.HOST: "host.fw", FileKind.GUEST: "<vmid>.fw", FileKind.VNET: "<vnet>.fw"}


class FwSyntaxError(PveFirewallError, ValueError):
    pass


@dataclass(frozen=True)
class ParsedFile:
    """A parsed file with the line each object came from, keyed by its path in the model:
    ``("rules", i)``, ``("groups", name, i)``, ``("ipsets", name, i)``, ``("aliases", i)``,
    ``("options", key)``, ``("ipsets", name)``, ``("groups", name)``."""

    file: FirewallFile
    lines: dict[tuple[object, ...], int] = field(default_factory=dict)
    warnings: tuple[FieldError, ...] = ()


def _split_comment(line: str) -> tuple[str, str | None]:
    """Content and comment: the comment is all after the first '#', ASCII blanks trimmed."""
    content, hash_sign, comment = line.partition("#")
    return content.strip(FW_BLANKS), (optional_text(comment) if hash_sign else None)


def _kept_comment(comment: str | None) -> str | None:
    """Aliases, ipset entries, set and group headers keep a comment only when it is true to
    Perl (FW parse_alias, generic_fw_config_parser): '0' is dropped as it is read."""
    return None if comment == "0" else comment


def parse_rule_line(text: str) -> Rule:
    """One rule line (without its line number). Raises FwSyntaxError with PVE's message.

    A ``-i`` inside a security group parses (PVE's verify_rule then refuses it)."""
    content, comment = _split_comment(text)
    head = _RULE_HEAD_RE.fullmatch(content)
    if not head:
        raise FwSyntaxError(f"unable to parse rule: {content}")
    disabled, rule_type, action_text, rest = head.groups()
    rule_type = rule_type.lower()
    values: dict[str, str] = {}
    macro_match = _MACRO_ACTION_RE.fullmatch(action_text)
    if rule_type == "group":
        action = action_text
    elif macro_match:
        values["macro"], action = macro_match.group(1), macro_match.group(2)
    else:
        action = action_text
    rest = rest.lstrip()
    while rest:
        option = _OPTION_RE.match(rest)
        name = _FLAG_TO_FIELD.get(option.group(1)) if option else None
        if option is None or name is None or (rule_type == "group" and name != "iface") or name in values:
            raise FwSyntaxError(f"unable to parse rule parameters: {rest}")
        values[name] = option.group(2)
        rest = rest[option.end() :]
    return Rule(type=rule_type, action=action, enable=not disabled, comment=comment, **values)


def render_rule_line(rule: Rule, *, in_group: bool = False) -> str:
    """A rule as PVE's writer lays it out (reference 3.4)."""
    head = ("|" if not rule.enable else "") + rule.type.upper()
    parts = [head, f"{rule.macro}({rule.action})" if rule.macro else rule.action]
    if rule.iface and not in_group:
        parts.append(f"-i {rule.iface}")
    if rule.type != "group":
        for name, flag, _spellings in RULE_FLAGS:
            value = getattr(rule, name)
            if value:
                parts.append(f"{flag} {value}")
    line = " ".join(parts)
    comment = written_comment(rule.comment)
    return f"{line} # {comment}" if comment else line


def rule_text(rule: Rule, *, in_group: bool = False) -> str:
    """The rule as PVE writes it, without its comment: messages and trails show the comment
    apart, or not at all."""
    return render_rule_line(replace(rule, comment=None), in_group=in_group)


def _parse_ipset_entry(text: str) -> IPSetEntry:
    content, comment = _split_comment(text)
    nomatch = content.startswith("!")
    cidr = content[1:].strip() if nomatch else content
    if not cidr or len(cidr.split()) != 1:
        raise FwSyntaxError(f"unable to parse ipset entry: {text}")
    return IPSetEntry(cidr, nomatch, _kept_comment(comment))


def _parse_alias(text: str) -> Alias:
    content, comment = _split_comment(text)
    tokens = content.split()
    if len(tokens) != 2:
        raise FwSyntaxError(f"unable to parse alias: {text}")
    return Alias(tokens[0], tokens[1], _kept_comment(comment))


class _FileBuilder:
    """Collects sections while parsing; keeps first-seen order of sets and groups."""

    def __init__(self) -> None:
        self.options: dict[str, OptionValue] = {}
        self.aliases: list[Alias] = []
        self.ipsets: dict[str, tuple[str | None, list[IPSetEntry]]] = {}
        self.rules: list[Rule] = []
        self.groups: dict[str, tuple[str | None, list[Rule]]] = {}

    def build(self, kind: FileKind) -> FirewallFile:
        return FirewallFile(
            kind=kind,
            options=self.options,
            aliases=tuple(self.aliases),
            ipsets=tuple(IPSet(name, comment, tuple(entries)) for name, (comment, entries) in self.ipsets.items()),
            rules=tuple(self.rules),
            groups=tuple(SecurityGroup(name, comment, tuple(rules)) for name, (comment, rules) in self.groups.items()),
        )


def parse_fw(text: str, kind: FileKind, *, filename: str | None = None, lenient: bool = False) -> ParsedFile:
    """Parse one ``.fw`` file of the given kind.

    The model keeps the file's own order for rules and entries; call ``normalise_file`` for
    the canonical form. Strict mode raises ``FirewallValidationError`` listing every line that
    could not be read.
    """
    name = filename or FILE_NAMES[kind]
    option_level = FILE_OPTION_LEVEL[kind]
    allowed = FILE_SECTIONS[kind]
    builder = _FileBuilder()
    lines: dict[tuple[object, ...], int] = {}
    problems: list[FieldError] = []
    section: str | None = None
    target: str | None = None  # the ipset or group the current section belongs to

    def problem(number: int, field_name: str, value: str, message: str, accepted: str = "") -> None:
        problems.append(FieldError(f"{name} line {number}", field_name, value, message, accepted))

    # PVE splits the file on \n only: \r, VT, NEL or U+2028 in a comment do not end its line
    for number, raw in enumerate(text.split("\n"), start=1):
        line = fw_line(raw)
        if not line.strip(FW_BLANKS) or line.startswith("#"):
            continue
        header = _HEADER_RE.fullmatch(line)
        header_section = None
        if header:
            keyword = (header.group(1) or header.group(2)).lower()
            header_section = _SECTION_OF_HEADER[keyword]
        if header and header_section in allowed:
            section, target = header_section, None
            if header.group(3) is not None:
                keyword = header.group(2).lower()
                set_name = header.group(3)
                name_errors = [replace(error, field=keyword) for error in check_name(keyword, set_name, f"{name} line {number}")]
                if name_errors:
                    problems.extend(name_errors)
                    section = None  # PVE ignores the section until the next header
                    continue
                target = set_name.lower()
                comment = _kept_comment(optional_text(header.group(4)))
                store = builder.ipsets if section == "ipsets" else builder.groups
                if target in store:
                    problem(number, keyword, set_name, f"duplicate {keyword} section '{target}'")
                    section = None
                    continue
                store[target] = (comment, [])
                lines[(section, target)] = number
            continue
        if header:
            problem(number, "section", line, f"section not allowed in {name}", ", ".join(sorted(allowed)))
            section = None
            continue
        if section is None:
            problem(number, "line", line, "skip line - no section", "content after a section header")
            continue
        try:
            if section == "options":
                parsed = parse_option_line(option_level, line, location=f"{name} line {number}")
                if isinstance(parsed, FieldError):
                    problems.append(parsed)
                    continue
                key, value = parsed
                builder.options[key] = value
                lines[("options", key)] = number
            elif section == "aliases":
                lines[("aliases", len(builder.aliases))] = number
                builder.aliases.append(_parse_alias(line))
            elif section == "ipsets" and target is not None:  # a set's lines follow its header
                entries = builder.ipsets[target][1]
                lines[("ipsets", target, len(entries))] = number
                entries.append(_parse_ipset_entry(line))
            elif section == "groups" and target is not None:
                rules = builder.groups[target][1]
                lines[("groups", target, len(rules))] = number
                rules.append(parse_rule_line(line))
            else:
                lines[("rules", len(builder.rules))] = number
                builder.rules.append(parse_rule_line(line))
        except FwSyntaxError as error:
            problem(number, section, line, str(error))
    if problems and not lenient:
        raise_if_errors(problems)
    return ParsedFile(builder.build(kind), lines, tuple(problems))


def _comment_suffix(comment: str | None) -> str:
    written = written_comment(comment)
    return f" # {written}" if written else ""


def _section(header: str, body: list[str]) -> list[str]:
    return [header, "", *body, ""]


def render_fw(fw: FirewallFile, *, canonical: bool = True) -> str:
    """Render in PVE's section order and layout; an empty file renders as ''.

    Options are sorted by key (PVE's own order is random, so any order is as faithful).
    Aliases, ipsets, entries and groups are written in PVE's order. ``canonical`` also writes
    every value in canonical form; without it values are written as given, as PVE's writer
    does (the API emulator's choice).
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
