"""Port specs (``dport``, ``sport``) as PVE reads them (reference 2.3)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .._model.errors import PveFirewallError
from .._reference.netbase import service_port

MAX_PORT_NUMBERS = 15
PORT_ACCEPTED = (
    "a port 0-65535, a range 'a:b' with a <= b, a tcp/udp/sctp service name, or a comma list of these counting at most 15 numbers (a range counts 2)"
)

# ASCII digits only: PVE matches [0-9]+ on the bytes (FW parse_port_name_number_or_range), so
# '٢٢' is no port to it, while Python's \d and int() would read it as 22
_RANGE_RE = re.compile(r"([0-9]+):([0-9]+)")


class PortError(PveFirewallError, ValueError):
    """Carries PVE's message for an invalid port value."""


@dataclass(frozen=True)
class PortRange:
    first: int
    last: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}:{self.last}"


@dataclass(frozen=True)
class PortList:
    """Parsed port list; ``text`` keeps the items as written (service names count 0 numbers)."""

    ranges: tuple[PortRange, ...]
    text: tuple[str, ...]

    def matches(self, port: int) -> bool:
        return any(port in item for item in self.ranges)

    def __str__(self) -> str:
        return ",".join(self.text)


def _port_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise PortError(f"invalid port '{text}'")
    return int(text)


@lru_cache(maxsize=8192)  # pure and immutable; configs repeat the same values a lot
def parse_port_list(text: str) -> PortList:
    """Parse a comma list of ports, ranges and service names with PVE's messages."""
    items = text.split(",")
    if any(not item.strip() for item in items):
        raise PortError("extraneous commas in list")
    ranges: list[PortRange] = []
    canonical: list[str] = []
    numbers = 0
    for raw in items:
        item = raw.strip()
        range_match = _RANGE_RE.fullmatch(item)
        if range_match:
            first, last = _port_number(range_match.group(1)), _port_number(range_match.group(2))
            if first > last:
                raise PortError(f"backwards range '{item}' not allowed, did you mean '{last}:{first}'?")
            ranges.append(PortRange(first, last))
            canonical.append(f"{first}:{last}")
            numbers += 2
        elif item.isascii() and item.isdigit():
            port = _port_number(item)
            ranges.append(PortRange(port, port))
            canonical.append(str(port))
            numbers += 1
        else:
            named = service_port(item)
            if named is None:
                raise PortError(f"invalid port '{item}'")
            ranges.append(PortRange(named, named))
            canonical.append(item)
    if numbers > MAX_PORT_NUMBERS:
        raise PortError(f"too many entries in port list (> {MAX_PORT_NUMBERS} numbers)")
    return PortList(tuple(ranges), tuple(canonical))


def canonical_port_list(text: str) -> str:
    """Canonical text of a valid list (numbers without leading zeros); invalid text unchanged."""
    try:
        return str(parse_port_list(text))
    except PortError:
        return text
