"""firewall_simulate with ``source: live`` against the TLS emulator: the configuration and the
inventory are read through the API, the packets and the lockout check are answered from them
and agree with the emulator's own judge. Also runs every EXAMPLE of the module (the offline
ones and the live one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import ModuleRunner, any_overlap, run_examples, with_4_and_1_connections

MODULE = "firewall_simulate"
OUTSIDER = "203.0.113.9"  # no management host: outside the nodes' local network 127.0.0.0/8


def setup_policy(cluster: ModuleRunner) -> None:
    """Datacenter firewall on with policy DROP, one rule per level."""
    api = cluster.api()
    api.put("/cluster/firewall/options", enable=1, policy_in="DROP")
    api.post("/cluster/firewall/rules", type="in", action="ACCEPT", proto="tcp", dport="8443", comment="alt gui", enable=1)
    api.post("/nodes/pve2/firewall/rules", type="in", action="ACCEPT", proto="tcp", dport="9000", comment="metrics", enable=1)
    api.put("/nodes/pve1/qemu/100/firewall/options", enable=1)
    api.post("/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", macro="HTTPS", enable=1)


def simulate(cluster: ModuleRunner, **args: Any) -> dict[str, Any]:
    """A live run that must succeed, report no change and write nothing."""
    seq = cluster.seq()
    result = cluster.ok(MODULE, source="live", **args)
    assert result["changed"] is False
    assert cluster.writes_since(seq) == []
    return result


PACKETS = [
    {"name": "ssh from outside", "from": OUTSIDER, "to": "host:pve1", "dport": 22, "expect": "DROP"},
    {"name": "alt gui", "from": OUTSIDER, "to": "host:pve1", "dport": 8443, "expect": "ACCEPT"},
    {"name": "metrics on pve2", "from": OUTSIDER, "to": "host:pve2", "dport": 9000, "expect": "ACCEPT"},
    {"name": "metrics on pve1", "from": OUTSIDER, "to": "host:pve1", "dport": 9000, "expect": "DROP"},
    {"name": "ssh from the local network", "from": "127.0.0.1", "to": "host:pve1", "dport": 22, "expect": "ACCEPT"},
    {"name": "https to the vm", "from": "outside", "to": "vm100", "dport": 443, "expect": "ACCEPT"},
    {"name": "http to the vm", "from": "outside", "to": "vm100", "dport": 80, "expect": "DROP"},
]


def test_live_configuration_decides_the_packets(cluster: ModuleRunner) -> None:
    setup_policy(cluster)
    result = simulate(cluster, packets=PACKETS)
    assert result["failed_expectations"] == []
    by_name = {item["name"]: item for item in result["results"]}
    assert [item["verdict"] for item in result["results"]] == [packet["expect"] for packet in PACKETS]

    ssh = by_name["ssh from outside"]["decided_by"]
    assert (ssh["kind"], ssh["action"]) == ("policy", "DROP")
    alt = by_name["alt gui"]["decided_by"]
    assert (alt["kind"], alt["level"], alt["position"], alt["comment"]) == ("rule", "cluster", 0, "alt gui")
    metrics = by_name["metrics on pve2"]["decided_by"]
    assert (metrics["kind"], metrics["level"], metrics["comment"], metrics["node"]) == ("rule", "host", "metrics", "pve2")
    assert by_name["ssh from the local network"]["decided_by"]["kind"] == "builtin"  # PVE's management exception
    web = by_name["https to the vm"]["decided_by"]
    assert (web["kind"], web["level"], web["vmid"]) == ("rule", "vm", 100)
    assert by_name["http to the vm"]["decided_by"]["kind"] == "policy"

    # the nodes' addresses come from /cluster/status
    assert by_name["metrics on pve2"]["packet"]["dest"] == cluster.pve.node_host("pve2")[0]
    assert by_name["alt gui"]["packet"]["dest"] == cluster.pve.node_host("pve1")[0]


def test_live_runs_the_same_in_check_mode(cluster: ModuleRunner) -> None:
    setup_policy(cluster)
    seq = cluster.seq()
    checked = cluster.ok(MODULE, check=True, source="live", packets=PACKETS)
    assert checked["changed"] is False and checked["failed_expectations"] == []
    assert cluster.writes_since(seq) == []
    normal = simulate(cluster, packets=PACKETS)
    assert checked["results"] == normal["results"]


def test_a_failed_expectation_against_the_live_cluster(cluster: ModuleRunner) -> None:
    setup_policy(cluster)
    packet = {"name": "ssh from outside", "from": OUTSIDER, "to": "host:pve1", "dport": 22, "expect": "ACCEPT"}
    result = cluster.run(MODULE, source="live", packets=[packet])
    assert result["failed"] is True
    assert result["msg"].splitlines()[:2] == [
        "1 of 1 expectations failed:",
        "- ssh from outside: expected ACCEPT, got DROP (host pve1 IN: cluster policy_in DROP: policy DROP)",
    ]


def test_an_empty_cluster_accepts_everything(cluster: ModuleRunner) -> None:
    result = simulate(cluster, packets=[{"from": OUTSIDER, "to": "host:pve3", "dport": 22}, {"from": "outside", "to": "ct200", "dport": 53}])
    assert [item["verdict"] for item in result["results"]] == ["ACCEPT", "ACCEPT"]


def test_lockout_check_defaults_to_this_hosts_address(cluster: ModuleRunner) -> None:
    setup_policy(cluster)
    result = simulate(cluster, lockout_check={})
    lockout = result["lockout"]
    assert lockout["ok"] is True
    accesses = {(access["node"], access["port"]): access for access in lockout["accesses"]}
    assert set(accesses) == {(node, port) for node in ("pve1", "pve2", "pve3") for port in (8006, 22)}
    assert {access["client"] for access in lockout["accesses"]} == {"127.0.0.1"}  # the module's connection
    assert {access["status"] for access in lockout["accesses"]} == {"kept"}
    assert accesses[("pve2", 22)]["node_address"] == cluster.pve.node_host("pve2")[0]
    for (node, port), access in accesses.items():
        assert access["verdict"] == cluster.control.judge("127.0.0.1", node, port)["action"]


def test_lockout_check_finds_a_lost_access_the_emulator_agrees_with(cluster: ModuleRunner) -> None:
    cluster.control.settings(judging=False)  # predict the lockout without suffering it (reset turns it on again)
    setup_policy(cluster)
    cluster.api().post("/cluster/firewall/rules", type="in", action="DROP", proto="tcp", dport="22", comment="no ssh", enable=1)
    result = simulate(cluster, lockout_check={"nodes": ["pve1"]})
    lockout = result["lockout"]
    assert lockout["ok"] is False
    statuses = {access["port"]: access["status"] for access in lockout["accesses"]}
    assert statuses == {8006: "kept", 22: "lost"}
    lost = next(access for access in lockout["accesses"] if access["port"] == 22)
    assert "rule 0 (IN DROP -p tcp -dport 22) at cluster level drops it" in lost["fix"]
    assert cluster.control.judge("127.0.0.1", "pve1", 22)["action"] == "DROP"

    failed = cluster.run(MODULE, source="live", lockout_check={"nodes": ["pve1"], "fail_on_lockout": True})
    assert failed["failed"] is True and failed["msg"].startswith("the lockout check failed:")

    # explicit clients replace the default; an outsider keeps nothing under policy DROP
    outside = simulate(cluster, lockout_check={"clients": [OUTSIDER], "nodes": ["pve2"]})["lockout"]
    assert {(access["client"], access["status"]) for access in outside["accesses"]} == {(OUTSIDER, "lost")}


def test_an_explicit_inventory_replaces_the_live_one(cluster: ModuleRunner) -> None:
    setup_policy(cluster)
    inventory = {
        "nodes": {"pve1": {"address": "192.0.2.11", "local_network": "192.0.2.0/24"}},
        "guests": {100: {"type": "qemu", "node": "pve1", "nics": {"net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"}}},
    }
    packets = [
        {"name": "alt gui", "from": OUTSIDER, "to": "host:pve1", "dport": 8443, "expect": "ACCEPT"},
        {"name": "admin ssh", "from": "192.0.2.50", "to": "host:pve1", "dport": 22, "expect": "ACCEPT"},
        {"name": "loopback ssh", "from": "127.0.0.1", "to": "host:pve1", "dport": 22, "expect": "DROP"},
        {"name": "https to the vm", "from": "outside", "to": "vm100", "dport": 443, "expect": "ACCEPT"},
    ]
    result = simulate(cluster, inventory=inventory, packets=packets)
    assert result["failed_expectations"] == []
    assert result["results"][0]["packet"]["dest"] == "192.0.2.11"


def test_live_source_takes_no_offline_configuration(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    result = cluster.run(MODULE, source="live", cluster_fw="[OPTIONS]\nenable: 1\n", hosts_fw={"pve1": ""})
    assert result["failed"] is True
    assert result["msg"] == "source=live reads the configuration from the cluster; cluster_fw, hosts_fw cannot be given with it"
    assert cluster.requests_since(seq) == []


def test_live_source_needs_a_connection(cluster: ModuleRunner) -> None:
    result = cluster.run(MODULE, connection=False, source="live")
    assert result["failed"] is True and "api_host" in result["msg"]


def test_offline_lockout_check_needs_clients(cluster: ModuleRunner) -> None:
    result = cluster.run(MODULE, connection=False, cluster_fw="[OPTIONS]\nenable: 1\n", lockout_check={})
    assert result["failed"] is True
    assert result["msg"] == "lockout_check.clients: required with source=files (with source=live it defaults to this host's address)"


def test_api_errors_fail_clearly(cluster: ModuleRunner) -> None:
    cluster.control.arm_fault(action="error", nth=1, on="read", status=500, message="cluster not ready - no quorum?", path="/cluster/status")
    result = cluster.run(MODULE, source="live")
    assert result["failed"] is True
    assert "no quorum" in result["msg"] and result["status"] == 500
    assert cluster.api().get("/version")  # the fault was used up


# --------------------------------------------------------------------------------------------
# EXAMPLES


def test_examples_run_offline_and_live(cluster: ModuleRunner, tmp_path: Path) -> None:
    # the first example reads {{ playbook_dir }}/firewall: give it a policy its expectations describe
    (tmp_path / "firewall").mkdir()
    (tmp_path / "firewall" / "cluster.fw").write_text("[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n")
    (tmp_path / "firewall" / "100.fw").write_text("[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN HTTPS(ACCEPT)\n")
    setup_policy(cluster)
    results = run_examples(cluster, MODULE, tmp_path)
    assert len(results) == 5
    files, structured, routed, shown, live = results
    assert [item["verdict"] for item in files["results"]] == ["ACCEPT", "DROP"]
    assert structured["lockout"]["ok"] is True
    assert [(item["verdict"], item["decided_by"]["chain"]) for item in routed["results"]] == [
        ("ACCEPT", "inet proxmox-firewall cluster-forward"),
        ("DROP", "inet proxmox-firewall cluster-forward"),
    ]
    assert shown["msg"]
    assert [item["verdict"] for item in live["results"]] == ["DROP", "ACCEPT"]
    assert live["lockout"]["ok"] is True


def test_an_nftables_node_is_answered_with_its_chains(cluster: ModuleRunner) -> None:
    """pve1 runs proxmox-firewall: the same DROP rule for 22 that cuts the local network off an
    iptables node (pve2, rules first) does not touch it on pve1, where ipset management (the
    local network) is accepted before the rules; the trail names the nftables chains."""
    cluster.control.settings(judging=False)
    setup_policy(cluster)
    api = cluster.api()
    api.put("/nodes/pve1/firewall/options", nftables=1)
    api.post("/cluster/firewall/rules", type="in", action="DROP", proto="tcp", dport="22", comment="no ssh", enable=1)
    packets = [
        {"name": "nft ssh local", "from": "127.0.0.1", "to": "host:pve1", "dport": 22, "expect": "ACCEPT"},
        {"name": "ipt ssh local", "from": "127.0.0.1", "to": "host:pve2", "dport": 22, "expect": "DROP"},
        {"name": "nft ssh outside", "from": OUTSIDER, "to": "host:pve1", "dport": 22, "expect": "DROP"},
        {"name": "nft https vm", "from": "outside", "to": "vm100", "dport": 443, "expect": "ACCEPT"},
    ]
    result = simulate(cluster, packets=packets)
    assert result["failed_expectations"] == []
    by_name = {item["name"]: item["decided_by"] for item in result["results"]}
    assert by_name["nft ssh local"]["chain"] == "inet proxmox-firewall accept-management"
    assert by_name["ipt ssh local"]["chain"] == "PVEFW-HOST-IN"
    assert (by_name["nft ssh outside"]["chain"], by_name["nft ssh outside"]["position"]) == ("inet proxmox-firewall cluster-in", 0)
    assert by_name["nft https vm"]["chain"] == "bridge proxmox-firewall-guests guest-100-in"
    lockout = simulate(cluster, lockout_check={"nodes": ["pve1", "pve2"]})["lockout"]
    assert {(access["node"], access["port"]): access["status"] for access in lockout["accesses"]} == {
        ("pve1", 8006): "kept",
        ("pve1", 22): "kept",
        ("pve2", 8006): "kept",
        ("pve2", 22): "lost",
    }


def test_live_reads_go_at_once_and_answer_as_one_connection_does(cluster: ModuleRunner) -> None:
    setup_policy(cluster)
    results, logs = with_4_and_1_connections(cluster, lambda parallel: simulate(cluster, packets=PACKETS, parallel=parallel))
    assert results[4]["results"] == results[1]["results"] and results[4]["nodes"] == results[1]["nodes"]
    assert sorted(entry["path"] for entry in logs[4]) == sorted(entry["path"] for entry in logs[1])
    assert any_overlap(logs[4])
    assert not any_overlap(logs[1])
    seq = cluster.seq()
    refused = cluster.run(MODULE, source="live", parallel=0)
    assert refused["failed"] is True and "parallel" in refused["msg"] and "1 to 16" in refused["msg"], refused["msg"]
    assert cluster.requests_since(seq) == []
