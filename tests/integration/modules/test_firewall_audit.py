"""firewall_audit against the TLS emulator: each situation is built through the API or the
other modules of the collection, the audit reports it with its severity, object and fix,
never writes, and fails with ``fail_on`` while still returning every finding.

The default topology matters here: VM 100 (pve1) has two NICs, CT 201 (pve2) has a NIC
without the firewall flag, every node has the interfaces eno1 and vmbr0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, any_overlap, run_examples, with_4_and_1_connections

MODULE = "firewall_audit"


def audit(cluster: ModuleRunner, *, check: bool = False, **args: Any) -> dict[str, Any]:
    """A run that must succeed, report no change and write nothing."""
    seq = cluster.seq()
    result = cluster.run(MODULE, check=check, **args)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert cluster.writes_since(seq) == []
    return result


def found(result: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [finding for finding in result["findings"] if finding["check"] == check]


def where(result: dict[str, Any], check: str) -> list[str]:
    return [finding["where"] for finding in found(result, check)]


def datacenter_on(cluster: ModuleRunner) -> None:
    """The datacenter firewall on with the default DROP policy (the emulator's clients are in
    the nodes' local network, so they keep access through PVE's management exception)."""
    cluster.ok("firewall_options", level="cluster", options={"enable": True})


def rule(cluster: ModuleRunner, path: str, **values: Any) -> None:
    cluster.api().post(path, enable=1, **values)


# --------------------------------------------------------------------------------------------
# the three switches


def test_an_empty_cluster_has_no_findings(cluster: ModuleRunner) -> None:
    result = audit(cluster)
    assert result["findings"] == [] and result["summary"] == ["no findings"]
    assert result["counts"] == {"total": 0, "by_severity": {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 0}, "by_check": {}}


def test_guest_rules_without_the_datacenter_firewall_are_critical(cluster: ModuleRunner) -> None:
    cluster.ok("firewall_rule", level="vm", vmid=100, rules=[{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}])
    result = audit(cluster)
    [finding] = found(result, "guest-unfiltered")
    assert finding["severity"] == "critical"
    assert finding["object"] == {"level": "vm", "node": "pve1", "vmid": 100}
    assert "datacenter firewall is off" in finding["message"] and "guest's firewall is off" in finding["message"]
    assert "level: cluster, options: {enable: true}" in finding["fix"] and "level: vm, vmid: 100, options: {enable: true}" in finding["fix"]
    assert result["summary"][0] == "1 finding: 1 critical"
    assert result["summary"][1].startswith("CRITICAL guest-unfiltered vm 100: ")


def test_a_container_rule_on_a_nic_without_the_flag(cluster: ModuleRunner) -> None:
    datacenter_on(cluster)
    cluster.ok("firewall_options", level="ct", vmid=201, options={"enable": True})
    cluster.ok("firewall_rule", level="ct", vmid=201, rules=[{"type": "in", "action": "ACCEPT", "macro": "HTTP"}])
    result = audit(cluster, levels=["ct"])
    [finding] = found(result, "guest-unfiltered")
    assert finding["where"] == "ct 201" and "the traffic of net0" in finding["message"]
    assert "nic_firewall: true, nics: [net0]" in finding["fix"]
    # the fix it names works: then the guest is filtered
    cluster.ok("firewall_options", level="ct", vmid=201, nic_firewall=True, nics=["net0"])
    assert found(audit(cluster, levels=["ct"]), "guest-unfiltered") == []


def test_guests_without_rules_while_the_datacenter_is_on(cluster: ModuleRunner) -> None:
    datacenter_on(cluster)
    cluster.ok("firewall_options", level="vm", vmid=100, options={"enable": True})
    cluster.ok("firewall_options", level="ct", vmid=201, options={"enable": True})
    result = audit(cluster)
    assert where(result, "guest-firewall-off") == ["vm 101", "vm 102", "ct 200"]
    assert where(result, "nic-flag-off") == ["ct 201 net0"]
    assert {finding["severity"] for finding in found(result, "guest-firewall-off") + found(result, "nic-flag-off")} == {"medium"}


def test_guest_policy_accept(cluster: ModuleRunner) -> None:
    cluster.ok("firewall_options", level="vm", vmid=101, options={"enable": True, "policy_in": "ACCEPT"})
    cluster.ok("firewall_options", level="vm", vmid=102, options={"enable": True, "policy_in": "DROP"})
    assert where(audit(cluster), "guest-policy-accept") == ["vm 101"]


def test_too_many_rules(cluster: ModuleRunner) -> None:
    rules = [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(port)} for port in range(7001, 7005)]
    cluster.ok("firewall_rule", level="vm", vmid=102, rules=rules)
    assert where(audit(cluster, max_rules_per_guest=3), "too-many-rules") == ["vm 102"]
    assert where(audit(cluster, max_rules_per_guest=4), "too-many-rules") == []
    assert where(audit(cluster), "too-many-rules") == []  # default 20


# --------------------------------------------------------------------------------------------
# management access


def test_drop_policy_without_management_access(cluster: ModuleRunner) -> None:
    datacenter_on(cluster)
    [finding] = found(audit(cluster), "no-management-access")
    assert finding["severity"] == "high" and finding["where"] == "cluster"
    assert "pve1, pve2, pve3" in finding["message"]
    cluster.ok("ipset", level="cluster", name="management", entries=["198.51.100.0/24"])
    assert found(audit(cluster), "no-management-access") == []


def test_an_ssh_rule_is_management_access(cluster: ModuleRunner) -> None:
    datacenter_on(cluster)
    cluster.ok("firewall_rule", level="cluster", rules=[{"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "198.51.100.0/24"}])
    assert found(audit(cluster), "no-management-access") == []


# --------------------------------------------------------------------------------------------
# rules that never decide


def test_shadowed_and_duplicate_rules(cluster: ModuleRunner) -> None:
    cluster.ok(
        "firewall_rule",
        level="vm",
        vmid=100,
        state="overridden",
        rules=[
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8000:8100", "comment": "app range"},
            {"type": "in", "action": "DROP", "proto": "tcp", "dport": "8080", "source": "10.0.0.0/8"},
            {"type": "in", "action": "DROP", "proto": "tcp", "dport": "7000:9000"},
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8000:8100", "comment": "again"},
        ],
    )
    result = audit(cluster, levels=["vm"])
    [shadow] = found(result, "rule-shadowed")
    assert shadow["where"] == "vm 100 rules[1]" and shadow["object"]["position"] == 1
    assert "rules[0] (IN ACCEPT -p tcp -dport 8000:8100)" in shadow["message"]
    assert shadow["fix"].startswith("delete rules[1], or move it above rules[0]")
    assert where(result, "rule-duplicate") == ["vm 100 rules[3]"]  # rules[2] is wider than rules[0]: not shadowed


def test_a_security_group_shadows_the_rules_below_its_jump(cluster: ModuleRunner) -> None:
    cluster.ok("security_group", name="web", rules=[{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}, {"type": "in", "action": "ACCEPT", "macro": "HTTP"}])
    cluster.ok(
        "firewall_rule",
        level="node",
        node="pve2",
        rules=[{"type": "group", "action": "web"}, {"type": "in", "action": "REJECT", "proto": "tcp", "dport": "443", "source": "192.0.2.0/24"}],
    )
    result = audit(cluster, levels=["node"], nodes=["pve2"])
    assert where(result, "rule-shadowed") == ["node pve2 rules[1]"]


# --------------------------------------------------------------------------------------------
# references


def test_missing_references(cluster: ModuleRunner) -> None:
    api = cluster.api()
    cluster.ok("ipset", level="cluster", name="partners", entries=["203.0.113.0/24"])
    cluster.ok("alias", level="cluster", name="gateway", cidr="192.0.2.1")
    rule(cluster, "/cluster/firewall/rules", type="in", action="ACCEPT", source="+partners", proto="tcp", dport="443")
    rule(cluster, "/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", source="gateway")
    rule(cluster, "/nodes/pve3/firewall/rules", type="group", action="nosuchgroup")
    # PVE deletes sets and aliases without looking for users
    api.delete("/cluster/firewall/ipset/partners", force=1)
    api.delete("/cluster/firewall/aliases/gateway")
    result = audit(cluster)
    assert where(result, "missing-reference") == ["cluster rules[0]", "node pve3 rules[0]", "vm 100 rules[0]"]
    assert {finding["severity"] for finding in found(result, "missing-reference")} == {"high"}
    messages = [finding["message"] for finding in found(result, "missing-reference")]
    assert "'+partners'" in messages[0] and "security group 'nosuchgroup'" in messages[1] and "alias" in messages[2]


def test_sdn_ipsets_resolve(cluster: ModuleRunner) -> None:
    rule(cluster, "/cluster/sdn/vnets/vnet1/firewall/rules", type="forward", action="ACCEPT", source="+sdn/vnet1-all")
    assert found(audit(cluster), "missing-reference") == []


def test_unused_objects(cluster: ModuleRunner) -> None:
    cluster.ok("ipset", level="cluster", name="idle", entries=["10.0.0.0/24"])
    cluster.ok("ipset", level="cluster", name="busy", entries=["10.1.0.0/24"])
    cluster.ok("ipset", level="cluster", name="management", entries=["192.0.2.0/24"])
    cluster.ok("ipset", level="vm", vmid=100, name="own", entries=["10.2.0.0/24"])
    cluster.ok("alias", level="cluster", name="spare", cidr="192.0.2.9")
    cluster.ok("alias", level="ct", vmid=200, name="mine", cidr="10.3.0.1")
    cluster.ok("security_group", name="lonely", rules=[{"type": "in", "action": "ACCEPT", "macro": "SSH"}])
    cluster.ok("security_group", name="used", rules=[{"type": "in", "action": "ACCEPT", "source": "+busy"}])
    cluster.ok("firewall_rule", level="vnet", vnet="vnet2", rules=[{"type": "group", "action": "used"}])
    cluster.ok("firewall_rule", level="ct", vmid=200, rules=[{"type": "in", "action": "ACCEPT", "source": "mine"}])
    result = audit(cluster)
    assert where(result, "unused-ipset") == ["cluster ipset 'idle'", "vm 100 ipset 'own'"]
    assert where(result, "unused-alias") == ["cluster alias 'spare'"]
    assert where(result, "unused-group") == ["security group 'lonely'"]
    assert "pve.firewall.ipset level: cluster, name: idle, state: absent" in found(result, "unused-ipset")[0]["fix"]
    # without the cluster level, only the guests' own objects are judged
    assert where(audit(cluster, levels=["vm", "ct"]), "unused-ipset") == ["vm 100 ipset 'own'"]


# --------------------------------------------------------------------------------------------
# interfaces


def test_rules_bound_to_missing_interfaces_and_nics(cluster: ModuleRunner) -> None:
    rule(cluster, "/cluster/firewall/rules", type="in", action="ACCEPT", iface="vmbr0", proto="tcp", dport="80")
    rule(cluster, "/cluster/firewall/rules", type="in", action="ACCEPT", iface="bond0", proto="tcp", dport="81")
    rule(cluster, "/nodes/pve2/firewall/rules", type="in", action="ACCEPT", iface="vmbr9", proto="tcp", dport="82")
    rule(cluster, "/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", iface="net1", proto="tcp", dport="83")
    rule(cluster, "/nodes/pve2/qemu/101/firewall/rules", type="in", action="ACCEPT", iface="net1", proto="tcp", dport="84")
    result = audit(cluster)
    # POST inserts at the top: bond0 is rules[0], vmbr0 rules[1]
    assert where(result, "iface-missing") == ["cluster rules[0]", "node pve2 rules[0]"]
    assert "nodes pve1, pve2, pve3 do not have" in found(result, "iface-missing")[0]["message"]
    assert where(result, "nic-missing") == ["vm 101 rules[0]"]
    assert "it has net0" in found(result, "nic-missing")[0]["message"]


def test_interfaces_are_read_only_when_a_rule_is_bound_to_one(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    audit(cluster)
    assert not [entry for entry in cluster.requests_since(seq) if entry["path"].endswith("/network")]
    rule(cluster, "/nodes/pve2/firewall/rules", type="in", action="ACCEPT", iface="vmbr0")
    seq = cluster.seq()
    audit(cluster)
    assert [entry["path"] for entry in cluster.requests_since(seq) if entry["path"].endswith("/network")] == ["/nodes/pve2/network"]


# --------------------------------------------------------------------------------------------
# shorter rules


def test_macro_and_ipset_suggestions(cluster: ModuleRunner) -> None:
    rules = [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "7777", "source": f"10.0.0.{host}"} for host in (1, 2, 3)]
    rules.append({"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22"})
    cluster.ok("firewall_rule", level="vm", vmid=102, rules=rules)
    result = audit(cluster, levels=["vm"])
    assert where(result, "ipset-candidate") == ["vm 102 rules[0]"]
    assert where(result, "macro-available") == ["vm 102 rules[3]"]
    assert {finding["severity"] for finding in found(result, "ipset-candidate") + found(result, "macro-available")} == {"info"}


# --------------------------------------------------------------------------------------------
# options


def setup_mixed(cluster: ModuleRunner) -> None:
    """A critical, a low and an info finding, at two guests."""
    cluster.ok("firewall_rule", level="vm", vmid=100, rules=[{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22"}])
    cluster.ok("ipset", level="ct", vmid=200, name="spare", entries=["10.0.0.1"])


def test_fail_on_fails_and_still_returns_every_finding(cluster: ModuleRunner) -> None:
    setup_mixed(cluster)
    seq = cluster.seq()
    result = cluster.run(MODULE, fail_on="critical")
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("1 finding(s) at critical or above (fail_on):\n- CRITICAL guest-unfiltered vm 100")
    assert [finding["check"] for finding in result["findings"]] == ["guest-unfiltered", "unused-ipset", "macro-available"]
    assert result["counts"]["by_severity"] == {"critical": 1, "high": 0, "medium": 0, "low": 1, "info": 1}
    assert len(result["summary"]) == 4
    assert cluster.writes_since(seq) == []


def test_fail_on_passes_below_the_threshold(cluster: ModuleRunner) -> None:
    cluster.ok("ipset", level="ct", vmid=200, name="spare", entries=["10.0.0.1"])
    result = audit(cluster, fail_on="medium")
    assert where(result, "unused-ipset") == ["ct 200 ipset 'spare'"]


def test_fail_on_counts_reported_findings_only(cluster: ModuleRunner) -> None:
    setup_mixed(cluster)
    result = audit(cluster, fail_on="critical", skip_checks=["guest-unfiltered"])
    assert [finding["check"] for finding in result["findings"]] == ["unused-ipset", "macro-available"]


def test_min_severity_checks_and_skip_checks(cluster: ModuleRunner) -> None:
    setup_mixed(cluster)
    assert [finding["check"] for finding in audit(cluster, min_severity="low")["findings"]] == ["guest-unfiltered", "unused-ipset"]
    assert [finding["check"] for finding in audit(cluster, checks=["unused-ipset", "macro-available"])["findings"]] == ["unused-ipset", "macro-available"]
    assert [finding["check"] for finding in audit(cluster, checks=["unused-ipset", "macro-available"], skip_checks=["macro-available"])["findings"]] == [
        "unused-ipset"
    ]


def test_levels_and_vmids_choose_what_is_reported(cluster: ModuleRunner) -> None:
    setup_mixed(cluster)
    assert [finding["where"] for finding in audit(cluster, vmids=[200])["findings"]] == ["ct 200 ipset 'spare'"]
    assert [finding["where"] for finding in audit(cluster, levels=["vm"])["findings"]] == ["vm 100", "vm 100 rules[0]"]
    assert audit(cluster, levels=["cluster", "node", "vnet"])["findings"] == []


def test_check_mode_runs_the_same(cluster: ModuleRunner) -> None:
    setup_mixed(cluster)
    assert audit(cluster, check=True)["findings"] == audit(cluster)["findings"]


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [({"nodes": ["pve9"]}, "nodes", "pve9"), ({"vmids": [100, 999]}, "vmids", 999), ({"max_rules_per_guest": -1}, "max_rules_per_guest", -1)],
)
def test_bad_input_fails_clearly(cluster: ModuleRunner, args: dict[str, Any], field: str, value: Any) -> None:
    result = cluster.fails(MODULE, **args)
    assert field in result["msg"] and repr(value) in result["msg"]
    assert [(error["field"], error["value"]) for error in result["errors"]] == [(field, value)]


def test_unknown_checks_and_severities_fail(cluster: ModuleRunner) -> None:
    assert "nosuch" in cluster.fails(MODULE, checks=["nosuch"])["msg"]
    assert "urgent" in cluster.fails(MODULE, fail_on="urgent")["msg"]


# --------------------------------------------------------------------------------------------
# examples


def test_examples_run_with_the_environment_only(cluster: ModuleRunner, tmp_path: Path) -> None:
    setup = [
        {
            "name": "a guest rule that the examples report",
            "pve.firewall.firewall_rule": {"level": "vm", "vmid": 100, "rules": [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22"}]},
        },
        {"name": "protect the guest, so that the CI gate passes", "pve.firewall.firewall_options": {"level": "vm", "vmid": 100, "options": {"enable": True}}},
        {"name": "and the datacenter", "pve.firewall.firewall_options": {"level": "cluster", "options": {"enable": True}}},
        {"name": "with management access", "pve.firewall.ipset": {"level": "cluster", "name": "management", "entries": ["127.0.0.0/8"]}},
    ]
    whole, shown, gate, guests = run_examples(cluster, MODULE, tmp_path, setup=setup)
    assert [finding["check"] for finding in whole["findings"]] == ["guest-firewall-off"] * 4 + ["nic-flag-off", "macro-available"]
    assert shown["msg"] == whole["summary"]
    assert gate["changed"] is False and not gate.get("failed")
    assert [finding["where"] for finding in guests["findings"]] == ["ct 200"]


def test_files_are_read_at_once_with_the_findings_of_one_connection(cluster: ModuleRunner) -> None:
    cluster.api().post("/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", macro="HTTPS", enable=1)
    results, logs = with_4_and_1_connections(cluster, lambda parallel: cluster.ok(MODULE, parallel=parallel))
    assert results[4]["findings"] == results[1]["findings"] and results[4]["findings"]
    assert sorted(entry["path"] for entry in logs[4]) == sorted(entry["path"] for entry in logs[1])
    assert any_overlap(logs[4])
    seq = cluster.seq()
    refused = cluster.run(MODULE, parallel=17)
    assert refused["failed"] is True and "parallel" in refused["msg"] and "1 to 16" in refused["msg"], refused["msg"]
    assert cluster.requests_since(seq) == []
