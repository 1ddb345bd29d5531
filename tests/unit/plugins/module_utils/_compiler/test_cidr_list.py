"""Blocklist text to ipset entries: the pure parser and the pve.firewall.cidr_list filter.

The parser checks each address with the ipset module's own check (``check_ipset_address``), so
both agree on what an entry is; these tests pin the list format around it: comments after
``#`` or ``;``, blank lines, duplicates, and errors that name the line.
"""

from __future__ import annotations

import ipaddress

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.filter import cidr_list as cidr_list_filter
from ansible_collections.pve.firewall.plugins.module_utils._compiler.cidr_list import describe_invalid, parse_cidr_list
from ansible_collections.pve.firewall.plugins.module_utils._compiler.config_validation import ReferenceScope, check_ipsets
from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_ipset_entry
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile, IPSet, IPSetEntry

FIREHOL = """\
#
# firehol_level1
#
# Maintainer      : FireHOL
# List source URL : https://iplists.firehol.org/
#

0.0.0.0/8
1.10.16.0/20
192.0.2.7
"""

SPAMHAUS = """\
; Spamhaus DROP List 2024/01/01 - (c) 2024 The Spamhaus Project SLU
; https://www.spamhaus.org/drop/drop.txt
; Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT
; Expires: Mon, 01 Jan 2024 01:00:00 GMT
1.10.16.0/20 ; SBL256894
1.19.0.0/16 ; SBL434604
2001:db8:1234::/48 ; SBL999999
"""


def test_firehol_netset():
    parsed = parse_cidr_list(FIREHOL)
    assert parsed.entries == ("0.0.0.0/8", "1.10.16.0/20", "192.0.2.7")
    assert parsed.invalid == ()
    assert parsed.lines == 10 and parsed.listed == 3 and parsed.duplicates == 0


def test_spamhaus_drop_with_trailing_comments():
    parsed = parse_cidr_list(SPAMHAUS)
    assert parsed.entries == ("1.10.16.0/20", "1.19.0.0/16", "2001:db8:1234::/48")
    assert parsed.invalid == ()


def test_entries_are_spelled_as_pve_stores_them_and_listed_once():
    text = "192.0.2.7/32\n192.0.2.7\n198.51.100.77/24 # host bits\n198.51.100.0/24\n2001:DB8::1/128\n2001:db8:0::1\n"
    parsed = parse_cidr_list(text)
    assert parsed.entries == ("192.0.2.7", "198.51.100.0/24", "2001:db8::1")
    assert parsed.listed == 6 and parsed.duplicates == 3


def test_blank_lines_whitespace_crlf_bom_and_comment_marks_anywhere():
    text = "\ufeff# list\r\n\r\n   \t\r\n  192.0.2.1  \r\n192.0.2.2#no space\r\n192.0.2.3;no space\r\n\t192.0.2.4\t; tab\r\n"
    assert parse_cidr_list(text).entries == ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")


def test_a_list_of_lines_is_read_like_the_text():
    assert parse_cidr_list(SPAMHAUS.splitlines()) == parse_cidr_list(SPAMHAUS)
    with pytest.raises(TypeError, match="strings only"):
        parse_cidr_list(["192.0.2.1", 7])  # type: ignore[list-item]


def test_every_invalid_line_is_named_with_its_number_and_value():
    text = "192.0.2.1\nexample.org\n\n# fine\n192.0.2.300\n0.0.0.0/0\n192.0.2.0/33\n192.0.2.5 192.0.2.6 ; two\n!192.0.2.9\n10.0.0.0/8\n"
    parsed = parse_cidr_list(text)
    assert parsed.entries == ("192.0.2.1", "10.0.0.0/8")
    assert [(error.location, error.value) for error in parsed.invalid] == [
        ("line 2", "example.org"),
        ("line 5", "192.0.2.300"),
        ("line 6", "0.0.0.0/0"),
        ("line 7", "192.0.2.0/33"),
        ("line 8", "192.0.2.5 192.0.2.6"),
        ("line 9", "!192.0.2.9"),
    ]
    messages = {error.location: error.message for error in parsed.invalid}
    assert messages["line 6"] == "a zero prefix is not allowed in ipset entries"
    assert messages["line 8"] == "more than one value on the line"
    assert describe_invalid(parsed.invalid, limit=2) == (
        "line 2: 'example.org': value does not look like a valid IP address or CIDR network; "
        "line 5: '192.0.2.300': value does not look like a valid IP address or CIDR network; and 4 more"
    )


ADDRESS = st.one_of(
    st.builds(lambda n, p: f"{ipaddress.IPv4Address(n)}/{p}", st.integers(0, 2**32 - 1), st.integers(1, 32)),
    st.builds(lambda n: str(ipaddress.IPv4Address(n)), st.integers(0, 2**32 - 1)),
    st.builds(lambda n, p: f"{ipaddress.IPv6Address(n)}/{p}", st.integers(0, 2**128 - 1), st.integers(1, 128)),
    st.sampled_from(["10.0.0.01", "1.2.3", "::g", "10.0.0.0/0", "alias_name", "10.0.0.0/-1", "dc/alias"]),
)


def _check(values):
    listed = FirewallFile(FileKind.CLUSTER, ipsets=(IPSet("set", None, tuple(IPSetEntry(value) for value in values)),))
    return list(check_ipsets(listed, ReferenceScope(FirewallFile(FileKind.CLUSTER)), str))


@given(st.lists(ADDRESS, max_size=20))
def test_the_parser_and_the_ipset_check_agree(values):
    """With no aliases defined, a line the list accepts is an entry check_ipsets accepts and
    the other way round, and the entries are the ipset module's normalised ones, each once."""
    parsed = parse_cidr_list("\n".join(values))
    refused = {error.location for error in parsed.invalid}
    good = [value for number, value in enumerate(values, start=1) if f"line {number}" not in refused]
    assert [error for error in _check(good) if "duplicate" not in error.message] == []
    assert all(_check([value]) for value in values if value not in good)
    assert parsed.entries == tuple(dict.fromkeys(normalise_ipset_entry(IPSetEntry(value)).cidr for value in good))


# --------------------------------------------------------------------------------------------
# The filter


def test_filter_returns_the_entries():
    assert cidr_list_filter.cidr_list(SPAMHAUS) == ["1.10.16.0/20", "1.19.0.0/16", "2001:db8:1234::/48"]
    assert cidr_list_filter.cidr_list(SPAMHAUS.encode()) == ["1.10.16.0/20", "1.19.0.0/16", "2001:db8:1234::/48"]
    assert cidr_list_filter.cidr_list("") == []


def test_filter_fails_naming_the_lines():
    with pytest.raises(AnsibleFilterError) as failure:
        cidr_list_filter.cidr_list("192.0.2.1\nnot-an-address ; x\n192.0.2.0/24\n10.1\n")
    assert str(failure.value) == (
        "cidr_list: 2 lines are not an IPv4 or IPv6 address or CIDR: "
        "line 2: 'not-an-address': value does not look like a valid IP address or CIDR network; "
        "line 4: '10.1': value does not look like a valid IP address or CIDR network"
    )


def test_filter_skips_invalid_lines_with_a_warning(monkeypatch):
    warnings: list[str] = []
    monkeypatch.setattr(cidr_list_filter.display, "warning", warnings.append)
    assert cidr_list_filter.cidr_list("192.0.2.1\nbogus\n192.0.2.2\n", skip_invalid=True) == ["192.0.2.1", "192.0.2.2"]
    assert warnings == [
        "cidr_list: skipped 1 line is not an IPv4 or IPv6 address or CIDR: line 2: 'bogus': value does not look like a valid IP address or CIDR network"
    ]


def test_filter_refuses_other_input():
    with pytest.raises(AnsibleFilterError, match="not int"):
        cidr_list_filter.cidr_list(42)
    with pytest.raises(AnsibleFilterError, match="strings only"):
        cidr_list_filter.cidr_list(["192.0.2.1", None])


def test_filter_is_registered():
    assert cidr_list_filter.FilterModule().filters() == {"cidr_list": cidr_list_filter.cidr_list}
