"""The questions the verdict engine answers and its answers: a packet between two endpoints
in an environment, and the verdict with the trail of steps that decided it.

Kept apart from the engine so that the hop modules, which produce the steps, can use them
without importing the engine that drives them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._model.corosync import Corosync
from .._model.errors import PveFirewallError
from .._model.inventory import Inventory
from .std_chains import ACCEPT, DROP, REJECT

UNEVALUATED = "UNEVALUATED"
VERDICTS = (ACCEPT, DROP, REJECT, UNEVALUATED)


class VerdictError(PveFirewallError, ValueError):
    """The question cannot be asked: an unknown guest or node, mixed address families, ..."""


# ---------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True)
class Packet:
    """The first packet of a new connection.

    ``proto`` is a name or number from /etc/protocols (or ``icmpv6``). ``icmp_type`` is an
    ICMP type name of the packet's ICMP family or a number ``type[/code]``. ``srctype`` and
    ``dsttype`` are iptables address types (UNICAST, BROADCAST, MULTICAST, ANYCAST); when
    None they follow from the address. ``source_mac`` defaults to the sending NIC's MAC.
    """

    source: str
    dest: str
    proto: str = "tcp"
    dport: int | None = None
    sport: int | None = None
    icmp_type: str | None = None
    srctype: str | None = None
    dsttype: str | None = None
    source_mac: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """Where a packet comes from or goes to.

    ``kind`` is ``host`` (a node; ``node`` None means the only node), ``guest`` (``vmid`` and
    ``nic``), ``port`` (a port of a bridge, e.g. ``vmbr0``/``eth0``: the physical network
    or an unfirewalled guest; ``bridge`` None means the outside bridge of the environment) or
    ``address`` (resolved: a node's address is that host, a container's configured address
    is that guest NIC, anything else is outside).

    ``routed``: the packet reaches or leaves this endpoint through the node's routing rather
    than a bridge, so it passes the node's forward chains (nftables backend).
    """

    kind: str
    node: str | None = None
    vmid: int | None = None
    nic: str = "net0"
    bridge: str | None = None
    port: str | None = None
    address: str | None = None
    routed: bool = False

    @classmethod
    def host(cls, node: str | None = None) -> Endpoint:
        return cls("host", node=node)

    @classmethod
    def guest(cls, vmid: int, nic: str = "net0") -> Endpoint:
        return cls("guest", vmid=vmid, nic=nic)

    @classmethod
    def bridge_port(cls, bridge: str | None = None, port: str | None = None, node: str | None = None) -> Endpoint:
        return cls("port", node=node, bridge=bridge, port=port)

    @classmethod
    def outside(cls, node: str | None = None) -> Endpoint:
        return cls("port", node=node)

    @classmethod
    def at_address(cls, address: str) -> Endpoint:
        return cls("address", address=address)


@dataclass(frozen=True)
class Environment:
    """What the configuration is applied to.

    ``now`` (UNIX time) decides whether a cluster ``enable`` timestamp has expired; None
    means the current time. The outside bridge and port are where traffic from and to the
    physical network passes (PVE's tests: vmbr0 and eth0).
    """

    inventory: Inventory
    corosync: Corosync | None = None
    now: float | None = None
    outside_bridge: str = "vmbr0"
    outside_port: str = "eth0"


# ---------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True)
class Step:
    """One entry of a verdict's trail.

    ``kind``: ``rule`` (a user rule decided), ``policy``, ``builtin`` (an exception or filter
    PVE adds: management, corosync, DHCP, NDP, MAC filter, ipfilter, blacklist, smurfs,
    IGMP, router advertisements, the policies' noise handling), ``pass`` (the hop has no
    filtering, e.g. an unfirewalled guest), ``note`` (information that did not decide).
    ``level`` is where the deciding object lives: cluster, host, vm, ct, group or builtin.
    ``position`` is the rule's PVE ``pos`` in its list (for group rules: in the group).
    """

    hop: str
    chain: str
    kind: str
    action: str
    detail: str
    level: str = "builtin"
    position: int | None = None
    rule: str | None = None
    comment: str | None = None
    group: str | None = None
    node: str | None = None
    vmid: int | None = None
    group_reference: Step | None = None  # for a group rule: the rule that jumped to the group

    def __str__(self) -> str:
        return f"[{self.hop}] {self.chain}: {self.action} - {self.detail}"


@dataclass(frozen=True)
class Verdict:
    action: str  # ACCEPT, DROP, REJECT or UNEVALUATED
    trail: tuple[Step, ...]
    warnings: tuple[str, ...] = ()

    @property
    def decided_by(self) -> Step | None:
        """The step that gave the final verdict (for ACCEPT: the last hop's decision)."""
        return next((step for step in reversed(self.trail) if step.kind != "note"), None)

    @property
    def accepted(self) -> bool:
        return self.action == ACCEPT

    def explain(self) -> str:
        lines = [f"verdict: {self.action}"] + [f"  {step}" for step in self.trail]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)
