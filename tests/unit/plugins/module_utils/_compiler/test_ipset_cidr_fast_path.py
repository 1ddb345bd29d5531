"""canonical_ipset_cidr's integer path for plain IPv4 text must agree with the ipaddress path.

The fast path only exists so that sets of tens of thousands of entries normalise quickly; any
text it takes must give exactly what the general path gives, and any text it refuses must
still reach the general path (and its error message).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import (
    AddressError,
    canonical_ipset_cidr,
    format_network,
    parse_ip_or_cidr,
)


def general_path(text: str) -> str:
    return format_network(parse_ip_or_cidr(text))


def outcome(function, text: str) -> tuple[str, str]:
    try:
        return "ok", function(text)
    except AddressError as error:
        return "error", str(error)


OCTETS = st.one_of(st.integers(0, 255).map(str), st.sampled_from(["00", "01", "007", "256", "999", "1000", "", "\u0661", "-1", " 1"]))
PREFIXES = st.one_of(st.none(), st.integers(0, 32).map(str), st.sampled_from(["00", "08", "032", "33", "99", "", "\u0663"]))


@given(st.lists(OCTETS, min_size=3, max_size=5), PREFIXES)
def test_fast_and_general_paths_agree(octets, prefix):
    text = ".".join(octets) + ("" if prefix is None else f"/{prefix}")
    assert outcome(canonical_ipset_cidr, text) == outcome(general_path, text)


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_any_valid_network_text(value, prefix):
    address = ".".join(str((value >> shift) & 255) for shift in (24, 16, 8, 0))
    for text in (address, f"{address}/{prefix}"):
        assert canonical_ipset_cidr(text) == general_path(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("192.168.1.155/24", "192.168.1.0/24"),
        ("10.0.0.1/32", "10.0.0.1"),
        ("10.0.0.1", "10.0.0.1"),
        ("10.255.255.255/8", "10.0.0.0/8"),
        ("255.255.255.255/1", "128.0.0.0/1"),
        ("10.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::1/64", "2001:db8::/64"),
    ],
)
def test_examples(text, expected):
    assert canonical_ipset_cidr(text) == expected


@pytest.mark.parametrize("text", ["010.0.0.1", "10.0.0.256", "10.0.0.1/33", "10.0.0", "\u0661.0.0.1"])
def test_invalid_text_gets_the_general_message(text):
    with pytest.raises(AddressError, match="valid IP address or CIDR"):
        canonical_ipset_cidr(text)
