"""Address specs: classification, PVE's messages, canonical forms."""

from __future__ import annotations

import ipaddress
import re

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
    check_api_ip_or_cidr,
    parse_address_spec,
    parse_ip_or_cidr,
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


# -- what PVE's API refuses although Python's ipaddress reads it (issue 15, class 1)


@pytest.mark.parametrize("text", ["fe80::1%eth0", "fe80::1%eth0/64", "10.0.0.1,fe80::1%2", "fe80::1%eth0-fe80::9"])
def test_a_zone_index_is_refused_in_rule_addresses_with_pves_message(text):
    """Net::IP does not read it (FW parse_address_list): 'Invalid IP address <item>'."""
    with pytest.raises(AddressError, match=r"invalid IP address: Invalid IP address fe80::1%"):
        parse_address_spec(text)


@pytest.mark.parametrize("text", ["fe80::1%eth0", "fe80::1%eth0/64", "2001:db8::1%1/128"])
def test_a_zone_index_is_refused_in_alias_and_ipset_values(text):
    """pve-common's IPv6 regex has no zone index (FW pve_verify_ip_or_cidr, parse_ip_or_cidr)."""
    for check in (check_api_ip_or_cidr, parse_ip_or_cidr, canonical_ipset_cidr):
        with pytest.raises(AddressError, match="value does not look like a valid IP address or CIDR network"):
            check(text)
    with pytest.raises(AddressError):
        canonical_alias_cidr(text)


@pytest.mark.parametrize("text", ["10.0.0.1/0", "fd00::/0", "192.0.2.7/0", "::1/0"])
def test_a_prefix_written_0_keeps_host_bits_and_pves_api_refuses_them(text):
    """FW clean_cidr leaves a '0' prefix alone (false to Perl): Net::IP then says Invalid prefix."""
    with pytest.raises(AddressError, match=f"Invalid prefix {re.escape(text)}"):
        check_api_ip_or_cidr(text)
    assert parse_ip_or_cidr(text).prefixlen == 0  # the .fw parser reads it (a regex only)


@pytest.mark.parametrize("text", ["10.0.0.1/00", "10.0.0.1/000", "fd00::/00", "0.0.0.0/0", "::/0", "0.0.0.0/00", "10.0.0.0/024", "10.0.0.1/24"])
def test_what_pves_api_takes_as_alias_value(text):
    check_api_ip_or_cidr(text)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("10.0.0.1/00", "10.0.0.1/00"),  # PVE stores it as given; '10.0.0.1/0' it would refuse
        ("10.0.0.1/000", "10.0.0.1/000"),
        ("fd00::1/00", "fd00::1/00"),
        ("0.0.0.0/00", "0.0.0.0/0"),
        ("::/000", "::/0"),
        ("10.0.0.0/024", "10.0.0.0/24"),
        ("10.0.0.1/032", "10.0.0.1"),
    ],
)
def test_an_alias_with_a_zero_prefix_keeps_the_spelling_pve_takes(text, canonical):
    assert canonical_alias_cidr(text) == canonical
    check_api_ip_or_cidr(canonical)
    assert canonical_alias_cidr(canonical) == canonical


@pytest.mark.parametrize("text", ["10.0.0.0/\u00b2", "10.0.0.0/\u0663", "10.0.0.\u0661", "10.0.0.0/8\u00b2"])
def test_digits_are_ascii_as_pves_regexes_want(text):
    """Python's int() reads '٣' and crashed on '²'; both are refused as an address error."""
    for check in (parse_address_spec, check_api_ip_or_cidr, canonical_ipset_cidr, canonical_alias_cidr):
        with pytest.raises(AddressError):
            check(text)
