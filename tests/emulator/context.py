"""What every handler may use: the files, the topology, the clock and the firewall logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .fwlog import FirewallLog
from .knobs import Clock
from .state import FileStore
from .topology import Topology


@dataclass(frozen=True)
class ClusterContext:
    store: FileStore
    topology: Topology
    clock: Clock
    logs: FirewallLog


@dataclass(frozen=True)
class Call:
    """One API call as a handler sees it: validated parameters (path ones included)."""

    ctx: ClusterContext
    params: dict[str, Any]
    user: str = "root@pam"
    served_by: str = ""  # the node whose listener took the request ('' off the API listeners)
