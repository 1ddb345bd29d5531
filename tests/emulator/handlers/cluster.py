"""The non-firewall endpoints a client needs to find its way: version, nodes, resources,
guest lists and configs, vnets. Shapes follow PVE 9; load figures are fixed placeholders.
"""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._inventory import Guest, Nic

from ..context import Call
from ..digests import object_digest
from ..routes import Handler
from ..targets import check_node, guest_target

PVE_VERSION = {"version": "9.1.3", "release": "9.1", "repoid": "7b8a6d2c0f4e3a91"}
_GUEST_STATS = {"status": "running", "cpu": 0.01, "maxcpu": 2, "mem": 536870912, "maxmem": 2147483648, "uptime": 86400, "template": 0}
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


def list_guests(guest_type: str) -> Handler:
    def handler(call: Call) -> list[dict[str, object]]:
        node = check_node(call)
        return [_guest_summary(guest) for guest in call.ctx.topology.guests_on(node, guest_type)]

    return handler


def _nic_text(guest: Guest, nic: Nic) -> str:
    """A NIC as the guest config writes it (qemu: model=MAC; lxc: name=ethN,hwaddr=MAC)."""
    if guest.type == "qemu":
        parts = [f"{nic.model}={nic.mac}", f"bridge={nic.bridge}"]
    else:
        parts = [f"name=eth{nic.index}", f"bridge={nic.bridge}", f"hwaddr={nic.mac}"]
        parts += [f"ip={nic.ip}"] if nic.ip else []
        parts += [f"ip6={nic.ip6}"] if nic.ip6 else []
    parts += [f"firewall={int(nic.firewall)}"]
    parts += [f"tag={nic.tag}"] if nic.tag is not None else []
    return ",".join(parts)


def guest_config(guest_type: str) -> Handler:
    resolve = guest_target(guest_type)

    def handler(call: Call) -> dict[str, object]:
        guest = resolve(call).guest
        assert guest is not None  # a guest target always carries its guest
        config: dict[str, object] = {"name" if guest_type == "qemu" else "hostname": guest.name}
        if guest.tags:
            config["tags"] = ";".join(guest.tags)
        for nic in guest.nics:
            config[nic.name] = _nic_text(guest, nic)
        return {**config, "digest": object_digest(config)}

    return handler


def list_vnets(call: Call) -> list[dict[str, object]]:
    vnets = [{"vnet": vnet.name, "zone": vnet.zone, "type": "vnet"} for vnet in call.ctx.topology.vnets.values()]
    return [{**vnet, "digest": object_digest(vnet)} for vnet in vnets]
