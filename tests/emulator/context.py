"""What every handler may use: the files, the topology, the clock and the firewall logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .fwlog import FirewallLog
from .guests import GuestConfigs
from .knobs import Clock
from .state import FileStore
from .topology import Topology


@dataclass(frozen=True)
class ClusterContext:
    store: FileStore
    base_topology: Topology  # as started; the guests' NICs then follow their config lines
    clock: Clock
    logs: FirewallLog
    configs: GuestConfigs = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "configs", GuestConfigs(self.base_topology))

    @property
    def topology(self) -> Topology:
        """The cluster now: the base topology with every guest's current NICs."""
        return self.configs.topology


@dataclass(frozen=True)
class Call:
    """One API call as a handler sees it: validated parameters (path ones included)."""

    ctx: ClusterContext
    params: dict[str, Any]
    user: str = "root@pam"
    served_by: str = ""  # the node whose listener took the request ('' off the API listeners)
