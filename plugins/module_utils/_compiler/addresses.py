"""Address specs as PVE reads them (reference 2.2): ipset and alias references, and lists of
addresses, CIDRs and ranges.

``parse_address_spec`` is the one entry point; it classifies a value and returns either the
parsed spec or PVE's error message. Canonical text forms live here too so that the validator,
the normaliser and the verdict engine agree on what an address means.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Union

from .._model.errors import PveFirewallError
from .._model.objects import Rule

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007
IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]  # noqa: UP007

NAME_PATTERN = r"[A-Za-z][A-Za-z0-9\-_]+"
_NAME_RE = re.compile(NAME_PATTERN)
_IPSET_REF_RE = re.compile(r"\+(?:(dc|guest|sdn)/)?(\S+)")
_ALIAS_REF_RE = re.compile(r"(?:(dc|guest)/)?(" + NAME_PATTERN + r")")
_IPV4_RE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")

ADDRESS_ACCEPTED = (
    "an IP address, a CIDR without host bits, a range 'a-b', a comma list of addresses and CIDRs "
    "of one family, '+ipset' (optionally '+dc/', '+guest/' or '+sdn/') or an alias name "
    "(optionally 'dc/' or 'guest/')"
)
IP_OR_CIDR_ACCEPTED = "an IPv4 or IPv6 address, optionally with a /prefix"


@dataclass(frozen=True)
class IPSetRef:
    """``+name``, ``+dc/name``, ``+guest/name`` or ``+sdn/name``."""

    name: str
    scope: str | None = None

    def __str__(self) -> str:
        return "+" + (f"{self.scope}/" if self.scope else "") + self.name


@dataclass(frozen=True)
class AliasRef:
    """``name``, ``dc/name`` or ``guest/name``; alias lookups are case-insensitive."""

    name: str
    scope: str | None = None

    def __str__(self) -> str:
        return (f"{self.scope}/" if self.scope else "") + self.name


@dataclass(frozen=True)
class AddressRange:
    first: IPAddress
    last: IPAddress

    @property
    def version(self) -> int:
        return self.first.version

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


AddressItem = Union[IPNetwork, AddressRange]  # noqa: UP007


@dataclass(frozen=True)
class AddressList:
    """A literal list; all items share one IP family."""

    items: tuple[AddressItem, ...]

    @property
    def version(self) -> int:
        return self.items[0].version

    def __str__(self) -> str:
        return ",".join(format_network(item) if not isinstance(item, AddressRange) else str(item) for item in self.items)


AddressSpec = Union[IPSetRef, AliasRef, AddressList]  # noqa: UP007


class AddressError(PveFirewallError, ValueError):
    """Carries PVE's message for an invalid address value."""


def format_network(network: IPNetwork) -> str:
    """Canonical text of a network: compressed, lowercase, no /32 or /128."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def parse_ip(text: str) -> IPAddress:
    """One address, with PVE's strictness: IPv4 must be a full dotted quad, and an IPv6
    address takes no zone index (``fe80::1%eth0``): Python reads one, but Net::IP (FW
    parse_address_list) and pve-common's IPv6 regex (FW pve_verify_ip_or_cidr, parse_ip_or_cidr)
    refuse it. Non-ASCII digits, which Python's int() reads, are refused as PVE's [0-9] does."""
    if not text.isascii():
        raise AddressError(f"invalid IP address: Invalid IP {text}")
    if "%" in text:
        raise AddressError(f"invalid IP address: Invalid IP address {text}")
    if ":" not in text and not _IPV4_RE.fullmatch(text):
        raise AddressError(f"invalid IP address: Invalid IP {text}")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        quads = text.split(".")
        bad = next((quad for quad in quads if quad.isdigit() and int(quad) > 255), None)
        if bad is not None:
            raise AddressError(f"invalid IP address: Invalid quad in IP address {text} - {bad}") from None
        raise AddressError(f"invalid IP address: Invalid IP {text}") from None


def parse_network(text: str, *, strict: bool = True) -> IPNetwork:
    """An address or CIDR. ``strict`` rejects host bits (rule addresses); otherwise they are
    cleared (ipset entries)."""
    address_text, slash, prefix_text = text.partition("/")
    address = parse_ip(address_text)
    if not slash:
        return ipaddress.ip_network(address)
    if not _is_ascii_digits(prefix_text) or int(prefix_text) > address.max_prefixlen:
        raise AddressError(f"invalid IP address: Invalid prefix {text}")
    try:
        return ipaddress.ip_network(f"{address}/{int(prefix_text)}", strict=strict)
    except ValueError:
        raise AddressError(f"invalid IP address: Invalid prefix {address}/{int(prefix_text)}") from None


# An IPv4 quad with a leading zero: Net::IP reads '010.0.0.1' (FW parse_address_list, so PVE's
# API stores it as written), Python's ipaddress and proxmox-firewall's parser do not.
_LEADING_ZERO_RE = re.compile(r"(?:^|\.)0[0-9]")


def _leading_zero_check(text: str) -> None:
    address = text.partition("/")[0]
    if ":" not in address and _IPV4_RE.fullmatch(address) and _LEADING_ZERO_RE.search(address):
        raise AddressError(
            f"invalid IP address: {text} has a quad with a leading zero: PVE's API stores it as written (Net::IP reads it), "
            "but proxmox-firewall's address parser refuses it and other readers take it for octal; write the quad without it"
        )


def _parse_item(text: str) -> AddressItem:
    for part in text.split("-", 1):
        _leading_zero_check(part)
    if "-" in text:
        first_text, last_text = text.split("-", 1)
        first, last = parse_ip(first_text), parse_ip(last_text)
        if first.version != last.version:
            raise AddressError(f"invalid IP address: {text} mixes IPv4 and IPv6")
        if int(first) > int(last):  # same family, checked above
            raise AddressError(f"invalid IP address: Begin address is greater than end address {text}")
        return AddressRange(first, last)
    return parse_network(text)


def parse_address_list(text: str) -> AddressList:
    items_text = text.split(",")
    if any(not item.strip() for item in items_text):
        raise AddressError("extraneous commas in list")
    items = tuple(_parse_item(item.strip()) for item in items_text)
    if len(items) > 1 and any(isinstance(item, AddressRange) for item in items):
        raise AddressError("you can't use a range in a list")
    if len({item.version for item in items}) > 1:
        raise AddressError(f"detected mixed ipv4/ipv6 addresses in address list '{text}'")
    return AddressList(items)


@lru_cache(maxsize=8192)  # pure and immutable; configs repeat the same values a lot
def parse_address_spec(text: str) -> AddressSpec:
    """Classify and parse a ``source``/``dest`` value exactly in PVE's order."""
    if text.startswith("+"):
        if len(text) > 65:
            raise AddressError("ipset name too long")
        match = _IPSET_REF_RE.fullmatch(text)
        if not match or not _NAME_RE.fullmatch(match.group(2)):
            raise AddressError(f"invalid ipset name '{text}'")
        return IPSetRef(match.group(2), match.group(1))
    alias = _ALIAS_REF_RE.fullmatch(text)
    if alias:
        if len(text) > 64:
            raise AddressError("alias name too long")
        return AliasRef(alias.group(2), alias.group(1))
    return parse_address_list(text)


@lru_cache(maxsize=8192)  # pure; every rule read back is normalised through it
def canonical_address_spec(text: str) -> str:
    """Canonical text of a valid spec (invalid text is returned unchanged)."""
    try:
        spec = parse_address_spec(text)
    except AddressError:
        return text
    if isinstance(spec, AliasRef):
        return str(AliasRef(spec.name.lower(), spec.scope))
    return str(spec)


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


IP_OR_CIDR_MESSAGE = "value does not look like a valid IP address or CIDR network"


@lru_cache(maxsize=65536)  # pure, immutable results; the same IP set entries are read again per analysis
def parse_ip_or_cidr(text: str) -> IPNetwork:
    """An alias or ipset value as PVE's .fw parser reads it (FW parse_ip_or_cidr): host bits
    are tolerated and cleared."""
    try:
        return parse_network(text, strict=False)
    except AddressError:
        raise AddressError(IP_OR_CIDR_MESSAGE) from None


def _has_host_bits(address: IPAddress, prefix: int) -> bool:
    return int(address) & ((1 << (address.max_prefixlen - prefix)) - 1) != 0


def check_api_ip_or_cidr(text: str) -> IPNetwork:
    """An alias or ipset value as PVE's API takes it (FW pve_verify_ip_or_cidr, the ``IPorCIDR``
    format): stricter than the .fw parser on one point. FW clean_cidr clears host bits only when
    the prefix text is true to Perl, so a prefix written '0' keeps them and Net::IP then refuses
    '10.0.0.1/0' and 'fd00::/0' ("Invalid prefix"), while '10.0.0.1/00' is cleared and accepted."""
    network = parse_ip_or_cidr(text)
    address_text, _slash, prefix_text = text.partition("/")
    address = parse_ip(address_text)
    if prefix_text == "0" and _has_host_bits(address, 0):
        raise AddressError(f"Invalid prefix {text}: with the prefix written '0' PVE keeps the host bits and refuses them (FW clean_cidr)")
    return network


def canonical_alias_cidr(text: str) -> str:
    """Aliases keep host bits (PVE stores them as given) but drop /32 and /128 on read.

    A zero prefix with host bits keeps its spelling: PVE takes '10.0.0.1/00' (and stores it
    so) but refuses '10.0.0.1/0' (``check_api_ip_or_cidr``), so the canonical form of what PVE
    holds must be what it was given."""
    address_text, slash, prefix_text = text.partition("/")
    address = parse_ip(address_text)
    if not slash:
        return str(address)
    if not _is_ascii_digits(prefix_text):
        raise AddressError(IP_OR_CIDR_MESSAGE)
    prefix = int(prefix_text)
    if prefix == address.max_prefixlen:
        return str(address)
    if prefix == 0 and _has_host_bits(address, 0):
        return f"{address}/{prefix_text}"
    return f"{address}/{prefix}"


# A dotted quad without leading zeros and an optional /0../32 (no leading zero): exactly the
# IPv4 texts parse_ip_or_cidr accepts in that spelling. Large ipsets are mostly such entries,
# and integer arithmetic canonicalises them several times faster than the ipaddress module.
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"  # ASCII digits only, as ipaddress
_PLAIN_IPV4_RE = re.compile(r"\.".join([_OCTET] * 4) + r"(?:/(3[0-2]|[12]?[0-9]))?")


def canonical_ipset_cidr(text: str) -> str:
    """ipset entries: host bits cleared, /32 and /128 dropped (reference 1.4)."""
    match = _PLAIN_IPV4_RE.fullmatch(text)
    if match is None:
        return format_network(parse_ip_or_cidr(text))
    first, second, third, fourth, prefix_text = match.groups()
    if prefix_text is None:
        return match.group(0)  # a host address in this spelling is already canonical
    prefix = int(prefix_text)
    value = ((int(first) << 24) | (int(second) << 16) | (int(third) << 8) | int(fourth)) & ((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF)
    address = f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"
    return address if prefix == 32 else f"{address}/{prefix}"


def is_alias_reference(text: str) -> bool:
    return _ALIAS_REF_RE.fullmatch(text) is not None


def address_refs(rule: Rule) -> Iterator[tuple[str, IPSetRef | AliasRef]]:
    """(field, reference) of each ipset or alias reference a rule's addresses make."""
    for field_name in ("source", "dest"):
        text = getattr(rule, field_name)
        if not text:
            continue
        try:
            spec = parse_address_spec(text.strip())
        except AddressError:
            continue
        if isinstance(spec, (IPSetRef, AliasRef)):
            yield field_name, spec
