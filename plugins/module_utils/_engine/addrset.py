"""Address sets for fast packet matching: sorted integer intervals searched with bisect.

One ``AddressSet`` holds the addresses of one IP family that a rule's ``source``/``dest`` or
an ipset matches. Building it once makes every lookup O(log n), so a 10,000-entry ipset costs
no more per packet than a single CIDR.

Two kinds of input:

* ``from_items``: a literal address list of a rule (networks and ``a-b`` ranges); a packet
  matches if any item contains it (iptables ``-s``/``-d`` and ``-m iprange``).
* ``from_ipset``: the entries of a kernel ``hash:net`` set, where ``nomatch`` entries exist.
  The kernel looks a packet up from the most specific prefix to the least specific and the
  first entry found decides: a ``nomatch`` entry means "not in the set" (ipset(8), hash:net).
  CIDRs are either nested or disjoint, so the result is painted into disjoint intervals once.
"""

from __future__ import annotations

import ipaddress
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from .._compiler.addresses import AddressItem, AddressRange, IPNetwork

# (first, last, matches) for one CIDR of a hash:net set; nested CIDRs override outer ones.
_Paint = tuple[int, int, bool]


@dataclass(frozen=True)
class AddressSet:
    """Disjoint, sorted, non-adjacent intervals ``[starts[i], ends[i]]`` of one IP family."""

    version: int
    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    def __contains__(self, address: int) -> bool:
        index = bisect_right(self.starts, address) - 1
        return index >= 0 and address <= self.ends[index]

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def empty(self) -> bool:
        return not self.starts

    @classmethod
    def from_items(cls, version: int, items: Iterable[AddressItem]) -> AddressSet:
        """A rule's literal list: the union of its networks and ranges of this family."""
        intervals = sorted(_bounds(item) for item in items if item.version == version)
        return cls._merged(version, intervals)

    @classmethod
    def from_ipset(cls, version: int, entries: Iterable[tuple[IPNetwork, bool]]) -> AddressSet:
        """A hash:net set from ``(network, nomatch)`` pairs; the most specific entry decides."""
        paints: list[_Paint] = []
        for network, nomatch in entries:
            if network.version == version:
                first, last = _bounds(network)
                paints.append((first, last, not nomatch))
        return cls._merged(version, _paint(paints))

    @classmethod
    def from_nft_sets(cls, version: int, entries: Iterable[tuple[IPNetwork, bool]]) -> AddressSet:
        """An ipset as proxmox-firewall builds it: two interval sets, the members and the
        ``nomatch`` entries, matched as "in the first and not in the second" (proxmox-firewall
        rule.rs handle_set, object.rs ``ToNftObjects for Ipset``); a nomatch entry wins over
        any member, however specific, unlike the kernel's hash:net."""
        members: list[tuple[int, int]] = []
        excluded: list[tuple[int, int]] = []
        for network, nomatch in entries:
            if network.version == version:
                (excluded if nomatch else members).append(_bounds(network))
        kept = cls._merged(version, sorted(members))
        if not excluded:
            return kept
        return kept.minus(cls._merged(version, sorted(excluded)))

    def minus(self, other: AddressSet) -> AddressSet:
        """The addresses of this set that are not in ``other`` (both merged and sorted)."""
        starts: list[int] = []
        ends: list[int] = []
        holes = list(zip(other.starts, other.ends))
        position = 0
        for first, last in zip(self.starts, self.ends):
            cursor = first
            while position < len(holes) and holes[position][1] < cursor:
                position += 1
            probe = position
            while probe < len(holes) and holes[probe][0] <= last:
                hole_first, hole_last = holes[probe]
                if hole_first > cursor:
                    starts.append(cursor)
                    ends.append(hole_first - 1)
                cursor = max(cursor, hole_last + 1)
                probe += 1
            if cursor <= last:
                starts.append(cursor)
                ends.append(last)
        return AddressSet(self.version, tuple(starts), tuple(ends))

    @classmethod
    def _merged(cls, version: int, intervals: Iterable[tuple[int, int]]) -> AddressSet:
        starts: list[int] = []
        ends: list[int] = []
        for first, last in intervals:
            if ends and first <= ends[-1] + 1:
                ends[-1] = max(ends[-1], last)
            else:
                starts.append(first)
                ends.append(last)
        return cls(version, tuple(starts), tuple(ends))


def _bounds(item: AddressItem) -> tuple[int, int]:
    if isinstance(item, AddressRange):
        return int(item.first), int(item.last)
    return int(item.network_address), int(item.broadcast_address)


def _paint(paints: list[_Paint]) -> list[tuple[int, int]]:
    """Flatten nested CIDRs into the intervals where the innermost entry says "match".

    Sorting by start and then by decreasing size puts every CIDR after the ones containing
    it; a stack of the open CIDRs then yields each stretch with the innermost one's value.
    Equal CIDRs (not possible after PVE's duplicate check) resolve to the later one.
    """
    paints.sort(key=lambda paint: (paint[0], paint[0] - paint[1]))
    matched: list[tuple[int, int]] = []
    stack: list[tuple[int, bool]] = []  # (last address, matches) of the open CIDRs
    cursor = 0  # first address not yet assigned

    def emit(first: int, last: int, matches: bool) -> None:
        if matches and first <= last:
            matched.append((first, last))

    for first, last, matches in paints:
        while stack and stack[-1][0] < first:
            end, value = stack.pop()
            emit(cursor, end, value)
            cursor = max(cursor, end + 1)
        if stack:
            emit(cursor, first - 1, stack[-1][1])
        cursor = first
        stack.append((last, matches))
    while stack:
        end, value = stack.pop()
        emit(cursor, end, value)
        cursor = max(cursor, end + 1)
    return matched


def address_int(text: str) -> tuple[int, int]:
    """``(version, integer)`` of one IP address given as text."""
    address = ipaddress.ip_address(text)
    return address.version, int(address)
