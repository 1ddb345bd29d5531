"""Validation of whole files and configurations: names, entries, options, rules and the
references between them (ipsets, aliases and groups that must exist).

Validation runs on the model as given (before normalisation) so that positions still match
the user's list or the file's lines. All errors are collected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from .._model.errors import FieldError
from .._model.objects import FILE_OPTION_LEVEL, FILE_RULE_LEVEL, FILE_SECTIONS, Alias, ClusterConfig, FileKind, FirewallFile, Level, Rule
from .addresses import AddressError, AliasRef, canonical_ipset_cidr, check_api_ip_or_cidr, is_alias_reference, parse_address_spec, parse_ip_or_cidr
from .normalise import normalise_ipset_cidr
from .options import normalise_option
from .rule_validation import References, check_rule

Path = tuple[object, ...]
Locator = Callable[[Path], str]

NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9\-_]+")
NAME_LIMITS = {"ipset": 64, "alias": 64, "group": 18}
NAME_WORDS = {"ipset": "ipset", "alias": "alias", "group": "security group"}  # as PVE's messages say
NAME_ACCEPTED = "{lo}-{hi} characters: a letter, then letters, digits, '-' or '_'"
IPSET_CIDR_ACCEPTED = "an IP address or CIDR (host bits are cleared), or an alias name (optionally dc/ or guest/)"
ALIAS_CIDR_ACCEPTED = "an IPv4 or IPv6 address without zone index, optionally with a /prefix (a zero prefix written '/0' only for 0.0.0.0 or ::)"


def describe_path(path: Path) -> str:
    """Default location text: ``rules[3]``, ``group 'web' rules[0]``, ``ipset 'x' entries[2]``."""
    match path:
        case ("rules", int(index)):
            return f"rules[{index}]"
        case ("groups", str(name), int(index)):
            return f"group '{name}' rules[{index}]"
        case ("groups", str(name)):
            return f"group '{name}'"
        case ("ipsets", str(name), int(index)):
            return f"ipset '{name}' entries[{index}]"
        case ("ipsets", str(name)):
            return f"ipset '{name}'"
        case ("aliases", int(index)):
            return f"aliases[{index}]"
        case ("options", str(key)):
            return f"options.{key}"
    return ".".join(map(str, path))


def located(prefix: str, lines: dict[Path, int] | None = None) -> Locator:
    """A locator that prefixes ``where`` (e.g. 'cluster.fw' or 'vm 100') and adds line numbers."""

    def locate(path: Path) -> str:
        line = (lines or {}).get(path)
        text = describe_path(path)
        if line is not None:
            text = f"line {line} ({text})"
        return f"{prefix} {text}" if prefix else text

    return locate


def check_name(kind: str, name: str, location: str) -> Iterator[FieldError]:
    limit = NAME_LIMITS[kind]
    accepted = NAME_ACCEPTED.format(lo=2, hi=limit)
    if len(name) > limit:
        yield FieldError(location, "name", name, f"{NAME_WORDS[kind]} name too long", accepted)
    elif len(name) < 2 or not NAME_RE.fullmatch(name):
        yield FieldError(location, "name", name, f"invalid {NAME_WORDS[kind]} name '{name}'", accepted)


def _check_unique_name(kind: str, name: str, location: str, seen: set[str], exists: str) -> Iterator[FieldError]:
    """Name syntax, then uniqueness (case-insensitive, as PVE's lookups are) within one file."""
    yield from check_name(kind, name, location)
    if name.lower() in seen:
        yield FieldError(location, "name", name, exists, "unique names (case-insensitive)")
    seen.add(name.lower())


def alias_family(cidr: str) -> int | None:
    try:
        return parse_ip_or_cidr(cidr).version
    except AddressError:
        return None


@dataclass(frozen=True)
class ReferenceScope:
    """The reference view of one file: its own aliases and ipsets, plus the datacenter's, and
    the IP sets PVE's SDN generates when they are known (see ``References``)."""

    cluster: FirewallFile
    own: FirewallFile | None = None
    case_sensitive: bool = False
    sdn_ipsets: frozenset[str] | None = None

    def references(self, *, check_groups: bool = True) -> References:
        def aliases(fw: FirewallFile | None) -> dict[str, int]:
            found = {}
            for alias in fw.aliases if fw else ():
                family = alias_family(alias.cidr)
                if family is not None:
                    found[alias.name.lower()] = family
            return found

        def ipset_names(fw: FirewallFile | None) -> frozenset[str]:
            return frozenset(ipset.name if self.case_sensitive else ipset.name.lower() for ipset in (fw.ipsets if fw else ()))

        return References(
            cluster_ipsets=ipset_names(self.cluster),
            guest_ipsets=ipset_names(self.own),
            cluster_aliases=aliases(self.cluster),
            guest_aliases=aliases(self.own),
            groups=frozenset(group.name.lower() for group in self.cluster.groups) if check_groups else None,
            case_sensitive=self.case_sensitive,
            sdn_ipsets=self.sdn_ipsets,
        )


def _check_sections(fw: FirewallFile, locate: Locator) -> Iterator[FieldError]:
    allowed = FILE_SECTIONS[fw.kind]
    for section in ("aliases", "ipsets", "rules", "groups"):
        if getattr(fw, section) and section not in allowed:
            yield FieldError(locate((section,)), section, len(getattr(fw, section)), f"a {fw.kind.value} firewall has no {section}", ", ".join(sorted(allowed)))


def _check_options(fw: FirewallFile, locate: Locator) -> Iterator[FieldError]:
    level = FILE_OPTION_LEVEL[fw.kind]
    for key, value in fw.options.items():
        yield from normalise_option(level, key, value, location=locate(("options", key)))[1]


def check_aliases(fw: FirewallFile, locate: Locator, *, api_schema: bool = True) -> Iterator[FieldError]:
    """Names and values of the aliases. ``api_schema`` holds a value to what PVE's API takes
    (``check_api_ip_or_cidr``), else to what its .fw parser reads."""
    seen: set[str] = set()
    check = check_api_ip_or_cidr if api_schema else parse_ip_or_cidr
    for index, alias in enumerate(fw.aliases):
        where = locate(("aliases", index))
        yield from _check_unique_name("alias", alias.name, where, seen, f"alias '{alias.name}' already exists")
        try:
            check(alias.cidr)
        except AddressError as error:
            yield FieldError(where, "cidr", alias.cidr, str(error), ALIAS_CIDR_ACCEPTED)


def check_ipset_address(cidr: str, where: str, accepted: str = IPSET_CIDR_ACCEPTED) -> tuple[str, FieldError | None]:
    """An address or CIDR as an ipset entry (not an alias name): its canonical form and no
    error, or "" and the error PVE gives for it. Shared by check_ipsets and blocklist parsing."""
    try:
        # One parse per entry: sets of tens of thousands of entries are validated.
        canonical = canonical_ipset_cidr(cidr)
    except AddressError as error:
        return "", FieldError(where, "cidr", cidr, str(error), accepted)
    if canonical.endswith("/0"):
        return "", FieldError(where, "cidr", cidr, "a zero prefix is not allowed in ipset entries", "a prefix of /1 or longer")
    return canonical, None


def check_ipsets(fw: FirewallFile, scope: ReferenceScope, locate: Locator) -> Iterator[FieldError]:
    refs = scope.references(check_groups=False)
    seen_sets: set[str] = set()
    for ipset in fw.ipsets:
        yield from _check_unique_name("ipset", ipset.name, locate(("ipsets", ipset.name)), seen_sets, f"IPSet '{ipset.name}' already exists")
        seen: set[str] = set()
        for index, entry in enumerate(ipset.entries):
            where = locate(("ipsets", ipset.name, index))
            cidr = entry.cidr.strip()
            try:
                spec = parse_address_spec(cidr) if is_alias_reference(cidr) else None
            except AddressError as error:  # an alias name over 64 characters
                yield FieldError(where, "cidr", cidr, str(error), IPSET_CIDR_ACCEPTED)
                continue
            if isinstance(spec, AliasRef):
                if refs.alias_family(spec) is None:
                    yield FieldError(where, "cidr", cidr, f"no such alias '{spec.name}'", "an alias defined at this level or the datacenter")
                canonical = normalise_ipset_cidr(cidr)
            else:
                canonical, problem = check_ipset_address(cidr, where)
                if problem is not None:
                    yield problem
                    continue
            if canonical in seen:
                yield FieldError(where, "cidr", cidr, f"duplicate ipset entry for '{canonical}'", "each address once per ipset")
            seen.add(canonical)


def _check_groups(fw: FirewallFile, scope: ReferenceScope, locate: Locator, api_schema: bool) -> Iterator[FieldError]:
    refs = scope.references()
    seen: set[str] = set()
    for group in fw.groups:
        yield from _check_unique_name("group", group.name, locate(("groups", group.name)), seen, f"Security group '{group.name}' already exists")
        for index, rule in enumerate(group.rules):
            yield from check_rule(rule, Level.GROUP, location=partial(locate, ("groups", group.name, index)), refs=refs, api_schema=api_schema).errors


def validate_file(
    fw: FirewallFile,
    *,
    cluster: FirewallFile | None = None,
    locate: Locator | None = None,
    guest_level: Level = Level.VM,
    api_schema: bool = True,
) -> list[FieldError]:
    """Every problem of one file. ``cluster`` is the datacenter file whose ipsets, aliases and
    groups the file may reference (for a cluster file, the file itself). Without it,
    references are checked against the file alone. ``api_schema=False`` judges rules as PVE
    judges a ``.fw`` file (see ``check_rule``)."""
    locate = locate or located("")
    if cluster is None:
        cluster = fw if fw.kind is FileKind.CLUSTER else FirewallFile(FileKind.CLUSTER)
        check_refs = fw.kind is FileKind.CLUSTER
    else:
        check_refs = True
    # a file's '+Name' finds no set: PVE keys sets lowercase and looks them up as written (FW
    # verify_rule); the API path lowercases references before they are sent
    scope = ReferenceScope(cluster, fw if fw.kind is FileKind.GUEST else None, case_sensitive=not api_schema)
    errors = [*_check_sections(fw, locate), *_check_options(fw, locate), *check_aliases(fw, locate, api_schema=api_schema), *check_ipsets(fw, scope, locate)]
    rule_level = guest_level if fw.kind is FileKind.GUEST else FILE_RULE_LEVEL[fw.kind]
    refs = scope.references() if check_refs else None
    for index, rule in enumerate(fw.rules):
        errors += check_rule(rule, rule_level, location=partial(locate, ("rules", index)), refs=refs, api_schema=api_schema).errors
    errors += _check_groups(fw, scope, locate, api_schema) if fw.kind is FileKind.CLUSTER else []
    return errors


def validate_config(config: ClusterConfig) -> list[FieldError]:
    """Every problem of a whole cluster configuration, references included."""
    errors = validate_file(config.cluster, locate=located("cluster.fw"))
    for node, host in sorted(config.hosts.items()):
        errors += validate_file(host, cluster=config.cluster, locate=located(f"node {node} host.fw"))
    for vmid, guest in sorted(config.guests.items()):
        errors += validate_file(guest.file, cluster=config.cluster, locate=located(f"{guest.level.value} {vmid}"), guest_level=guest.level)
    for vnet, fw in sorted(config.vnets.items()):
        errors += validate_file(fw, cluster=config.cluster, locate=located(f"vnet {vnet}"))
    return errors


# ---------------------------------------------------------------------------------------------
# A changed alias and the rules that name it


@dataclass(frozen=True)
class RulePlace:
    """Rules that may name an alias: where they are (``label``, for messages), their level, and
    the guest's own aliases for a guest's rules (None elsewhere: only the datacenter's count)."""

    label: str
    level: Level
    rules: tuple[Rule, ...]
    own_aliases: tuple[Alias, ...] | None = None


def names_alias(rule: Rule, name: str) -> bool:
    """Whether the rule's source or dest is the alias ``name`` (any case, any dc/ or guest/)."""
    for text in (rule.source, rule.dest):
        try:
            spec = parse_address_spec(text.strip()) if text else None
        except AddressError:
            continue
        if isinstance(spec, AliasRef) and spec.name.lower() == name.lower():
            return True
    return False


def _with_alias(aliases: Sequence[Alias], alias: Alias) -> tuple[Alias, ...]:
    return (*(item for item in aliases if item.name.lower() != alias.name.lower()), alias)


def _place_refs(cluster_aliases: Sequence[Alias], own: Sequence[Alias] | None) -> References:
    cluster = FirewallFile(FileKind.CLUSTER, aliases=tuple(cluster_aliases))
    return ReferenceScope(cluster, FirewallFile(FileKind.GUEST, aliases=tuple(own)) if own is not None else None).references(check_groups=False)


def alias_change_errors(
    places: Iterable[RulePlace], cluster_aliases: Sequence[Alias], changed: Alias, *, own: bool, location: str = "alias"
) -> list[FieldError]:
    """What setting ``changed`` (new, or a new cidr) does to the rules of ``places`` that name
    it: one error on its cidr per problem the change adds to a rule. FW verify_rule takes a
    rule's IP family from its aliases (check_ipset_or_alias_property) and refuses a rule that
    mixes families; PVE changes an alias without looking at rules (Aliases.pm update_alias), so
    such a rule is then kept with errors and skipped, or dropped from its file on the next write
    (reference 2.8). ``own`` says the alias belongs to the guest of the places, not the datacenter."""
    errors: list[FieldError] = []
    cluster_after = tuple(cluster_aliases) if own else _with_alias(cluster_aliases, changed)
    for place in places:
        naming = [(index, rule) for index, rule in enumerate(place.rules) if names_alias(rule, changed.name)]
        if not naming:
            continue
        before = _place_refs(cluster_aliases, place.own_aliases)
        after = _place_refs(cluster_after, _with_alias(place.own_aliases or (), changed) if own else place.own_aliases)
        for index, rule in naming:
            known = {(error.field, error.message) for error in check_rule(rule, place.level, location="", refs=before).errors}
            for error in check_rule(rule, place.level, location="", refs=after).errors:
                if (error.field, error.message) not in known:
                    message = f"{place.label} rules[{index}] would become invalid: {error.field}={error.value!r}: {error.message}"
                    errors.append(FieldError(location, "cidr", changed.cidr, message, "an address of the family those rules mix it with, or change them first"))
    return errors
