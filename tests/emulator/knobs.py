"""What tests and benchmarks can turn: the clock, injected latency, a fault plan and the
request log. All are thread-safe; the control API (``control.py``) exposes them over HTTP.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field

FAULT_ACTIONS = ("error", "reset", "stall")
FAULT_TARGETS = ("write", "read", "any")
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})


class Clock:
    """Wall time plus an offset that tests advance (so the 60 s auto-revert takes no minute)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._offset += seconds
            return self._offset

    def set(self, epoch: float) -> None:
        with self._lock:
            self._offset = epoch - time.time()

    def reset(self) -> None:
        with self._lock:
            self._offset = 0.0

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset


@dataclass(frozen=True)
class Fault:
    """Hit the ``nth`` matching API request from now (1 = the next one), ``times`` times in a row.

    ``error`` answers ``status`` with ``message`` without running the handler, ``reset``
    closes the connection with a TCP RST, ``stall`` waits ``seconds`` before handling the
    request normally. A stalled request is carried out even when its client gave up waiting
    (a late write: a client whose timeout is shorter than ``seconds`` sees no answer, yet the
    write lands and is logged then). ``path`` (a substring) narrows which requests count.
    """

    action: str
    nth: int = 1
    on: str = "write"
    times: int = 1
    status: int = 500
    message: str = "injected fault"
    seconds: float = 5.0
    path: str = ""

    def __post_init__(self) -> None:
        if self.action not in FAULT_ACTIONS:
            raise ValueError(f"fault action must be one of {', '.join(FAULT_ACTIONS)}")
        if self.on not in FAULT_TARGETS:
            raise ValueError(f"fault 'on' must be one of {', '.join(FAULT_TARGETS)}")
        if self.nth < 1 or self.times < 1:
            raise ValueError("nth and times must be >= 1")

    def applies_to(self, method: str, path: str) -> bool:
        kind_ok = self.on == "any" or (method in WRITE_METHODS) == (self.on == "write")
        return kind_ok and self.path in path


@dataclass
class _ArmedFault:
    fault: Fault
    seen: int = 0
    fired: int = 0


class FaultPlan:
    """Faults armed by tests; each request asks ``next_fault`` once."""

    def __init__(self) -> None:
        self._armed: list[_ArmedFault] = []
        self._lock = threading.Lock()

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._armed.append(_ArmedFault(fault))

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [{**asdict(armed.fault), "seen": armed.seen, "fired": armed.fired} for armed in self._armed]

    def next_fault(self, method: str, path: str) -> Fault | None:
        """Count this request against every armed fault; return the one that fires, if any."""
        with self._lock:
            firing = None
            for armed in self._armed:
                if not armed.fault.applies_to(method, path):
                    continue
                armed.seen += 1
                if firing is None and armed.seen >= armed.fault.nth and armed.fired < armed.fault.times:
                    armed.fired += 1
                    firing = armed.fault
            self._armed = [armed for armed in self._armed if armed.fired < armed.fault.times]
            return firing


@dataclass(frozen=True)
class LoggedRequest:
    seq: int
    time: float
    node: str
    client: str
    method: str
    path: str
    status: int
    duration_ms: float


@dataclass
class RequestLog:
    """Every API request served (method, path, status), newest last, with counters."""

    limit: int = 100_000
    _entries: deque[LoggedRequest] = field(default_factory=deque)
    _counts: Counter[str] = field(default_factory=Counter)
    _seq: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, node: str, client: str, method: str, path: str, status: int, started: float) -> None:
        with self._lock:
            self._seq += 1
            entry = LoggedRequest(self._seq, started, node, client, method, path, status, round((time.time() - started) * 1000, 3))
            self._entries.append(entry)
            if len(self._entries) > self.limit:
                self._entries.popleft()
            self._counts[method] += 1
            self._counts["total"] += 1
            self._counts["write" if method in WRITE_METHODS else "read"] += 1
            self._counts[f"status_{status}"] += 1

    def snapshot(self, since: int = 0) -> dict[str, object]:
        with self._lock:
            return {
                "count": self._counts["total"],
                "counts": dict(self._counts),
                "last_seq": self._seq,
                "requests": [asdict(entry) for entry in self._entries if entry.seq > since],
            }

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
            self._counts.clear()


@dataclass
class Settings:
    """Scalar knobs: per-request latency, the file lock timeout, whether connections are judged."""

    latency: float = 0.0  # a round trip: added to every API request and to a new connection's handshakes
    lock_timeout: float = 10.0  # PVE's cfs lock timeout
    judging: bool = True  # lockout simulation on/off

    def update(self, values: dict[str, object]) -> None:
        for key, value in values.items():
            if key not in ("latency", "lock_timeout", "judging"):
                raise ValueError(f"unknown setting '{key}'")
            if key == "judging":
                self.judging = bool(value)
            else:
                number = float(value)  # type: ignore[arg-type]
                if number < 0:
                    raise ValueError(f"{key} must be >= 0")
                setattr(self, key, number)
