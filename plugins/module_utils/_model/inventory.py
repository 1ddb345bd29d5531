"""What the firewall is applied to: nodes with their addresses, guests with their NICs.

The verdict engine walks packets through this inventory; the API emulator serves it as its
cluster topology. NIC fields follow PVE's guest config (``net0: virtio=MAC,bridge=vmbr0,
firewall=1``); a NIC without ``firewall`` is not filtered, whatever the rules say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .levels import ScopeLevel


@dataclass(frozen=True)
class Nic:
    name: str  # net0, net1, ...
    bridge: str
    mac: str
    firewall: bool = False  # PVE filters a NIC only with firewall=1
    ip: str | None = None  # CIDR of a container's configured address (lxc ip=)
    ip6: str | None = None
    model: str = "virtio"  # qemu NIC model; containers use the veth name instead
    tag: int | None = None

    @property
    def index(self) -> int:
        return int(self.name[3:])


@dataclass(frozen=True)
class Guest:
    vmid: int
    type: str  # "qemu" or "lxc"
    node: str
    nics: tuple[Nic, ...] = ()
    name: str = ""
    tags: tuple[str, ...] = ()

    @property
    def level(self) -> str:
        return ScopeLevel.of_guest_type(self.type).value

    def nic(self, name: str) -> Nic | None:
        return next((nic for nic in self.nics if nic.name == name), None)


@dataclass(frozen=True)
class Node:
    name: str
    address: str  # the node's cluster address
    local_network: str | None = None  # None: derived from the address (reference 5.2)


@dataclass(frozen=True)
class Subnet:
    """One subnet of an SDN vnet: its CIDR, gateway and DHCP ranges (``(first, last)``)."""

    cidr: str
    gateway: str | None = None
    dhcp_ranges: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Vnet:
    """An SDN vnet of the running configuration, with its subnets."""

    name: str
    zone: str = ""
    subnets: tuple[Subnet, ...] = ()


@dataclass(frozen=True)
class Sdn:
    """What PVE's SDN generates IP sets from: the vnets with their subnets, and the guests'
    addresses in PVE's IPAM (vmid -> addresses)."""

    vnets: Mapping[str, Vnet] = field(default_factory=dict)
    ipam: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Inventory:
    nodes: Mapping[str, Node] = field(default_factory=dict)
    guests: Mapping[int, Guest] = field(default_factory=dict)
    sdn: Sdn | None = None  # None: the SDN configuration is unknown (its +sdn/ sets with it)
    unread: frozenset[int] = frozenset()  # guests the cluster has whose config was not read

    def has_guest(self, vmid: int) -> bool:
        """Whether the cluster has the guest (read or not)."""
        return vmid in self.guests or vmid in self.unread

    def guest(self, vmid: int) -> Guest | None:
        return self.guests.get(vmid)
