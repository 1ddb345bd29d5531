"""Address specs: classification, PVE's messages, canonical forms."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import (
    AddressError,
    AddressList,
    AddressRange,
    AliasRef,
    IPSetRef,
    canonical_address_spec,
    canonical_alias_cidr,
    canonical_ipset_cidr,
    parse_address_spec,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+blocklist", IPSetRef("blocklist")),
        ("+dc/management", IPSetRef("management", "dc")),
        ("+guest/ipfilter-net0", IPSetRef("ipfilter-net0", "guest")),
        ("+sdn/vnet1-all", IPSetRef("vnet1-all", "sdn")),
        ("webserver", AliasRef("webserver")),
        ("dc/admins", AliasRef("admins", "dc")),
        ("guest/db_1", AliasRef("db_1", "guest")),
    ],
)
def test_references(text, expected):
    assert parse_address_spec(text) == expected


def test_literal_lists_and_ranges():
    spec = parse_address_spec("10.0.0.1,10.1.0.0/16")
    assert isinstance(spec, AddressList) and spec.version == 4
    assert spec.items == (ipaddress.ip_network("10.0.0.1/32"), ipaddress.ip_network("10.1.0.0/16"))
    spec = parse_address_spec("2001:db8::1-2001:db8::ff")
    assert isinstance(spec, AddressList) and spec.version == 6
    assert isinstance(spec.items[0], AddressRange)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.300", "invalid IP address: Invalid quad in IP address 10.0.0.300 - 300"),
        ("10.0.0.1/24", "Invalid prefix 10.0.0.1/24"),
        ("10.0.0.1,", "extraneous commas in list"),
        ("10.0.0.1,,10.0.0.2", "extraneous commas in list"),
        ("10.0.0.1-10.0.0.5,10.0.0.9", "you can't use a range in a list"),
        ("10.0.0.1,2001:db8::1", "detected mixed ipv4/ipv6 addresses in address list '10.0.0.1,2001:db8::1'"),
        ("+" + "a" * 65, "ipset name too long"),
        ("a" * 65, "alias name too long"),
        ("+9bad", "invalid ipset name '+9bad'"),
        ("10.0.0.9-10.0.0.1", "Begin address is greater than end address"),
        ("10.0.0", "invalid IP address"),
    ],
)
def test_invalid_specs(text, message):
    with pytest.raises(AddressError, match=message.replace("+", r"\+").replace("(", r"\(")):
        parse_address_spec(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("10.0.0.1/32", "10.0.0.1"),
        ("FE80:0000:0000:0000:0202:B3FF:FE1E:8329", "fe80::202:b3ff:fe1e:8329"),
        ("2001:db8::/128", "2001:db8::"),
        ("MyAlias", "myalias"),
        ("dc/MyAlias", "dc/myalias"),
        ("+myset", "+myset"),
        ("10.0.0.1, 10.0.0.2", "10.0.0.1,10.0.0.2"),
        ("not an address", "not an address"),
    ],
)
def test_canonical_specs(text, canonical):
    assert canonical_address_spec(text) == canonical


def test_ipset_and_alias_cidrs():
    assert canonical_ipset_cidr("192.168.1.155/24") == "192.168.1.0/24"
    assert canonical_ipset_cidr("10.0.0.1/32") == "10.0.0.1"
    assert canonical_alias_cidr("192.168.1.155/24") == "192.168.1.155/24"
    assert canonical_alias_cidr("2001:db8::1/128") == "2001:db8::1"
