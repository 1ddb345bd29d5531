"""The ICMP type names PVE accepts for ``icmp-type`` (and the legacy ICMP ``dport``), per family.

The name lists are PVE's (FW:786-854, reference 2.4), in PVE's order and spelling. PVE looks
names up in a Perl hash, so they are **case-sensitive**: ``TOS-host-redirect`` is valid,
``tos-host-redirect`` is not. The IPv6 list has no ``any``; iptables' aliases (``ping``,
``pong``, ``ttl-exceeded``) and ip6tables' MLD names are not accepted by PVE.

Each name maps to what iptables/ip6tables match for it (libxt_icmp.h tables): ``(type, code)``
where ``code`` None means every code of that type and ``(None, None)`` (``any``) every packet.
This data is hand-written: it comes from iptables' sources, not from a file on the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Optional

IcmpMatch = tuple[Optional[int], Optional[int]]  # noqa: UP045

_ICMPV4: dict[str, IcmpMatch] = {
    "any": (None, None),
    "echo-reply": (0, None),
    "destination-unreachable": (3, None),
    "network-unreachable": (3, 0),
    "host-unreachable": (3, 1),
    "protocol-unreachable": (3, 2),
    "port-unreachable": (3, 3),
    "fragmentation-needed": (3, 4),
    "source-route-failed": (3, 5),
    "network-unknown": (3, 6),
    "host-unknown": (3, 7),
    "network-prohibited": (3, 9),
    "host-prohibited": (3, 10),
    "TOS-network-unreachable": (3, 11),
    "TOS-host-unreachable": (3, 12),
    "communication-prohibited": (3, 13),
    "host-precedence-violation": (3, 14),
    "precedence-cutoff": (3, 15),
    "source-quench": (4, None),
    "redirect": (5, None),
    "network-redirect": (5, 0),
    "host-redirect": (5, 1),
    "TOS-network-redirect": (5, 2),
    "TOS-host-redirect": (5, 3),
    "echo-request": (8, None),
    "router-advertisement": (9, None),
    "router-solicitation": (10, None),
    "time-exceeded": (11, None),
    "ttl-zero-during-transit": (11, 0),
    "ttl-zero-during-reassembly": (11, 1),
    "parameter-problem": (12, None),
    "ip-header-bad": (12, 0),
    "required-option-missing": (12, 1),
    "timestamp-request": (13, None),
    "timestamp-reply": (14, None),
    "address-mask-request": (17, None),
    "address-mask-reply": (18, None),
}

_ICMPV6: dict[str, IcmpMatch] = {
    "destination-unreachable": (1, None),
    "no-route": (1, 0),
    "communication-prohibited": (1, 1),
    "beyond-scope": (1, 2),
    "address-unreachable": (1, 3),
    "port-unreachable": (1, 4),
    "failed-policy": (1, 5),
    "reject-route": (1, 6),
    "packet-too-big": (2, None),
    "time-exceeded": (3, None),
    "ttl-zero-during-transit": (3, 0),
    "ttl-zero-during-reassembly": (3, 1),
    "parameter-problem": (4, None),
    "bad-header": (4, 0),
    "unknown-header-type": (4, 1),
    "unknown-option": (4, 2),
    "echo-request": (128, None),
    "echo-reply": (129, None),
    "router-solicitation": (133, None),
    "router-advertisement": (134, None),
    "neighbor-solicitation": (135, None),
    "neighbour-solicitation": (135, None),
    "neighbor-advertisement": (136, None),
    "neighbour-advertisement": (136, None),
    "redirect": (137, None),
}

# IP family (4, 6) -> name -> (type, code).
ICMP_TYPES: Mapping[int, Mapping[str, IcmpMatch]] = MappingProxyType({4: MappingProxyType(_ICMPV4), 6: MappingProxyType(_ICMPV6)})


def _family_table(family: int) -> Mapping[str, IcmpMatch]:
    try:
        return ICMP_TYPES[family]
    except KeyError:
        raise ValueError(f"IP family must be 4 or 6, not {family!r}") from None


def icmp_type_names(family: int) -> tuple[str, ...]:
    """The names PVE accepts for this family (4: icmp, 6: icmpv6/ipv6-icmp), in PVE's order."""
    return tuple(_family_table(family))


def icmp_type_match(family: int, name: str) -> IcmpMatch | None:
    """``(type, code)`` matched by a name of this family; None if PVE does not know the name."""
    return _family_table(family).get(name)
