"""Would PVE accept this packet? The verdict engine of both firewall backends.

Given a whole configuration (``ClusterConfig``), the environment it runs in (nodes, guests
with their NICs, the corosync membership, the current time) and a packet between two
endpoints, :class:`VerdictEngine` walks the packet through the same hops as the real
pve-firewall and its test simulator (reference 6.4) and evaluates each hop's chain in PVE's
order (reference 5.2, 5.3):

* guest OUT (``tap<vmid>i<n>-OUT``/``veth...-OUT``) when the packet leaves a firewalled
  guest NIC; host OUT (``PVEFW-HOST-OUT``) when it leaves a node;
* host IN (``PVEFW-HOST-IN``) when it reaches a node; ``PVEFW-FWBR-IN`` (blacklist, smurfs)
  and then guest IN when it reaches a firewalled guest NIC.

The packet is accepted only if every hop accepts it; the first hop that does not decides.
The :class:`Verdict` carries the trail: for every hop the step that decided it (a rule with
its level, position and comment, a policy, or a built-in exception), plus notes such as
rules PVE ignores because of errors.

The engine only orders the hops; each hop is evaluated by its own module: ``hop_host``
(host chains), ``hop_guest`` (guest chains), ``hop_rules`` (user rules and security
groups), over the cached configuration of ``hop_context``. The questions and answers are
defined in ``verdict_types`` and importable from here.

A node whose host option ``nftables`` is 1 is filtered by proxmox-firewall instead: its hops
are evaluated by ``nft_host`` and ``nft_guest`` (docs/nftables.md lists what differs).

Not modelled here, and said so in the verdict: ``forward`` rules and VNet firewalls (inert
on the iptables backend, reference 0 and 7.13; on the nftables backend they filter bridged
and routed traffic, which this engine does not evaluate yet), the raw table (synflood
protection of the iptables backend), logging, connection tracking (every packet is the
first of a new connection).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .._model.objects import ClusterConfig, OptionValue
from . import hop_guest, hop_host, nft_guest, nft_host
from .hop_context import HopContext
from .hop_host import COROSYNC_PORTS, MANAGEMENT_PORTS_IN, MANAGEMENT_PORTS_OUT
from .matchers import PacketView
from .nft_chains import HOST_TABLE
from .std_chains import ACCEPT, DROP, REJECT
from .verdict_places import Place, packet_view, place
from .verdict_trail import Hop, Trail
from .verdict_types import UNEVALUATED, VERDICTS, Endpoint, Environment, Packet, Step, Verdict, VerdictError

__all__ = [
    "ACCEPT",
    "AUTO_REVERT_SECONDS",
    "COROSYNC_PORTS",
    "DROP",
    "MANAGEMENT_PORTS_IN",
    "MANAGEMENT_PORTS_OUT",
    "REJECT",
    "UNEVALUATED",
    "VERDICTS",
    "Endpoint",
    "Environment",
    "Packet",
    "Step",
    "Verdict",
    "VerdictEngine",
    "VerdictError",
    "cluster_enable_state",
    "evaluate",
]

AUTO_REVERT_SECONDS = 60

HopRun = Callable[[PacketView, Trail], str]


def cluster_enable_state(options: Mapping[str, OptionValue], now: float) -> tuple[bool, str]:
    """Whether the cluster firewall is on, and why (reference 5.4: a value > 1 is the time it
    was enabled with auto-revert; more than 60 s ago it reads as 0)."""
    value = options.get("enable")
    if value is None:
        return False, "cluster.fw has no 'enable' option (default 0): nothing is filtered"
    number = int(value) if not isinstance(value, str) else int(value.strip() or 0)
    if number <= 0:
        return False, "cluster firewall disabled (enable: 0): nothing is filtered"
    if number == 1:
        return True, "cluster firewall enabled (enable: 1)"
    age = now - number
    if age > AUTO_REVERT_SECONDS:
        return False, f"cluster 'enable: {number}' is a timestamp {age:.0f}s old (> {AUTO_REVERT_SECONDS}s): reverted to 0, nothing is filtered"
    return True, f"cluster 'enable: {number}' is a timestamp {age:.0f}s old: enabled until {AUTO_REVERT_SECONDS}s have passed"


@dataclass
class VerdictEngine:
    """Answers verdict questions for one configuration; compiled rule lists are cached, so
    ask many questions of one engine."""

    config: ClusterConfig
    environment: Environment
    _context: HopContext = field(init=False)

    def __post_init__(self) -> None:
        self._context = HopContext(self.config, self.environment)

    def evaluate(self, source: Endpoint, dest: Endpoint, packet: Packet) -> Verdict:
        """The verdict for ``packet`` travelling from ``source`` to ``dest``."""
        src, dst = place(self.environment, source, dest), place(self.environment, dest, source)
        if src.kind == dst.kind == "host" and src.node == dst.node:
            raise VerdictError("source and destination are the same node")
        if src.kind == dst.kind == "guest" and (src.guest, src.nic) == (dst.guest, dst.nic):
            raise VerdictError("source and destination are the same guest NIC")
        view = packet_view(packet, src, self._context.broadcasts)
        trail = Trail()
        now = self.environment.now if self.environment.now is not None else time.time()
        enabled, why = cluster_enable_state(self.config.cluster.options, now)
        if not enabled:
            trail.add(Step("cluster", "-", "pass", ACCEPT, why, level="cluster"))
            return Verdict(ACCEPT, tuple(trail.steps))
        for evaluate_hop in self._hops(src, dst):
            action = evaluate_hop(view, trail)
            if action != ACCEPT:
                return Verdict(action, tuple(trail.steps), tuple(trail.warnings))
        if not trail.steps:
            trail.add(Step("path", "PVEFW-FORWARD", "pass", ACCEPT, "no PVE firewall chain on this path (bridged between unfirewalled ports)"))
        return Verdict(ACCEPT, tuple(trail.steps), tuple(trail.warnings))

    def _hops(self, src: Place, dst: Place) -> list[HopRun]:
        """The chains the packet passes, in order: the sender's OUT hop, then the receiver's IN
        hop; each evaluated by the backend its node runs (host option ``nftables``)."""
        hops: list[HopRun] = []
        if src.kind == "host":
            node = src.node or ""
            iface = dst.bridge if dst.kind != "host" and dst.node == node else self.environment.outside_bridge
            hops.append(self._host_hop(node, iface, "out"))
        elif src.kind == "guest":
            hops.append(self._guest_hop(src, "out"))
        if dst.kind == "host":
            node = dst.node or ""
            iface = src.bridge if src.kind != "host" and src.node == node else self.environment.outside_bridge
            hops.append(self._host_hop(node, iface, "in"))
        elif dst.kind == "guest":
            hops.append(self._guest_hop(dst, "in"))
        return hops

    def _host_hop(self, node: str, iface: str | None, direction: str) -> HopRun:
        context = self._context
        label = f"host {node} {direction.upper()}"
        if context.nftables(node):
            nft_hop = Hop(label, f"{HOST_TABLE} {'input' if direction == 'in' else 'output'}", node, iface, direction)
            return lambda view, trail: nft_host.host_chain(context, nft_hop, view, trail)
        hop = Hop(label, f"PVEFW-HOST-{direction.upper()}", node, iface, direction)
        return lambda view, trail: hop_host.host_chain(context, hop, view, trail)

    def _guest_hop(self, place: Place, direction: str) -> HopRun:
        context = self._context
        backend = nft_guest if context.nftables(place.node or "") else hop_guest
        return lambda view, trail: backend.guest_chain(context, place, direction, view, trail)


def evaluate(config: ClusterConfig, environment: Environment, source: Endpoint, dest: Endpoint, packet: Packet) -> Verdict:
    """One question without keeping an engine (compiles the configuration each time)."""
    return VerdictEngine(config, environment).evaluate(source, dest, packet)
