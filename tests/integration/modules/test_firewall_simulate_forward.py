"""firewall_simulate with forward traffic and SDN sets: 'routed:' ends and vnet firewalls on
nftables nodes, the inventory's ``sdn`` key offline, and with ``source: live`` the SDN
configuration read from the cluster only when a rule may name one of its sets."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import topology_from_data

MODULE = "firewall_simulate"

INVENTORY: dict[str, Any] = {
    "nodes": {"pve1": {"address": "172.16.1.2", "local_network": "172.16.1.0/24"}},
    "guests": {
        300: {"type": "qemu", "nics": {"net0": {"bridge": "vnet1", "mac": "BC:24:11:00:03:00", "firewall": True}}},
        301: {"type": "qemu", "nics": {"net0": {"bridge": "vnet1", "mac": "BC:24:11:00:03:01", "firewall": True}}},
    },
    "sdn": {"vnets": {"vnet1": {"zone": "zone1", "subnets": [{"cidr": "10.10.0.0/24", "gateway": "10.10.0.1"}]}}, "ipam": {300: ["10.10.0.30"]}},
}


@pytest.fixture
def fw_dir(tmp_path: Path) -> Path:
    (tmp_path / "sdn" / "firewall").mkdir(parents=True)
    (tmp_path / "cluster.fw").write_text(
        "[OPTIONS]\nenable: 1\npolicy_forward: DROP\n\n[RULES]\nFORWARD ACCEPT -source +sdn/guest-ipam-300 -p tcp -dport 443\n", encoding="utf-8"
    )
    (tmp_path / "host.fw").write_text("[OPTIONS]\nnftables: 1\n", encoding="utf-8")
    (tmp_path / "sdn" / "firewall" / "vnet1.fw").write_text(
        "[OPTIONS]\nenable: 1\npolicy_forward: DROP\n\n[RULES]\nFORWARD ACCEPT -dest +sdn/vnet1-gateway -p udp -dport 53\n", encoding="utf-8"
    )
    return tmp_path


def offline(cluster: ModuleRunner, fw_dir: Path, packets: list[dict[str, Any]], **args: Any) -> dict[str, Any]:
    return cluster.run(MODULE, connection=False, fw_dir=str(fw_dir), inventory=args.pop("inventory", INVENTORY), packets=packets, **args)


def test_routed_and_vnet_paths_name_their_chains(cluster: ModuleRunner, fw_dir: Path) -> None:
    packets = [
        {"name": "ipam https", "from": "vm300", "to": "routed:outside", "dport": 443, "source": "10.10.0.30", "expect": "ACCEPT"},
        {"name": "other https", "from": "vm301", "to": "routed:outside", "dport": 443, "source": "10.10.0.31", "expect": "DROP"},
        {"name": "dns to gateway", "from": "vm300", "to": "vnet1/eth0", "proto": "udp", "dport": 53, "dest": "10.10.0.1", "expect": "ACCEPT"},
        {"name": "guest to guest", "from": "vm300", "to": "vm301", "dport": 22, "expect": "DROP"},
    ]
    result = offline(cluster, fw_dir, packets)
    assert not result.get("failed"), result.get("msg")
    assert result["failed_expectations"] == []
    chains = {item["name"]: item["decided_by"]["chain"] for item in result["results"]}
    assert chains == {
        "ipam https": "inet proxmox-firewall cluster-forward",
        "other https": "inet proxmox-firewall cluster-forward",
        "dns to gateway": "bridge proxmox-firewall-guests bridge-vnet1",
        "guest to guest": "bridge proxmox-firewall-guests bridge-vnet1",
    }
    assert result["results"][0]["decided_by"]["kind"] == "rule" and result["results"][1]["decided_by"]["kind"] == "policy"


def test_without_sdn_in_the_inventory_the_sdn_rule_is_left_out_with_a_warning(cluster: ModuleRunner, fw_dir: Path) -> None:
    inventory = {key: value for key, value in INVENTORY.items() if key != "sdn"}
    packets = [{"from": "vm300", "to": "routed:outside", "dport": 443, "source": "10.10.0.30"}]
    result = offline(cluster, fw_dir, packets, inventory=inventory)
    assert result["results"][0]["verdict"] == "DROP"
    assert any("SDN" in warning for warning in result["results"][0]["warnings"])


def test_sdn_input_errors_name_their_place(cluster: ModuleRunner, fw_dir: Path) -> None:
    inventory = {**INVENTORY, "sdn": {"vnets": {"vnet1": {"subnets": [{"cidr": "10.10.0.0/24", "gateway": "10.10.0"}]}}}}
    result = offline(cluster, fw_dir, [], inventory=inventory)
    assert result.get("failed") is True
    assert "inventory: sdn.vnets.vnet1.subnets[0].gateway: '10.10.0' is not an IP address" in result["msg"]


def test_routed_to_the_node_itself_fails_naming_the_packet(cluster: ModuleRunner, fw_dir: Path) -> None:
    result = offline(cluster, fw_dir, [{"name": "bad", "from": "vm300", "to": "routed:host", "dport": 22}])
    assert result.get("failed") is True and "packets[0] (bad)" in result["msg"] and "routed:" in result["msg"]


LIVE_TOPOLOGY: dict[str, Any] = {
    "nodes": [{"name": "pve1"}],
    "guests": [{"vmid": 100, "type": "qemu", "node": "pve1", "nics": [{"bridge": "vnet1"}]}],
    "vnets": [{"name": "vnet1", "zone": "zone1", "subnets": [{"cidr": "10.10.0.0/24", "gateway": "10.10.0.1"}]}],
    "ipam": {100: ["10.10.0.50"]},
}


@pytest.fixture
def sdn_cluster(make_pve_emulator: Callable[..., RunningEmulator]) -> ModuleRunner:
    return ModuleRunner(make_pve_emulator(topology=topology_from_data(LIVE_TOPOLOGY), tls=True))


def _sdn_reads(runner: ModuleRunner, seq: int) -> list[str]:
    return [entry["path"] for entry in runner.requests_since(seq) if "/sdn/" in entry["path"] and "/firewall" not in entry["path"]]


def test_live_reads_the_sdn_configuration_when_a_rule_names_an_sdn_set(sdn_cluster: ModuleRunner) -> None:
    api = sdn_cluster.api()
    api.put("/cluster/firewall/options", enable=1, policy_forward="DROP")
    api.put("/nodes/pve1/firewall/options", nftables=1)
    api.post("/cluster/firewall/rules", type="forward", action="ACCEPT", dest="+sdn/vnet1-gateway", proto="udp", dport="53", enable=1)
    packets = [
        {"name": "dns to gateway", "from": "vm100", "to": "routed:outside", "proto": "udp", "dport": 53, "dest": "10.10.0.1", "expect": "ACCEPT"},
        {"name": "dns elsewhere", "from": "vm100", "to": "routed:outside", "proto": "udp", "dport": 53, "dest": "10.10.0.2", "expect": "DROP"},
    ]
    seq = sdn_cluster.seq()
    result = sdn_cluster.ok(MODULE, source="live", packets=packets)
    assert result["failed_expectations"] == []
    # the vnet firewalls are read from the vnet list as before; the SDN sets from the running one
    assert _sdn_reads(sdn_cluster, seq) == ["/cluster/sdn/vnets", "/cluster/sdn/vnets", "/cluster/sdn/vnets/vnet1/subnets", "/cluster/sdn/ipams/pve/status"]


def test_live_reads_no_sdn_configuration_when_no_rule_can_name_a_set(sdn_cluster: ModuleRunner) -> None:
    api = sdn_cluster.api()
    api.put("/cluster/firewall/options", enable=1, policy_forward="DROP")
    api.put("/nodes/pve1/firewall/options", nftables=1)
    seq = sdn_cluster.seq()
    result = sdn_cluster.ok(MODULE, source="live", packets=[{"from": "vm100", "to": "routed:outside", "dport": 80, "expect": "DROP"}])
    assert result["failed_expectations"] == []
    assert _sdn_reads(sdn_cluster, seq) == ["/cluster/sdn/vnets"]  # the vnet firewalls, read as before
