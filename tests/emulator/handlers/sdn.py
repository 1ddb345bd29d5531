"""The SDN reads the collection makes for the +sdn/ sets: a vnet's subnets and the PVE IPAM.

Shapes follow pve-network: ``GET /cluster/sdn/vnets/{vnet}/subnets`` returns each subnet's
config with ``cidr``, ``zone``, ``network`` and ``mask`` taken from its ID and ``dhcp-range``
parsed into ``{start-address, end-address}`` objects (API2/Network/SDN/Subnets.pm ``index``,
Network/SDN/Subnets.pm ``sdn_subnets_config``, ``get_dhcp_ranges``); ``GET
/cluster/sdn/ipams/{ipam}/status`` lists the IPAM's entries, gateways and guests, with their
zone, subnet and vnet (API2/Network/SDN/Ipams.pm ``ipamindex``, PVE IPAM only).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Subnet

from ..context import Call
from ..digests import object_digest
from ..errors import ApiFailure


def _subnet_id(zone: str, subnet: Subnet) -> str:
    network = ipaddress.ip_network(subnet.cidr)
    return f"{zone}-{network.network_address}-{network.prefixlen}"


def list_subnets(call: Call) -> list[dict[str, object]]:
    vnet = call.ctx.topology.vnets.get(call.params["vnet"])
    if vnet is None:
        raise ApiFailure(f"sdn vnet '{call.params['vnet']}' does not exist")
    found = []
    for subnet in vnet.subnets:
        network = ipaddress.ip_network(subnet.cidr)
        ident = _subnet_id(vnet.zone, subnet)
        item: dict[str, object] = {
            "id": ident,
            "subnet": ident,
            "type": "subnet",
            "vnet": vnet.name,
            "zone": vnet.zone,
            "cidr": f"{network.network_address}/{network.prefixlen}",
            "network": str(network.network_address),
            "mask": str(network.prefixlen),
            "dhcp-range": [{"start-address": first, "end-address": last} for first, last in subnet.dhcp_ranges],
        }
        if subnet.gateway:
            item["gateway"] = subnet.gateway
        found.append({**item, "digest": object_digest(item)})
    return found


def ipam_status(call: Call) -> list[dict[str, object]]:
    if call.params["ipam"] != "pve":
        raise ApiFailure("Currently only PVE IPAM is supported!")
    topology = call.ctx.topology
    entries: list[dict[str, object]] = []
    for vnet in topology.vnets.values():
        for subnet in vnet.subnets:
            network = ipaddress.ip_network(subnet.cidr)
            where = {"zone": vnet.zone, "subnet": str(network), "vnet": vnet.name}
            if subnet.gateway:
                entries.append({**where, "ip": subnet.gateway, "gateway": 1})
            for vmid, addresses in sorted(topology.ipam.items()):
                guest = topology.guests.get(vmid)
                for address in addresses:
                    if ipaddress.ip_address(address) in network:
                        mac = next((nic.mac for nic in guest.nics if nic.bridge == vnet.name), None) if guest else None
                        entries.append({**where, "ip": address, "vmid": vmid, **({"mac": mac} if mac else {}), **({"hostname": guest.name} if guest else {})})
    return entries
