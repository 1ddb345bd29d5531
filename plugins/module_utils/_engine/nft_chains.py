"""The fixed chains of proxmox-firewall's base ruleset, as decisions on one packet.

proxmox-firewall (the nftables backend, host option ``nftables: 1``) loads a skeleton
(``proxmox-firewall/resources/proxmox-firewall.nft``) and fills its empty chains from the
configuration (``proxmox-firewall/src/firewall.rs``). This module holds what the skeleton
decides by itself; ``nft_host`` and ``nft_guest`` put the pieces in the order the base chains
``input``, ``output``, ``vm-in`` and ``vm-out`` run them. Chains are named as nftables lists
them: ``inet proxmox-firewall <chain>`` and ``bridge proxmox-firewall-guests <chain>``.

As for the iptables backend, every packet is the first packet of a new connection: the
``ct state`` verdict maps (established, related, invalid) never decide it.
"""

from __future__ import annotations

import ipaddress

from .matchers import PacketView
from .std_chains import ACCEPT, DROP, REJECT, Decision, port_in

HOST_TABLE = "inet proxmox-firewall"
GUEST_TABLE = "bridge proxmox-firewall-guests"

TCP, UDP, ICMP, IGMP, ICMPV6 = 6, 17, 1, 2, 58

# default-in: the management ports whose traffic jumps to accept-management, and the
# corosync range accepted from anywhere (skeleton, chain default-in).
MANAGEMENT_PORTS = ((8006, 8006), (5900, 5999), (3128, 3128), (22, 22))
COROSYNC_PORTS = (5405, 5412)

# allow-icmp (both tables): ICMP errors accepted before any rule, whatever the policy.
_ALLOWED_ICMP = {4: frozenset({3, 4, 11}), 6: frozenset({1, 2, 3, 4})}
_ALLOWED_ICMP_NAMES = {
    4: "destination-unreachable, source-quench, time-exceeded",
    6: "destination-unreachable, packet-too-big, time-exceeded, parameter-problem",
}

# Neighbor discovery (RFC 4861 types): the allow-/block-ndp-in sets include router
# advertisements and redirects, the -out sets do not; allow-/block-ra-out hold those two.
NDP_IN = frozenset({133, 134, 135, 136, 137})
NDP_OUT = frozenset({133, 135, 136})
RA_OUT = frozenset({134, 137})
_NDP_NAMES = {
    133: "router-solicitation",
    134: "router-advertisement",
    135: "neighbor-solicitation",
    136: "neighbor-advertisement",
    137: "redirect",
}

# allow-/block-dhcp-in and -out: (source port, destination port) per family.
DHCP_IN = {4: (67, 68), 6: (547, 546)}
DHCP_OUT = {4: (68, 67), 6: (546, 547)}

_V4_MULTICAST = ipaddress.ip_network("224.0.0.0/4")
_V4_MULTICAST_RANGE = (int(_V4_MULTICAST.network_address), int(_V4_MULTICAST.broadcast_address))


def _v4_multicast_source(packet: PacketView) -> bool:
    return packet.version == 4 and _V4_MULTICAST_RANGE[0] <= packet.source <= _V4_MULTICAST_RANGE[1]


def do_reject(packet: PacketView) -> Decision:
    """Chain ``do-reject`` (the target of REJECT outside the guest IN chains): link-layer
    broadcasts and IPv4 multicast sources are dropped, everything else is rejected. Unlike
    PVEFW-reject it answers ICMP too (icmpx port-unreachable)."""
    if packet.dsttype == "BROADCAST":
        return DROP, "do-reject drops broadcast packets (meta pkttype broadcast) instead of rejecting them"
    if _v4_multicast_source(packet):
        return DROP, "do-reject drops packets from multicast sources (224.0.0.0/4) instead of rejecting them"
    return REJECT, "do-reject rejects it (tcp reset, icmpx port-unreachable, host-/admin-prohibited)"


def guest_in_reject(packet: PacketView) -> Decision:
    """REJECT in the bridge table towards a guest is a plain drop (rule.rs generate_verdict)."""
    return DROP, "REJECT towards a guest is a drop on the nftables backend"


def policy(name: str, packet: PacketView, *, guest_in: bool = False) -> Decision:
    """A chain's closing verdict: ACCEPT, DROP, or REJECT as ``do-reject`` (a drop towards a
    guest). No noise handling: the skeleton does that in ``default-in``, before the rules."""
    if name == ACCEPT:
        return ACCEPT, "policy ACCEPT"
    if name == REJECT:
        action, why = guest_in_reject(packet) if guest_in else do_reject(packet)
        return action, f"policy REJECT: {why}"
    return DROP, "policy DROP"


def allowed_icmp(packet: PacketView) -> str | None:
    """Why chain ``allow-icmp`` accepts the packet, or None."""
    icmp_proto = ICMP if packet.version == 4 else ICMPV6
    if packet.proto == icmp_proto and packet.icmp is not None and packet.icmp[0] in _ALLOWED_ICMP[packet.version]:
        return f"allow-icmp accepts the ICMP errors {_ALLOWED_ICMP_NAMES[packet.version]} before any rule"
    return None


def ndp_message(packet: PacketView, types: frozenset[int]) -> str | None:
    """The neighbor discovery message of ``types`` the packet is, or None."""
    if packet.version == 6 and packet.proto == ICMPV6 and packet.icmp is not None and packet.icmp[0] in types:
        return _NDP_NAMES[packet.icmp[0]]
    return None


def dhcp_message(packet: PacketView, ports: dict[int, tuple[int, int]]) -> bool:
    sport, dport = ports[packet.version]
    return packet.proto == UDP and packet.sport == sport and packet.dport == dport


def default_in_noise(packet: PacketView) -> Decision | None:
    """The noise ``default-in`` handles before any user rule: SMB goes to do-reject, UPnP and
    DNS replies are dropped."""
    smb = (packet.proto == UDP and port_in(packet.dport, (135, 135), (137, 139), (445, 445))) or (
        packet.proto == TCP and port_in(packet.dport, (135, 135), (139, 139), (445, 445))
    )
    if smb or (packet.proto == UDP and packet.sport == 137 and port_in(packet.dport, (1024, 65535))):
        action, why = do_reject(packet)
        return action, f"default-in sends SMB/NetBIOS noise to do-reject before any rule: {why}"
    if packet.proto == UDP and packet.dport == 1900:
        return DROP, "default-in drops UPnP (udp 1900) before any rule"
    if packet.proto == UDP and packet.sport == 53:
        return DROP, "default-in drops DNS replies (udp source port 53) before any rule"
    return None


def smurf(packet: PacketView) -> str | None:
    """Why chain ``block-smurfs`` drops the packet, or None (IPv4 source 0.0.0.0 returns first)."""
    if packet.version == 4 and packet.source == 0:
        return None
    if packet.dsttype == "BROADCAST":
        return "block-smurfs drops broadcast packets (meta pkttype broadcast)"
    if _v4_multicast_source(packet):
        return "block-smurfs drops packets from a multicast source (224.0.0.0/4)"
    return None
