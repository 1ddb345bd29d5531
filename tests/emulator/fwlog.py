"""Each node's ``/var/log/pve-firewall.log`` and the log endpoints' query (reference 1.7).

Lines have pvefw-logger's format::

    <vmid> <loglevel 0-7> <chain> <dd/Mon/YYYY:HH:MM:SS +zzzz> <prefix>IN=... SRC=... DPT=...

(vmid 0 is the host). They come from tests through the control API and from the
connections the lockout simulation drops or rejects. Each node's log is kept in memory and
appended to ``<state>/log/<node>/pve-firewall.log`` so that it survives a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import LOG_LEVELS

NO_CONTENT = "no content"
DEFAULT_LIMIT = 50
# syslog level of each PVE log level name (FW:179-188)
SYSLOG_LEVELS = {name: index for index, name in enumerate(LOG_LEVELS[:-1])}
_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"


def format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(_TIME_FORMAT)


def line_time(line: str) -> float | None:
    """The timestamp of a log line: its 4th and 5th space-separated words."""
    words = line.split(" ")
    if len(words) < 5:
        return None
    try:
        return datetime.strptime(f"{words[3]} {words[4]}", _TIME_FORMAT).timestamp()
    except ValueError:
        return None


def _in_window(stamp: float, since: int | None, until: int | None) -> bool:
    return not (since and stamp < since) and not (until and stamp > until)


@dataclass(frozen=True)
class Packet:
    """What a log line says about one packet."""

    src: str
    dst: str
    proto: str = "TCP"
    sport: int = 40000
    dport: int = 8006
    iface_in: str = "vmbr0"
    iface_out: str = ""


def format_line(
    *, vmid: int, level: str, chain: str, prefix: str, packet: Packet, epoch: float
) -> str:
    """One line as pvefw-logger writes it (the NFLOG prefix is e.g. 'policy DROP: ')."""
    ports = f" SPT={packet.sport} DPT={packet.dport}" if packet.proto in ("TCP", "UDP") else ""
    flags = " SEQ=0 ACK=0 WINDOW=64240 SYN" if packet.proto == "TCP" else ""
    return (
        f"{vmid} {SYSLOG_LEVELS.get(level, 6)} {chain} {format_time(epoch)} {prefix}"
        f"IN={packet.iface_in} OUT={packet.iface_out} SRC={packet.src} DST={packet.dst} LEN=60 TOS=0x00 PREC=0x00 "
        f"TTL=64 ID=0 DF PROTO={packet.proto}{ports}{flags}"
    )


class FirewallLog:
    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._lines: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def _file(self, node: str) -> Path:
        return self._root / node / "pve-firewall.log"

    def _node_lines(self, node: str) -> list[str]:
        if node not in self._lines:
            path = self._file(node)
            self._lines[node] = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        return self._lines[node]

    def append(self, node: str, lines: list[str]) -> None:
        with self._lock:
            self._node_lines(node).extend(lines)
            path = self._file(node)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in lines)

    def clear(self, node: str | None = None) -> None:
        with self._lock:
            nodes = [node] if node else [path.parent.name for path in self._root.glob("*/pve-firewall.log")] + list(self._lines)
            for name in set(nodes):
                self._lines[name] = []
                self._file(name).unlink(missing_ok=True)

    def query(
        self,
        node: str,
        *,
        vmid: int | None = None,
        start: int | None = None,
        limit: int | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> tuple[int, list[dict[str, object]]]:
        """``(total, [{n, t}])`` with PVE's semantics: ``n`` is the 1-based index among the
        matching lines, ``limit`` 0 means all, no match gives one "no content" line."""
        with self._lock:
            lines = list(self._node_lines(node))
        if vmid is not None:
            lines = [line for line in lines if line.startswith(f"{vmid} ")]
        if since or until:
            # dump_fw_logfile tests each bound for Perl truth: 0 is no bound, and without
            # `until` there is no upper bound at all; a line whose time does not parse counts
            # as time 0 (str2time's undef), so `since` drops it and `until` alone keeps it
            lines = [line for line in lines if _in_window(line_time(line) or 0, since, until)]
        first = start or 0
        count = DEFAULT_LIMIT if limit is None else limit
        chosen = lines[first:] if count == 0 else lines[first : first + count]
        out: list[dict[str, object]] = [{"n": first + index + 1, "t": text} for index, text in enumerate(chosen)]
        if not lines:
            return 1, [{"n": 1, "t": NO_CONTENT}]
        return len(lines), out
