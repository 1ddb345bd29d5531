"""Merging an ipset's plain entries into the fewest CIDRs that cover the same addresses.

Only plain entries take part: no ``nomatch``, no comment, no alias name. Membership of every
address stays what it was, which ``nomatch`` makes subtle: ipset's hash:net matches the most
specific entry, so a plain entry that lies strictly inside a ``nomatch`` network wins over it
for its addresses, and merging it into a wider network would hand them back to the
``nomatch`` entry. Such entries are left as they are. A merged network that is exactly a
listed entry with a comment is dropped: that entry already covers the same addresses.

Entries must be valid and normalised (``_normalise.normalise_ipset_entry``). O(N log N): one
sort and one sweep per address family, with integers rather than ``ipaddress`` objects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from socket import inet_aton

from .._compiler.addresses import format_network, is_alias_reference, parse_ip_or_cidr
from .._model.objects import IPSetEntry

Block = tuple[int, int]  # (network address as an integer, prefix length)
_BITS = {4: 32, 6: 128}


def _parse(text: str) -> tuple[int, Block]:
    """(family, block) of a valid, normalised entry (IPv4 without the ipaddress module)."""
    if ":" in text:
        network = ipaddress.ip_network(text)
        return 6, (int(network.network_address), network.prefixlen)
    address, _slash, prefix = text.partition("/")
    return 4, (int.from_bytes(inet_aton(address), "big"), int(prefix) if prefix else 32)


def _text(family: int, block: Block) -> str:
    net, prefix = block
    if family == 4:
        address = f"{net >> 24}.{(net >> 16) & 255}.{(net >> 8) & 255}.{net & 255}"
        return address if prefix == 32 else f"{address}/{prefix}"
    return format_network(ipaddress.IPv6Network((net, prefix)))


def collapse(blocks: Iterable[Block], bits: int) -> list[Block]:
    """The fewest aligned blocks covering the union of ``blocks`` (like
    ``ipaddress.collapse_addresses``), sorted by address."""
    merged: list[Block] = []
    for net, prefix in sorted(blocks):
        if merged:
            last_net, last_prefix = merged[-1]
            if prefix >= last_prefix and net >> (bits - last_prefix) == last_net >> (bits - last_prefix):
                continue  # inside the last block (sorting puts wider blocks first)
        merged.append((net, prefix))
        # Join the two last blocks while they are the two halves of one parent block.
        while len(merged) >= 2:
            (low, low_prefix), (high, high_prefix) = merged[-2], merged[-1]
            size = 1 << (bits - low_prefix)
            if low_prefix != high_prefix or low_prefix == 0 or low & size or low + size != high:
                break
            merged[-2:] = [(low, low_prefix - 1)]
    return merged


def _inside_any(block: Block, bits: int, nomatch: dict[int, set[int]], lengths: Sequence[int]) -> bool:
    """Whether ``block`` lies strictly inside one of the ``nomatch`` networks (prefix -> nets)."""
    net, prefix = block
    for length in lengths:
        if length >= prefix:
            break
        shift = bits - length
        if (net >> shift) << shift in nomatch[length]:
            return True
    return False


def aggregate_entries(entries: Sequence[IPSetEntry], resolve_alias: Callable[[str], str | None]) -> tuple[IPSetEntry, ...]:
    """``entries`` with their plain entries merged (see the module docstring).

    ``resolve_alias`` gives the address an alias entry stands for (or None); it is asked only
    about ``nomatch`` alias entries, whose networks matter for the rule above.
    """
    kept: list[IPSetEntry] = []
    plain: dict[int, list[Block]] = {4: [], 6: []}
    texts: dict[tuple[int, Block], str] = {}  # the listed text of each block: most come out unmerged
    nomatch: dict[int, dict[int, set[int]]] = {4: {}, 6: {}}
    for entry in entries:
        alias = is_alias_reference(entry.cidr)
        if entry.nomatch or entry.comment is not None or alias:
            kept.append(entry)
        else:
            family, block = _parse(entry.cidr)
            plain[family].append(block)
            texts[family, block] = entry.cidr
        if entry.nomatch:
            cidr = resolve_alias(entry.cidr) if alias else entry.cidr
            if cidr is not None:
                network = parse_ip_or_cidr(cidr)
                nomatch[network.version].setdefault(network.prefixlen, set()).add(int(network.network_address))
    kept_cidrs = {entry.cidr for entry in kept}
    result = list(kept)
    for family, bits in _BITS.items():
        lengths = sorted(nomatch[family])
        free: list[Block] = []
        pinned: list[Block] = []
        for block in plain[family]:
            (pinned if lengths and _inside_any(block, bits, nomatch[family], lengths) else free).append(block)
        for block in collapse(free, bits) + pinned:
            text = texts.get((family, block)) or _text(family, block)
            if text not in kept_cidrs:
                result.append(IPSetEntry(text))
    return tuple(result)
