"""The non-firewall endpoints a client needs to find its way: version, nodes, resources,
cluster status, node networks, guest lists and configs (their NIC lines writable), vnets.
Shapes follow PVE 9; load figures are fixed placeholders.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Guest

from ..context import Call
from ..digests import object_digest
from ..errors import ApiFailure, param_error
from ..nics import MAX_NICS, NIC_KEY, generated_mac, stored_nic
from ..routes import Handler
from ..schema import split_list
from ..targets import check_node, guest_target
from .common import check_digest

PVE_VERSION = {"version": "9.1.3", "release": "9.1", "repoid": "7b8a6d2c0f4e3a91"}
_GUEST_STATS = {"status": "running", "cpu": 0.01, "maxcpu": 2, "mem": 536870912, "maxmem": 2147483648, "uptime": 86400, "template": 0}
CLUSTER_NAME = "emulated"
_NODE_STATS = {"status": "online", "cpu": 0.02, "maxcpu": 8, "mem": 4294967296, "maxmem": 34359738368, "uptime": 864000, "level": ""}


def version(call: Call) -> dict[str, str]:
    return dict(PVE_VERSION)


def _guest_summary(guest: Guest) -> dict[str, object]:
    return {"vmid": guest.vmid, "name": guest.name, "tags": ";".join(guest.tags), **_GUEST_STATS}


def list_nodes(call: Call) -> list[dict[str, object]]:
    return [{"node": name, "id": f"node/{name}", "type": "node", **_NODE_STATS} for name in call.ctx.topology.nodes]


def cluster_resources(call: Call) -> list[dict[str, object]]:
    """Guests (type qemu or lxc, with their node), nodes and SDN vnets; ``type`` filters."""
    wanted = call.params.get("type")
    topology = call.ctx.topology
    out: list[dict[str, object]] = []
    if wanted in (None, "vm"):
        for guest in topology.guests.values():
            out.append({"id": f"{guest.type}/{guest.vmid}", "type": guest.type, "node": guest.node, **_guest_summary(guest)})
    if wanted in (None, "node"):
        out += [{"id": f"node/{name}", "type": "node", "node": name, **_NODE_STATS} for name in topology.nodes]
    if wanted in (None, "sdn"):
        for node in topology.nodes:
            for vnet in topology.vnets.values():
                out.append(
                    {
                        "id": f"sdn/{node}/{vnet.zone}/{vnet.name}",
                        "type": "sdn",
                        "sdn": vnet.name,
                        "zone": vnet.zone,
                        "node": node,
                        "status": "available",
                    }
                )
    return out


def cluster_status(call: Call) -> list[dict[str, object]]:
    """PVE's /cluster/status: the cluster entry, then one entry per node with its address;
    ``local`` marks the node whose listener answered."""
    nodes = call.ctx.topology.nodes
    out: list[dict[str, object]] = [
        {"type": "cluster", "id": "cluster", "name": CLUSTER_NAME, "nodes": len(nodes), "quorate": 1, "version": len(nodes)}
    ]
    for index, node in enumerate(nodes.values(), start=1):
        out.append(
            {
                "type": "node",
                "id": f"node/{node.name}",
                "name": node.name,
                "ip": node.address,
                "local": int(node.name == call.served_by),
                "nodeid": index,
                "online": 1,
                "level": "",
            }
        )
    return out


def node_network(call: Call) -> list[dict[str, object]]:
    """The node's interfaces: the uplink eno1 and the bridge vmbr0 holding the node's address,
    with the prefix of the topology's local network (PVE derives local_network from it)."""
    node = call.ctx.topology.nodes[check_node(call)]
    address = ipaddress.ip_address(node.address)
    network = ipaddress.ip_network(node.local_network or f"{address}/{address.max_prefixlen}", strict=False)
    prefix = network.prefixlen if network.version == address.version else address.max_prefixlen
    bridge: dict[str, object] = {
        "iface": "vmbr0",
        "type": "bridge",
        "active": 1,
        "autostart": 1,
        "bridge_ports": "eno1",
        "bridge_stp": "off",
        "bridge_fd": "0",
        "method": "static",
        "method6": "manual",
        "priority": 2,
    }
    if address.version == 4:
        netmask = str(ipaddress.ip_network(f"0.0.0.0/{prefix}").netmask)
        bridge.update({"address": str(address), "netmask": netmask, "cidr": f"{address}/{prefix}", "families": ["inet"]})
    else:
        bridge.update({"address6": str(address), "netmask6": str(prefix), "cidr6": f"{address}/{prefix}", "families": ["inet6"], "method": "manual"})
        bridge["method6"] = "static"
    uplink = {"iface": "eno1", "type": "eth", "active": 1, "exists": 1, "method": "manual", "method6": "manual", "families": ["inet"], "priority": 1}
    return [uplink, bridge]


def list_guests(guest_type: str) -> Handler:
    def handler(call: Call) -> list[dict[str, object]]:
        node = check_node(call)
        return [_guest_summary(guest) for guest in call.ctx.topology.guests_on(node, guest_type)]

    return handler


def guest_config(guest_type: str) -> Handler:
    resolve = guest_target(guest_type)

    def handler(call: Call) -> dict[str, object]:
        guest = resolve(call).guest
        assert guest is not None  # a guest target always carries its guest
        config = call.ctx.configs.config(guest)
        return {**config, "digest": object_digest(config)}

    return handler


def set_guest_config(guest_type: str) -> Handler:
    """PUT .../config (qemu's synchronous update, lxc's only one) for ``netN``: ``delete``
    first, then the new lines, under the guest's config lock and its digest. Each line was
    checked by the schema (``pve-qm-net``, ``pve-lxc-network``) and is stored as PVE stores it:
    re-printed in PVE's key order with a missing MAC generated (``stored_nic``)."""
    resolve = guest_target(guest_type)

    def handler(call: Call) -> None:
        vmid = int(call.params["vmid"])
        lines = {key: str(value) for key, value in call.params.items() if NIC_KEY.fullmatch(key)}
        delete = split_list(call.params.get("delete", ""))
        for name in delete:
            if name in lines:
                raise param_error("delete", f"you can't use '-{name}' and -delete {name}' at the same time")
            found = NIC_KEY.fullmatch(name)
            if not found or int(found.group(1)) >= MAX_NICS:
                raise param_error("delete", f"unknown option '{name}'")
        if not lines and not delete:
            raise ApiFailure("no options specified")
        configs = call.ctx.configs
        with configs.locked():
            guest = resolve(call).guest
            assert guest is not None
            check_digest(object_digest(configs.config(guest)), call.params.get("digest"))
            current = configs.nic_lines(vmid)
            for name in delete:
                current.pop(name, None)
            for name, text in lines.items():
                current[name] = stored_nic(guest_type, text, generated_mac(vmid, int(name[3:])))
            configs.replace_nics(vmid, current)

    return handler


def list_vnets(call: Call) -> list[dict[str, object]]:
    vnets = [{"vnet": vnet.name, "zone": vnet.zone, "type": "vnet"} for vnet in call.ctx.topology.vnets.values()]
    return [{**vnet, "digest": object_digest(vnet)} for vnet in vnets]
