"""PVE's standard chains, as decisions on one packet (reference 5.1, 5.2; FW:606-761).

Every packet is taken to be the first packet of a new connection (a TCP SYN): established
and invalid traffic never reach the rules the collection manages (reference 5.5).

* ``PVEFW-reject`` (the target of every REJECT): drops what must not be answered (IPv4:
  broadcast destinations, multicast sources, ICMP; IPv6: ICMPv6), rejects the rest.
* ``PVEFW-Drop`` / ``PVEFW-Reject`` (the DROP and REJECT policies) handle noise first: they
  accept critical ICMP errors, drop broadcast/multicast destinations, UPnP and DNS replies,
  and drop or reject SMB, before the final DROP or REJECT. Only where that changes the
  verdict does it show; the result says which entry decided.
* ``PVEFW-smurfs``: IPv4 packets from broadcast or multicast sources are dropped; the
  DHCP source 0.0.0.0 is let through.
"""

from __future__ import annotations

import ipaddress

from .matchers import PacketView

ACCEPT = "ACCEPT"
DROP = "DROP"
REJECT = "REJECT"

_TCP, _UDP, _ICMP, _ICMPV6 = 6, 17, 1, 58
_V4_MULTICAST = ipaddress.ip_network("224.0.0.0/4")
_V6_MULTICAST = ipaddress.ip_network("ff00::/8")
_V4_MULTICAST_RANGE = (int(_V4_MULTICAST.network_address), int(_V4_MULTICAST.broadcast_address))
_V6_MULTICAST_RANGE = (int(_V6_MULTICAST.network_address), int(_V6_MULTICAST.broadcast_address))

# Critical ICMP errors the policies accept: (type, code or None for all codes).
_CRITICAL_ICMP = {4: ((3, 4), (11, None)), 6: ((1, None), (3, None), (2, None))}
_CRITICAL_ICMP_NAMES = {4: "fragmentation-needed or time-exceeded", 6: "destination-unreachable, time-exceeded or packet-too-big"}

Decision = tuple[str, str]  # (ACCEPT | DROP | REJECT, which entry of the standard chain decided)


def _in(address: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= address <= bounds[1]


def is_multicast(version: int, address: int) -> bool:
    return _in(address, _V4_MULTICAST_RANGE if version == 4 else _V6_MULTICAST_RANGE)


def port_in(port: int | None, *ranges: tuple[int, int]) -> bool:
    """Whether ``port`` lies in one of the inclusive ``(first, last)`` ranges."""
    return port is not None and any(first <= port <= last for first, last in ranges)


def reject(packet: PacketView) -> Decision:
    """``PVEFW-reject``: what a REJECT rule or policy does to this packet."""
    if packet.version == 4:
        if packet.dsttype == "BROADCAST":
            return DROP, "PVEFW-reject drops packets to broadcast destinations instead of rejecting them"
        if is_multicast(4, packet.source):
            return DROP, "PVEFW-reject drops packets from multicast sources instead of rejecting them"
        if packet.proto == _ICMP:
            return DROP, "PVEFW-reject drops ICMP instead of rejecting it"
    elif packet.proto == _ICMPV6:
        return DROP, "PVEFW-reject drops ICMPv6 instead of rejecting it"
    return REJECT, "rejected (tcp-reset, port-unreachable or prohibited)"


def _critical_icmp(packet: PacketView) -> bool:
    icmp_proto = _ICMP if packet.version == 4 else _ICMPV6
    if packet.proto != icmp_proto or packet.icmp is None:
        return False
    kind, code = packet.icmp
    return any(kind == want and (want_code is None or code == want_code) for want, want_code in _CRITICAL_ICMP[packet.version])


def _broadcast_destination(packet: PacketView) -> bool:
    """PVEFW-DropBroadcast: IPv4 by address type and 224.0.0.0/4; IPv6 by ff00::/8."""
    if packet.version == 4:
        return packet.dsttype in ("BROADCAST", "MULTICAST", "ANYCAST") or is_multicast(4, packet.dest)
    return is_multicast(6, packet.dest)


def _smb(packet: PacketView) -> bool:
    if packet.proto == _UDP:
        return port_in(packet.dport, (135, 135), (445, 445), (137, 139)) or (port_in(packet.dport, (1024, 65535)) and packet.sport == 137)
    return packet.proto == _TCP and port_in(packet.dport, (135, 135), (139, 139), (445, 445))


def policy(name: str, packet: PacketView) -> Decision:
    """The verdict of a chain policy (ACCEPT, DROP or REJECT) for this packet."""
    if name == ACCEPT:
        return ACCEPT, "policy ACCEPT"
    rejecting = name == REJECT
    chain = "PVEFW-Reject" if rejecting else "PVEFW-Drop"
    if packet.version == 6 and packet.proto == _TCP and packet.dport == 43:
        action, why = reject(packet)
        return action, f"{chain} rejects tcp port 43 (auth) whatever the policy: {why}"
    if _broadcast_destination(packet):
        return DROP, f"{chain} silently drops broadcast, multicast and anycast destinations"
    if _critical_icmp(packet):
        return ACCEPT, f"{chain} accepts the critical ICMP errors {_CRITICAL_ICMP_NAMES[packet.version]}"
    if _smb(packet):
        if rejecting:
            action, why = reject(packet)
            return action, f"{chain} rejects SMB noise: {why}"
        return DROP, f"{chain} drops SMB noise"
    if packet.proto == _UDP and packet.dport == 1900:
        return DROP, f"{chain} drops UPnP (udp 1900) silently"
    if packet.proto == _UDP and packet.sport == 53:
        return DROP, f"{chain} drops DNS replies (udp source port 53) silently"
    if rejecting:
        action, why = reject(packet)
        return action, f"policy REJECT: {why}"
    return DROP, "policy DROP"


def smurf(packet: PacketView) -> str | None:
    """Why ``PVEFW-smurfs`` drops this packet, or None (IPv4 only)."""
    if packet.version != 4 or packet.source == 0:
        return None  # 0.0.0.0 is the DHCP client's source
    if packet.srctype == "BROADCAST":
        return "PVEFW-smurfs drops packets from a broadcast source"
    if is_multicast(4, packet.source):
        return "PVEFW-smurfs drops packets from a multicast source (224.0.0.0/4)"
    return None
