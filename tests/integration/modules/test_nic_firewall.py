"""firewall_options' third switch: the firewall flag of a guest's NICs (nic_firewall, nics)
against the emulator: qemu and lxc, lines as PVE stores them, only the listed NICs, check and diff
mode, idempotence, concurrent config edits, warnings, bad input, and the simulator's verdict
following the flag."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from ansible.module_utils.basic import AnsibleModule
from conftest import ModuleRunner

from ansible_collections.pve.firewall.plugins.module_utils._api.guest_nics import read_nic_lines

VM = "/nodes/pve1/qemu/100/config"
CT = "/nodes/pve2/lxc/201/config"
# written unsorted; PVE stores print_net's order (model=MAC, then the keys sorted)
VM_NET0_GIVEN = "virtio=BC:24:11:00:64:00,bridge=vmbr0,tag=10,rate=12.5,queues=4"
VM_NET0 = "virtio=BC:24:11:00:64:00,bridge=vmbr0,queues=4,rate=12.5,tag=10"
VM_NET0_ON = "virtio=BC:24:11:00:64:00,bridge=vmbr0,firewall=1,queues=4,rate=12.5,tag=10"
VM_NET1 = "virtio=BC:24:11:00:64:01,bridge=vmbr1,firewall=0,rate=10"
MODIFIED = "detected modified configuration - file changed by other user? Try again.\n"


def _nics(config: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in config.items() if key.startswith("net")}


def _config_writes(runner: ModuleRunner, seq: int) -> list[dict[str, Any]]:
    return [entry for entry in runner.writes_since(seq) if entry["path"].endswith("/config")]


@pytest.fixture
def vm_lines(cluster: ModuleRunner) -> ModuleRunner:
    """VM 100 with realistic NIC lines and no flag set: net0 without the key, net1 with firewall=0."""
    cluster.api().put(VM, net0=VM_NET0_GIVEN, net1=VM_NET1)
    assert _nics(cluster.api().get(VM)) == {"net0": VM_NET0, "net1": VM_NET1}
    return cluster


def test_qemu_flag_on_and_off_predicts_the_lines_pve_stores(vm_lines: ModuleRunner) -> None:
    cluster, api = vm_lines, vm_lines.api()
    on = {"net0": VM_NET0_ON, "net1": "virtio=BC:24:11:00:64:01,bridge=vmbr1,firewall=1,rate=10"}

    seq = cluster.seq()
    planned = cluster.ok("firewall_options", check=True, diff=True, level="vm", vmid=100, nic_firewall=True)
    assert planned["changed"] and planned["commands"] == [f"PUT {VM} net0={on['net0']} net1={on['net1']}"]
    assert cluster.writes_since(seq) == []
    assert planned["nics_before"] == {"net0": VM_NET0, "net1": VM_NET1} and planned["nics_after"] == on
    assert planned["diff"] == {
        "before": f"# {VM}\nnet0: {VM_NET0}\nnet1: {VM_NET1}\n",
        "after": f"# {VM}\nnet0: {on['net0']}\nnet1: {on['net1']}\n",
    }
    assert _nics(api.get(VM)) == {"net0": VM_NET0, "net1": VM_NET1}

    seq = cluster.seq()
    done = cluster.ok("firewall_options", level="vm", vmid=100, nic_firewall=True)
    assert done["changed"] and done["commands"] == planned["commands"]
    assert [entry["method"] for entry in cluster.writes_since(seq)] == ["PUT"]
    assert _nics(api.get(VM)) == on

    seq = cluster.seq()
    again = cluster.ok("firewall_options", diff=True, level="vm", vmid=100, nic_firewall=True)
    assert not again["changed"] and again["commands"] == [] and cluster.writes_since(seq) == []
    assert again["diff"]["before"] == again["diff"]["after"]

    off = cluster.ok("firewall_options", level="vm", vmid=100, nic_firewall=False)
    assert off["changed"] and off["nics_after"] == {"net0": VM_NET0, "net1": "virtio=BC:24:11:00:64:01,bridge=vmbr1,rate=10"}
    assert _nics(api.get(VM)) == off["nics_after"]
    seq = cluster.seq()
    assert not cluster.ok("firewall_options", level="vm", vmid=100, nic_firewall=False)["changed"]
    assert cluster.writes_since(seq) == []


def test_lxc_only_the_listed_nic_changes(cluster: ModuleRunner) -> None:
    api = cluster.api()
    net0 = api.get(CT)["net0"]
    assert net0.endswith(",firewall=0")  # the default topology's unfiltered container
    net1 = "name=eth1,bridge=vmbr0,hwaddr=BC:24:11:00:C9:01,ip=dhcp,ip6=auto,mtu=1450,rate=5,type=veth"
    api.put(CT, net1=net1)

    seq = cluster.seq()
    result = cluster.ok("firewall_options", diff=True, level="ct", vmid=201, nics=["net0"], nic_firewall=True)
    # replaced, and the line printed as pve-container stores it: name first, keys sorted, type=veth
    fixed = "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:00:C9:00,ip=10.0.0.201/24,type=veth"
    assert result["commands"] == [f"PUT {CT} net0={fixed}"]
    assert _nics(api.get(CT)) == {"net0": fixed, "net1": net1}
    assert len(_config_writes(cluster, seq)) == 1
    assert f"net1: {net1}\n" in result["diff"]["before"] and f"net1: {net1}\n" in result["diff"]["after"]

    # all NICs by default: net1 gets the flag appended; net0 already has it
    both = cluster.ok("firewall_options", level="ct", vmid=201, nic_firewall=True)
    assert both["commands"] == [f"PUT {CT} net1={net1.replace('hwaddr', 'firewall=1,hwaddr')}"]
    removed = cluster.ok("firewall_options", level="ct", vmid=201, nics=["net1"], nic_firewall=False)
    assert _nics(api.get(CT)) == {"net0": fixed, "net1": net1} and removed["changed"]


@pytest.fixture
def warned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The warnings modules give. In-process, Ansible prints them once per text and process
    instead of returning them, so they are recorded where the module gives them."""
    seen: list[str] = []
    original = AnsibleModule.warn

    def record(self: AnsibleModule, warning: str, **kwargs: Any) -> None:
        seen.append(warning)
        original(self, warning, **kwargs)

    monkeypatch.setattr(AnsibleModule, "warn", record)
    return seen


def _warnings(seen: list[str]) -> list[str]:
    """The warnings since the last call."""
    new = list(seen)
    seen.clear()
    return new


def test_warn_unfiltered_off_neither_warns_nor_reads_the_datacenter(cluster: ModuleRunner, warned: list[str]) -> None:
    """A rollout that turns the datacenter on in a later task: its guest tasks need not say it is off."""
    seq = cluster.seq()
    result = cluster.ok("firewall_options", level="vm", vmid=101, options={"enable": True}, nic_firewall=True, warn_unfiltered=False)
    assert result["changed"] and _warnings(warned) == []
    assert "/cluster/firewall/options" not in [entry["path"] for entry in cluster.requests_since(seq)]
    cluster.ok("firewall_options", level="vm", vmid=101, options={"enable": True}, nic_firewall=True)
    (warning,) = _warnings(warned)  # by default the same task warns
    assert "datacenter firewall is off" in warning


def test_one_task_sets_the_guest_switches_and_warns_about_the_datacenter(cluster: ModuleRunner, warned: list[str]) -> None:
    api = cluster.api()
    api.put("/nodes/pve2/qemu/101/config", net0="virtio=BC:24:11:00:65:00,bridge=vmbr0")
    seq = cluster.seq()
    result = cluster.ok("firewall_options", diff=True, level="vm", vmid=101, options={"enable": True, "policy_in": "DROP"}, nic_firewall=True)
    assert result["commands"] == [
        "PUT /nodes/pve2/qemu/101/firewall/options enable=1 policy_in=DROP",
        "PUT /nodes/pve2/qemu/101/config net0=virtio=BC:24:11:00:65:00,bridge=vmbr0,firewall=1",
    ]
    assert [entry["path"] for entry in cluster.writes_since(seq)] == ["/nodes/pve2/qemu/101/firewall/options", "/nodes/pve2/qemu/101/config"]
    (warning,) = _warnings(warned)
    assert "datacenter firewall is off" in warning and "level: cluster" in warning and "enable: true" in warning
    assert list(api.get("/cluster/firewall/options")) == ["digest"]  # left alone
    assert (
        result["diff"]["after"]
        == "[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n# /nodes/pve2/qemu/101/config\nnet0: virtio=BC:24:11:00:65:00,bridge=vmbr0,firewall=1\n"
    )

    api.put("/cluster/firewall/options", enable=1)
    cluster.ok("firewall_options", level="vm", vmid=101, nic_firewall=True)
    assert _warnings(warned) == []
    api.put("/nodes/pve2/qemu/101/firewall/options", enable=0)
    cluster.ok("firewall_options", level="vm", vmid=101, nic_firewall=True)
    (warning,) = _warnings(warned)
    assert "firewall of vm 101 is off" in warning and "options: {enable: true}" in warning
    cluster.ok("firewall_options", level="vm", vmid=101, nic_firewall=False)
    assert _warnings(warned) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param({"level": "cluster", "nic_firewall": True}, ["nic_firewall", "only valid at level vm or ct (level is cluster)"], id="cluster"),
        pytest.param({"level": "node", "node": "pve1", "nics": ["net0"], "nic_firewall": False}, ["nics", "nic_firewall", "level is node"], id="node"),
        pytest.param({"level": "vnet", "vnet": "vnet1", "nic_firewall": True}, ["nic_firewall", "level is vnet"], id="vnet"),
        pytest.param(
            {"level": "vm", "vmid": 100, "nics": ["net0", "net7", "net9"], "nic_firewall": True, "options": {"enable": True}},
            ["'net7'", "'net9'", "vm 100 has no network device net7", "net0, net1"],
            id="unknown-nics",
        ),
        pytest.param({"level": "ct", "vmid": 200, "nics": ["eth0"], "nic_firewall": True}, ["nics[0]", "'eth0'", "not a network device key"], id="not-netN"),
        pytest.param({"level": "vm", "vmid": 100, "nics": ["net0"]}, ["nics", "nic_firewall"], id="nics-alone"),
    ],
)
def test_bad_input_fails_naming_it_and_writes_nothing(cluster: ModuleRunner, args: dict[str, Any], expected: list[str]) -> None:
    seq = cluster.seq()
    result = cluster.run("firewall_options", **args)
    assert result.get("failed"), result
    for text in expected:
        assert text in result["msg"], (text, result["msg"])
    assert cluster.writes_since(seq) == []


def test_a_stale_config_digest_is_refused(cluster: ModuleRunner) -> None:
    api = cluster.api()
    stale = api.get(VM)["digest"]
    api.put(VM, net1=VM_NET1, digest=stale)
    response = api.call("PUT", VM, {"net0": VM_NET0, "digest": stale})
    assert (response.status, response.message) == (500, MODIFIED)
    assert api.get(VM)["net0"] != VM_NET0


def test_a_concurrent_config_edit_is_kept_and_the_flag_planned_on_top(vm_lines: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, api = vm_lines, vm_lines.api()
    module = importlib.import_module("ansible_collections.pve.firewall.plugins.module_utils._module_firewall_options.options")
    other = "virtio=BC:24:11:00:64:02,bridge=vmbr2,link_down=1"

    def read_then_someone_edits(*args: Any) -> Any:
        snapshot = read_nic_lines(*args)
        api.put(VM, net1=VM_NET1.replace("rate=10", "rate=20"), net2=other)  # after the module's read, before its write
        return snapshot

    monkeypatch.setattr(module, "read_nic_lines", read_then_someone_edits)
    seq = cluster.seq()
    result = cluster.ok("firewall_options", level="vm", vmid=100, nics=["net0", "net1"], nic_firewall=True)
    statuses = [(entry["method"], entry["status"]) for entry in _config_writes(cluster, seq)]
    assert statuses == [("PUT", 200), ("PUT", 500), ("PUT", 200)]  # theirs, ours refused by the digest, ours again
    assert _nics(api.get(VM)) == {
        "net0": VM_NET0_ON,
        "net1": "virtio=BC:24:11:00:64:01,bridge=vmbr1,firewall=1,rate=20",
        "net2": other,  # not listed: left as the other writer made it
    }
    assert result["nics_after"] == _nics(api.get(VM)) and result["nics_before"] == {"net0": VM_NET0, "net1": VM_NET1}
    assert len(result["commands"]) == 1


def _ssh_to_vm100(cluster: ModuleRunner) -> dict[str, Any]:
    result = cluster.ok("firewall_simulate", source="live", packets=[{"name": "ssh", "from": "outside", "to": "vm100", "dport": 22}])
    return result["results"][0]


def test_rules_do_not_filter_a_nic_without_the_flag_until_it_is_set(vm_lines: ModuleRunner) -> None:
    cluster, api = vm_lines, vm_lines.api()
    api.put("/cluster/firewall/options", enable=1)
    api.post("/nodes/pve1/qemu/100/firewall/rules", type="in", action="DROP", proto="tcp", dport="22", enable=1)
    cluster.ok("firewall_options", level="vm", vmid=100, options={"enable": True})

    unfiltered = _ssh_to_vm100(cluster)
    assert unfiltered["verdict"] == "ACCEPT"
    assert "net0 has no firewall=1" in " ".join(step["detail"] for step in unfiltered["trail"])

    cluster.ok("firewall_options", level="vm", vmid=100, nics=["net0"], nic_firewall=True)
    filtered = _ssh_to_vm100(cluster)
    assert filtered["verdict"] == "DROP" and filtered["decided_by"]["kind"] == "rule"
