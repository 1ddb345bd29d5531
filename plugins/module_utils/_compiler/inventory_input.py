"""An inventory (nodes, guests and their NICs) from user data: a module option or a YAML file.

Shape::

    nodes:
      pve1: {address: 192.0.2.11, local_network: 192.0.2.0/24}
    guests:
      100:
        type: qemu            # or lxc
        node: pve1            # optional when there is one node
        nics:
          net0: {bridge: vmbr0, mac: "BC:24:11:00:00:01", firewall: true}
          net1: "virtio=BC:24:11:00:00:02,bridge=vmbr1,firewall=1"   # PVE's own NIC syntax

As in PVE, a NIC is filtered only with ``firewall`` set (``firewall=1``); containers may give
``ip``/``ip6`` (their configured addresses join the NIC's ipfilter set). Problems are
collected and returned together, each naming where it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._model.errors import FieldError
from .._model.inventory import Guest, Inventory, Nic, Node

_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}")
_NIC_NAME_RE = re.compile(r"net\d+")
_NIC_KEYS = ("bridge", "mac", "firewall", "ip", "ip6", "tag", "model")
_QEMU_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "ne2k_pci", "pcnet", "i82551", "i82557b", "i82559er", "ne2k_isa")
_TRUE = (True, 1, "1", "true", "yes", "on")
_FALSE = (False, 0, "0", "false", "no", "off")


def _flag(value: object) -> bool | None:
    if isinstance(value, str):
        value = value.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def parse_nic_string(text: str) -> dict[str, Any]:
    """PVE's NIC line: ``virtio=MAC,bridge=vmbr0,firewall=1`` (qemu) or
    ``name=eth0,hwaddr=MAC,bridge=vmbr0,ip=10.0.0.2/24,firewall=1`` (lxc)."""
    values: dict[str, Any] = {}
    for item in text.split(","):
        key, value = (item.strip().split("=", 1) + [""])[:2]
        if key in _QEMU_MODELS and _MAC_RE.fullmatch(value):
            values["model"], values["mac"] = key, value
        elif key == "hwaddr":
            values["mac"] = value
        elif key in _NIC_KEYS:
            values[key] = value
    return values


def _nic(name: str, data: object, where: str, errors: list[FieldError]) -> Nic | None:
    if not _NIC_NAME_RE.fullmatch(name):
        errors.append(FieldError(where, "nics", name, "a NIC is named net<N>", "net0, net1, ..."))
        return None
    values = parse_nic_string(data) if isinstance(data, str) else data
    if not isinstance(values, Mapping):
        errors.append(FieldError(where, name, data, "a NIC must be a mapping or PVE's NIC string", "{bridge, mac, firewall, ip, ip6}"))
        return None
    unknown = sorted(str(key) for key in values if key not in _NIC_KEYS)
    if unknown:
        errors.append(FieldError(where, name, unknown, f"unknown NIC keys: {', '.join(unknown)}", ", ".join(_NIC_KEYS)))
    bridge, mac = values.get("bridge"), values.get("mac")
    if not isinstance(bridge, str) or not bridge:
        errors.append(FieldError(where, f"{name}.bridge", bridge, "missing bridge", "a bridge name such as vmbr0"))
    if not isinstance(mac, str) or not _MAC_RE.fullmatch(mac):
        errors.append(FieldError(where, f"{name}.mac", mac, "missing or invalid MAC address", "six hex pairs: BC:24:11:00:00:01"))
    firewall = _flag(values.get("firewall", False))
    if firewall is None:
        errors.append(FieldError(where, f"{name}.firewall", values.get("firewall"), "firewall must be a boolean", "true, false, 1 or 0"))
    if not isinstance(bridge, str) or not isinstance(mac, str) or firewall is None:
        return None
    ip, ip6 = values.get("ip"), values.get("ip6")
    return Nic(name, bridge, mac, firewall=firewall, ip=str(ip) if ip else None, ip6=str(ip6) if ip6 else None)


def _nodes(data: object, errors: list[FieldError]) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    if not isinstance(data, Mapping):
        errors.append(FieldError("inventory", "nodes", data, "nodes must be a mapping", "node name -> {address, local_network}"))
        return nodes
    for name, values in data.items():
        where = f"inventory.nodes.{name}"
        values = {"address": values} if isinstance(values, str) else values
        if not isinstance(values, Mapping) or not isinstance(values.get("address"), str):
            errors.append(FieldError(where, "address", values, "a node needs its address", "{address: 192.0.2.11, local_network: 192.0.2.0/24}"))
            continue
        local = values.get("local_network")
        nodes[str(name)] = Node(str(name), values["address"], str(local) if local else None)
    return nodes


def _guest(vmid_text: object, values: object, nodes: Mapping[str, Node], errors: list[FieldError]) -> Guest | None:
    where = f"inventory.guests.{vmid_text}"
    if not str(vmid_text).isdigit() or int(str(vmid_text)) < 100:
        errors.append(FieldError(where, "vmid", vmid_text, "a guest id is a number >= 100", "100, 101, ..."))
        return None
    if not isinstance(values, Mapping):
        errors.append(FieldError(where, "guest", values, "a guest must be a mapping", "{type, node, nics}"))
        return None
    guest_type = values.get("type", "qemu")
    if guest_type not in ("qemu", "lxc"):
        errors.append(FieldError(where, "type", guest_type, "unknown guest type", "qemu or lxc"))
        return None
    node = values.get("node") or (next(iter(nodes)) if len(nodes) == 1 else None)
    if node not in nodes:
        errors.append(FieldError(where, "node", node, "the guest's node is not among the inventory's nodes", ", ".join(sorted(nodes)) or "define nodes"))
        return None
    nic_data = values.get("nics") or {}
    if not isinstance(nic_data, Mapping):
        errors.append(FieldError(where, "nics", nic_data, "nics must be a mapping", "net0 -> {bridge, mac, firewall}"))
        return None
    nics = [nic for name, data in sorted(nic_data.items()) if (nic := _nic(str(name), data, where, errors)) is not None]
    return Guest(int(str(vmid_text)), guest_type, str(node), tuple(nics), name=str(values.get("name", "")))


def inventory_from_user(data: object) -> tuple[Inventory | None, list[FieldError]]:
    """The inventory, or None with every problem found."""
    errors: list[FieldError] = []
    if not isinstance(data, Mapping):
        return None, [FieldError("inventory", "inventory", data, "the inventory must be a mapping", "{nodes, guests}")]
    unknown = sorted(str(key) for key in data if key not in ("nodes", "guests"))
    if unknown:
        errors.append(FieldError("inventory", "inventory", unknown, f"unknown keys: {', '.join(unknown)}", "nodes, guests"))
    nodes = _nodes(data.get("nodes") or {}, errors)
    guests_data = data.get("guests") or {}
    guests: dict[int, Guest] = {}
    if isinstance(guests_data, Mapping):
        for vmid, values in guests_data.items():
            guest = _guest(vmid, values, nodes, errors)
            if guest is not None:
                guests[guest.vmid] = guest
    else:
        errors.append(FieldError("inventory", "guests", guests_data, "guests must be a mapping", "vmid -> {type, node, nics}"))
    return (Inventory(nodes, guests) if not errors else None), errors
