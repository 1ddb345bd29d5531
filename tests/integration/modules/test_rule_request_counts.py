"""The requests firewall_rule and security_group make, counted in the emulator's log.

What `make bench-compare` holds them to (docs/benchmarks.md): a rerun that changes nothing
reads each list once and nothing else, a change ending with a write that carried the digest
is not read back, a run of POSTs is (PVE ignores a POST's digest), and references are read
only for the rules a run writes, and only the kinds those rules use. A change to the
datacenter's or a node's rules reads the datacenter's options once: the lockout guard runs only
while the datacenter firewall is on (here it is off).
"""

from __future__ import annotations

from typing import Any

from conftest import ModuleRunner

CLUSTER_RULES = "/cluster/firewall/rules"
GUARD = "GET /cluster/firewall/options"  # is the datacenter firewall on? (the lockout guard)
VM = {"level": "vm", "vmid": 100, "node": "pve1"}
VM_RULES = "/nodes/pve1/qemu/100/firewall/rules"


def rule(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(2000 + n), **extra}


def calls(cluster: ModuleRunner, seq: int) -> list[str]:
    return [f"{entry['method']} {entry['path']}" for entry in cluster.requests_since(seq)]


def seed_references(cluster: ModuleRunner) -> None:
    api = cluster.api()
    api.post("/cluster/firewall/ipset", name="admins")
    api.post("/cluster/firewall/aliases", name="gateway", cidr="10.0.0.1")
    api.post("/cluster/firewall/groups", group="web")


REFERRING = [
    {"type": "group", "action": "web"},
    rule(1, source="+admins"),
    rule(2, dest="gateway"),
    rule(3),
]


def test_a_list_from_empty_is_posted_and_read_back_once(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    cluster.ok("firewall_rule", level="cluster", state="overridden", rules=[rule(n) for n in range(3)])
    assert calls(cluster, seq) == [f"GET {CLUSTER_RULES}", GUARD] + [f"POST {CLUSTER_RULES}"] * 3 + [f"GET {CLUSTER_RULES}"]


def test_a_change_in_place_is_one_read_and_one_write(cluster: ModuleRunner) -> None:
    rules = [rule(n) for n in range(20)]
    cluster.ok("firewall_rule", level="cluster", state="overridden", rules=rules)
    rules[12] = rule(12, dport="9999")
    seq = cluster.seq()
    result = cluster.ok("firewall_rule", level="cluster", state="overridden", rules=rules)
    assert calls(cluster, seq) == [f"GET {CLUSTER_RULES}", GUARD, f"PUT {CLUSTER_RULES}/12"]
    assert result["after"][12]["dport"] == "9999"  # the predicted list, not a read
    assert [item["dport"] for item in cluster.api().get(CLUSTER_RULES)] == [item["dport"] for item in rules]


def test_an_insert_reads_once_more_for_the_moves_digest_and_not_at_the_end(cluster: ModuleRunner) -> None:
    rules = [rule(n) for n in range(20)]
    cluster.ok("firewall_rule", level="cluster", state="overridden", rules=rules)
    rules.insert(10, rule(99, comment="inserted"))
    seq = cluster.seq()
    cluster.ok("firewall_rule", level="cluster", state="overridden", rules=rules)
    assert calls(cluster, seq) == [f"GET {CLUSTER_RULES}", GUARD, f"POST {CLUSTER_RULES}", f"GET {CLUSTER_RULES}", f"PUT {CLUSTER_RULES}/0"]
    assert [item["dport"] for item in cluster.api().get(CLUSTER_RULES)] == [item["dport"] for item in rules]
    cluster.unchanged("firewall_rule", level="cluster", state="overridden", rules=rules)


def test_a_rerun_reads_the_list_alone_even_when_its_rules_refer_to_things(cluster: ModuleRunner) -> None:
    seed_references(cluster)
    seq = cluster.seq()
    cluster.ok("firewall_rule", **VM, state="overridden", rules=REFERRING)
    first = calls(cluster, seq)
    # converging checks the references first: the datacenter's sets, aliases and groups, the guest's own
    assert {"GET /cluster/firewall/ipset", "GET /cluster/firewall/aliases", "GET /cluster/firewall/groups"} <= set(first)
    seq = cluster.seq()
    cluster.unchanged("firewall_rule", **VM, state="overridden", rules=REFERRING)
    assert calls(cluster, seq) == [f"GET {VM_RULES}"]
    seq = cluster.seq()
    cluster.unchanged("firewall_rule", **VM, state="merged", rules=REFERRING[1:3])
    assert calls(cluster, seq) == [f"GET {VM_RULES}"]


def test_only_the_written_rules_references_are_read(cluster: ModuleRunner) -> None:
    seed_references(cluster)
    cluster.ok("firewall_rule", **VM, state="overridden", rules=REFERRING)
    seq = cluster.seq()
    cluster.ok("firewall_rule", **VM, state="overridden", rules=[*REFERRING, rule(4, source="+admins")])
    reads = [call for call in calls(cluster, seq) if call.startswith("GET") and not call.endswith("/rules")]
    assert reads == ["GET /cluster/firewall/ipset", "GET /nodes/pve1/qemu/100/firewall/ipset"]  # no aliases, no groups


def test_a_new_rule_with_a_missing_reference_still_fails_before_any_write(cluster: ModuleRunner) -> None:
    seed_references(cluster)
    cluster.ok("firewall_rule", **VM, state="overridden", rules=REFERRING)
    result = cluster.fails("firewall_rule", **VM, state="overridden", rules=[*REFERRING, rule(5, source="+nothere")])
    assert "rules[4]" in result["msg"] and "no such ipset 'nothere'" in result["msg"]
    result = cluster.fails("security_group", name="web", state="overridden", rules=[rule(1, source="+nothere")])
    assert "rules[0]" in result["msg"] and "no such ipset 'nothere'" in result["msg"]


def test_a_security_group_rerun_reads_the_group_list_and_its_rules(cluster: ModuleRunner) -> None:
    seed_references(cluster)
    rules = [rule(1, source="+admins"), rule(2, dest="gateway", comment="gw")]
    cluster.ok("security_group", name="db", comment="databases", state="overridden", rules=rules)
    seq = cluster.seq()
    cluster.unchanged("security_group", name="db", comment="databases", state="overridden", rules=rules)
    assert calls(cluster, seq) == ["GET /cluster/firewall/groups", "GET /cluster/firewall/groups/db"]


def test_a_new_security_group_is_created_filled_and_read_back_once(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    cluster.ok("security_group", name="db", comment="databases", state="overridden", rules=[rule(1), rule(2)])
    assert calls(cluster, seq) == [
        "GET /cluster/firewall/groups",
        "POST /cluster/firewall/groups",
        "POST /cluster/firewall/groups/db",
        "POST /cluster/firewall/groups/db",
        "GET /cluster/firewall/groups/db",
    ]
    assert [item["dport"] for item in cluster.api().get("/cluster/firewall/groups/db")] == ["2001", "2002"]
