"""Would PVE accept this packet? The verdict engine of the iptables backend.

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

Not modelled here, and said so in the verdict: the nftables backend (host option
``nftables: 1``; its semantics are not part of the reference, so such hops give
``UNEVALUATED``), ``forward`` rules and VNet firewalls (inert on the iptables backend,
reference 0 and 7.13), the raw table (synflood protection), logging, connection tracking
(every packet is the first of a new connection).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .addrset import AddressSet
from .._model.corosync import Corosync
from .._compiler.fw_format import render_rule_line
from .._model.inventory import Guest, Inventory, Nic, Node
from .matchers import (
    CompiledRule,
    PacketView,
    RuleContext,
    RuleIndex,
    SetLibrary,
    compile_rules,
    iface_matches,
    effective_option,
    option_flag,
    parse_icmp_type,
    references,
)
from .._model.objects import ClusterConfig, FileKind, FirewallFile, Level, OptionValue, Rule
from .._reference.netbase import protocol_number
from .._compiler.rule_validation import References
from .std_chains import ACCEPT, DROP, REJECT, is_multicast, policy, port_in, reject, smurf

UNEVALUATED = "UNEVALUATED"
VERDICTS = (ACCEPT, DROP, REJECT, UNEVALUATED)

# Built-in exceptions of the host chains (reference 5.2, FW:2949-2957 and the OUT list).
MANAGEMENT_PORTS_IN = ((8006, 8006), (5900, 5999), (3128, 3128), (22, 22), (60000, 60050))
MANAGEMENT_PORTS_OUT = ((8006, 8006), (22, 22), (5900, 5999), (3128, 3128))
COROSYNC_PORTS = (5404, 5405)
AUTO_REVERT_SECONDS = 60

_TCP, _UDP, _IGMP, _ICMPV6 = 6, 17, 2, 58
_NDP_TYPES = {133: "router-solicitation", 134: "router-advertisement", 135: "neighbor-solicitation", 136: "neighbor-advertisement"}
_EMPTY = {
    FileKind.CLUSTER: FirewallFile(FileKind.CLUSTER),
    FileKind.HOST: FirewallFile(FileKind.HOST),
    FileKind.GUEST: FirewallFile(FileKind.GUEST),
}


class VerdictError(ValueError):
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
    """

    kind: str
    node: str | None = None
    vmid: int | None = None
    nic: str = "net0"
    bridge: str | None = None
    port: str | None = None
    address: str | None = None

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


# ---------------------------------------------------------------------------------------
# Helpers


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


def _address_type(version: int, address: int, broadcasts: frozenset[int]) -> str:
    """iptables' address type as the node's routing table would give it."""
    if version == 4 and (address == 0xFFFFFFFF or address in broadcasts):
        return "BROADCAST"
    return "MULTICAST" if is_multicast(version, address) else "UNICAST"


def _chain_device(guest: Guest, nic: Nic) -> str:
    return f"{'tap' if guest.type == 'qemu' else 'veth'}{guest.vmid}i{nic.index}"


def _policy_option(options: Mapping[str, OptionValue], level: str, key: str) -> str:
    return str(effective_option(options, level, key)).upper()


@dataclass(frozen=True)
class _Place:
    """An endpoint resolved against the inventory."""

    kind: str  # host, guest, port
    node: str | None
    label: str
    guest: Guest | None = None
    nic: Nic | None = None
    bridge: str | None = None


@dataclass(frozen=True)
class _Hop:
    """One chain evaluation: its trail label, chain, the node it runs on and its interface."""

    label: str
    chain: str
    node: str
    iface: str | None = None
    direction: str = "in"  # rule type used: in or out


class _Trail:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.warnings: list[str] = []

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def note(self, hop: _Hop, detail: str, **extra: object) -> None:
        self.steps.append(Step(hop.label, hop.chain, "note", "-", detail, node=hop.node, **extra))  # type: ignore[arg-type]


def _unfiltered(hop: _Hop, guest: Guest, detail: str, trail: _Trail) -> str:
    """A guest hop PVE does not filter at all: recorded as a pass, accepted."""
    trail.add(Step(hop.label, hop.chain, "pass", ACCEPT, detail, level=guest.level, node=guest.node, vmid=guest.vmid))
    return ACCEPT


# ---------------------------------------------------------------------------------------
# The engine


@dataclass
class VerdictEngine:
    """Answers verdict questions for one configuration; compiled rule lists are cached, so
    ask many questions of one engine."""

    config: ClusterConfig
    environment: Environment
    _sets: SetLibrary = field(init=False)
    _indexes: dict[tuple[object, ...], RuleIndex] = field(init=False, default_factory=dict)
    _references: dict[int, References] = field(init=False, default_factory=dict)
    _management_sets: dict[tuple[str, int], AddressSet] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        inventory = self.environment.inventory
        guests = {vmid: (guest_fw.file, inventory.guest(vmid)) for vmid, guest_fw in self.config.guests.items()}
        self._sets = SetLibrary(self.config.cluster, guests)
        self._broadcasts = frozenset(
            int(network.broadcast_address)
            for network in (self._local_network(node) for node in inventory.nodes.values())
            if network is not None and network.version == 4 and network.prefixlen < 31
        )

    # -- public -------------------------------------------------------------------------

    def evaluate(self, source: Endpoint, dest: Endpoint, packet: Packet) -> Verdict:
        """The verdict for ``packet`` travelling from ``source`` to ``dest``."""
        src, dst = self._place(source, dest), self._place(dest, source)
        if src.kind == dst.kind == "host" and src.node == dst.node:
            raise VerdictError("source and destination are the same node")
        if src.kind == dst.kind == "guest" and (src.guest, src.nic) == (dst.guest, dst.nic):
            raise VerdictError("source and destination are the same guest NIC")
        view = self._view(packet, src)
        trail = _Trail()
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

    # -- places and packets -------------------------------------------------------------

    def _single_node(self) -> str:
        nodes = self.environment.inventory.nodes
        if len(nodes) != 1:
            raise VerdictError(f"say which node: the inventory has {len(nodes)} nodes ({', '.join(sorted(nodes)) or 'none'})")
        return next(iter(nodes))

    def _node(self, name: str) -> Node:
        node = self.environment.inventory.nodes.get(name)
        if node is None:
            raise VerdictError(f"unknown node '{name}' (known: {', '.join(sorted(self.environment.inventory.nodes)) or 'none'})")
        return node

    def _place(self, endpoint: Endpoint, other: Endpoint) -> _Place:
        inventory = self.environment.inventory
        if endpoint.kind == "address":
            endpoint = self._endpoint_of_address(endpoint.address or "")
        if endpoint.kind == "host":
            name = endpoint.node or self._single_node()
            self._node(name)
            return _Place("host", name, f"host {name}")
        if endpoint.kind == "guest":
            guest = inventory.guest(endpoint.vmid or 0)
            if guest is None:
                raise VerdictError(f"unknown guest {endpoint.vmid}: not in the inventory")
            nic = guest.nic(endpoint.nic)
            if nic is None:
                raise VerdictError(f"guest {guest.vmid} has no NIC {endpoint.nic}")
            return _Place("guest", guest.node, f"{guest.level} {guest.vmid} {nic.name}", guest, nic, nic.bridge)
        if endpoint.kind == "port":
            bridge = endpoint.bridge or self.environment.outside_bridge
            port = endpoint.port or self.environment.outside_port
            node = endpoint.node or self._node_of(other)
            return _Place("port", node, f"port {bridge}/{port}", bridge=bridge)
        raise VerdictError(f"unknown endpoint kind '{endpoint.kind}'")

    def _node_of(self, endpoint: Endpoint) -> str | None:
        """The node a bridge port belongs to: the other endpoint's node."""
        if endpoint.kind == "address":
            endpoint = self._endpoint_of_address(endpoint.address or "")
        if endpoint.kind == "host":
            return endpoint.node or self._single_node()
        if endpoint.kind == "guest":
            guest = self.environment.inventory.guest(endpoint.vmid or 0)
            return guest.node if guest else None
        return endpoint.node

    def _endpoint_of_address(self, text: str) -> Endpoint:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise VerdictError(f"'{text}' is not an IP address") from None
        inventory = self.environment.inventory
        for node in inventory.nodes.values():
            if _same_address(node.address, address):
                return Endpoint.host(node.name)
        for guest in inventory.guests.values():
            for nic in guest.nics:
                if any(_same_address(value, address) for value in (nic.ip, nic.ip6) if value):
                    return Endpoint.guest(guest.vmid, nic.name)
        return Endpoint.outside()

    def _view(self, packet: Packet, src: _Place) -> PacketView:
        try:
            source, dest = ipaddress.ip_address(packet.source), ipaddress.ip_address(packet.dest)
        except ValueError as error:
            raise VerdictError(f"packet address: {error}") from None
        if source.version != dest.version:
            raise VerdictError(f"source {source} and destination {dest} are of different IP families")
        proto = protocol_number(str(packet.proto))
        if proto is None:
            raise VerdictError(f"unknown protocol '{packet.proto}'")
        icmp = None
        if packet.icmp_type is not None:
            if proto not in (1, _ICMPV6):
                raise VerdictError(f"an ICMP type needs proto icmp or icmpv6, not '{packet.proto}'")
            try:
                kind, code = parse_icmp_type(packet.icmp_type, 4 if proto == 1 else 6)
            except ValueError as error:
                raise VerdictError(str(error)) from None
            icmp = (kind if kind is not None else 0, code if code is not None else 0)
        mac = packet.source_mac or (src.nic.mac if src.nic else None)
        version = source.version
        return PacketView(
            version=version,
            source=int(source),
            dest=int(dest),
            proto=proto,
            dport=packet.dport,
            sport=packet.sport,
            icmp=icmp,
            srctype=(packet.srctype or _address_type(version, int(source), self._broadcasts)).upper(),
            dsttype=(packet.dsttype or _address_type(version, int(dest), self._broadcasts)).upper(),
            source_mac=mac.lower() if mac else None,
        )

    # -- files and options ----------------------------------------------------------------

    def _host_file(self, node: str) -> FirewallFile:
        return self.config.hosts.get(node) or _EMPTY[FileKind.HOST]

    def _guest_file(self, vmid: int) -> FirewallFile | None:
        guest = self.config.guests.get(vmid)
        return guest.file if guest else None

    def _local_network(self, node: Node) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The cluster alias ``local_network``, else the node's (reference 5.2). Without a
        routing table the node's network must be given; failing that only the node's own
        address counts (a conservative choice: it never grants access PVE would not)."""
        alias = self.config.cluster.alias("local_network")
        for text in (alias.cidr if alias else None, node.local_network):
            if text:
                try:
                    return ipaddress.ip_network(text, strict=False)
                except ValueError:
                    continue
        try:
            return ipaddress.ip_network(ipaddress.ip_interface(node.address).ip)
        except ValueError:
            return None

    def _nftables(self, node: str) -> bool:
        return option_flag(self._host_file(node).options, "host", "nftables")

    # -- the walk -------------------------------------------------------------------------

    def _hops(self, src: _Place, dst: _Place) -> list[Callable[[PacketView, _Trail], str]]:
        hops: list[Callable[[PacketView, _Trail], str]] = []
        if src.kind == "host":
            node = src.node or ""
            iface = dst.bridge if dst.kind != "host" and dst.node == node else self.environment.outside_bridge
            hop = _Hop(f"host {node} OUT", "PVEFW-HOST-OUT", node, iface, "out")
            hops.append(lambda view, trail: self._host_chain(hop, view, trail))
        elif src.kind == "guest":
            hops.append(lambda view, trail: self._guest_chain(src, "out", view, trail))
        if dst.kind == "host":
            node = dst.node or ""
            iface = src.bridge if src.kind != "host" and src.node == node else self.environment.outside_bridge
            hop_in = _Hop(f"host {node} IN", "PVEFW-HOST-IN", node, iface, "in")
            hops.append(lambda view, trail: self._host_chain(hop_in, view, trail))
        elif dst.kind == "guest":
            hops.append(lambda view, trail: self._guest_chain(dst, "in", view, trail))
        return hops

    def _unevaluated(self, hop: _Hop, trail: _Trail) -> str:
        trail.add(
            Step(
                hop.label,
                hop.chain,
                "note",
                UNEVALUATED,
                f"node {hop.node} uses the nftables backend (host.fw nftables: 1); pve-firewall generates nothing "
                "there and the nftables semantics are not evaluated by this engine",
                level="host",
                node=hop.node,
            )
        )
        return UNEVALUATED

    # -- host chains (reference 5.2) ----------------------------------------------------------

    def _host_chain(self, hop: _Hop, view: PacketView, trail: _Trail) -> str:
        if self._nftables(hop.node):
            return self._unevaluated(hop, trail)
        host = self._host_file(hop.node)
        options = host.options
        if not option_flag(options, "host", "enable"):
            trail.add(
                Step(
                    hop.label,
                    hop.chain,
                    "pass",
                    ACCEPT,
                    f"host firewall of {hop.node} disabled (host.fw enable: 0): {hop.chain} is not generated",
                    level="host",
                    node=hop.node,
                )
            )
            return ACCEPT
        self._note_forward_rules(hop, trail)
        incoming = hop.direction == "in"
        if view.version == 6 and option_flag(options, "host", "ndp") and view.proto == _ICMPV6 and view.icmp:
            name = _NDP_TYPES.get(view.icmp[0])
            if name and (incoming or name != "router-advertisement"):
                return self._builtin(trail, hop, ACCEPT, f"neighbor discovery ({name}) is allowed (host option ndp)")
        if incoming:
            filtered = self._input_filters(hop, options, view, trail)
            if filtered is not None:
                return filtered
        if view.proto == _IGMP:
            return self._builtin(trail, hop, ACCEPT, "IGMP is always allowed (multicast)")
        levels = (("host", host, Level.HOST), ("cluster", self.config.cluster, Level.CLUSTER))
        for level_name, fw, level in levels:
            key = ("host-rules", level_name, hop.node if level_name == "host" else "")
            index = self._rule_index(key, fw.rules, RuleContext(level, self._refs(None)), view, hop.direction, f"{level_name}.fw")
            decided = self._run_rules(index, hop, level_name, view, trail)
            if decided is not None:
                return decided
        decided = self._management(hop, view, trail) or self._corosync(hop, view, trail)
        if decided is not None:
            return decided
        option = "policy_in" if incoming else "policy_out"
        name = _policy_option(self.config.cluster.options, "cluster", option)
        action, why = policy(name, view)
        trail.add(Step(hop.label, hop.chain, "policy", action, f"cluster {option} {name}: {why}", level="cluster", node=hop.node))
        return action

    def _input_filters(self, hop: _Hop, host_options: Mapping[str, OptionValue], view: PacketView, trail: _Trail) -> str | None:
        """Blacklist, smurfs (and tcpflags, which a SYN never trips): HOST-IN and FWBR-IN."""
        if self._sets.has_set(0, "blacklist") and view.source in self._sets.ipset(0, "blacklist", view.version):
            return self._builtin(trail, hop, DROP, "source is in the cluster ipset 'blacklist'")
        if option_flag(host_options, "host", "nosmurfs"):
            why = smurf(view)
            if why:
                return self._builtin(trail, hop, DROP, why)
        return None

    def _management(self, hop: _Hop, view: PacketView, trail: _Trail) -> str | None:
        if view.proto != _TCP:
            return None
        if self.config.cluster.alias("local_network") is None and self._node(hop.node).local_network is None:
            trail.warn(
                f"local_network of node {hop.node} is unknown (no cluster alias local_network, no local_network in the inventory): "
                "only the node's own address counts as local"
            )
        if hop.direction == "in":
            if port_in(view.dport, *MANAGEMENT_PORTS_IN) and view.source in self._management_set(hop.node, view.version):
                return self._builtin(trail, hop, ACCEPT, f"management exception: source in ipset 'management' (with local_network), tcp port {view.dport}")
            return None
        network = self._local_network(self._node(hop.node))
        if network is not None and network.version == view.version and port_in(view.dport, *MANAGEMENT_PORTS_OUT):
            if int(network.network_address) <= view.dest <= int(network.broadcast_address):
                return self._builtin(trail, hop, ACCEPT, f"local_network exception: destination in {network}, tcp port {view.dport}")
        return None

    def _management_set(self, node: str, version: int) -> AddressSet:
        key = (node, version)
        if key not in self._management_sets:
            library = SetLibrary(self.config.cluster, {}, self._local_network(self._node(node)))
            self._management_sets[key] = library.ipset(0, "management", version)
        return self._management_sets[key]

    def _corosync(self, hop: _Hop, view: PacketView, trail: _Trail) -> str | None:
        corosync = self.environment.corosync
        if corosync is None or view.proto != _UDP or not port_in(view.dport, COROSYNC_PORTS):
            return None
        if corosync.multicast and view.dsttype == "MULTICAST":
            return self._builtin(trail, hop, ACCEPT, "corosync multicast (transport udp), udp 5404:5405")
        local = corosync.node(hop.node)
        if local is None:
            return None
        incoming = hop.direction == "in"
        for other in corosync.nodes:
            if other.name == hop.node:
                continue
            for link, address in other.links.items():
                mine = local.links.get(link)
                if mine is None:
                    continue
                local_end, remote_end = (view.dest, view.source) if incoming else (view.source, view.dest)
                if _same_int(mine, view.version, local_end) and _same_int(address, view.version, remote_end):
                    return self._builtin(trail, hop, ACCEPT, f"corosync link {link} with node {other.name} ({address}), udp 5404:5405")
        return None

    # -- guest chains (reference 5.3) ------------------------------------------------------

    def _guest_chain(self, place: _Place, direction: str, view: PacketView, trail: _Trail) -> str:
        guest, nic = place.guest, place.nic
        if guest is None or nic is None:
            raise VerdictError(f"{place.label} is not a guest NIC")
        device = _chain_device(guest, nic)
        hop = _Hop(f"{place.label} {direction.upper()}", f"{device}-{direction.upper()}", guest.node, nic.name, direction)
        if self._nftables(guest.node):
            return self._unevaluated(hop, trail)
        self._note_vnet(hop, nic, trail)
        if not nic.firewall:
            return _unfiltered(hop, guest, f"{nic.name} has no firewall=1: the NIC is not filtered", trail)
        if direction == "in":
            fwbr = _Hop(f"{place.label} IN", "PVEFW-FWBR-IN", guest.node, nic.name, "in")
            filtered = self._input_filters(fwbr, self._host_file(guest.node).options, view, trail)
            if filtered is not None:
                return filtered
        fw = self._guest_file(guest.vmid)
        if fw is None or not option_flag(fw.options, "vm", "enable"):
            why = "has no firewall file" if fw is None else "is not enabled (no 'enable: 1')"
            return _unfiltered(hop, guest, f"guest {guest.vmid} {why}: its traffic is not filtered", trail)
        options = fw.options
        decided = self._guest_builtins(hop, guest, nic, options, view, trail)
        if decided is not None:
            return decided
        level = Level.CT if guest.type == "lxc" else Level.VM
        index = self._rule_index(("guest-rules", guest.vmid), fw.rules, RuleContext(level, self._refs(fw), guest.vmid), view, direction, f"{guest.vmid}.fw")
        decided = self._run_rules(index, hop, guest.level, view, trail, vmid=guest.vmid)
        if decided is not None:
            return decided
        key = f"policy_{direction}"
        name = _policy_option(options, "vm", key)
        action, why = policy(name, view)
        trail.add(Step(hop.label, hop.chain, "policy", action, f"guest {guest.vmid} {key} {name}: {why}", level=guest.level, node=guest.node, vmid=guest.vmid))
        return action

    def _guest_builtins(self, hop: _Hop, guest: Guest, nic: Nic, options: Mapping[str, OptionValue], view: PacketView, trail: _Trail) -> str | None:
        """DHCP, MAC filter, router advertisements, ipfilter, NDP: before the guest's rules."""
        outgoing = hop.direction == "out"
        if option_flag(options, "vm", "dhcp") and view.proto == _UDP:
            client, server = (68, 67) if view.version == 4 else (546, 547)
            sport, dport = (client, server) if outgoing else (server, client)
            if view.sport == sport and view.dport == dport:
                return self._builtin(trail, hop, ACCEPT, f"DHCP {'request' if outgoing else 'reply'} (udp {sport} -> {dport}) is allowed (guest option dhcp)")
        if outgoing:
            if option_flag(options, "vm", "macfilter") and view.source_mac != nic.mac.lower():
                return self._builtin(trail, hop, DROP, f"MAC filter: source MAC {view.source_mac} is not {nic.name}'s {nic.mac} (guest option macfilter)")
            if view.version == 6 and not option_flag(options, "vm", "radv") and view.proto == _ICMPV6 and view.icmp and view.icmp[0] == 134:
                return self._builtin(trail, hop, DROP, "router advertisements from the guest are dropped (guest option radv not set)")
            if self._sets.ipfilter_applies(guest.vmid, nic, options):
                members = self._sets.ipset(guest.vmid, f"ipfilter-{nic.name}", view.version)
                if view.source not in members:
                    return self._builtin(
                        trail, hop, DROP, f"ipfilter: source is not in ipset ipfilter-{nic.name} ({len(members)} address ranges of IPv{view.version})"
                    )
        if view.version == 6 and option_flag(options, "vm", "ndp") and view.proto == _ICMPV6 and view.icmp:
            name = _NDP_TYPES.get(view.icmp[0])
            if name and (not outgoing or name != "router-advertisement" or option_flag(options, "vm", "radv")):
                return self._builtin(trail, hop, ACCEPT, f"neighbor discovery ({name}) is allowed (guest option ndp)")
        return None

    # -- user rules and groups ----------------------------------------------------------------

    def _refs(self, own: FirewallFile | None) -> References:
        key = id(own)
        if key not in self._references:
            self._references[key] = references(self.config.cluster, own)
        return self._references[key]

    def _rule_index(self, key: tuple[object, ...], rules: Sequence[Rule], context: RuleContext, view: PacketView, direction: str, location: str) -> RuleIndex:
        """The compiled, indexed rules of one list for a family and direction (cached)."""
        cache_key = (*key, view.version, direction)
        if cache_key not in self._indexes:
            entries = compile_rules(rules, context, view.version, self._sets, location=location)
            self._indexes[cache_key] = RuleIndex.build(entries, direction)
        return self._indexes[cache_key]

    def _run_rules(
        self,
        index: RuleIndex,
        hop: _Hop,
        level: str,
        view: PacketView,
        trail: _Trail,
        *,
        vmid: int | None = None,
        group: str | None = None,
        reference: Step | None = None,
    ) -> str | None:
        """One rule list in order: the first matching rule decides; a group rule runs its group
        and decides if the group does. Rules PVE ignores are noted up to the decision."""
        start = len(trail.steps)
        decided, position = None, None
        for entry in index.candidates(view):
            rule = entry.rule
            if rule.type == "group":
                if rule.iface is not None and not iface_matches(rule.iface, hop.iface):
                    continue
                line = _rule_text(rule)
                jump = Step(
                    hop.label,
                    hop.chain,
                    "rule",
                    "-",
                    f"{level} rule pos {entry.position}: {line}{_comment(rule)}",
                    level=level,
                    position=entry.position,
                    rule=line,
                    comment=rule.comment,
                    node=hop.node,
                    vmid=vmid,
                )
                decided = self._run_group(rule.action, jump, hop, view, trail)
            elif entry.matches(view, hop.iface):
                decided = self._rule_decision(entry, hop, level, view, trail, vmid=vmid, group=group, reference=reference)
            if decided is not None:
                position = entry.position
                break
        notes = [
            Step(
                hop.label,
                hop.chain,
                "note",
                "-",
                f"{f'group {group}' if group else level} rule pos {skipped.position} ignored by PVE ({skipped.reason}): {_rule_text(skipped.rule)}",
                level=level,
                position=skipped.position,
                rule=_rule_text(skipped.rule),
                group=group,
                node=hop.node,
                vmid=vmid,
            )
            for skipped in index.skipped
            if not skipped.reason.startswith(("disabled", "IPv")) and (position is None or skipped.position < position)
        ]
        trail.steps[start:start] = notes
        for skipped in index.skipped:
            if "SDN" in skipped.reason:
                trail.warn(f"{level} rule pos {skipped.position} ({_rule_text(skipped.rule)}) was left out: {skipped.reason}")
        return decided

    def _run_group(self, name: str, reference: Step, hop: _Hop, view: PacketView, trail: _Trail) -> str | None:
        """A security group: the first matching rule decides; no match falls through."""
        group = next((item for item in self.config.cluster.groups if item.name == name), None)
        group_hop = _Hop(hop.label, f"GROUP-{name}-{hop.direction.upper()}", hop.node, None, hop.direction)
        if group is None:
            trail.note(group_hop, f"security group '{name}' does not exist: the jump is a no-op", group=name)
            return None
        index = self._rule_index(("group", name), group.rules, RuleContext(Level.GROUP, self._refs(None)), view, hop.direction, f"group {name}")
        return self._run_rules(index, group_hop, "group", view, trail, group=name, reference=reference)

    def _rule_decision(
        self,
        entry: CompiledRule,
        hop: _Hop,
        level: str,
        view: PacketView,
        trail: _Trail,
        *,
        vmid: int | None = None,
        group: str | None = None,
        reference: Step | None = None,
    ) -> str:
        rule = entry.rule
        line = _rule_text(rule, in_group=group is not None)
        where = f"group {group} rule pos {entry.position} (via {reference.detail})" if group and reference else f"{level} rule pos {entry.position}"
        action = rule.action
        detail = f"{where}: {line}{_comment(rule)}"
        if action == REJECT:
            action, why = reject(view)
            if action != REJECT:
                detail += f" ({why})"
        trail.add(
            Step(
                hop.label,
                hop.chain,
                "rule",
                action,
                detail,
                level=level,
                position=entry.position,
                rule=line,
                comment=rule.comment,
                group=group,
                node=hop.node,
                vmid=vmid if vmid is not None else (reference.vmid if reference else None),
                group_reference=reference,
            )
        )
        return action

    def _builtin(self, trail: _Trail, hop: _Hop, action: str, detail: str) -> str:
        trail.add(Step(hop.label, hop.chain, "builtin", action, detail, node=hop.node))
        return action

    # -- what the iptables backend ignores ----------------------------------------------

    def _note_forward_rules(self, hop: _Hop, trail: _Trail) -> None:
        count = sum(rule.type == "forward" for fw in (self._host_file(hop.node), self.config.cluster) for rule in fw.rules)
        if count:
            trail.note(hop, f"{count} forward rule(s) at host/cluster level ignored: forward rules only take effect with the nftables backend (nftables: 1)")

    def _note_vnet(self, hop: _Hop, nic: Nic, trail: _Trail) -> None:
        if nic.bridge in self.config.vnets:
            trail.note(hop, f"vnet {nic.bridge} has a firewall configuration: it is inert on the iptables backend (needs nftables: 1)")


def _rule_text(rule: Rule, *, in_group: bool = False) -> str:
    """The rule as PVE writes it, without its comment (steps carry the comment apart)."""
    return render_rule_line(replace(rule, comment=None), in_group=in_group)


def _comment(rule: Rule) -> str:
    return f" # {rule.comment}" if rule.comment else ""


def _same_address(text: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_interface(text).ip == address
    except ValueError:
        return False


def _same_int(text: str, version: int, value: int) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address.version == version and int(address) == value


def evaluate(config: ClusterConfig, environment: Environment, source: Endpoint, dest: Endpoint, packet: Packet) -> Verdict:
    """One question without keeping an engine (compiles the configuration each time)."""
    return VerdictEngine(config, environment).evaluate(source, dest, packet)
