"""Rules compiled into packet matchers, as pve-firewall compiles them into iptables rules.

What decides whether a rule takes part (reference 3.3, 5 and FW ipt_rule_to_cmds):

* disabled rules and rules with verification errors (``check_rule``, in PVE's parse-time
  context) are absent;
* a rule whose IP family differs from the packet's is absent;
* a rule that PVE cannot compile is absent: a scoped reference that does not resolve
  (``+guest/x`` in a host rule), a port on a protocol without ports, ...;
* a macro expands into its templates for the family (IPv6 variants, IPv6-only macros give
  nothing for IPv4), the rule's own fields filling what a template leaves open.

Name resolution follows the compiler: ``+name`` prefers the guest's set, then the cluster's;
aliases the guest's, then the cluster's; ``dc/``/``guest/`` restrict the lookup. Security
group chains are shared by every guest and the hosts, so group rules resolve against the
cluster only. ipset contents (aliases inside sets, ``nomatch``, the implicit members of
``ipfilter-netN`` and ``management``) are built by :class:`SetLibrary`.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

from .._compiler.addresses import (
    AddressError,
    AddressList,
    AliasRef,
    IPNetwork,
    IPSetRef,
    is_alias_reference,
    parse_address_spec,
    parse_ip_or_cidr,
)
from .._compiler.config_validation import ReferenceScope
from .._compiler.options import option_spec
from .._compiler.ports import PortError, PortList, parse_port_list
from .._compiler.rule_validation import References, check_rule
from .._model.errors import PveFirewallError
from .._model.inventory import Guest, Nic
from .._model.objects import FirewallFile, IPSet, Level, OptionValue, Rule
from .._reference.icmp_types import icmp_type_match
from .._reference.macros import MACROS, canonical_macro_name
from .._reference.netbase import PORT_PROTOCOLS, protocol_number
from .addrset import AddressSet

IcmpSpec = tuple[Optional[int], Optional[int]]  # noqa: UP045 - (type, code); None matches any
_SDN_OWNER = -1  # the cache key of the SDN sets, which no guest or the cluster owns


class CompileError(PveFirewallError, ValueError):
    """PVE would skip the rule at compile time (it warns and leaves it out)."""


@dataclass(frozen=True)
class PacketView:
    """A packet reduced to what matchers compare: integers and normalised names."""

    version: int
    source: int
    dest: int
    proto: int
    dport: int | None = None
    sport: int | None = None
    icmp: tuple[int, int] | None = None  # (type, code)
    srctype: str = "UNICAST"
    dsttype: str = "UNICAST"
    source_mac: str | None = None  # lowercase


def parse_icmp_type(text: str | int, family: int) -> IcmpSpec:
    """An ICMP type as iptables reads it: a name of the family's table or a number 0-255
    (optionally ``type/code``). Raises ValueError when neither."""
    value = str(text)
    match = icmp_type_match(family, value)
    if match is not None:
        return match
    kind, slash, code = value.partition("/")
    if kind.isdigit() and int(kind) <= 255 and (not slash or (code.isdigit() and int(code) <= 255)):
        return int(kind), (int(code) if slash else None)
    raise ValueError(f"unknown ICMP type '{value}' for {'icmp' if family == 4 else 'icmpv6'}")


def _icmp_matches(spec: IcmpSpec, packet: tuple[int, int] | None) -> bool:
    if spec == (None, None):
        return True  # 'any'
    if packet is None:
        return False
    return spec[0] == packet[0] and (spec[1] is None or spec[1] == packet[1])


def iface_matches(pattern: str, iface: str | None) -> bool:
    """iptables ``-i``/``-o``: exact, or a prefix when the name ends in ``+``."""
    if iface is None:
        return False
    if pattern.endswith("+"):
        return iface.startswith(pattern[:-1])
    return iface == pattern


@dataclass(frozen=True)
class Template:
    """One iptables rule of a PVE rule (a macro gives several): the protocol part."""

    proto: int | None = None
    dport: PortList | None = None
    sport: PortList | None = None
    icmp: IcmpSpec | None = None

    def matches(self, packet: PacketView) -> bool:
        if self.proto is not None and packet.proto != self.proto:
            return False
        if self.icmp is not None and not _icmp_matches(self.icmp, packet.icmp):
            return False
        if self.dport is not None and (packet.dport is None or not self.dport.matches(packet.dport)):
            return False
        return self.sport is None or (packet.sport is not None and self.sport.matches(packet.sport))


@dataclass(frozen=True)
class CompiledRule:
    """A rule that takes part in a chain. ``position`` is its PVE ``pos`` in its list."""

    position: int
    rule: Rule
    templates: tuple[Template, ...]
    source: AddressSet | None = None
    dest: AddressSet | None = None

    def matches(self, packet: PacketView, iface: str | None = None) -> bool:
        """``iface`` is the packet's input (IN chains) or output (OUT chains) interface."""
        if self.rule.iface is not None and not iface_matches(self.rule.iface, iface):
            return False
        if self.source is not None and packet.source not in self.source:
            return False
        if self.dest is not None and packet.dest not in self.dest:
            return False
        return any(template.matches(packet) for template in self.templates)


@dataclass(frozen=True)
class SkippedRule:
    """A rule PVE leaves out, and why (shown in the trail when it would have mattered)."""

    position: int
    rule: Rule
    reason: str


CompiledEntry = Union[CompiledRule, SkippedRule]  # noqa: UP007


def mac_link_local(mac: str) -> ipaddress.IPv6Address:
    """The EUI-64 link-local address of a MAC (PVE's mac_to_linklocal, RFC 4291)."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui))


def references(cluster: FirewallFile, own: FirewallFile | None = None, sdn_ipsets: frozenset[str] | None = None) -> References:
    """What PVE's parser verifies a rule against: the cluster file plus the rule's own file
    (a guest's, or none for host and group rules) and the SDN sets when known, names compared
    as PVE does. Groups are not checked: a missing group is an empty chain at compile time,
    not an error."""
    return ReferenceScope(cluster, own, case_sensitive=True, sdn_ipsets=sdn_ipsets).references(check_groups=False)


@dataclass
class SetLibrary:
    """ipset contents per owner (``0`` = cluster, else the vmid) and family, built once."""

    cluster: FirewallFile
    guests: Mapping[int, tuple[FirewallFile, Guest | None]] = field(default_factory=dict)
    local_network: IPNetwork | None = None
    nft: bool = False  # sets as proxmox-firewall builds them (nomatch subtracts; its ipfilter defaults)
    sdn: Mapping[str, tuple[tuple[IPNetwork, bool], ...]] | None = None  # the +sdn/ sets; None: unknown
    _cache: dict[tuple[int, str, int], AddressSet] = field(default_factory=dict)

    def _owner_file(self, owner: int) -> FirewallFile | None:
        if owner == 0:
            return self.cluster
        found = self.guests.get(owner)
        return found[0] if found else None

    def has_set(self, owner: int, name: str) -> bool:
        fw = self._owner_file(owner)
        return fw is not None and _exact_set(fw, name) is not None

    def resolve_alias(self, ref: AliasRef, owner: int) -> IPNetwork:
        """An alias as the compiler resolves it (guest first unless scoped)."""
        own = self._owner_file(owner) if owner else None
        candidates: list[FirewallFile | None]
        if ref.scope == "dc":
            candidates = [self.cluster]
        elif ref.scope == "guest":
            candidates = [own]
        else:
            candidates = [own, self.cluster]
        for fw in candidates:
            alias = fw.alias(ref.name) if fw else None
            if alias is not None:
                try:
                    return parse_ip_or_cidr(alias.cidr)
                except AddressError:
                    continue
        raise CompileError(f"no such alias '{ref}'")

    def ipset(self, owner: int, name: str, version: int) -> AddressSet:
        """The set ``name`` of ``owner`` (which must exist) for one family."""
        key = (owner, name, version)
        cached = self._cache.get(key)
        if cached is None:
            fw = self._owner_file(owner)
            ipset = _exact_set(fw, name) if fw else None
            entries = list(self._entries(owner, ipset)) if ipset else []
            entries += self._implicit_members(owner, name, defined=ipset is not None)
            build = AddressSet.from_nft_sets if self.nft else AddressSet.from_ipset
            cached = self._cache[key] = build(version, entries)
        return cached

    def sdn_ipset(self, name: str, version: int) -> AddressSet:
        """The SDN set ``name`` (which must exist) for one family."""
        key = (_SDN_OWNER, name, version)
        cached = self._cache.get(key)
        if cached is None:
            build = AddressSet.from_nft_sets if self.nft else AddressSet.from_ipset
            cached = self._cache[key] = build(version, (self.sdn or {}).get(name, ()))
        return cached

    def resolve_ref(self, ref: IPSetRef, owner: int, version: int) -> tuple[AddressSet, str]:
        """A rule's ``+set`` reference: the set and a label saying which one was used."""
        if ref.scope == "sdn":
            if self.sdn is None:
                raise CompileError(f"ipset '{ref}' is generated by PVE's SDN, whose configuration is not known here")
            if ref.name in self.sdn:
                return self.sdn_ipset(ref.name, version), f"SDN ipset {ref.name}"
            raise CompileError(f"no such ipset '{ref}' (not among the sets PVE's SDN generates)")
        own_first = [owner] if owner and ref.scope in (None, "guest") else []
        cluster = [0] if ref.scope in (None, "dc") else []
        for candidate in own_first + cluster:
            if self.has_set(candidate, ref.name):
                label = f"ipset {ref.name} of {'the cluster' if candidate == 0 else f'guest {candidate}'}"
                return self.ipset(candidate, ref.name, version), label
        # pve-firewall looks a name without scope up among the SDN sets last (FW
        # ipt_gen_src_or_dst_match); proxmox-firewall does not (config.rs FirewallConfig::ipset)
        if ref.scope is None and not self.nft and self.sdn is not None and ref.name in self.sdn:
            return self.sdn_ipset(ref.name, version), f"SDN ipset {ref.name}"
        raise CompileError(f"no such ipset '{ref}'")

    def _entries(self, owner: int, ipset: IPSet) -> list[tuple[IPNetwork, bool]]:
        """Valid entries with aliases resolved; invalid and duplicate entries are left out
        as PVE does (reference 3.3: kept with errors, ignored by compile)."""
        seen: set[str] = set()
        resolved = []
        for entry in ipset.entries:
            cidr = entry.cidr.strip()
            try:
                alias = parse_address_spec(cidr) if is_alias_reference(cidr) else None
                if isinstance(alias, AliasRef):
                    network = self.resolve_alias(alias, owner)
                    key = cidr
                else:
                    network = parse_ip_or_cidr(cidr)
                    key = _without_full_prefix(cidr, network)
                    if network.prefixlen == 0:
                        continue
            except (AddressError, CompileError):
                continue
            if key in seen:
                continue
            seen.add(key)
            resolved.append((network, entry.nomatch))
        return resolved

    def _implicit_members(self, owner: int, name: str, *, defined: bool = False) -> list[tuple[IPNetwork, bool]]:
        """Members PVE adds: local_network to ``management``; to a guest's
        ``ipfilter-netN`` the NIC's link-local address, ``!fe80::/10`` and, for containers,
        the configured ``ip``/``ip6`` (reference 5.2, 5.3). proxmox-firewall adds nothing to a
        defined ``ipfilter-netN`` and builds the set only when it is not defined, from the
        link-local address and a container's ``ip``/``ip6`` (firewall.rs create_ipsets)."""
        if owner == 0:
            if name == "management" and self.local_network is not None:
                return [(self.local_network, False)]
            return []
        nic_name = name[len("ipfilter-") :] if name.startswith("ipfilter-net") else None
        guest = self.guests.get(owner, (None, None))[1]
        nic = guest.nic(nic_name) if guest and nic_name else None
        if nic is None or not nic.firewall or (self.nft and defined):
            return []
        members: list[tuple[IPNetwork, bool]] = [] if self.nft else [(ipaddress.ip_network("fe80::/10"), True)]
        try:
            members.append((ipaddress.ip_network(mac_link_local(nic.mac)), False))
        except ValueError:
            pass  # an unreadable MAC gives no link-local member
        if guest is not None and guest.type == "lxc":
            members += [(address, False) for address in _configured_addresses(nic)]
        return members

    def ipfilter_applies(self, vmid: int, nic: Nic, options: Mapping[str, OptionValue]) -> bool:
        """The ipfilter check exists when ``ipfilter: 1`` or the set is defined (FW:2795)."""
        return option_flag(options, "vm", "ipfilter") or self.has_set(vmid, f"ipfilter-{nic.name}")


def _configured_addresses(nic: Nic) -> list[IPNetwork]:
    """A container's static ``ip``/``ip6`` without prefix; ``dhcp``/``manual`` give none."""
    found = []
    for value in (nic.ip, nic.ip6):
        if value:
            try:
                found.append(ipaddress.ip_network(ipaddress.ip_interface(value).ip))
            except ValueError:
                continue
    return found


def _without_full_prefix(text: str, network: IPNetwork) -> str:
    """The entry as PVE's duplicate check sees it: /32 and /128 stripped (FW parse_ip_or_cidr)."""
    suffix = f"/{network.max_prefixlen}"
    return text[: -len(suffix)] if text.endswith(suffix) else text


def _exact_set(fw: FirewallFile, name: str) -> IPSet | None:
    """Set lookup as the compiler does it: by the stored (lowercased) name, case-sensitive."""
    return next((ipset for ipset in fw.ipsets if ipset.name == name), None)


def effective_option(options: Mapping[str, OptionValue], level: str, key: str) -> OptionValue | None:
    """An option's value, or what PVE does when it is not set (``_options`` knows both)."""
    value = options.get(key)
    if value is None:
        spec = option_spec(level, key)
        return spec.effective_default if spec else None
    return value


def option_flag(options: Mapping[str, OptionValue], level: str, key: str) -> bool:
    """A boolean option; PVE's parser gives 0/1 and the model bool."""
    value = effective_option(options, level, key)
    if isinstance(value, str):
        return value.strip() not in ("", "0")
    return bool(value)


@dataclass(frozen=True)
class RuleContext:
    """Where a rule list lives: its verification level, its file and the owner of the sets
    and aliases it may name (0: cluster only)."""

    level: Level
    refs: References
    owner: int = 0


def _perl_true(text: str | None) -> bool:
    return text is not None and text not in ("", "0")


def _ports(text: str | None) -> PortList | None:
    """A port match; PVE emits none for an empty or "0" port (Perl false, FW ipt_rule_to_cmds)."""
    if text is None or not _perl_true(text):
        return None
    try:
        return parse_port_list(text)
    except PortError as error:
        raise CompileError(str(error)) from None


def _template(proto: str | None, dport: str | None, sport: str | None, icmp_type: str | None) -> Template:
    """ipt_rule_to_cmds for one (macro-expanded) rule."""
    if proto is None:
        if _perl_true(dport) or _perl_true(sport):
            raise CompileError("a port, but no protocol specified")
        return Template()
    number = protocol_number(proto)
    if number is None:
        raise CompileError(f"unknown protocol '{proto}'")
    icmp: IcmpSpec | None = None
    dports = None
    if dport is not None:
        if proto in ("icmp", "icmpv6"):
            try:
                icmp = parse_icmp_type(dport, 4 if proto == "icmp" else 6)
            except ValueError as error:
                raise CompileError(str(error)) from None
        elif number not in PORT_PROTOCOLS:
            raise CompileError(f"protocol {proto} does not have ports")
        else:
            dports = _ports(dport)
    if _perl_true(sport) and number not in PORT_PROTOCOLS:
        raise CompileError(f"protocol {proto} does not have ports")
    if icmp_type:
        if proto not in ("icmp", "icmpv6", "ipv6-icmp"):
            raise CompileError("'icmp-type' can only be set if 'icmp', 'icmpv6' or 'ipv6-icmp' is specified")
        try:
            icmp = parse_icmp_type(icmp_type, 4 if proto == "icmp" else 6)
        except ValueError as error:
            raise CompileError(str(error)) from None
    return Template(number, dports, _ports(sport), icmp)


def _templates(rule: Rule, version: int) -> tuple[Template, ...]:
    if rule.macro is None:
        return (_template(rule.proto, rule.dport, rule.sport, rule.icmp_type),)
    name = canonical_macro_name(rule.macro)
    if name is None:
        raise CompileError(f"unknown macro '{rule.macro}'")
    # A template's own values win; the rule fills the rest (verify made sure they agree).
    return tuple(
        _template(
            template.proto if template.proto is not None else rule.proto,
            template.dport if template.dport is not None else rule.dport,
            template.sport if template.sport is not None else rule.sport,
            rule.icmp_type,
        )
        for template in MACROS[name].rules_for(version)
    )


def _address(text: str | None, owner: int, version: int, sets: SetLibrary) -> AddressSet | None:
    if text is None:
        return None
    try:
        spec = parse_address_spec(text)
    except AddressError as error:
        raise CompileError(str(error)) from None
    if isinstance(spec, IPSetRef):
        return sets.resolve_ref(spec, owner, version)[0]
    if isinstance(spec, AliasRef):
        return AddressSet.from_items(version, [sets.resolve_alias(spec, owner)])
    if not isinstance(spec, AddressList):
        raise CompileError(f"unexpected address '{text}'")
    return AddressSet.from_items(version, spec.items)


def compile_rules(rules: Sequence[Rule], context: RuleContext, version: int, sets: SetLibrary, *, location: str) -> tuple[CompiledEntry, ...]:
    """Every rule of a list for one family: compiled, or skipped with PVE's reason."""
    compiled: list[CompiledEntry] = []
    for position, rule in enumerate(rules):
        compiled.append(compile_rule(position, rule, context, version, sets, location=location))
    return tuple(compiled)


def compile_rule(position: int, rule: Rule, context: RuleContext, version: int, sets: SetLibrary, *, location: str) -> CompiledEntry:
    if not rule.enable:
        return SkippedRule(position, rule, "disabled")
    check = check_rule(rule, context.level, location=f"{location} pos {position}", refs=context.refs)
    if check.errors:
        return SkippedRule(position, rule, "errors: " + "; ".join(f"{error.field}: {error.message}" for error in check.errors))
    if check.ipversion is not None and check.ipversion != version:
        return SkippedRule(position, rule, f"IPv{check.ipversion} rule")
    if rule.type == "group":
        return CompiledRule(position, rule, (Template(),))
    try:
        templates = _templates(rule, version)
        source = _address(rule.source, context.owner, version, sets)
        dest = _address(rule.dest, context.owner, version, sets)
    except CompileError as error:
        return SkippedRule(position, rule, f"not compiled: {error}")
    if not templates:
        return SkippedRule(position, rule, f"macro {rule.macro} has no IPv{version} variant")
    return CompiledRule(position, rule, templates, source, dest)


@dataclass(frozen=True)
class RuleIndex:
    """The rules of one list and direction, indexed by protocol and destination port so that
    a packet only visits the rules that could match it, in their original order.

    ``wild`` holds rules any packet may match (groups, templates without protocol);
    ``portless[proto]`` rules of that protocol without a port; ``segments[proto]`` splits the
    port space at every range boundary, each segment listing the rules whose ranges cover it.
    """

    entries: tuple[CompiledRule, ...]
    skipped: tuple[SkippedRule, ...]
    wild: tuple[int, ...]
    portless: Mapping[int, tuple[int, ...]]
    bounds: Mapping[int, tuple[int, ...]]
    segments: Mapping[int, tuple[tuple[int, ...], ...]]

    @classmethod
    def build(cls, entries: Sequence[CompiledEntry], direction: str) -> RuleIndex:
        relevant = tuple(entry for entry in entries if isinstance(entry, CompiledRule) and entry.rule.type in (direction, "group"))
        skipped = tuple(entry for entry in entries if isinstance(entry, SkippedRule) and entry.rule.type in (direction, "group"))
        wild: list[int] = []
        portless: dict[int, set[int]] = {}
        ranges: dict[int, list[tuple[int, int, int]]] = {}
        for index, entry in enumerate(relevant):
            for template in entry.templates:
                if entry.rule.type == "group" or template.proto is None:
                    wild.append(index)
                elif template.dport is None:
                    portless.setdefault(template.proto, set()).add(index)
                else:
                    ranges.setdefault(template.proto, []).extend((item.first, item.last, index) for item in template.dport.ranges)
        bounds, segments = {}, {}
        for proto, items in ranges.items():
            cuts = sorted({item[0] for item in items} | {item[1] + 1 for item in items})
            covering: list[set[int]] = [set() for cut in cuts]
            for first, last, index in items:
                for position in range(bisect_left(cuts, first), bisect_left(cuts, last + 1)):
                    covering[position].add(index)
            bounds[proto] = tuple(cuts)
            segments[proto] = tuple(tuple(sorted(found)) for found in covering)
        return cls(
            relevant,
            skipped,
            tuple(sorted(set(wild))),
            {proto: tuple(sorted(found)) for proto, found in portless.items()},
            bounds,
            segments,
        )

    def candidates(self, packet: PacketView) -> list[CompiledRule]:
        """The rules that may match ``packet``, in list order (each still has to match)."""
        found = set(self.wild)
        found.update(self.portless.get(packet.proto, ()))
        cuts = self.bounds.get(packet.proto)
        if cuts and packet.dport is not None:
            position = bisect_right(cuts, packet.dport) - 1
            if position >= 0:
                found.update(self.segments[packet.proto][position])
        return [self.entries[index] for index in sorted(found)]
