"""Where a packet comes from and goes to, in the notation of PVE's firewall test suite.

Zones (``host``, ``outside``, ``nfvm``, ``vm100``, ``vm100i1``, ``ct200``, ``vmbr0/eth0``),
``host:<node>`` or an IP address name an endpoint, ``routed:<zone>`` one the node routes to
(the packet passes the node's forward chains); addresses left out get PVE's test
defaults, and an ICMP packet may give its type as ``dport``. The ``firewall_simulate``
module reads every packet this way, so the upstream test zones work as they are.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace

from .._model.inventory import Inventory
from .verdict_types import Endpoint, VerdictError

DEFAULT_SOURCE = "100.100.1.2"
DEFAULT_DEST = "100.200.3.4"
ROUTED_PREFIX = "routed:"

_GUEST_ZONE_RE = re.compile(r"(vm|ct)(\d+)(?:i(\d+))?")
_PORT_ZONE_RE = re.compile(r"([a-zA-Z][a-zA-Z0-9]{0,9})/(\S+)")


def zone_endpoint(zone: str, inventory: Inventory) -> Endpoint:
    """The endpoint a zone names. ``vm<ID>`` must be a qemu guest and ``ct<ID>`` a container;
    ``i<N>`` picks NIC N (PVE allows it for VMs as source only; here it works everywhere)."""
    if zone == "host":
        return Endpoint.host()
    if zone == "outside":
        return Endpoint.bridge_port("vmbr0", "eth0")
    if zone == "nfvm":
        return Endpoint.bridge_port("vmbr0", "tapXYZ")
    guest_zone = _GUEST_ZONE_RE.fullmatch(zone)
    if guest_zone:
        prefix, vmid, nic = guest_zone.group(1), int(guest_zone.group(2)), guest_zone.group(3)
        guest = inventory.guest(vmid)
        if guest is None:
            raise VerdictError(f"zone '{zone}': guest {vmid} is not in the inventory")
        if (prefix == "vm") != (guest.type == "qemu"):
            raise VerdictError(f"zone '{zone}': guest {vmid} is a {guest.type} guest, write {'vm' if guest.type == 'qemu' else 'ct'}{vmid}")
        return Endpoint.guest(vmid, f"net{nic or 0}")
    port_zone = _PORT_ZONE_RE.fullmatch(zone)
    if port_zone:
        return Endpoint.bridge_port(port_zone.group(1), port_zone.group(2))
    raise VerdictError(f"unknown zone '{zone}' (host, outside, nfvm, vm<ID>[i<N>], ct<ID>[i<N>], <bridge>/<port>)")


def parse_endpoint(text: str, inventory: Inventory) -> Endpoint:
    """A zone, ``host:<node>`` for one node of several, or an IP address (resolved by the
    engine: a node's address is that host, a container's address that guest NIC); with the
    prefix ``routed:`` the packet passes the node's routing at that end (its forward chains)."""
    if text.startswith(ROUTED_PREFIX):
        inner = parse_endpoint(text[len(ROUTED_PREFIX) :], inventory)
        if inner.kind == "host" or inner.routed:
            raise VerdictError(f"'{text}': {ROUTED_PREFIX} names a guest, a bridge port or an address the node routes to, not the node itself")
        return replace(inner, routed=True)
    if text.startswith("host:"):
        return Endpoint.host(text[len("host:") :])
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return zone_endpoint(text, inventory)
    return Endpoint.at_address(text)


def _endpoint_address(endpoint: Endpoint, inventory: Inventory) -> str | None:
    if endpoint.kind == "address":
        return endpoint.address
    if endpoint.kind == "host":
        name = endpoint.node or (next(iter(inventory.nodes)) if len(inventory.nodes) == 1 else None)
        node = inventory.nodes.get(name) if name else None
        return str(ipaddress.ip_interface(node.address).ip) if node else None
    return None


def default_addresses(source: Endpoint, dest: Endpoint, inventory: Inventory, source_address: str | None, dest_address: str | None) -> tuple[str, str]:
    """PVE's defaults: a host's own address for the host (an address endpoint's address),
    else 100.100.1.2 for the source and 100.200.3.4 for the destination."""
    if source_address is None:
        source_address = _endpoint_address(source, inventory) or DEFAULT_SOURCE
    if dest_address is None:
        dest_address = _endpoint_address(dest, inventory) or DEFAULT_DEST
    return source_address, dest_address


def icmp_type_from_dport(proto: str, dport: str | int | None, icmp_type: str | None) -> tuple[str | int | None, str | None]:
    """PVE's tests give an ICMP packet's type as ``dport``: move it to the ICMP type."""
    if str(proto) in ("icmp", "icmpv6", "1", "58") and dport is not None and icmp_type is None:
        return None, str(dport)
    return dport, icmp_type
