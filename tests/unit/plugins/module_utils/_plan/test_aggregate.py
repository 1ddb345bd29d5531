"""Merging plain ipset entries: the fewest CIDRs, and every address keeps its membership."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_ipset_entry
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import IPSetEntry
from ansible_collections.pve.firewall.plugins.module_utils._plan.aggregate import aggregate_entries, collapse

# Small address space (10.0.0.0/26 and 2001:db8::/122) so that blocks overlap and touch a lot.
V4 = st.tuples(st.integers(0, 63), st.integers(26, 32)).map(lambda t: ipaddress.ip_network((0x0A000000 + t[0], t[1]), strict=False))
V6 = st.tuples(st.integers(0, 63), st.integers(122, 128)).map(lambda t: ipaddress.ip_network((0x20010DB8 << 96 | t[0], t[1]), strict=False))


def entry(network, nomatch=False, comment=None):
    return normalise_ipset_entry(IPSetEntry(str(network), nomatch, comment))


def no_alias(_name):
    return None


def member(entries, address) -> bool:
    """hash:net semantics: the most specific entry containing the address decides."""
    best = None
    for item in entries:
        network = ipaddress.ip_network(item.cidr)
        if network.version == address.version and address in network and (best is None or network.prefixlen > best[0]):
            best = (network.prefixlen, item.nomatch)
    return best is not None and not best[1]


@given(st.lists(V4, max_size=30))
def test_collapse_matches_ipaddress(networks):
    blocks = [(int(net.network_address), net.prefixlen) for net in networks]
    expected = [(int(net.network_address), net.prefixlen) for net in ipaddress.collapse_addresses(networks)]
    assert collapse(blocks, 32) == expected


@given(st.lists(V6, max_size=30))
def test_collapse_matches_ipaddress_v6(networks):
    blocks = [(int(net.network_address), net.prefixlen) for net in networks]
    expected = [(int(net.network_address), net.prefixlen) for net in ipaddress.collapse_addresses(networks)]
    assert collapse(blocks, 128) == expected


def unique(entries):
    seen = {}
    for item in entries:
        seen.setdefault(item.cidr, item)
    return list(seen.values())


@settings(max_examples=200)
@given(st.lists(st.tuples(st.one_of(V4, V6), st.booleans(), st.sampled_from([None, None, None, "kept"])), max_size=25))
def test_membership_is_kept(items):
    entries = unique(entry(net, nomatch, comment) for net, nomatch, comment in items)
    merged = aggregate_entries(entries, no_alias)
    assert len({item.cidr for item in merged}) == len(merged)
    assert {item for item in entries if item.nomatch or item.comment} <= set(merged)
    for base in (ipaddress.ip_address("10.0.0.0"), ipaddress.ip_address("2001:db8::")):
        for offset in range(64):
            address = base + offset
            assert member(merged, address) == member(entries, address), address


def test_plain_entries_merge_and_the_rest_stays():
    entries = [
        entry("10.0.0.0/25"),
        entry("10.0.0.128/25"),
        entry("10.0.1.0/24"),
        entry("10.0.1.7"),  # inside 10.0.1.0/24
        entry("192.0.2.0/24", comment="office"),
        entry("192.0.2.0/25"),  # stays: merging never crosses commented entries
        entry("2001:db8::/33"),
        entry("2001:db8:8000::/33"),
        IPSetEntry("admins"),
    ]
    merged = aggregate_entries(entries, no_alias)
    assert sorted(item.cidr for item in merged) == sorted(["10.0.0.0/23", "192.0.2.0/24", "192.0.2.0/25", "2001:db8::/32", "admins"])


def test_entries_inside_a_nomatch_network_are_not_merged_away():
    entries = [entry("10.0.0.0/8"), entry("10.1.0.0/16", nomatch=True), entry("10.1.2.0/24"), entry("10.1.3.0/24")]
    merged = aggregate_entries(entries, no_alias)
    assert sorted(item.cidr for item in merged) == sorted(["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.3.0/24"])


def test_nomatch_alias_entries_count_by_their_address():
    entries = [entry("10.0.0.0/8"), IPSetEntry("lab", nomatch=True), entry("10.1.2.0/24")]
    merged = aggregate_entries(entries, {"lab": "10.1.0.0/16"}.get)
    assert sorted(item.cidr for item in merged) == sorted(["10.0.0.0/8", "lab", "10.1.2.0/24"])


def test_a_merged_network_equal_to_a_commented_entry_is_dropped():
    entries = [entry("10.0.0.0/25"), entry("10.0.0.128/25"), entry("10.0.0.0/24", comment="lan")]
    assert aggregate_entries(entries, no_alias) == (entry("10.0.0.0/24", comment="lan"),)
