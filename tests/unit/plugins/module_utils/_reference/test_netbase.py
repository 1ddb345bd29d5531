"""Protocols, services and ethertypes as PVE reads them from Debian netbase."""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._reference.netbase import (
    ETHERTYPES,
    ICMP_PROTOCOLS,
    PORT_PROTOCOLS,
    PROTOCOLS,
    SERVICES,
    canonical_protocol,
    ethertype_known,
    icmp_family,
    protocol_number,
    protocol_suggestion,
    service_port,
    service_suggestion,
    supports_ports,
)


@pytest.mark.parametrize(
    ("spec", "number"),
    [
        ("tcp", 6),
        ("udp", 17),
        ("icmp", 1),
        ("ipv6-icmp", 58),
        ("icmpv6", 58),
        ("gre", 47),
        ("esp", 50),
        ("ospf", 89),
        ("sctp", 132),
        ("udplite", 136),
        ("ip", 0),
        ("hopopt", 0),
        ("mptcp", 262),
        ("6", 6),
        ("0", 0),
        ("58", 58),
        ("262", 262),
    ],
)
def test_protocol_numbers_by_name_and_number(spec: str, number: int):
    assert protocol_number(spec) == number
    assert canonical_protocol(spec) == spec


@pytest.mark.parametrize("spec", ["TCP", "Tcp", "IPv6-ICMP", "OSPFIGP", "06", "200", "256", "-1", "", " tcp", "icmp6"])
def test_names_and_numbers_pve_rejects(spec: str):
    assert protocol_number(spec) is None
    assert canonical_protocol(spec) is None


def test_name_and_number_stay_distinct_spellings():
    assert canonical_protocol("icmp") == "icmp"
    assert canonical_protocol("1") == "1"
    assert protocol_number("icmp") == protocol_number("1") == 1


@pytest.mark.parametrize(("spec", "suggestion"), [("TCP", "tcp"), ("Udp", "udp"), ("IPv6-ICMP", "ipv6-icmp"), ("OSPFIGP", "ospf")])
def test_suggestions_for_aliases_and_wrong_case(spec: str, suggestion: str):
    assert protocol_suggestion(spec) == suggestion


def test_no_suggestion_for_nonsense():
    assert protocol_suggestion("bogus") is None
    assert service_suggestion("bogus") is None


def test_protocol_table_holds_official_names_and_icmpv6_only():
    assert "icmpv6" in PROTOCOLS
    assert "TCP" not in PROTOCOLS
    assert all(name == name.lower() for name in PROTOCOLS)
    assert len(PROTOCOLS) > 50


def test_port_and_icmp_protocols():
    assert PORT_PROTOCOLS == frozenset({6, 17, 136, 33, 132})
    assert dict(ICMP_PROTOCOLS) == {1: 4, 58: 6}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("tcp", True), ("6", True), ("udplite", True), ("dccp", True), ("sctp", True), ("132", True)]
    + [("icmp", False), ("icmpv6", False), ("gre", False), ("47", False), ("bogus", False)],
)
def test_which_protocols_take_ports(spec: str, expected: bool):
    assert supports_ports(spec) is expected


@pytest.mark.parametrize(
    ("spec", "family"), [("icmp", 4), ("icmpv6", 6), ("ipv6-icmp", 6), ("1", None), ("58", None), ("tcp", None)]
)
def test_icmp_family_is_decided_by_name_as_pve_does(spec: str, family: int | None):
    assert icmp_family(spec) == family


@pytest.mark.parametrize(
    ("name", "proto", "port"),
    [
        ("ssh", None, 22),
        ("http", None, 80),
        ("https", None, 443),
        ("https", "udp", 443),
        ("domain", "udp", 53),
        ("domain", "tcp", 53),
        ("ntp", None, 123),
        ("amqp", "sctp", 5672),
        ("ssh", "udp", None),
        ("ntp", "tcp", None),
        ("ssh", "dccp", None),
    ],
)
def test_service_ports(name: str, proto: str | None, port: int | None):
    assert service_port(name, proto) == port


@pytest.mark.parametrize("name", ["www", "imap", "SSH", "Http", "22", "bogus", ""])
def test_service_names_pve_rejects(name: str):
    assert service_port(name) is None


def test_service_aliases_suggest_the_official_name():
    assert service_suggestion("www") == "http"
    assert service_suggestion("imap") == "imap2"


def test_services_list_only_tcp_udp_and_sctp_entries():
    transports = {proto for ports in SERVICES.values() for proto in ports}
    assert transports == {"tcp", "udp", "sctp"}
    assert SERVICES["domain"] == {"tcp": 53, "udp": 53}


@pytest.mark.parametrize(
    ("spec", "known"),
    [
        ("IPv4", True),
        ("ARP", True),
        ("802_1Q", True),
        ("PPP", True),
        ("IPv6", True),
        ("LLDP", True),
        ("0800", True),
        ("86DD", True),
        ("ipv4", False),
        ("ip4", False),
        ("86dd", False),
        ("", False),
    ],
)
def test_ethertype_names_and_numbers(spec: str, known: bool):
    assert ethertype_known(spec) is known


def test_tables_are_read_only():
    with pytest.raises(TypeError):
        PROTOCOLS["new"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        SERVICES["ssh"]["udp"] = 22  # type: ignore[index]
    with pytest.raises(TypeError):
        ETHERTYPES["IPv7"] = "86DE"  # type: ignore[index]
