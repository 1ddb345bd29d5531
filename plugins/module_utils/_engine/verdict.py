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

On the nftables backend ``forward`` rules and vnet firewalls filter too (``nft_forward``):
a packet bridged within a vnet passes ``bridge-<vnet>`` of the guest table, the node's own
traffic on a vnet ``bridge-<vnet>`` of the host table, and a packet the node routes (an end
given as ``routed:<zone>``) the node's ``forward`` chain. They are inert on the iptables
backend (reference 0 and 7.13), which the trail says.

Not modelled here, and said so in the verdict: the raw table (synflood protection of the
iptables backend), logging, connection tracking (every packet is the first of a new
connection).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .._model.objects import ClusterConfig, OptionValue
from . import hop_guest, hop_host, nft_forward, nft_guest, nft_host
from .hop_context import HopContext
from .hop_host import COROSYNC_PORTS, MANAGEMENT_PORTS_IN, MANAGEMENT_PORTS_OUT
from .matchers import PacketView, option_flag
from .nft_chains import GUEST_TABLE, HOST_TABLE
from .std_chains import ACCEPT, DROP, REJECT
from .verdict_places import Place, packet_view, place, single_node
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
        warnings: list[str] = []
        hops = self._hops(src, dst, warnings)
        for warning in warnings:
            trail.warn(warning)
        for evaluate_hop in hops:
            action = evaluate_hop(view, trail)
            if action != ACCEPT:
                return Verdict(action, tuple(trail.steps), tuple(trail.warnings))
        if not trail.steps:
            trail.add(Step("path", "PVEFW-FORWARD", "pass", ACCEPT, "no PVE firewall chain on this path (bridged between unfirewalled ports)"))
        return Verdict(ACCEPT, tuple(trail.steps), tuple(trail.warnings))

    def _hops(self, src: Place, dst: Place, warnings: list[str]) -> list[HopRun]:
        """The chains the packet passes, in order: the sender's OUT hop, the vnet it is bridged
        in or the node that routes it, then the receiver's IN hop; each evaluated by the backend
        its node runs (host option ``nftables``)."""
        if src.routed or dst.routed:
            return self._routed_hops(src, dst)
        hops: list[HopRun] = []
        if src.kind == "host":
            node = src.node or ""
            iface = dst.bridge if dst.kind != "host" and dst.node == node else self.environment.outside_bridge
            hops.append(self._host_hop(node, iface, "out"))
            hops += self._host_vnet_hops(node, iface, "output")
        elif src.kind == "guest":
            hops.append(self._guest_hop(src, "out"))
        if src.kind != "host" and dst.kind != "host":
            hops += self._bridged_vnet_hops(src, dst, warnings)
        if dst.kind == "host":
            node = dst.node or ""
            iface = src.bridge if src.kind != "host" and src.node == node else self.environment.outside_bridge
            hops += self._host_vnet_hops(node, iface, "input")
            hops.append(self._host_hop(node, iface, "in"))
        elif dst.kind == "guest":
            hops.append(self._guest_hop(dst, "in"))
        return hops

    def _routed_hops(self, src: Place, dst: Place) -> list[HopRun]:
        """A packet the node routes: the sender's OUT hop, the node's forward chains, the
        receiver's IN hop. A frame routed out of or into a vnet does not pass ``bridge-<vnet>``:
        the bridge hands it to the node, whose ``forward`` hook sees it (skeleton)."""
        if src.kind == "host" or dst.kind == "host":
            raise VerdictError("a routed packet passes through a node: neither end can be a node itself (drop 'routed:' to ask the node's own traffic)")
        nodes = {end.node for end in (src, dst) if end.kind == "guest"}
        if len(nodes) > 1:
            raise VerdictError(
                f"a routed packet between guests on different nodes ({', '.join(sorted(str(node) for node in nodes))}) passes each node's forward "
                "chain: ask each half, from the first guest to 'routed:<bridge>/<port>' and from 'routed:<bridge>/<port>' to the second"
            )
        node = next(iter(nodes), None) or src.node or dst.node or single_node(self.environment.inventory)
        hops: list[HopRun] = []
        if src.kind == "guest":
            hops.append(self._guest_hop(src, "out"))
        hops.append(self._forward_hop(node))
        if dst.kind == "guest":
            hops.append(self._guest_hop(dst, "in"))
        return hops

    def _forward_hop(self, node: str) -> HopRun:
        context = self._context
        label = f"host {node} FORWARD"
        if context.nftables(node):
            return lambda view, trail: nft_forward.forward_chain(context, node, label, view, trail)

        def inert(view: PacketView, trail: Trail) -> str:
            count = sum(rule.type == "forward" for fw in (context.host_file(node), context.config.cluster) for rule in fw.rules)
            ignored = f"; {count} forward rule(s) at host/cluster level ignored (they need nftables: 1)" if count else ""
            detail = f"pve-firewall filters no traffic the node routes between non-guest interfaces (forward rules are inert on the iptables backend){ignored}"
            trail.add(Step(label, "PVEFW-FORWARD", "pass", ACCEPT, detail, level="host", node=node))
            return ACCEPT

        return inert

    def _bridged_vnet_hops(self, src: Place, dst: Place, warnings: list[str]) -> list[HopRun]:
        """``bridge-<vnet>`` of the guest table on each node that bridges the frame within the
        vnet (``meta ibrname . meta obrname vmap @bridge-map``: both ends on the vnet)."""
        context = self._context
        vnet = src.bridge if src.bridge == dst.bridge else None
        if vnet is None:
            warnings += self._crossing(src, dst)
            return []
        if not nft_forward.vnet_enabled(context, vnet):
            return []
        hops: list[HopRun] = []
        for node in dict.fromkeys(end.node for end in (src, dst) if end.node):
            if not context.nftables(node):
                continue  # inert on the iptables backend; the guest hops note it
            hops.append(self._vnet_hop(GUEST_TABLE, vnet, node, f"vnet {vnet} on {node}"))
        return hops

    def _vnet_hop(self, table: str, vnet: str, node: str, label: str) -> HopRun:
        context = self._context
        return lambda view, trail: nft_forward.vnet_chain(context, table, vnet, node, label, view, trail)

    def _host_vnet_hops(self, node: str, iface: str | None, hook: str) -> list[HopRun]:
        """``host-bridge-input``/``-output`` send the node's own traffic on a vnet to the host
        table's ``bridge-<vnet>`` (only while the host firewall is on: else no table)."""
        context = self._context
        if not iface or not context.nftables(node) or not nft_forward.vnet_enabled(context, iface):
            return []
        if not option_flag(context.host_file(node).options, "host", "enable"):
            return []
        return [self._vnet_hop(HOST_TABLE, iface, node, f"host {node} {'IN' if hook == 'input' else 'OUT'} via vnet {iface}")]

    def _crossing(self, src: Place, dst: Place) -> list[str]:
        """A path between two bridges where one is a vnet with a firewall: say how to ask it."""
        context = self._context
        vnets = [end.bridge for end in (src, dst) if end.bridge and nft_forward.vnet_enabled(context, end.bridge)]
        if not vnets or not any(context.nftables(end.node or "") for end in (src, dst) if end.node):
            return []
        return [
            f"{src.label} and {dst.label} are on different bridges ({src.bridge}, {dst.bridge}): the vnet firewall of {', '.join(vnets)} "
            "is not asked; give both ends on the vnet ('<vnet>/<port>') for bridged traffic, or one end as 'routed:<zone>' for routed traffic"
        ]

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
