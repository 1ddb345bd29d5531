"""A verdict question made concrete: its endpoints resolved against the inventory (a node, a
guest NIC or a bridge port) and its packet turned into the view the matchers read."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from .._model.inventory import Guest, Inventory, Nic, Node
from .._reference.netbase import protocol_number
from .matchers import PacketView, parse_icmp_type
from .std_chains import is_multicast
from .verdict_types import Endpoint, Environment, Packet, VerdictError

_ICMPV6 = 58


@dataclass(frozen=True)
class Place:
    """An endpoint resolved against the inventory."""

    kind: str  # host, guest, port
    node: str | None
    label: str
    guest: Guest | None = None
    nic: Nic | None = None
    bridge: str | None = None
    routed: bool = False  # reached through the node's routing (Endpoint.routed)


def single_node(inventory: Inventory) -> str:
    nodes = inventory.nodes
    if len(nodes) != 1:
        raise VerdictError(f"say which node: the inventory has {len(nodes)} nodes ({', '.join(sorted(nodes)) or 'none'})")
    return next(iter(nodes))


def known_node(inventory: Inventory, name: str) -> Node:
    node = inventory.nodes.get(name)
    if node is None:
        raise VerdictError(f"unknown node '{name}' (known: {', '.join(sorted(inventory.nodes)) or 'none'})")
    return node


def place(environment: Environment, endpoint: Endpoint, other: Endpoint) -> Place:
    """Where ``endpoint`` is; a bridge port without a node is on the node of ``other``."""
    found = _place(environment, endpoint, other)
    return replace(found, routed=True) if endpoint.routed else found


def _place(environment: Environment, endpoint: Endpoint, other: Endpoint) -> Place:
    inventory = environment.inventory
    if endpoint.kind == "address":
        endpoint = _endpoint_of_address(inventory, endpoint.address or "")
    if endpoint.kind == "host":
        name = endpoint.node or single_node(inventory)
        known_node(inventory, name)
        return Place("host", name, f"host {name}")
    if endpoint.kind == "guest":
        guest = inventory.guest(endpoint.vmid or 0)
        if guest is None:
            raise VerdictError(f"unknown guest {endpoint.vmid}: not in the inventory")
        nic = guest.nic(endpoint.nic)
        if nic is None:
            raise VerdictError(f"guest {guest.vmid} has no NIC {endpoint.nic}")
        return Place("guest", guest.node, f"{guest.level} {guest.vmid} {nic.name}", guest, nic, nic.bridge)
    if endpoint.kind == "port":
        bridge = endpoint.bridge or environment.outside_bridge
        port = endpoint.port or environment.outside_port
        node = endpoint.node or _node_of(inventory, other)
        return Place("port", node, f"port {bridge}/{port}", bridge=bridge)
    raise VerdictError(f"unknown endpoint kind '{endpoint.kind}'")


def _node_of(inventory: Inventory, endpoint: Endpoint) -> str | None:
    """The node a bridge port belongs to: the other endpoint's node."""
    if endpoint.kind == "address":
        endpoint = _endpoint_of_address(inventory, endpoint.address or "")
    if endpoint.kind == "host":
        return endpoint.node or single_node(inventory)
    if endpoint.kind == "guest":
        guest = inventory.guest(endpoint.vmid or 0)
        return guest.node if guest else None
    return endpoint.node


def _endpoint_of_address(inventory: Inventory, text: str) -> Endpoint:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise VerdictError(f"'{text}' is not an IP address") from None
    for node in inventory.nodes.values():
        if _same_address(node.address, address):
            return Endpoint.host(node.name)
    for guest in inventory.guests.values():
        for nic in guest.nics:
            if any(_same_address(value, address) for value in (nic.ip, nic.ip6) if value):
                return Endpoint.guest(guest.vmid, nic.name)
    return Endpoint.outside()


def _same_address(text: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_interface(text).ip == address
    except ValueError:
        return False


def packet_view(packet: Packet, src: Place, broadcasts: frozenset[int]) -> PacketView:
    """The packet as the matchers read it; ``broadcasts``: the nodes' IPv4 broadcast addresses."""
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
        srctype=(packet.srctype or _address_type(version, int(source), broadcasts)).upper(),
        dsttype=(packet.dsttype or _address_type(version, int(dest), broadcasts)).upper(),
        source_mac=mac.lower() if mac else None,
    )


def _address_type(version: int, address: int, broadcasts: frozenset[int]) -> str:
    """iptables' address type as the node's routing table would give it."""
    if version == 4 and (address == 0xFFFFFFFF or address in broadcasts):
        return "BROADCAST"
    return "MULTICAST" if is_multicast(version, address) else "UNICAST"
