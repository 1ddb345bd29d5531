"""The IP sets PVE's SDN generates (``+sdn/<name>``), built from the SDN configuration.

Both backends get the same sets from the same code: proxmox-ve-config's
``SdnConfig::ipsets`` (sdn/config.rs) and ``Ipam::ipsets`` (sdn/ipam.rs), which
proxmox-firewall reads directly (config.rs ``FirewallConfig::parse_sdn``, ``parse_ipam``) and
pve-firewall through the pve-rs binding ``PVE::RS::Firewall::SDN::config``
(pve-rs/src/bindings/firewall/sdn.rs; there an address range becomes its CIDRs):

* four sets per vnet, whether it has subnets or not: ``<vnet>-all`` (every subnet's CIDR),
  ``<vnet>-gateway`` (every gateway), ``<vnet>-no-gateway`` (every CIDR, the gateways as
  ``nomatch``) and ``<vnet>-dhcp`` (every DHCP range);
* ``guest-ipam-<vmid>`` per guest with addresses in PVE's IPAM.

The configuration is given as plain data (the ``sdn`` key of a simulation's inventory, the
conformance vectors) or read through the API (``_api.service``); :func:`sdn_from_data` turns
the plain form into the model's :class:`Sdn`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from .._compiler.addresses import IPNetwork
from .._model.inventory import Sdn, Subnet, Vnet
from .._model.objects import ClusterConfig

SdnEntries = tuple[tuple[IPNetwork, bool], ...]  # (network, nomatch) as an ipset holds them


def sdn_sets(sdn: Sdn) -> dict[str, SdnEntries]:
    """Every set the SDN configuration generates, by name (as generated: case kept)."""
    sets: dict[str, SdnEntries] = {}
    for vnet in sdn.vnets.values():
        every: list[tuple[IPNetwork, bool]] = []
        gateways: list[tuple[IPNetwork, bool]] = []
        dhcp: list[tuple[IPNetwork, bool]] = []
        for subnet in vnet.subnets:
            network = _network(subnet.cidr)
            if network is not None:
                every.append((network, False))
            gateway = _network(subnet.gateway) if subnet.gateway else None
            if gateway is not None:
                gateways.append((gateway, False))
            for first, last in subnet.dhcp_ranges:
                dhcp += [(cidr, False) for cidr in _range_cidrs(first, last)]
        sets[f"{vnet.name}-all"] = tuple(every)
        sets[f"{vnet.name}-gateway"] = tuple(gateways)
        # SdnConfig::ipsets pushes each subnet, then its gateway as nomatch
        sets[f"{vnet.name}-no-gateway"] = tuple(every) + tuple((network, True) for network, _member in gateways)
        sets[f"{vnet.name}-dhcp"] = tuple(dhcp)
    for vmid, addresses in sorted(sdn.ipam.items()):
        found = tuple((network, False) for network in (_network(text) for text in addresses) if network is not None)
        if found:
            sets[f"guest-ipam-{vmid}"] = found
    return sets


def sdn_set_names(sdn: Sdn | None) -> frozenset[str] | None:
    return None if sdn is None else frozenset(sdn_sets(sdn))


def _network(text: str | None) -> IPNetwork | None:
    """A subnet CIDR as written, or an address as its /32 or /128 (``Cidr::from(IpAddr)``)."""
    if not text:
        return None
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _range_cidrs(first: str, last: str) -> list[IPNetwork]:
    """A DHCP range as the CIDRs that cover it exactly (pve-rs ``range.to_cidrs()``)."""
    try:
        start, end = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
        return list(ipaddress.summarize_address_range(start, end))
    except (ValueError, TypeError):
        return []


# ---------------------------------------------------------------------------------------
# Plain data


def sdn_from_data(data: Any, where: str = "sdn") -> tuple[Sdn | None, list[str]]:
    """The SDN configuration from plain data, and every problem found (naming its place)::

    vnets:
      vnet1:
        zone: zone1
        subnets:
          - {cidr: 10.10.0.0/24, gateway: 10.10.0.1, dhcp_ranges: [10.10.0.100-10.10.0.200]}
    ipam:
      101: [10.10.0.50, "fd00::50"]
    """
    if data is None:
        return None, []
    if not isinstance(data, Mapping):
        return None, [f"{where}: a mapping with vnets and ipam"]
    errors = [f"{where}.{key}: unknown key (vnets, ipam)" for key in data if key not in ("vnets", "ipam")]
    vnets: dict[str, Vnet] = {}
    raw_vnets = data.get("vnets") or {}
    if not isinstance(raw_vnets, Mapping):
        errors.append(f"{where}.vnets: a mapping of vnet name to zone and subnets")
        raw_vnets = {}
    for name, raw in raw_vnets.items():
        vnet, problems = _vnet(str(name), raw or {}, f"{where}.vnets.{name}")
        errors += problems
        if vnet is not None:
            vnets[vnet.name] = vnet
    ipam: dict[int, tuple[str, ...]] = {}
    raw_ipam = data.get("ipam") or {}
    if not isinstance(raw_ipam, Mapping):
        errors.append(f"{where}.ipam: a mapping of guest id to its addresses")
        raw_ipam = {}
    for key, raw in raw_ipam.items():
        place = f"{where}.ipam.{key}"
        if not str(key).isdigit():
            errors.append(f"{place}: '{key}' is not a guest id")
            continue
        addresses = [raw] if isinstance(raw, str) else list(raw or [])
        for text in addresses:
            if not _is_address(str(text)):
                errors.append(f"{place}: '{text}' is not an IP address")
        ipam[int(str(key))] = tuple(str(text) for text in addresses)
    return Sdn(vnets, ipam), errors


def _vnet(name: str, raw: Any, place: str) -> tuple[Vnet | None, list[str]]:
    if not isinstance(raw, Mapping):
        return None, [f"{place}: a mapping with zone and subnets"]
    errors = [f"{place}.{key}: unknown key (zone, subnets)" for key in raw if key not in ("zone", "subnets")]
    subnets = []
    for index, item in enumerate(raw.get("subnets") or []):
        where = f"{place}.subnets[{index}]"
        item = {"cidr": item} if isinstance(item, str) else item
        if not isinstance(item, Mapping) or "cidr" not in item:
            errors.append(f"{where}: a CIDR or a mapping with cidr, gateway, dhcp_ranges")
            continue
        errors += [f"{where}.{key}: unknown key (cidr, gateway, dhcp_ranges)" for key in item if key not in ("cidr", "gateway", "dhcp_ranges")]
        if _network(str(item["cidr"])) is None:
            errors.append(f"{where}.cidr: '{item['cidr']}' is not a CIDR")
        gateway = item.get("gateway")
        if gateway is not None and not _is_address(str(gateway)):
            errors.append(f"{where}.gateway: '{gateway}' is not an IP address")
        ranges = []
        for text in item.get("dhcp_ranges") or []:
            first, dash, last = str(text).partition("-")
            if not dash or not (_is_address(first) and _is_address(last)):
                errors.append(f"{where}.dhcp_ranges: '{text}' is not a range <first>-<last>")
                continue
            ranges.append((first.strip(), last.strip()))
        subnets.append(Subnet(str(item["cidr"]), str(gateway) if gateway is not None else None, tuple(ranges)))
    return Vnet(name, str(raw.get("zone") or ""), tuple(subnets)), errors


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def may_name_sdn_sets(config: ClusterConfig) -> bool:
    """A rule names ``+sdn/...``, or a set without scope that the datacenter does not define
    (pve-firewall looks such a name up among the SDN sets last)."""
    cluster_sets = {ipset.name for ipset in config.cluster.ipsets}
    files = [config.cluster, *config.hosts.values(), *(guest.file for guest in config.guests.values()), *config.vnets.values()]
    rules = [rule for fw in files for rule in fw.rules] + [rule for group in config.cluster.groups for rule in group.rules]
    for rule in rules:
        for address in (rule.source, rule.dest):
            if address and address.startswith("+") and (address.startswith("+sdn/") or ("/" not in address and address[1:] not in cluster_sets)):
                return True
    return False
