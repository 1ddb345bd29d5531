"""PVE's ``verify_rule`` (reference 2.8) in collecting mode.

Checks run in PVE's order and produce PVE's messages, so the first error is the one PVE's API
would answer with; the rest are what PVE's file parser would attach to the rule. Each error
also says what is accepted. Reference checks (ipsets, aliases, groups that must exist) run only
when a ``References`` view of the configuration is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from .._model.errors import FieldError
from .._model.objects import ACTIONS, LOG_LEVELS, RULE_TYPES, Level, Rule
from .._reference.icmp_types import icmp_type_names
from .._reference.macros import MACROS, canonical_macro_name
from .._reference.netbase import PORT_PROTOCOLS, icmp_family, protocol_number
from .addresses import ADDRESS_ACCEPTED, NAME_PATTERN, AddressError, AliasRef, IPSetRef, parse_address_spec
from .ports import PORT_ACCEPTED, PortError, parse_port_list

IFACE_RE = re.compile(r"[a-z][a-z0-9_]{1,20}(?:[:.]\d+)?", re.IGNORECASE)
GUEST_IFACE_RE = re.compile(r"net\d+")
_NAME_RE = re.compile(NAME_PATTERN)
ALL_RULE_TYPES = ("in", "out", "forward", "group")
GROUP_NAME_ACCEPTED = "2-18 characters: a letter, then letters, digits, '-' or '_'"


# The names of the IP sets PVE's SDN generates (proxmox-ve-config SdnConfig::ipsets and
# Ipam::ipsets, handed to pve-firewall by PVE::RS::Firewall::SDN::config): four per vnet of
# the running SDN configuration, whatever its subnets, and one per guest with an IPAM entry.
# A vnet ID is 2-8 letters and digits, a letter first (pve-network's pve-sdn-vnet-id).
SDN_VNET_IPSET_SUFFIXES = ("all", "gateway", "no-gateway", "dhcp")
SDN_IPSET_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{1,7}-(?:" + "|".join(SDN_VNET_IPSET_SUFFIXES) + r")|guest-ipam-[1-9][0-9]{2,8}")
SDN_IPSET_ACCEPTED = "an IP set PVE's SDN generates: <vnet>-all, <vnet>-gateway, <vnet>-no-gateway, <vnet>-dhcp or guest-ipam-<vmid>"


def sdn_vnet_ipsets(vnets: Iterable[str]) -> frozenset[str]:
    """The SDN IP sets of these vnets (no IPAM sets: those need PVE's IPAM state)."""
    return frozenset(f"{vnet}-{suffix}" for vnet in vnets for suffix in SDN_VNET_IPSET_SUFFIXES)


@dataclass(frozen=True)
class References:
    """What a rule at one place may refer to. Alias maps hold lowercased name -> IP family.

    ``sdn_ipsets`` are the IP sets PVE's SDN generates, as PVE lists them (the ``sdn`` scope of
    GET /cluster/firewall/refs); None when they were not read: a ``+sdn/`` reference is then
    held to the names SDN can generate at all (``SDN_IPSET_NAME_RE``), and a reference without
    scope only finds the sets of this level and the datacenter."""

    cluster_ipsets: frozenset[str] = frozenset()
    guest_ipsets: frozenset[str] = frozenset()
    cluster_aliases: Mapping[str, int] = field(default_factory=dict)
    guest_aliases: Mapping[str, int] = field(default_factory=dict)
    groups: frozenset[str] | None = None  # None: group names are not checked (PVE's API does not)
    case_sensitive: bool = False  # True mirrors PVE exactly: '+MySet' does not find 'myset'
    scope_checked: bool = True  # False mirrors PVE's API, which ignores dc/ and guest/ at verify time
    sdn_ipsets: frozenset[str] | None = None

    def sdn_ipset_exists(self, name: str) -> bool:
        """SDN names are looked up as generated, case and all (a Perl hash in FW verify_rule)."""
        if self.sdn_ipsets is None:
            return SDN_IPSET_NAME_RE.fullmatch(name) is not None
        return name in self.sdn_ipsets

    def ipset_exists(self, ref: IPSetRef) -> bool:
        name = ref.name if self.case_sensitive else ref.name.lower()
        if not self.scope_checked:
            # FW verify_rule: any scope passes when a set of that name is anywhere
            return name in self.guest_ipsets or name in self.cluster_ipsets or self.sdn_ipset_exists(ref.name)
        if ref.scope == "sdn":
            # FW ipt_gen_src_or_dst_match looks a +sdn/ name up among the SDN sets only: a
            # datacenter set of that name passes verify_rule but leaves the rule dead
            return self.sdn_ipset_exists(ref.name)
        if ref.scope == "dc":
            return name in self.cluster_ipsets
        if ref.scope == "guest":
            return name in self.guest_ipsets
        in_sdn = self.sdn_ipsets is not None and ref.name in self.sdn_ipsets  # the last place PVE looks
        return name in self.guest_ipsets or name in self.cluster_ipsets or in_sdn

    def alias_exists(self, ref: AliasRef) -> bool:
        if not self.scope_checked:
            # FW verify_rule: any scope passes when an alias of that name is anywhere
            name = ref.name.lower()
            return name in self.guest_aliases or name in self.cluster_aliases
        return self.alias_family(ref) is not None

    def alias_family(self, ref: AliasRef) -> int | None:
        """The family of the alias the scope finds: FW verify_rule takes it with the scope
        even when it checked existence without (a 'guest/' alias only the datacenter has
        exists there, but has no family to mix)."""
        name = ref.name.lower()
        if ref.scope == "dc":
            return self.cluster_aliases.get(name)
        if ref.scope == "guest":
            return self.guest_aliases.get(name)
        return self.guest_aliases.get(name, self.cluster_aliases.get(name))


@dataclass(frozen=True)
class RuleCheck:
    errors: tuple[FieldError, ...]
    ipversion: int | None


# The ICMP type names of each family, as sets: a rule's dport is looked up in them.
_ICMP_NAMES = {family: frozenset(icmp_type_names(family)) for family in (4, 6)}
_ALL_ICMP_NAMES = _ICMP_NAMES[4] | _ICMP_NAMES[6]


class _Collector:
    """The problems of one rule. The location may be given as a function: most rules have no
    problem, and a file of 10,000 rules need not spell 10,000 locations to say so."""

    def __init__(self, location: str | Callable[[], str]) -> None:
        self._location = location
        self.errors: list[FieldError] = []

    @property
    def location(self) -> str:
        if not isinstance(self._location, str):
            self._location = self._location()
        return self._location

    def add(self, field_name: str, value: object, message: str, accepted: str = "") -> None:
        self.errors.append(FieldError(self.location, field_name, value, message, accepted))


def _length_message(value: str, minimum: int, maximum: int) -> str | None:
    if len(value) > maximum:
        return f"value may only be {maximum} characters long"
    if len(value) < minimum:
        return f"value must be at least {minimum} characters long"
    return None


def _check_type(rule: Rule, level: Level, out: _Collector) -> None:
    if not rule.type:
        out.add("type", rule.type, "missing property", ", ".join(RULE_TYPES[level]))
    elif rule.type not in ALL_RULE_TYPES:
        out.add(
            "type",
            rule.type,
            f"value '{rule.type}' does not have a value in the enumeration '{', '.join(ALL_RULE_TYPES)}'",
            ", ".join(RULE_TYPES[level]),
        )
    elif rule.type not in RULE_TYPES[level]:
        out.add(
            "type",
            rule.type,
            f"invalid rule type '{rule.type}' for rule_env '{level.value}'",
            f"at {level.value} level: {', '.join(RULE_TYPES[level])}",
        )


def _check_action(rule: Rule, out: _Collector, refs: References | None, api_schema: bool) -> None:
    action = rule.action
    if not action:
        out.add("action", action, "missing property", "ACCEPT, DROP or REJECT (or a group name for type group)")
        return
    problem = _length_message(action, 2, 20)
    if problem is None and not _NAME_RE.fullmatch(action):
        problem = "value does not match the regex pattern"
    if rule.type == "group":
        if problem is not None:
            out.add("action", action, "invalid characters in security group name", GROUP_NAME_ACCEPTED)
        elif len(action) > 18:
            out.add("action", action, "security group name too long", GROUP_NAME_ACCEPTED)
        elif refs is not None and refs.groups is not None and action not in refs.groups:
            known = ", ".join(sorted(refs.groups)) or "none defined"
            # FW verify_rule checks the name's syntax only: PVE stores the rule, whose jump
            # then goes to no group (ruleset_add_group_rule looks the name up as written)
            why = f"the group is '{action.lower()}' and PVE looks names up as written" if action.lower() in refs.groups else "PVE's API takes any group name"
            out.add("action", action, f"no such security group '{action}': {why}, so the rule would jump to no group", f"a defined group ({known})")
        return
    # The API's schema refuses a malformed action before verify_rule runs; a .fw file has no
    # schema, so there verify_rule's "unknown action" is what PVE reports.
    if api_schema and problem is not None:
        out.add("action", action, problem, "ACCEPT, DROP or REJECT")
    elif rule.type == "forward" and action == "REJECT":
        out.add("action", action, "cannot define REJECT rules on forward chain", "ACCEPT or DROP")
    elif action not in ACTIONS:
        out.add("action", action, f"unknown action '{action}'", "ACCEPT, DROP or REJECT (upper case)")


def _check_iface(rule: Rule, level: Level, out: _Collector) -> None:
    iface = rule.iface
    if iface is None:
        return
    if level in (Level.GROUP, Level.VNET):
        # PVE files this under 'type'; the accepted text names the iface so users find it
        out.add("type", rule.type, "parameter -i not allowed for this rule type", f"no iface in security groups and vnet rules: remove iface '{iface}'")
        return
    if _length_message(iface, 2, 20) or not IFACE_RE.fullmatch(iface):
        out.add("iface", iface, f"invalid network interface name '{iface}'", "an interface name such as vmbr0, eth0 or vmbr0.100")
    elif level.is_guest and not GUEST_IFACE_RE.fullmatch(iface):
        out.add("iface", iface, r"value does not match the regex pattern 'net\d+'", "a guest NIC name: net0, net1, ...")


PORT_PROTOCOL_ACCEPTED = "a protocol that takes ports: tcp, udp, udplite, dccp, sctp"


def _parses_as_ports(field_name: str, value: str, out: _Collector) -> bool:
    try:
        parse_port_list(value)
    except PortError as error:
        out.add(field_name, value, str(error), PORT_ACCEPTED)
        return False
    return True


def _check_port_protocol(rule: Rule, field_name: str, value: str, proto_number: int | None, out: _Collector) -> bool:
    """PVE's two protocol checks of a port field; True when both pass."""
    if rule.proto is None:
        out.add("proto", rule.proto, f"missing property - '{field_name}' requires this property", PORT_PROTOCOL_ACCEPTED)
    elif proto_number is not None and proto_number not in PORT_PROTOCOLS:
        out.add(field_name, value, f"protocol '{rule.proto}' does not support ports", "use proto tcp, udp, udplite, dccp or sctp")
    else:
        return True
    return False


def _check_dport(rule: Rule, proto_number: int | None, out: _Collector) -> None:
    dport = rule.dport
    if dport is None:
        return
    family = icmp_family(rule.proto) if rule.proto else None
    items = [item.strip() for item in dport.split(",")]
    icmp_items = [item for item in items if item in _ALL_ICMP_NAMES]
    if not icmp_items and not _parses_as_ports("dport", dport, out):
        return
    if family is not None:
        legacy_ok = len(items) == 1 and (items[0] in _ICMP_NAMES[family] or (items[0].isascii() and items[0].isdigit() and int(items[0]) <= 255))
        if not legacy_ok:
            if icmp_items:
                message = "ICMP ports not allowed in port range"
            else:
                # PVE's API takes a port list here; its ruleset compiler then reads dport as the
                # ICMP type and fails on the rule (FW ipt_rule_to_cmds, is_valid_icmp_type)
                reason = "invalid" if dport.isascii() and dport.isdigit() else "unknown"
                message = (
                    f"PVE's API takes dport '{dport}' for proto {rule.proto}, "
                    f"but its ruleset compiler reads it as an ICMP type and fails on it ({reason} icmp-type)"
                )
            out.add("dport", dport, message, f"one ICMP type name for {rule.proto} (better: use icmp_type)")
    elif _check_port_protocol(rule, "dport", dport, proto_number, out) and icmp_items:
        out.add("dport", dport, f"invalid port '{icmp_items[0]}'", PORT_ACCEPTED)


def _check_icmp_type(rule: Rule, out: _Collector) -> None:
    icmp_type = rule.icmp_type
    if icmp_type is None:
        return
    family = icmp_family(rule.proto) if rule.proto else None
    if family is None:
        out.add("proto", rule.proto, "missing property - 'icmp-type' requires this property", "icmp, icmpv6 or ipv6-icmp")
    elif rule.dport is not None:
        out.add("icmp-type", icmp_type, "'icmp-type' cannot be specified together with 'dport'", "icmp_type or dport, not both")
    elif icmp_type not in _ICMP_NAMES[family]:
        proto_name = "icmp" if family == 4 else "icmpv6"
        out.add(
            "icmp-type",
            icmp_type,
            f"invalid icmp-type '{icmp_type}' for proto '{proto_name}'",
            f"an {proto_name} type name such as " + ", ".join(icmp_type_names(family)[:4]) + ", ...",
        )


def _check_sport(rule: Rule, proto_number: int | None, out: _Collector) -> None:
    sport = rule.sport
    if sport is None:
        return
    if _parses_as_ports("sport", sport, out):
        _check_port_protocol(rule, "sport", sport, proto_number, out)


def _check_address(field_name: str, value: str | None, ipversion: int | None, out: _Collector, refs: References | None) -> int | None:
    """Check one address field; return the rule's IP family after it."""
    if value is None:
        return ipversion
    if len(value) > 512:
        out.add(field_name, value, "value may only be 512 characters long", ADDRESS_ACCEPTED)
        return ipversion
    try:
        spec = parse_address_spec(value)
    except AddressError as error:
        out.add(field_name, value, str(error), ADDRESS_ACCEPTED)
        return ipversion
    family: int | None = None
    if isinstance(spec, IPSetRef):
        if refs is not None and not refs.ipset_exists(spec):
            accepted = SDN_IPSET_ACCEPTED if spec.scope == "sdn" else "an ipset defined at this level or the datacenter"
            out.add(field_name, value, f"no such ipset '{spec.name}'", accepted)
    elif isinstance(spec, AliasRef):
        if refs is not None:
            family = refs.alias_family(spec)
            if not refs.alias_exists(spec):
                out.add(field_name, value, f"no such alias '{spec.name}'", "an alias defined at this level or the datacenter")
    else:
        family = spec.version
    if family is not None and ipversion is not None and family != ipversion:
        out.add(field_name, value, "detected mixed ipv4/ipv6 addresses in rule", "addresses of one IP family per rule")
        return ipversion
    return family or ipversion


def _check_macro_params(rule: Rule, macro_name: str, ipversion: int | None, out: _Collector) -> None:
    for template in MACROS[macro_name].rules_for(ipversion):
        for field_name, value, fixed in (
            ("proto", rule.proto, template.proto),
            ("dport", rule.dport, template.dport),
            ("sport", rule.sport, template.sport),
        ):
            if value is not None and fixed is not None and value != fixed:
                out.add(
                    field_name,
                    value,
                    f"parameter '{field_name}' already define in macro (value = '{fixed}')",
                    f"no {field_name} with macro {macro_name}, or write a plain rule",
                )
                return


def check_rule(rule: Rule, level: Level, *, location: str | Callable[[], str], refs: References | None = None, api_schema: bool = True) -> RuleCheck:
    """All problems of one rule at one level, in PVE's order, and its IP family.

    ``api_schema`` adds the API's parameter schema checks (what a write would be refused
    with); without it the rule is judged as PVE judges a line of a ``.fw`` file."""
    out = _Collector(location)
    _check_type(rule, level, out)
    _check_action(rule, out, refs, api_schema)
    _check_iface(rule, level, out)

    macro_name = None
    if rule.macro is not None:
        macro_name = canonical_macro_name(rule.macro)
        if macro_name is None or len(rule.macro) > 128:
            out.add("macro", rule.macro, f"unknown macro '{rule.macro}'", "a PVE macro name such as SSH, HTTPS, DNS, Ping")

    proto_number = None
    if rule.proto is not None:
        proto_number = protocol_number(rule.proto)
        if proto_number is None:
            out.add("proto", rule.proto, f"unknown protocol '{rule.proto}'", "a name or number from /etc/protocols, or icmpv6")

    _check_dport(rule, proto_number, out)
    _check_icmp_type(rule, out)
    _check_sport(rule, proto_number, out)

    ipversion = icmp_family(rule.proto) if rule.proto else None
    ipversion = _check_address("source", rule.source, ipversion, out, refs)
    ipversion = _check_address("dest", rule.dest, ipversion, out, refs)

    if rule.log is not None and rule.log not in LOG_LEVELS:
        out.add(
            "log",
            rule.log,
            f"value '{rule.log}' does not have a value in the enumeration '{', '.join(LOG_LEVELS)}'",
            ", ".join(LOG_LEVELS),
        )

    if not out.errors and macro_name is not None:
        _check_macro_params(rule, macro_name, ipversion, out)
    return RuleCheck(tuple(out.errors), ipversion)
