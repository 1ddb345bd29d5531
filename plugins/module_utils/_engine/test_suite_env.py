"""The fixed environment and conventions of PVE's firewall test suite (reference 6.1-6.2).

PVE's simulator (``test/fwtester.pl``) evaluates every test directory against one node
(172.16.1.2, ``local_network`` 172.16.1.0/24), a fixed set of guests and a 4-node corosync
membership. Tests name endpoints by zone (``host``, ``outside``, ``nfvm``, ``vm100``,
``vm100i1``, ``ct200``, ``vmbr0/eth0``) and leave addresses to defaults. The conformance
runner and the ``firewall_simulate`` module share these definitions.
"""

from __future__ import annotations

import ipaddress
import re

from .._model.corosync import Corosync, CorosyncNode
from .._model.inventory import Guest, Inventory, Nic, Node
from .verdict import Endpoint, Environment, VerdictError

NODE = "proxself"
HOST_ADDRESS = "172.16.1.2"
LOCAL_NETWORK = "172.16.1.0/24"
DEFAULT_SOURCE = "100.100.1.2"
DEFAULT_DEST = "100.200.3.4"
# The zones a test without 'from' or 'to' is run from or to (reference 6.2).
EXPANSION_ZONES = ("host", "outside", "nfvm", "vm100", "ct200")


def _qemu(vmid: int, *nics: tuple[str, str]) -> Guest:
    return Guest(vmid, "qemu", NODE, tuple(Nic(f"net{index}", bridge, mac, firewall=True) for index, (bridge, mac) in enumerate(nics)))


def _lxc(vmid: int, bridge: str, mac: str, ip: str) -> Guest:
    return Guest(vmid, "lxc", NODE, (Nic("net0", bridge, mac, firewall=True, ip=ip),))


INVENTORY = Inventory(
    nodes={NODE: Node(NODE, HOST_ADDRESS, LOCAL_NETWORK)},
    guests={
        guest.vmid: guest
        for guest in (
            _qemu(100, ("vmbr0", "0E:0B:38:B8:B3:21"), ("vmbr1", "0E:0B:38:B9:B4:21"), ("vmbr2", "0E:0B:38:BA:B4:21")),
            _qemu(101, ("vmbr0", "0E:0B:38:B8:B3:22")),
            _qemu(110, ("vmbr1", "0E:0B:38:B8:B4:21")),
            _lxc(200, "vmbr0", "0E:18:24:41:2C:43", "10.0.200.1/24"),
            _lxc(201, "vmbr0", "0E:18:24:41:2C:44", "10.0.200.2/24"),
        )
    },
)

# The membership of the suite's corosync.conf: four nodes on two rings, multicast transport.
COROSYNC = Corosync(
    nodes=tuple(CorosyncNode(name, {0: f"172.16.1.{last}", 1: f"172.16.2.{last}"}) for name, last in (("prox1", 11), ("prox2", 12), ("prox3", 3), (NODE, 2))),
    transport="udp",
)


def environment(inventory: Inventory = INVENTORY, corosync: Corosync | None = COROSYNC, now: float | None = None) -> Environment:
    return Environment(inventory=inventory, corosync=corosync, now=now)


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
    engine: a node's address is that host, a container's address that guest NIC)."""
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
