"""pve-firewall's log: lines parsed, filtered and summarised (reference 1.7).

``pvefw-logger`` writes one line per logged packet to ``/var/log/pve-firewall.log`` of each
node::

    <vmid> <loglevel 0-7> <chain> <dd/Mon/YYYY:HH:MM:SS> <+zzzz> <prefix>IN=.. OUT=.. SRC=.. DPT=.. SYN

The vmid is 0 for the host; the prefix is the rule's message, ``ACCEPT: ``, ``DROP: ``,
``REJECT: `` for a rule and ``policy DROP: `` or ``policy REJECT: `` for a chain's policy.
The logger's own status lines (``starting pvefw logger``, ``skipped 3 log entries (queue
full)``) have the chain ``-`` and no packet fields. Whatever does not fit the format is kept
as written and counted, never dropped.

Pure Python without Ansible imports, so that it is tested on its own.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Union

from .._compiler.addresses import AddressError, IPNetwork, parse_network
from .._compiler.ports import PortError, PortList, parse_port_list
from .._model.errors import FieldError, raise_if_errors
from .._model.objects import LOG_LEVELS

# What PVE answers for a log without a matching line (dump_logfile's placeholder).
NO_CONTENT = "no content"
ACTIONS = ("ACCEPT", "DROP", "REJECT")
BLOCKING = ("DROP", "REJECT")
DIRECTIONS = ("in", "out", "forward")
# The bare words pvefw-logger writes: IP flags, TCP flags, the ARP operation.
FLAGS = frozenset(("DF", "MF", "URG", "ACK", "PSH", "RST", "SYN", "FIN", "REQUEST", "REPLY", "NAK"))

_MONTHS = {name: index for index, name in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_HEADER_RE = re.compile(r"([0-9]+) ([0-7]) (\S+) (\S+) (\S+)(?: (.*))?", re.DOTALL)
_TIME_RE = re.compile(r"([0-9]{2})/([A-Z][a-z]{2})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2})")
_ZONE_RE = re.compile(r"([+-])([0-9]{2})([0-9]{2})")
# Where the packet fields start: the prefix (the rule's message) is everything before.
_FIELDS_RE = re.compile(r"(?:^| )(?:IN|OUT|PHYSIN|PHYSOUT|MAC|SRC|DST|PROTO)=")
_PREFIX_RE = re.compile(r"(?:(policy) )?(ACCEPT|DROP|REJECT):?", re.IGNORECASE)
# print_udp ends "LEN=%u" without a space, so a following "mark=%u " sticks to it.
_STUCK_MARK_RE = re.compile(r"([0-9])(mark=)")
_DIGITS_RE = re.compile(r"[0-9]+")  # ASCII only: int() of other digits may fail or surprise
_ISO_ZULU_RE = re.compile(r"[zZ]$")


@dataclass(frozen=True)
class LogEntry:
    """One logged packet."""

    node: str
    n: int
    vmid: int | None  # None: the host (pvefw-logger writes 0)
    level: str
    chain: str | None
    timestamp: int
    time: str
    prefix: str
    action: str | None
    policy: bool
    direction: str | None
    iface_in: str | None = None
    iface_out: str | None = None
    physin: str | None = None
    physout: str | None = None
    mac: str | None = None
    src: str | None = None
    dst: str | None = None
    proto: str | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    flags: tuple[str, ...] = ()
    raw: str = ""

    @property
    def blocked(self) -> bool:
        return self.action in BLOCKING

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "n": self.n,
            "vmid": self.vmid,
            "level": self.level,
            "chain": self.chain,
            "timestamp": self.timestamp,
            "time": self.time,
            "prefix": self.prefix,
            "action": self.action,
            "policy": self.policy,
            "direction": self.direction,
            "iface_in": self.iface_in,
            "iface_out": self.iface_out,
            "physin": self.physin,
            "physout": self.physout,
            "mac": self.mac,
            "src": self.src,
            "dst": self.dst,
            "proto": self.proto,
            "sport": self.sport,
            "dport": self.dport,
            "icmp_type": self.icmp_type,
            "icmp_code": self.icmp_code,
            "flags": list(self.flags),
            "raw": self.raw,
        }


@dataclass(frozen=True)
class LogMessage:
    """A status line of the logger itself (chain ``-``, no packet)."""

    node: str
    n: int
    level: str
    timestamp: int
    time: str
    text: str
    raw: str

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "n": self.n, "level": self.level, "timestamp": self.timestamp, "time": self.time, "text": self.text, "raw": self.raw}


@dataclass(frozen=True)
class Unparsed:
    """A line that does not fit pvefw-logger's format, as it was read."""

    node: str
    vmid: int | None  # the guest log it came from; None for a node's log
    n: int
    line: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "vmid": self.vmid, "n": self.n, "line": self.line, "reason": self.reason}


ParsedLine = Union[LogEntry, LogMessage, Unparsed]  # noqa: UP007


def _time_of(date_text: str, zone_text: str) -> datetime | None:
    """The logged local time with its offset (strftime ``%d/%b/%Y:%H:%M:%S %z``, C locale)."""
    date, zone = _TIME_RE.fullmatch(date_text), _ZONE_RE.fullmatch(zone_text)
    if not date or not zone or date.group(2) not in _MONTHS:
        return None
    day, month_name, year, hour, minute, second = date.groups()
    sign, zone_hours, zone_minutes = zone.groups()
    offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes)) * (-1 if sign == "-" else 1)
    try:
        return datetime(int(year), _MONTHS[month_name], int(day), int(hour), int(minute), int(second), tzinfo=timezone(offset))
    except ValueError:  # 31/Feb, 25:00 ...
        return None


def chain_direction(chain: str | None) -> str | None:
    """``in``/``out`` from a chain's suffix (PVEFW-HOST-IN, tap100i0-OUT, GROUP-web-IN), or
    ``forward`` (PVEFW-FORWARD and the vnet chains); None when the chain does not say."""
    if not chain:
        return None
    upper = chain.upper()
    if upper.endswith("-IN"):
        return "in"
    if upper.endswith("-OUT"):
        return "out"
    if "FORWARD" in upper or upper.endswith("-FWD"):
        return "forward"
    return None


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and _DIGITS_RE.fullmatch(value) else None


def _fields(body: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """KEY=VALUE pairs (the first of a repeated key: LEN of IP before UDP's, ID of IP before
    ICMP's) and the bare flag words, in the order written."""
    values: dict[str, str] = {}
    flags: list[str] = []
    for token in _STUCK_MARK_RE.sub(r"\1 \2", body).split():
        key, sep, value = token.partition("=")
        if sep:
            values.setdefault(key, value)
        elif token in FLAGS and token not in flags:
            flags.append(token)
    return values, tuple(flags)


def parse_line(text: str, *, node: str = "", n: int = 0, log_vmid: int | None = None) -> ParsedLine:
    """One ``t`` of a log answer as an entry, a logger message or an unparsed line."""
    header = _HEADER_RE.fullmatch(text.rstrip("\n"))
    if not header:
        return Unparsed(node, log_vmid, n, text, "not in pvefw-logger's format '<vmid> <level> <chain> <time> <zone> <message>'")
    vmid_text, level_text, chain, date_text, zone_text, rest = header.groups()
    when = _time_of(date_text, zone_text)
    if when is None:
        return Unparsed(node, log_vmid, n, text, f"unreadable time '{date_text} {zone_text}'")
    level = LOG_LEVELS[int(level_text)]
    rest = (rest or "").strip()
    start = _FIELDS_RE.search(rest)
    if start is None:
        if chain == "-":
            return LogMessage(node, n, level, int(when.timestamp()), when.isoformat(), rest, text)
        return Unparsed(node, log_vmid, n, text, "no packet fields (IN=, SRC=, PROTO= ...)")
    prefix = rest[: start.start()].strip()
    values, flags = _fields(rest[start.start() :])
    verdict = _PREFIX_RE.fullmatch(prefix)
    proto = values.get("PROTO")
    return LogEntry(
        node=node,
        n=n,
        vmid=int(vmid_text) or None,
        level=level,
        chain=None if chain == "-" else chain,
        timestamp=int(when.timestamp()),
        time=when.isoformat(),
        prefix=prefix,
        action=verdict.group(2).upper() if verdict else None,
        policy=bool(verdict and verdict.group(1)),
        direction=chain_direction(None if chain == "-" else chain),
        iface_in=values.get("IN") or None,
        iface_out=values.get("OUT") or None,
        physin=values.get("PHYSIN") or None,
        physout=values.get("PHYSOUT") or None,
        mac=values.get("MAC") or None,
        src=values.get("SRC") or None,
        dst=values.get("DST") or None,
        proto=proto.lower() if proto else None,
        sport=_int(values.get("SPT")),
        dport=_int(values.get("DPT")),
        icmp_type=_int(values.get("TYPE")) if proto in ("ICMP", "ICMPV6") else None,
        icmp_code=_int(values.get("CODE")) if proto in ("ICMP", "ICMPV6") else None,
        flags=flags,
        raw=text,
    )


def answer_lines(total: int, data: Any) -> tuple[int, list[dict[str, Any]]]:
    """A log answer without PVE's placeholders: the "no content" line of an empty log (which
    ``total`` counts too); a lone object (dump_logfile's "unable to open file") becomes a list."""
    lines: list[dict[str, Any]] = [dict(data)] if isinstance(data, Mapping) else list(data or [])
    if total <= 1 and len(lines) == 1 and lines[0].get("t") == NO_CONTENT and str(lines[0].get("n")) == "1":
        return 0, []
    return total, lines


class ParsedLog:
    """Everything read from the logs, sorted into entries, messages and unparsed lines."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []
        self.messages: list[LogMessage] = []
        self.unparsed: list[Unparsed] = []
        self.read = 0

    def add(self, lines: Iterable[Mapping[str, Any]], *, node: str, log_vmid: int | None = None) -> None:
        for line in lines:
            self.read += 1
            raw_n = line.get("n")
            number = raw_n if isinstance(raw_n, int) and not isinstance(raw_n, bool) else (_int(str(raw_n)) or 0)
            parsed = parse_line(str(line.get("t", "")), node=node, n=number, log_vmid=log_vmid)
            if isinstance(parsed, LogEntry):
                self.entries.append(parsed)
            elif isinstance(parsed, LogMessage):
                self.messages.append(parsed)
            else:
                self.unparsed.append(parsed)


# -- filters --------------------------------------------------------------------------------


TIME_ACCEPTED = "epoch seconds (an integer >= 0) or an ISO 8601 date and time such as 2025-11-20T08:00:00+01:00"


def _epoch(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, str) and _DIGITS_RE.fullmatch(value.strip()):
        return int(value.strip())
    elif isinstance(value, str):
        try:
            when = datetime.fromisoformat(_ISO_ZULU_RE.sub("+00:00", value.strip()))
        except ValueError:
            return None
    else:
        return None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def epoch_of(option: str, value: Any) -> int:
    """Epoch seconds of ``since``/``until``: an integer (or its digits) or an ISO 8601 date and
    time (``2025-11-20T08:00:00+01:00``; without a zone it is UTC; ``Z`` allowed)."""
    epoch = _epoch(value)
    if epoch is None:
        raise_if_errors([FieldError(option, option, value, "not a time", TIME_ACCEPTED)])
    elif epoch < 0:
        raise_if_errors([FieldError(option, option, value, "is before 1970-01-01 (PVE takes epoch seconds >= 0)", TIME_ACCEPTED)])
    return int(epoch or 0)


@dataclass(frozen=True)
class LogFilter:
    """Which entries to keep; an empty criterion keeps everything."""

    actions: frozenset[str] = frozenset()
    vmids: frozenset[int] = frozenset()  # 0 selects the host's lines
    sources: tuple[IPNetwork, ...] = ()
    dports: tuple[PortList, ...] = ()
    directions: frozenset[str] = frozenset()
    since: int | None = None
    until: int | None = None

    def matches(self, entry: LogEntry) -> bool:
        if self.actions and entry.action not in self.actions:
            return False
        if self.vmids and (entry.vmid or 0) not in self.vmids:
            return False
        if self.directions and entry.direction not in self.directions:
            return False
        if self.since is not None and entry.timestamp < self.since:
            return False
        if self.until is not None and entry.timestamp > self.until:
            return False
        if self.dports and (entry.dport is None or not any(ports.matches(entry.dport) for ports in self.dports)):
            return False
        return not self.sources or _in_networks(entry.src, self.sources)


def _in_networks(address: str | None, networks: Sequence[IPNetwork]) -> bool:
    if not address:
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(parsed.version == network.version and parsed in network for network in networks)


def log_filter(
    *,
    actions: Sequence[str] | None = None,
    vmids: Sequence[int] | None = None,
    sources: Sequence[str] | None = None,
    dports: Sequence[str] | None = None,
    directions: Sequence[str] | None = None,
    since: Any = None,
    until: Any = None,
) -> LogFilter:
    """A filter from the module's options; every bad value is reported at once, each naming
    its option, position and value."""
    errors: list[FieldError] = []
    for index, action in enumerate(actions or []):
        if action not in ACTIONS:
            errors.append(FieldError(f"action[{index}]", "action", action, "not an action", ", ".join(ACTIONS)))
    for index, direction in enumerate(directions or []):
        if direction not in DIRECTIONS:
            errors.append(FieldError(f"direction[{index}]", "direction", direction, "not a direction", ", ".join(DIRECTIONS)))
    for index, vmid in enumerate(vmids or []):
        if isinstance(vmid, bool) or not isinstance(vmid, int) or vmid < 0:
            errors.append(FieldError(f"vmid[{index}]", "vmid", vmid, "not a guest id", "a guest id (100 and up), or 0 for the host"))
    networks: list[IPNetwork] = []
    for index, source in enumerate(sources or []):
        try:
            networks.append(parse_network(str(source).strip(), strict=False))
        except AddressError as error:
            errors.append(FieldError(f"source[{index}]", "source", source, str(error), "an IPv4 or IPv6 address or CIDR"))
    ports: list[PortList] = []
    for index, dport in enumerate(dports or []):
        try:
            ports.append(parse_port_list(str(dport).strip()))
        except PortError as error:
            errors.append(FieldError(f"dport[{index}]", "dport", dport, str(error), "a port, a range 'a:b', a service name, or a comma list of these"))
    bounds: dict[str, int | None] = {"since": None, "until": None}
    for option, value in (("since", since), ("until", until)):
        if value is not None and value != "":
            try:
                bounds[option] = epoch_of(option, value)
            except ValueError as error:  # FirewallValidationError: keep collecting
                errors.extend(getattr(error, "errors", ()))
    low, high = bounds["since"], bounds["until"]
    if low is not None and high is not None and high < low:
        errors.append(FieldError("until", "until", until, f"is before since ({since})", "a time at or after since"))
    raise_if_errors(errors)
    return LogFilter(
        actions=frozenset(actions or ()),
        vmids=frozenset(vmids or ()),
        sources=tuple(networks),
        dports=tuple(ports),
        directions=frozenset(directions or ()),
        since=low,
        until=high,
    )


# -- paging ---------------------------------------------------------------------------------


def tail_window(total: int, start: int, limit: int) -> tuple[int, int]:
    """``(start, limit)`` for PVE of the newest lines: ``start`` and ``limit`` counted back
    from the newest matching line (``limit`` 0: every line but the ``start`` newest)."""
    end = max(0, total - start)
    first = 0 if limit == 0 else max(0, end - limit)
    return first, end - first


# -- summary --------------------------------------------------------------------------------


def _top(counter: Counter[Any], top: int) -> list[tuple[Any, int]]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return ranked if top == 0 else ranked[:top]


def _tally(keys: Iterable[tuple[Any, bool]]) -> dict[Any, dict[str, int]]:
    """``{key: {total, blocked}}`` from ``(key, blocked)`` pairs, keys sorted."""
    totals: Counter[Any] = Counter()
    blocked: Counter[Any] = Counter()
    for key, is_blocked in keys:
        totals[key] += 1
        blocked[key] += int(is_blocked)
    return {key: {"total": totals[key], "blocked": blocked[key]} for key in sorted(totals)}


def summarise(entries: Sequence[LogEntry], top: int = 10) -> dict[str, Any]:
    """Counts for an on-call look: by action, the busiest sources, the most blocked ports, per
    guest and per node (``blocked`` counts DROP and REJECT). ``top`` 0 lists every item."""
    by_action = Counter(entry.action or "other" for entry in entries)
    sources = Counter(entry.src for entry in entries if entry.src)
    blocked_ports = Counter((entry.proto or "", entry.dport) for entry in entries if entry.blocked and entry.dport is not None)
    per_guest = _tally((entry.vmid, entry.blocked) for entry in entries if entry.vmid is not None)
    return {
        "total": len(entries),
        "by_action": dict(sorted(by_action.items())),
        "top_sources": [{"source": source, "count": count} for source, count in _top(sources, top)],
        "top_blocked_ports": [{"proto": proto, "dport": dport, "count": count} for (proto, dport), count in _top(blocked_ports, top)],
        "per_guest": {str(vmid): counts for vmid, counts in per_guest.items()},
        "per_node": _tally((entry.node, entry.blocked) for entry in entries),
    }
