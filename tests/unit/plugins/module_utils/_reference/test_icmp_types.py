"""ICMP type names per family, as PVE accepts them, with what iptables matches for each."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._reference.icmp_types import (
    ICMP_TYPES,
    icmp_type_match,
    icmp_type_names,
)


def _reference_names(shared_dir: Path, heading: str) -> list[str]:
    """The comma list that follows ``heading`` in reference section 2.4."""
    path = shared_dir / "reference" / "pve-firewall-behaviour.md"
    if not path.exists():
        pytest.skip(f"{path} is absent: cannot compare the ICMP type names with the reference")
    match = re.search(re.escape(heading) + r"\s*\(FW:[0-9-]+\):(.*?)(?:\n\s*\*|\n\n)", path.read_text(encoding="utf-8"), re.DOTALL)
    assert match, f"reference section 2.4 has no {heading!r} list"
    return [name.strip().rstrip(".") for name in match.group(1).split(",")]


@pytest.mark.parametrize(("family", "heading"), [(4, "IPv4 names"), (6, "IPv6 names")])
def test_names_and_order_equal_the_reference(shared_dir: Path, family: int, heading: str):
    assert list(icmp_type_names(family)) == _reference_names(shared_dir, heading)


def test_counts():
    assert len(icmp_type_names(4)) == 37
    assert len(icmp_type_names(6)) == 25


def test_any_exists_for_ipv4_only():
    assert "any" in icmp_type_names(4)
    assert "any" not in icmp_type_names(6)
    assert icmp_type_match(4, "any") == (None, None)


def test_names_are_case_sensitive():
    assert "TOS-host-redirect" in icmp_type_names(4)
    assert "tos-host-redirect" not in icmp_type_names(4)
    assert icmp_type_match(4, "Echo-Request") is None


@pytest.mark.parametrize("alias", ["ping", "pong", "ttl-exceeded", "mld-listener-query"])
def test_iptables_aliases_are_not_pve_names(alias: str):
    assert alias not in icmp_type_names(4)
    assert alias not in icmp_type_names(6)


@pytest.mark.parametrize(
    ("family", "name", "match"),
    [
        (4, "echo-request", (8, None)),
        (4, "echo-reply", (0, None)),
        (4, "port-unreachable", (3, 3)),
        (4, "fragmentation-needed", (3, 4)),
        (4, "host-prohibited", (3, 10)),
        (4, "TOS-host-redirect", (5, 3)),
        (4, "time-exceeded", (11, None)),
        (4, "address-mask-reply", (18, None)),
        (6, "echo-request", (128, None)),
        (6, "port-unreachable", (1, 4)),
        (6, "reject-route", (1, 6)),
        (6, "packet-too-big", (2, None)),
        (6, "unknown-option", (4, 2)),
        (6, "router-advertisement", (134, None)),
        (6, "redirect", (137, None)),
    ],
)
def test_type_and_code(family: int, name: str, match: tuple[int | None, int | None]):
    assert icmp_type_match(family, name) == match


def test_both_spellings_of_neighbour_match_the_same_type():
    assert icmp_type_match(6, "neighbor-solicitation") == icmp_type_match(6, "neighbour-solicitation") == (135, None)
    assert icmp_type_match(6, "neighbor-advertisement") == icmp_type_match(6, "neighbour-advertisement") == (136, None)


def test_names_of_one_family_are_not_all_valid_in_the_other():
    assert icmp_type_match(6, "source-quench") is None
    assert icmp_type_match(4, "packet-too-big") is None


@pytest.mark.parametrize("family", [4, 6])
def test_every_code_name_has_a_whole_type_name(family: int):
    table = ICMP_TYPES[family]
    whole_types = {icmp_type for icmp_type, code in table.values() if code is None}
    for name, (icmp_type, code) in table.items():
        if code is not None:
            assert icmp_type in whole_types, name
        if icmp_type is not None:
            assert 0 <= icmp_type <= 255 and (code is None or 0 <= code <= 255), name


@pytest.mark.parametrize("family", [0, 5, 46])
def test_other_families_are_rejected(family: int):
    with pytest.raises(ValueError, match="family"):
        icmp_type_names(family)
