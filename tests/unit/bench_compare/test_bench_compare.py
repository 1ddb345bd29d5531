"""The pure parts of ``make bench-compare``: lower bounds, state comparison, the seeded
``.fw`` files and the playbooks of both collections (tests/bench/compare)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import parse_fw
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind
from ansible_collections.pve.firewall.tests.bench.compare import playbooks, spec


def rule(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(n), **extra}


TEN = [rule(n) for n in range(10)]


@pytest.mark.parametrize(
    ("before", "after", "writes"),
    [
        ([], [], 0),
        (TEN, TEN, 0),
        ([], TEN, 10),  # one POST per rule, the last first
        (TEN, [rule(99), *TEN], 1),  # a POST lands on top
        (TEN, [*TEN[:5], rule(99), *TEN[5:]], 2),  # a POST and a move
        (TEN, [*TEN, rule(99)], 2),
        (TEN, [*TEN[:3], rule(3, dport="99"), *TEN[4:]], 1),  # a PUT in place
        (TEN, TEN[:4] + TEN[5:], 1),  # a DELETE
        (TEN, [], 10),
        (TEN, [TEN[9], *TEN[:9]], 1),  # one move (as bounds go: one rule removed and added)
    ],
)
def test_rule_list_writes(before: list[dict[str, Any]], after: list[dict[str, Any]], writes: int) -> None:
    assert spec.rule_list_writes(before, after) == writes


def test_the_scenarios_lower_bounds() -> None:
    bounds = {scenario.name: spec.lower_bound(scenario.before, scenario.after) for scenario in spec.scenarios()}
    lists = 1 + len(spec.NODES) + len(spec.GUESTS)
    group_rules = sum(len(group.rules) for group in spec.GROUPS.values())
    entries = sum(len(ipset.entries) for ipset in spec.IPSETS.values())
    rules = len(spec.CLUSTER_RULES) + 5 * len(spec.NODES) + 10 * len(spec.GUESTS)
    # reads: every rule list, the alias, set and group lists (the sets and groups are new)
    assert bounds["converge"] == spec.Bound(lists + 3, len(spec.ALIASES) + len(spec.IPSETS) + entries + len(spec.GROUPS) + group_rules + rules)
    # and a no-op also reads each set's entries and each group's rules
    assert bounds["rerun"] == spec.Bound(lists + 3 + len(spec.IPSETS) + len(spec.GROUPS), 0)
    assert bounds["options"] == spec.Bound(lists, lists)
    assert bounds["insert"] == spec.Bound(1, 2)
    assert bounds["change"] == spec.Bound(1, 1)
    assert bounds["ipset"] == spec.Bound(2, 2 * spec.BLOCKLIST_DELTA)


def test_a_spec_rule_and_its_read_back_compare_equal() -> None:
    wanted = {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+admins", "icmp_type": None}
    read = {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+admins", "enable": 1, "pos": 3, "digest": "ab", "ipversion": 4}
    assert spec.canonical_rule(wanted) == spec.canonical_rule(read)
    assert spec.canonical_rule({**wanted, "enable": False}) != spec.canonical_rule(read)
    assert spec.canonical_rule({**wanted, "comment": "x"}) != spec.canonical_rule(read)


def test_differences_name_the_place() -> None:
    cluster = spec.realistic_cluster()
    expected = spec.expected_state(cluster)
    assert spec.differences(expected, spec.expected_state(cluster)) == []
    moved = list(cluster.rules["cluster"])
    moved[3], moved[4] = moved[4], moved[3]
    wrong = spec.expected_state(spec.Cluster(cluster.aliases, cluster.ipsets, cluster.groups, {**cluster.rules, "cluster": tuple(moved)}))
    got, wanted = dict(spec.canonical_rule(moved[3])), dict(spec.canonical_rule(cluster.rules["cluster"][3]))
    assert spec.differences(expected, wrong) == [f"rules cluster: rule 3 is {got}, expected {wanted}"]
    feed = spec.blocklist_feeds(20, 5)[0]
    shorter = spec.expected_state(spec.blocklist_cluster(feed[:-2]))
    assert spec.differences(spec.expected_state(spec.blocklist_cluster(feed)), shorter) == ["ipset blocklist: 2 entries missing, 0 not wanted"]


def test_the_seeded_files_hold_the_spec() -> None:
    cluster = spec.realistic_cluster()
    files = spec.render_files(cluster)
    parsed = parse_fw(files["firewall/cluster.fw"], FileKind.CLUSTER)
    assert len(parsed.file.rules) == len(spec.CLUSTER_RULES)
    assert {group.name: len(group.rules) for group in parsed.file.groups} == {name: len(group.rules) for name, group in spec.GROUPS.items()}
    assert {ipset.name: len(ipset.entries) for ipset in parsed.file.ipsets} == {name: len(ipset.entries) for name, ipset in spec.IPSETS.items()}
    assert not parsed.warnings
    guest = spec.GUESTS[0]
    assert files[f"firewall/{guest.vmid}.fw"].startswith("[RULES]\n\nGROUP webserver -i net0\n")
    assert spec.rule_line({"type": "out", "action": "DROP", "dest": "203.0.113.0/24", "log": "info", "enable": False, "comment": "x"}) == (
        "|OUT DROP -dest 203.0.113.0/24 -log info # x"
    )


def test_the_playbooks_of_both_collections() -> None:
    by_name = {scenario.name: scenario for scenario in spec.scenarios()}
    ours = playbooks.ours_tasks(by_name["converge"])
    lists = 1 + len(spec.NODES) + len(spec.GUESTS)
    assert len(ours) == len(spec.ALIASES) + len(spec.IPSETS) + len(spec.GROUPS) + lists
    theirs = playbooks.theirs_tasks(by_name["converge"])
    assert len(theirs) == 1 + 1 + 2 * len(spec.GROUPS) + lists
    first = theirs[-1]["community.proxmox.proxmox_firewall"]["rules"]
    assert [item["pos"] for item in first] == list(range(10)) and all("enable" in item for item in first)
    assert playbooks.theirs_tasks(by_name["options"]) == []  # it cannot express options
    removal = playbooks.theirs_tasks(by_name["ipset"])[-1]["community.proxmox.proxmox_firewall"]
    assert removal["state"] == "absent" and len(removal["ip_sets"][0]["cidrs"]) == spec.BLOCKLIST_DELTA
    guest = next(task for task in ours if task["name"] == f"rules {spec.GUESTS[2].key}")["pve.firewall.firewall_rule"]
    assert (guest["level"], guest["vmid"], guest["node"]) == ("ct", spec.GUESTS[2].vmid, spec.GUESTS[2].node)


def test_time_ratios_are_medians_of_the_pairs_not_ratios_of_medians() -> None:
    from ansible_collections.pve.firewall.tests.bench.bench_compare import paired_ratio

    # pairs 3.0, 0.75 and 2.0: their median is 2; the ratio of the medians would say 0.75
    assert paired_ratio([3.0, 3.0, 8.0], [1.0, 4.0, 4.0]) == "2.00x"
    assert paired_ratio([], []) == "-"
