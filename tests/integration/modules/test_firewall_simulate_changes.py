"""firewall_simulate with ``changes``: the live cluster with a firewall tree laid over it, the
preflight of a rollout. Nothing is written; the answers are those of the cluster as it will be.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import ModuleRunner

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import DEFAULT_TOPOLOGY, topology_from_data

MODULE = "firewall_simulate"
OUTSIDER = "203.0.113.9"
ADMIN = "127.0.0.1"  # the test client: the address the module connects from

ADMIN_ACCESS = {
    "ipsets": [{"name": "admins", "entries": [ADMIN]}],
    "rules": [
        {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "+admins"},
        {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+admins"},
    ],
}


def preflight(runner: ModuleRunner, changes: dict[str, Any], **args: Any) -> dict[str, Any]:
    seq = runner.seq()
    result = runner.run(MODULE, source="live", changes=changes, **args)
    assert runner.writes_since(seq) == []
    return result


@pytest.fixture
def guarded(make_pve_emulator: Callable[..., RunningEmulator]) -> ModuleRunner:
    """Nodes whose local network does not hold the client: a DROP policy really cuts it off."""
    nodes = [{"name": node["name"], "local_network": "192.0.2.0/24"} for node in DEFAULT_TOPOLOGY["nodes"]]
    return ModuleRunner(make_pve_emulator(topology=topology_from_data({**DEFAULT_TOPOLOGY, "nodes": nodes}), tls=True))


def test_a_drop_policy_without_access_rules_is_reported_before_anything_is_written(guarded: ModuleRunner) -> None:
    result = preflight(guarded, {"cluster": {"options": {"enable": 1, "policy_in": "DROP"}}}, lockout_check={"fail_on_lockout": True})
    assert result.get("failed") is True and "the lockout check failed" in result["msg"]
    assert {access["status"] for access in result["lockout"]["accesses"]} == {"lost"}
    assert result["changes"] == {"files": ["cluster"], "nics": [], "node_access": True}
    assert "enable" not in guarded.api().get("/cluster/firewall/options")  # nothing written


def test_the_same_policy_with_admin_rules_keeps_access(guarded: ModuleRunner) -> None:
    changes = {"cluster": {"options": {"enable": 1, "policy_in": "DROP"}, **ADMIN_ACCESS}}
    result = preflight(guarded, changes, lockout_check={}, packets=[{"from": OUTSIDER, "to": "host:pve1", "dport": 8006, "expect": "DROP"}])
    assert not result.get("failed"), result.get("msg")
    assert result["lockout"]["ok"] is True
    assert result["results"][0]["verdict"] == "DROP"
    assert set(result["nodes"]) == {"pve1", "pve2", "pve3"} and result["nodes"]["pve1"]["address"] == guarded.pve.node_host("pve1")[0]
    assert guarded.api().get("/cluster/firewall/rules") == []


def test_guest_changes_do_not_touch_node_access_and_nic_flags_count(cluster: ModuleRunner) -> None:
    # CT 201's NIC has no firewall flag: its rules do not filter until the flag is set
    guest = {"options": {"enable": True, "policy_in": "DROP"}, "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}]}
    packet = {"from": "outside", "to": "ct201", "dport": 22}
    cluster.api().put("/cluster/firewall/options", enable=1)
    without = preflight(cluster, {"guests": {"201": guest}}, packets=[packet])
    assert without["changes"] == {"files": ["ct 201"], "nics": [], "node_access": False}
    assert without["results"][0]["verdict"] == "ACCEPT"  # unfiltered NIC
    flagged = preflight(cluster, {"guests": {"201": {**guest, "nic_firewall": True}}}, packets=[packet])
    assert flagged["results"][0]["verdict"] == "DROP"
    assert flagged["changes"]["nics"] == [201]


def test_rules_merge_or_override(cluster: ModuleRunner) -> None:
    cluster.ok("firewall_rule", level="cluster", rules=[{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "9000"}])
    packet = {"from": OUTSIDER, "to": "host:pve1", "dport": 9000}
    changes = {"cluster": {"options": {"enable": 1, "policy_in": "DROP"}, "rules": [{"type": "in", "action": "ACCEPT", "macro": "SSH"}]}}
    overridden = preflight(cluster, changes, packets=[packet])
    merged = preflight(cluster, changes, changes_rules_state="merged", packets=[packet])
    assert overridden["results"][0]["verdict"] == "DROP"  # the port 9000 rule is gone from the list
    assert merged["results"][0]["verdict"] == "ACCEPT"


def test_a_gathered_cluster_changes_nothing(cluster: ModuleRunner) -> None:
    cluster.ok("ipset", name="admins", entries=["192.0.2.0/24"])
    cluster.ok("firewall_rule", level="cluster", rules=[{"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+admins"}])
    cluster.ok("firewall_rule", level="vm", vmid=100, rules=[{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}])
    info = cluster.ok("firewall_info")
    tree = {key: info[key] for key in ("cluster", "nodes", "guests", "vnets")}
    result = preflight(cluster, tree, changes_prune=True)
    assert result["changes"] == {"files": [], "nics": [], "node_access": False}


def test_prune_removes_unlisted_objects(cluster: ModuleRunner) -> None:
    cluster.ok("ipset", name="old", entries=["192.0.2.1"])
    kept = preflight(cluster, {"cluster": {"ipsets": [{"name": "new", "entries": ["192.0.2.2"]}]}})
    assert kept["changes"]["files"] == ["cluster"]
    same = preflight(cluster, {"cluster": {"ipsets": [{"name": "old", "entries": ["192.0.2.1"]}]}})
    assert same["changes"]["files"] == []
    pruned = preflight(cluster, {"cluster": {"ipsets": []}}, changes_prune=True)
    assert pruned["changes"]["files"] == ["cluster"]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"cluster": {"rules": [{"type": "in", "action": "ACCEPT", "source": "+nosuchset"}]}}, "nosuchset"),
        ({"cluster": {"rules": [{"type": "in", "action": "ACCEPT", "dport": "99999", "proto": "tcp"}]}}, "changes.cluster rules[0]: dport"),
        ({"guests": {"999": {"options": {"enable": True}}}}, "changes.guests.999"),
        ({"guests": {"web": {}}}, "'web' is not a guest id"),
        ({"nodes": {"pve9": {"rules": []}}}, "no node pve9"),
        ({"vnets": {"nope": {"rules": []}}}, "no vnet nope"),
        ({"clusters": {}}, "unknown tree key 'clusters'"),
        ({"guests": {"100": {"nic_firewall": "yes"}}}, "nic_firewall must be a boolean"),
        ({"cluster": {"options": {"policy_in": "DENY"}}}, "policy_in"),
    ],
)
def test_bad_changes_fail_naming_the_place(cluster: ModuleRunner, changes: dict[str, Any], expected: str) -> None:
    result = preflight(cluster, changes)
    assert result.get("failed") is True
    assert expected in result["msg"], result["msg"]
