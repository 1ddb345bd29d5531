"""The emulated cluster: nodes, guests with their NICs, SDN vnets (from YAML or the default).

Nodes, guests and NICs are the compiler's ``_inventory`` types, so the verdict engine sees the
same cluster the API serves. YAML layout (every key but the names is optional)::

    nodes:
      - {name: pve1, address: 127.0.10.1, local_network: 127.0.0.0/8}
    guests:
      - vmid: 100
        type: qemu            # or lxc
        node: pve1
        name: web1
        tags: [web]
        nics:
          - {name: net0, bridge: vmbr0, mac: "BC:24:11:00:01:00", ip: 10.0.0.10/24, firewall: true}
          - {name: net1, ip: 10.1.0.10/24, extra: "rate=12.5,queues=4"}
          - {name: net2, config: "virtio=BC:24:11:00:01:02,bridge=vmbr0,firewall=1,tag=10,rate=12.5,queues=4"}
    vnets:
      - {name: vnet1, zone: zone1, subnets: [10.10.0.0/24]}
      - name: vnet2
        subnets:
          - {cidr: 10.20.0.0/24, gateway: 10.20.0.1, dhcp_ranges: [10.20.0.100-10.20.0.200]}
    ipam:                     # the PVE IPAM's guest entries: vmid -> addresses in vnet subnets
      100: [10.20.0.50]

A NIC is served as its guest config line (``netN``): generated from its keys, with ``extra``
properties appended as written, or ``config``, the whole line as written (then bridge, MAC,
firewall and tag come from it; a qemu NIC's ``ip``/``ip6`` are still the keys, as a VM's
addresses are not in its config). The config API can change the lines; the guests' NICs follow.

The vnets, their subnets and the IPAM entries are what the SDN endpoints serve and what the
``+sdn/`` sets are generated from (``Topology.sdn``): four sets per vnet, and
``guest-ipam-<vmid>`` per guest with IPAM addresses.

A node without ``local_network`` sees the loopback network 127.0.0.0/8 as its local network,
so by default every loopback client is a management host (reference 5.2).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Guest, Inventory, Nic, Node, Sdn, Subnet, Vnet

from .nics import NicFormatError, check_nic, nic_from_text, nic_text

DEFAULT_LOCAL_NETWORK = "127.0.0.0/8"
DEFAULT_LISTEN_BASE = "127.0.10.1"
_NODE_RE = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")
_VNET_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}")
GUEST_TYPES = ("qemu", "lxc")


class TopologyError(ValueError):
    pass


@dataclass(frozen=True)
class Topology:
    inventory: Inventory
    vnets: Mapping[str, Vnet] = field(default_factory=dict)
    # vmid -> netN -> the config line as served (guests missing here: generated from their NICs)
    nic_configs: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    ipam: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # vmid -> IPAM addresses

    @property
    def sdn(self) -> Sdn:
        """What the +sdn/ sets of this cluster are generated from."""
        return Sdn(self.vnets, self.ipam)

    def nic_lines(self, vmid: int) -> dict[str, str]:
        """The guest's ``netN`` config lines, in NIC order."""
        guest = self.guests[vmid]
        given = self.nic_configs.get(vmid)
        if given is not None:
            return dict(given)
        return {nic.name: nic_text(guest.type, nic) for nic in guest.nics}

    @property
    def nodes(self) -> Mapping[str, Node]:
        return self.inventory.nodes

    @property
    def guests(self) -> Mapping[int, Guest]:
        return self.inventory.guests

    def guests_on(self, node: str, guest_type: str) -> list[Guest]:
        return [guest for guest in self.guests.values() if guest.node == node and guest.type == guest_type]

    def with_addresses(self, addresses: Sequence[str]) -> Topology:
        """The same cluster with node i listening on ``addresses[i]`` (topology order)."""
        nodes = {name: replace(node, address=address) for (name, node), address in zip(self.nodes.items(), addresses)}
        return replace(self, inventory=Inventory(nodes=MappingProxyType(nodes), guests=self.inventory.guests, sdn=self.inventory.sdn))


def consecutive_addresses(base: str, count: int) -> list[str]:
    first = ipaddress.IPv4Address(base)
    return [str(first + index) for index in range(count)]


def _mac(vmid: int, index: int) -> str:
    return f"BC:24:11:{(vmid >> 8) & 0xFF:02X}:{vmid & 0xFF:02X}:{index:02X}"


def _nic(raw: Mapping[str, Any], vmid: int, index: int, guest_type: str) -> tuple[Nic, str]:
    """The NIC and its config line (generated, plus ``extra``; or ``config`` as written)."""
    name = str(raw.get("name", f"net{index}"))
    if not re.fullmatch(r"net\d+", name):
        raise TopologyError(f"guest {vmid}: NIC name '{name}' is not netN")
    mac = str(raw.get("mac", _mac(vmid, index)))
    if not _MAC_RE.fullmatch(mac):
        raise TopologyError(f"guest {vmid}: bad MAC '{mac}'")
    nic = Nic(
        name=name,
        bridge=str(raw.get("bridge", "vmbr0")),
        mac=mac.upper(),
        firewall=bool(raw.get("firewall", True)),
        ip=raw.get("ip"),
        ip6=raw.get("ip6"),
        model=str(raw.get("model", "virtio")),
        tag=raw.get("tag"),
    )
    text = str(raw["config"]) if raw.get("config") is not None else nic_text(guest_type, nic)
    if raw.get("config") is None and raw.get("extra"):
        text += "," + str(raw["extra"])
    if raw.get("config") is None and not raw.get("extra"):
        return nic, text
    try:
        check_nic(guest_type, text)
    except NicFormatError as error:
        raise TopologyError(f"guest {vmid}: {name}: invalid format - {error}") from None
    return nic_from_text(name, guest_type, text, ip=nic.ip, ip6=nic.ip6), text


def _guest(raw: Mapping[str, Any], nodes: Mapping[str, Node]) -> tuple[Guest, dict[str, str]]:
    vmid = int(raw["vmid"])
    if not 100 <= vmid <= 999_999_999:
        raise TopologyError(f"vmid {vmid} out of range 100..999999999")
    guest_type = str(raw.get("type", "qemu"))
    if guest_type not in GUEST_TYPES:
        raise TopologyError(f"guest {vmid}: type must be qemu or lxc")
    node = str(raw.get("node", next(iter(nodes))))
    if node not in nodes:
        raise TopologyError(f"guest {vmid}: unknown node '{node}'")
    made = [_nic(nic, vmid, index, guest_type) for index, nic in enumerate(raw.get("nics") or [{}])]
    tags = raw.get("tags") or ()
    guest = Guest(
        vmid=vmid,
        type=guest_type,
        node=node,
        nics=tuple(nic for nic, _text in made),
        name=str(raw.get("name", f"{'vm' if guest_type == 'qemu' else 'ct'}{vmid}")),
        tags=tuple(str(tag) for tag in (tags.split(";") if isinstance(tags, str) else tags)),
    )
    return guest, {nic.name: text for nic, text in made}


def topology_from_data(data: Mapping[str, Any]) -> Topology:
    raw_nodes = data.get("nodes") or []
    if not raw_nodes:
        raise TopologyError("the topology needs at least one node")
    addresses = consecutive_addresses(DEFAULT_LISTEN_BASE, len(raw_nodes))
    nodes: dict[str, Node] = {}
    for raw, address in zip(raw_nodes, addresses):
        raw = {"name": raw} if isinstance(raw, str) else raw
        name = str(raw["name"])
        if not _NODE_RE.fullmatch(name) or name in nodes:
            raise TopologyError(f"bad or duplicate node name '{name}'")
        local = str(raw.get("local_network", DEFAULT_LOCAL_NETWORK))
        ipaddress.ip_network(local)  # raises ValueError on a typo
        nodes[name] = Node(name=name, address=str(raw.get("address", address)), local_network=local)
    guests: dict[int, Guest] = {}
    nic_configs: dict[int, Mapping[str, str]] = {}
    for raw in data.get("guests") or []:
        guest, lines = _guest(raw, nodes)
        if guest.vmid in guests:
            raise TopologyError(f"duplicate vmid {guest.vmid}")
        guests[guest.vmid] = guest
        nic_configs[guest.vmid] = MappingProxyType(lines)
    vnets: dict[str, Vnet] = {}
    for raw in data.get("vnets") or []:
        name = str(raw["name"])
        if not _VNET_RE.fullmatch(name) or len(name) > 8:
            raise TopologyError(f"bad vnet name '{name}'")
        vnets[name] = Vnet(name, str(raw.get("zone", "zone1")), tuple(_subnet(name, item) for item in raw.get("subnets") or ()))
    ipam = {int(vmid): _ipam_addresses(vmid, raw, vnets) for vmid, raw in (data.get("ipam") or {}).items()}
    sdn = Sdn(MappingProxyType(vnets), MappingProxyType(ipam))
    inventory = Inventory(nodes=MappingProxyType(nodes), guests=MappingProxyType(dict(sorted(guests.items()))), sdn=sdn)
    return Topology(inventory, MappingProxyType(vnets), MappingProxyType(nic_configs), MappingProxyType(ipam))


def _subnet(vnet: str, raw: Any) -> Subnet:
    """A subnet: its CIDR, or ``{cidr, gateway, dhcp_ranges}`` (ranges as ``first-last``)."""
    item = {"cidr": raw} if isinstance(raw, str) else dict(raw)
    try:
        network = ipaddress.ip_network(str(item["cidr"]))
        gateway = str(ipaddress.ip_address(str(item["gateway"]))) if item.get("gateway") else None
        ranges = []
        for text in item.get("dhcp_ranges") or ():
            first, last = (str(ipaddress.ip_address(part.strip())) for part in str(text).split("-", 1))
            ranges.append((first, last))
    except (KeyError, ValueError) as error:
        raise TopologyError(f"vnet {vnet}: bad subnet {raw!r}: {error}") from None
    return Subnet(str(network), gateway, tuple(ranges))


def _ipam_addresses(vmid: object, raw: Any, vnets: Mapping[str, Vnet]) -> tuple[str, ...]:
    """A guest's IPAM addresses; each in a subnet of a vnet, as PVE's IPAM keeps them
    (proxmox-ve-config sdn/ipam.rs IpamEntry::new refuses one out of bounds)."""
    addresses = [raw] if isinstance(raw, str) else list(raw or ())
    networks = [ipaddress.ip_network(subnet.cidr) for vnet in vnets.values() for subnet in vnet.subnets]
    found = []
    for text in addresses:
        try:
            address = ipaddress.ip_address(str(text))
        except ValueError as error:
            raise TopologyError(f"ipam {vmid}: {error}") from None
        if not any(address in network for network in networks):
            raise TopologyError(f"ipam {vmid}: {address} is in no subnet of a vnet")
        found.append(str(address))
    return tuple(found)


def load_topology(path: Path | None) -> Topology:
    if path is None:
        return default_topology()
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, Mapping):
        raise TopologyError(f"{path}: the topology must be a mapping")
    return topology_from_data(data)


DEFAULT_TOPOLOGY: Mapping[str, Any] = {
    "nodes": [{"name": "pve1"}, {"name": "pve2"}, {"name": "pve3"}],
    "guests": [
        {
            "vmid": 100,
            "type": "qemu",
            "node": "pve1",
            "name": "web1",
            "tags": ["web"],
            "nics": [{"bridge": "vmbr0", "ip": "10.0.0.100/24"}, {"bridge": "vmbr1", "ip": "10.1.0.100/24"}],
        },
        {"vmid": 101, "type": "qemu", "node": "pve2", "name": "web2", "tags": ["web"], "nics": [{"bridge": "vmbr0", "ip": "10.0.0.101/24"}]},
        {"vmid": 102, "type": "qemu", "node": "pve3", "name": "db1", "tags": ["db"], "nics": [{"bridge": "vmbr0", "ip": "10.0.0.102/24"}]},
        {"vmid": 200, "type": "lxc", "node": "pve1", "name": "dns1", "tags": ["infra"], "nics": [{"bridge": "vmbr0", "ip": "10.0.0.200/24"}]},
        {
            "vmid": 201,
            "type": "lxc",
            "node": "pve2",
            "name": "proxy1",
            "tags": ["infra", "web"],
            "nics": [{"bridge": "vmbr0", "ip": "10.0.0.201/24", "firewall": False}],
        },
    ],
    "vnets": [
        {"name": "vnet1", "zone": "zone1", "subnets": [{"cidr": "10.10.0.0/24", "gateway": "10.10.0.1", "dhcp_ranges": ["10.10.0.100-10.10.0.200"]}]},
        {"name": "vnet2", "zone": "zone1"},
    ],
}


def default_topology() -> Topology:
    """Three nodes pve1..pve3 at 127.0.10.1..3, three VMs, two CTs and two vnets."""
    return topology_from_data(DEFAULT_TOPOLOGY)
