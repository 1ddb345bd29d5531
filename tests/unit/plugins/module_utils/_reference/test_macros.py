"""The macro table: PVE's 86 macros, their IPv6 variants and the case-insensitive lookup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._reference.icmp_types import icmp_type_names
from ansible_collections.pve.firewall.plugins.module_utils._reference.macros import (
    MACROS,
    Macro,
    MacroRule,
    canonical_macro_name,
)
from ansible_collections.pve.firewall.plugins.module_utils._reference.netbase import ICMP_PROTOCOLS, protocol_number

IPV6_VARIANTS = {"Ping", "Trcrt"}
IPV6_ONLY = {"NeighborDiscovery", "DHCPv6"}


@pytest.fixture(scope="module")
def reference_macros(shared_dir: Path) -> dict[str, Any]:
    path = shared_dir / "reference" / "pve-firewall-macros.json"
    if not path.exists():
        pytest.skip(f"{path} is absent: cannot compare the macro table with PVE's")
    return json.loads(path.read_text(encoding="utf-8"))["macros"]


def test_pve_has_86_macros():
    assert len(MACROS) == 86
    assert all(isinstance(macro, Macro) and macro.name == name for name, macro in MACROS.items())


def test_macro_table_equals_pves_reference(reference_macros: dict[str, Any]):
    assert set(MACROS) == set(reference_macros)
    for name, expected in reference_macros.items():
        macro = MACROS[name]
        assert macro.description == expected["description"], name
        assert macro.rules == tuple(
            MacroRule(rule.get("proto"), rule.get("dport"), rule.get("sport")) for rule in expected["rules"]
        ), name


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("ssh", "SSH"),
        ("SSH", "SSH"),
        ("Ssh", "SSH"),
        ("https", "HTTPS"),
        ("bittorrent32", "BitTorrent32"),
        ("neighbordiscovery", "NeighborDiscovery"),
        ("DHCPV6", "DHCPv6"),
        ("ipsecnat", "IPsecnat"),
        ("spiceproxy", "SPICEproxy"),
    ],
)
def test_macro_names_are_looked_up_case_insensitively(given: str, canonical: str):
    assert canonical_macro_name(given) == canonical


@pytest.mark.parametrize("name", ["", "SSH2", "ssh ", "Https-alt", "ICMP", "DHCP"])
def test_unknown_macro_names_give_none(name: str):
    assert canonical_macro_name(name) is None


def test_known_expansions():
    assert MACROS["SSH"].rules == (MacroRule("tcp", "22"),)
    assert MACROS["GRE"].rules == (MacroRule("47"),)
    assert MACROS["DHCPfwd"].rules == (MacroRule("udp", "67:68", "67:68"),)
    assert MacroRule("udp", "1024:65535", "137") in MACROS["SMB"].rules
    assert [rule.proto for rule in MACROS["IPsec"].rules] == ["udp", "50"]


def test_ping_and_trcrt_use_icmpv6_in_the_ipv6_ruleset():
    assert MACROS["Ping"].rules_for(4) == (MacroRule("icmp", "echo-request"),)
    assert MACROS["Ping"].rules_for(6) == (MacroRule("icmpv6", "echo-request"),)
    assert MACROS["Trcrt"].rules_for(6) == (MacroRule("udp", "33434:33524"), MacroRule("icmpv6", "echo-request"))
    assert MACROS["Trcrt"].rules_for(None) == MACROS["Trcrt"].rules
    assert all(MACROS[name].families == frozenset({4, 6}) for name in IPV6_VARIANTS)


@pytest.mark.parametrize("name", sorted(IPV6_ONLY))
def test_ipv6_only_macros_expand_to_nothing_in_the_ipv4_ruleset(name: str):
    macro = MACROS[name]
    assert macro.families == frozenset({6})
    assert macro.rules_for(4) == ()
    assert macro.rules_for(6) == macro.rules == macro.ipv6_rules
    assert macro.rules_for(None)


def test_ipv6_only_templates():
    assert MACROS["DHCPv6"].ipv6_rules == (MacroRule("udp", "546:547", "546:547"),)
    assert [rule.dport for rule in MACROS["NeighborDiscovery"].ipv6_rules] == [
        "router-solicitation",
        "router-advertisement",
        "neighbor-solicitation",
        "neighbor-advertisement",
    ]


def test_all_other_macros_expand_the_same_for_both_families():
    for name, macro in MACROS.items():
        if name in IPV6_VARIANTS | IPV6_ONLY:
            continue
        assert macro.families == frozenset({4, 6}), name
        assert macro.rules_for(4) == macro.rules_for(6) == macro.rules, name


@pytest.mark.parametrize("family", [0, 5, 46])
def test_rules_for_rejects_other_families(family: int):
    with pytest.raises(ValueError, match="family"):
        MACROS["SSH"].rules_for(family)


def test_every_template_is_valid_for_the_ruleset_it_is_used_in():
    for name, macro in MACROS.items():
        for family in sorted(macro.families):
            for rule in macro.rules_for(family):
                number = protocol_number(rule.proto or "")
                assert number is not None, (name, rule)
                icmp_family = ICMP_PROTOCOLS.get(number)
                if icmp_family is not None:
                    assert icmp_family == family, (name, family, rule)
                    assert rule.dport in icmp_type_names(family), (name, rule)
                elif rule.dport is not None:
                    assert all(part.isdigit() for item in rule.dport.split(",") for part in item.split(":")), rule


def test_the_table_is_read_only():
    with pytest.raises(TypeError):
        MACROS["Custom"] = MACROS["SSH"]  # type: ignore[index]
