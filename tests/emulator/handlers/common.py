"""Helpers every handler family shares: digest checks, reference views, file transactions."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import AliasRef
from ansible_collections.pve.firewall.plugins.module_utils._compiler.rule_validation import References
from ansible_collections.pve.firewall.plugins.module_utils._engine.matchers import references
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile

from ..context import Call
from ..errors import MODIFIED, ApiFailure, ParamError
from ..state import FileKey
from ..targets import Target
from ..views import alias_family


def check_digest(current: str, given: str | None) -> None:
    """PVE's assert_if_modified: fails only when both digests are non-empty and differ."""
    if current and given and current != given:
        raise ApiFailure(MODIFIED)


def cluster_file(call: Call) -> FirewallFile:
    return call.ctx.store.read(FileKey.cluster())


def refs_for(call: Call, target: Target, fw: FirewallFile) -> References:
    """What rules of ``target`` may refer to: the datacenter's sets and aliases, plus the
    guest's own for a guest file (``fw`` is the target's file as just read)."""
    cluster = fw if target.key.kind is FileKind.CLUSTER else cluster_file(call)
    # PVE's API verifies references without their dc/ or guest/ scope (reference 2.2 item 5)
    return replace(references(cluster, fw if target.has_own_refs else None), scope_checked=False, sdn_ipsets=sdn_ipset_names(call))


def alias_lookup(call: Call, target: Target, fw: FirewallFile) -> Callable[[AliasRef], bool]:
    """Whether an alias reference resolves where ``fw`` lives (dc/ and guest/ honoured)."""
    cluster = fw if target.key.kind is FileKind.CLUSTER else cluster_file(call)
    own = fw if target.has_own_refs else None

    def known(ref: AliasRef) -> bool:
        def has(where: FirewallFile | None) -> bool:
            alias = where.alias(ref.name) if where else None
            return alias is not None and alias_family(alias.cidr) is not None

        if ref.scope == "dc":
            return has(cluster)
        if ref.scope == "guest":
            return has(own)
        return has(own) or has(cluster)

    return known


@dataclass
class Transaction:
    """A locked read-modify-write of one file; ``save`` re-renders it."""

    call: Call
    key: FileKey
    fw: FirewallFile

    def save(self, fw: FirewallFile) -> None:
        self.call.ctx.store.write(self.key, fw)  # may refuse (too large): then nothing changed
        self.fw = fw


@contextmanager
def modify(call: Call, key: FileKey) -> Iterator[Transaction]:
    with call.ctx.store.locked(key):
        yield Transaction(call, key, call.ctx.store.read(key))


# ---------------------------------------------------------------------------------------------
# PVE's own refusals of what the collection must never send, written here apart from the
# compiler (nothing of _compiler.addresses is used): the emulator refuses these even when the
# compiler would not, so that an integration test catches a compiler that accepts them.

_V4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4_TEXT = re.compile(_V4_OCTET + r"(?:\." + _V4_OCTET + r"){3}")  # pve-common's IPV4RE: no leading zeros
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")
_PREFIX = re.compile(r"[0-9]+")
_ALIAS_NAME = re.compile(r"(?:dc/|guest/)?[A-Za-z][A-Za-z0-9\-_]+")  # FW $ip_alias_pattern
_IPSET_REF = re.compile(r"\+(?:guest/|dc/|sdn/)?([A-Za-z][A-Za-z0-9\-_]+)")  # FW verify_rule
NOT_IP_OR_CIDR = "value does not look like a valid IP address or CIDR network"


def _is_v6_text(text: str) -> bool:
    """pve-common's IPV6RE (PVE::ParseUtils): 8 groups of 1-4 hex digits, or fewer around one
    '::' standing for at least one group, the last 32 bits optionally as a dotted quad; no
    zone index ('%eth0') and nothing else."""
    head, gap, tail = text.partition("::")
    if "::" in tail:
        return False
    left = head.split(":") if head else []
    right = tail.split(":") if tail else []
    items = left + right
    quad_at = len(items) - 1 if (not gap or right) else -1  # a dotted quad ends the address
    units = 0
    for index, item in enumerate(items):
        if index == quad_at and _V4_TEXT.fullmatch(item):
            units += 2
        elif _HEX_GROUP.fullmatch(item):
            units += 1
        else:
            return False
    return units <= 7 if gap else units == 8


def _net_ip_reads(address_text: str) -> bool:
    """Net::IP 1.26 (Debian's libnet-ip-perl) fails, with no message, on an IPv6 address whose
    leading or trailing '::' stands for one group: '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8'."""
    if ":" not in address_text or not (address_text.startswith("::") or address_text.endswith("::")):
        return True
    groups = [item for item in address_text.split(":") if item]
    return len(groups) + sum(1 for item in groups if "." in item) != 7


def _bits(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return format(int(address), f"0{address.max_prefixlen}b")


def _net_ip_prefix_problem(address_text: str, prefix_text: str) -> str | None:
    """Net::IP->new("addr/len") on an address Python reads: Net::IP's own messages."""
    if not _net_ip_reads(address_text):
        return ""
    address = ipaddress.ip_address(address_text)
    size = address.max_prefixlen
    length = int(prefix_text)
    if length > size:
        return f"Prefix length {prefix_text} is longer than IP address ({size})"
    if int(address) & ((1 << (size - length)) - 1):
        return f"Invalid prefix {_bits(address)}/{prefix_text}"
    return None


def pve_ip_or_cidr_problem(text: str) -> str | None:
    """FW pve_verify_ip_or_cidr (the ``IPorCIDR`` format of alias and ipset values): the IPv4 or
    IPv6 regex with an optional /digits, then Net::IP on the value FW clean_cidr returns, which
    clears host bits only for a prefix true to Perl: '/0' keeps them, '/00' does not."""
    address_text, slash, prefix_text = text.partition("/")
    if not text.isascii() or (slash and not _PREFIX.fullmatch(prefix_text)):
        return NOT_IP_OR_CIDR
    if not (_V4_TEXT.fullmatch(address_text) or _is_v6_text(address_text)):
        return NOT_IP_OR_CIDR
    if not slash:
        return None if _net_ip_reads(address_text) else ""
    address = ipaddress.ip_address(address_text)
    if prefix_text != "0" and int(prefix_text) <= address.max_prefixlen:  # clean_cidr
        keep = address.max_prefixlen - int(prefix_text)
        address_text = str(type(address)((int(address) >> keep) << keep))
    return _net_ip_prefix_problem(address_text, prefix_text)


def pve_ip_or_cidr_or_alias_problem(text: str) -> str | None:
    """FW pve_verify_ip_or_cidr_or_alias (the ``IPorCIDRorAlias`` format of ipset entries)."""
    return None if _ALIAS_NAME.fullmatch(text) else pve_ip_or_cidr_problem(text)


def pve_address_list_problem(text: str) -> str | None:
    """The ``pve-fw-addr-spec`` format of rule source and dest (FW parse_address_list)."""
    return pve_address_spec_problem(text)


# -- Net::IP 1.26 (Debian's libnet-ip-perl), as FW parse_address_list calls it -----------------

_V4_CHARS = re.compile(r"[0-9.]+")
_V6_GROUP = re.compile(r"[0-9A-Fa-f]{1,4}")
_PREFIXED = re.compile(r"(\S+?)(/\S+)")
_RANGE = re.compile(r"(.+?)\s*-\s*(.+)", re.DOTALL)
_PREFIX_STEP = re.compile(r"/([0-9]+)(?:,|$)")


def _perl_split(separator: str, text: str) -> list[str]:
    parts = text.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _net_ip_v4_problem(ip: str) -> str | None:
    """Net::IP ip_is_ipv4: None, or its message."""
    if not _V4_CHARS.fullmatch(ip):
        return f"Invalid chars in IP {ip}"
    if ip.startswith("."):
        return f"Invalid IP {ip} - starts with a dot"
    if ip.endswith("."):
        return f"Invalid IP {ip} - ends with a dot"
    if ip.isdigit() and int(ip) < 256:  # a single number is an IPv4 address
        return None
    if ip.count(".") > 3:
        return f"Invalid IP address {ip}"
    if ".." in ip:
        return f"Empty quad in IP address {ip}"
    bad = next((quad for quad in _perl_split(".", ip) if int(quad) > 255), None)
    return None if bad is None else f"Invalid quad in IP address {ip} - {bad}"


def _net_ip_v6_problem(ip: str) -> str | None:
    """Net::IP ip_is_ipv6: None, or its message ('' where it fails without one and Net::IP's
    error is whatever an earlier call left: 8 colons, as in '1:2:3:4:5:6:7::')."""
    colons = ip.count(":")
    if not 0 < colons < 8:
        return ""
    for index, item in enumerate(_perl_split(":", ip), start=1):
        if item == "" or _V6_GROUP.fullmatch(item):
            continue
        if index == colons + 1 and _net_ip_v4_problem(item) is None:
            colons += 1  # a dotted quad is two groups
            continue
        return f"Invalid IP address {ip}"
    if re.match(r":[^:]", ip):
        return f"Invalid address {ip} (starts with :)"
    if re.search(r"[^:]:$", ip):
        return f"Invalid address {ip} (ends with :)"
    if len(re.findall(r":(?=:)", ip)) > 1:
        return f"Invalid address {ip} (More than one :: pattern)"
    if colons != 7 and "::" not in ip:
        return f"Invalid number of octets {ip}"
    return None


def _net_ip_version(ip: str) -> tuple[int | None, str]:
    """Net::IP ip_get_version: (4 or 6, '') or (None, the message left behind)."""
    problem = None
    if ":" not in ip:
        problem = _net_ip_v4_problem(ip)
        if problem is None:
            return 4, ""
    v6_problem = _net_ip_v6_problem(ip)
    if v6_problem is None:
        return 6, ""
    return None, problem if problem is not None else v6_problem


def _net_ip_expand(ip: str, version: int) -> tuple[str | None, str]:
    """Net::IP ip_expand_address: (the expanded text, '') or (None, its message). An IPv4
    address of fewer quads is padded with zeros ('10.0.0' is 10.0.0.0); each quad is one to
    three digits, not checked against 255 here."""
    if version == 4:
        quads = _perl_split(".", ip)
        if len(quads) > 4:
            return None, f"Not a valid IPv address {ip}"
        if not all(re.fullmatch(r"[0-9]{1,3}", quad) for quad in quads):
            return None, f"Not a valid IPv4 address {ip}"
        return ".".join(str(int(quad)) for quad in (quads + ["0", "0", "0", "0"])[:4]), ""
    head, dot, _rest = ip.rpartition(":")
    if "." in ip and dot:
        quad, _problem = _net_ip_expand(_rest, 4)  # the dotted end may be short: '::124.10'
        if quad is None or any(int(part) > 255 for part in quad.split(".")):
            return None, ""
        ip = f"{head}:{ipaddress.IPv4Address(quad)}"
    try:
        return ipaddress.IPv6Address(ip).exploded, ""
    except ValueError:
        return None, ""


def _net_ip_address(ip: str, version: int) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address | None, str]:
    """The address Net::IP builds from a text: expanded, then read again (ip_get_version)."""
    expanded, problem = _net_ip_expand(ip, version)
    if expanded is None:
        return None, problem
    checked, problem = _net_ip_version(expanded)
    if checked != version:
        return None, problem
    return ipaddress.ip_address(expanded), ""


def _net_ip_text(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """An address as Net::IP's messages show it: IPv6 fully expanded."""
    return address.exploded


def net_ip_problem(text: str) -> tuple[str | None, int | None]:
    """What Net::IP->new(text) makes of one address, prefix or range: (None, IP version) when it
    builds an object, else (its error, None). Net::IP reads more than the collection writes
    ('10.0.0', '0', a prefix it cannot parse it ignores: '10.0.0.0/x'); the emulator follows it,
    as PVE's API stores whatever Net::IP reads."""
    prefixed = _PREFIXED.fullmatch(text)
    if prefixed:
        address_text, rest = prefixed.groups()
        version, problem = _net_ip_version(address_text)
        if version is None:
            return problem, None
        address, problem = _net_ip_address(address_text, version)
        if address is None:
            return problem, None
        step = _PREFIX_STEP.match(rest)
        if step is not None and step.end() == len(rest):
            size, written = address.max_prefixlen, step.group(1)
            length = int(written)
            if length > size:
                return f"Prefix length {written} is longer than IP address ({size})", None
            if int(address) & ((1 << (size - length)) - 1):
                return f"Invalid prefix {_bits(address)}/{written}", None
        return None, version
    ranged = _RANGE.fullmatch(text)
    if ranged:
        first_text, last_text = ranged.groups()
        version, problem = _net_ip_version(first_text)
        if version is None:
            return problem, None
        first, problem = _net_ip_address(first_text, version)
        if first is None:
            return problem, None
        last, problem = _net_ip_address(last_text, version)  # read as the first one's version
        if last is None:
            return problem, None
        if int(first) > int(last):
            return f"Begin address is greater than End address {_net_ip_text(first)} - {_net_ip_text(last)}", None
        return None, version
    version, problem = _net_ip_version(text)
    if version is None:
        return problem, None
    address, problem = _net_ip_address(text, version)
    return (None, version) if address is not None else (problem, None)


def pve_address_spec_problem(text: str) -> str | None:
    """FW parse_address_list, the ``pve-fw-addr-spec`` format of a rule's source and dest: an
    ipset or alias name (length checked only), else a comma list of Net::IP addresses, ranges
    or prefixes of one IP version, a range only alone."""
    if text.startswith("+") and re.fullmatch(r"\+\S+", text):
        return "ipset name too long" if len(text) > 65 else None
    if _ALIAS_NAME.fullmatch(text):
        return "alias name too long" if len(text) > 64 else None
    items = _perl_split(",", text)
    if ",".join(items) != text:
        return "extraneous commas in list"
    versions = set()
    for item in items:
        problem, version = net_ip_problem(item)
        if problem is not None:
            return f"invalid IP address: {problem}"
        versions.add(version)
        if len(versions) > 1:
            return f"detected mixed ipv4/ipv6 addresses in address list '{text}'"
    if len(items) > 1 and any("-" in item for item in items):
        return "you can't use a range in a list"
    return None


def refuse_formats(params: Mapping[str, Any], checks: Mapping[str, Callable[[str], str | None]]) -> None:
    """PVE's schema check of these parameters' formats: every failure of the call in one 400,
    each message as pve-common's check_prop words it ('invalid format - ...\\n')."""
    errors = {}
    for name, check in checks.items():
        value = params.get(name)
        if isinstance(value, str) and value != "":
            problem = check(value)
            if problem is not None:
                errors[name] = f"invalid format - {problem}\n"
    if errors:
        raise ParamError(errors)


def sdn_ipset_names(call: Call) -> frozenset[str]:
    """The IP sets PVE's SDN makes: four for each vnet of the running configuration, with
    subnets or not (proxmox-ve-config SdnConfig::ipsets), and guest-ipam-<vmid> for each guest
    the PVE IPAM holds addresses of (Ipam::ipsets)."""
    topology = call.ctx.topology
    vnet_sets = (f"{vnet}-{suffix}" for vnet in topology.vnets for suffix in ("all", "gateway", "no-gateway", "dhcp"))
    return frozenset((*vnet_sets, *(f"guest-ipam-{vmid}" for vmid, addresses in topology.ipam.items() if addresses)))


def pve_ipset_ref_problem(call: Call, target: Target, fw: FirewallFile, value: str | None) -> str | None:
    """FW verify_rule's existence check of an ipset reference: the name, whatever its scope,
    must be a set of the datacenter, of this guest, or of PVE's SDN (looked up as written)."""
    match = _IPSET_REF.fullmatch(value or "")
    if match is None:
        return None
    name = match.group(1)
    cluster = fw if target.key.kind is FileKind.CLUSTER else cluster_file(call)
    own = fw if target.has_own_refs else None
    names = {ipset.name for ipset in cluster.ipsets} | {ipset.name for ipset in (own.ipsets if own else ())} | sdn_ipset_names(call)
    return None if name in names else f"no such ipset '{name}'"
