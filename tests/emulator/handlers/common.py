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
    """What FW parse_address_list (the ``pve-fw-addr-spec`` format of rule source and dest)
    refuses of the addresses the collection must not send: an IPv6 zone index, which Net::IP
    does not read, and host bits under any prefix, /0 included. The rest of the format is
    left to the schema check that ran before the handler."""
    if text.startswith("+") or _ALIAS_NAME.fullmatch(text):
        return None
    for item in text.split(","):
        if "%" in item:
            return f"invalid IP address: Invalid IP address {item}"
        address_text, slash, prefix_text = item.partition("/")
        if "-" in item:
            continue
        if not _net_ip_reads(address_text):
            return "invalid IP address: "
        if not slash or not _PREFIX.fullmatch(prefix_text):
            continue
        try:
            problem = _net_ip_prefix_problem(address_text, prefix_text)
        except ValueError:
            continue
        if problem is not None:
            return f"invalid IP address: {problem}"
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
    """The IP sets PVE's SDN makes for the emulated vnets: four for each vnet of the running
    configuration, with subnets or not (proxmox-ve-config SdnConfig::ipsets); the emulator has
    no IPAM, hence no guest-ipam-<vmid> sets."""
    return frozenset(f"{vnet}-{suffix}" for vnet in call.ctx.topology.vnets for suffix in ("all", "gateway", "no-gateway", "dhcp"))


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
