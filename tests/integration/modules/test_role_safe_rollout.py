"""The roles safe_rollout and hardened_defaults, run by ansible-playbook against an emulator
whose nodes judge every new connection (a bad policy really locks the controller out).

* a change that would cut the controller off is refused before any write;
* a forced bad change (preflight off) is applied with PVE's auto-revert armed, the
  verification fails, the firewall reverts by itself, access comes back and the snapshot is
  restored, and the play fails with a report;
* a good change is applied, verified and confirmed, and a rerun writes nothing.

While the controller is locked out, a helper thread moves the emulator's clock on by 61 s, as
if the 60 s of the auto-revert had passed; that is the only thing the test does to the cluster
during a run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, ModuleRunner, run_playbook

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import DEFAULT_TOPOLOGY, topology_from_data

CONTROLLER = "127.0.0.1"  # where ansible-playbook's connections come from

ADMIN_TREE = {
    "cluster": {
        "options": {"enable": True, "policy_in": "DROP"},
        "ipsets": [{"name": "admins", "entries": [CONTROLLER, "198.51.100.0/24"]}],
        "rules": [
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "+admins", "comment": "gui"},
            {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+admins"},
        ],
    },
    "guests": {"100": {"options": {"enable": True}, "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}], "nic_firewall": True}},
}
LOCKOUT_TREE = {"cluster": {"options": {"enable": True, "policy_in": "DROP"}, "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}]}}
# The lockout, and before it (guests and nodes go before the datacenter's rules) option keys
# the cluster does not have and NIC flags turned off and on: the restore must undo them all.
FORCED_TREE = {
    "cluster": {"options": {"enable": True, "policy_in": "DROP", "log_ratelimit": "enable=1,rate=5/second"}, "rules": LOCKOUT_TREE["cluster"]["rules"]},
    "nodes": {"pve1": {"options": {"log_level_in": "info"}}},
    "guests": {"100": {"options": {"log_level_in": "info"}, "nic_firewall": {"net0": False}}, "201": {"nic_firewall": True}},
}


@pytest.fixture
def guarded(make_pve_emulator: Callable[..., RunningEmulator]) -> ModuleRunner:
    """Nodes whose local network does not hold the controller: only rules keep it in."""
    nodes = [{"name": node["name"], "local_network": "192.0.2.0/24"} for node in DEFAULT_TOPOLOGY["nodes"]]
    return ModuleRunner(make_pve_emulator(topology=topology_from_data({**DEFAULT_TOPOLOGY, "nodes": nodes}), tls=True, judging=True))


def role_vars(runner: ModuleRunner, work: Path, **more: Any) -> dict[str, Any]:
    api_port, ssh_port = runner.pve.node_host()[1:]
    return {
        "safe_rollout_verify_api_port": api_port,
        "safe_rollout_verify_ssh_port": ssh_port,
        "safe_rollout_verify_timeout": 2,
        "safe_rollout_settle_time": 0,
        "safe_rollout_revert_wait": 60,
        "safe_rollout_snapshot_dir": str(work / "snapshots"),
        **more,
    }


def rollout(runner: ModuleRunner, work: Path, role: str = "pve.firewall.safe_rollout", **variables: Any) -> subprocess.CompletedProcess[str]:
    task = {"name": "roll out", "ansible.builtin.include_role": {"name": role}, "vars": role_vars(runner, work, **variables)}
    return run_playbook(work, [task], runner.env)[0]


@contextmanager
def every(seconds: float, look: Callable[[], None]) -> Iterator[None]:
    """Call ``look`` every ``seconds`` in a thread of its own while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            look()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextmanager
def revert_clock_while_locked_out(runner: ModuleRunner) -> Iterator[list[float]]:
    """Advance the emulator's clock by 61 s whenever the controller has been locked out of
    pve1's API for a moment: PVE's auto-revert, without waiting a minute."""
    advanced: list[float] = []
    locked_since: list[float] = []

    def look() -> None:
        action = runner.control.judge(CONTROLLER, "pve1", 8006)["action"]
        if action == "ACCEPT":
            locked_since.clear()
        elif not locked_since:
            locked_since.append(time.monotonic())
        elif time.monotonic() - locked_since[0] > 1.5:
            runner.control.advance_clock(61)
            advanced.append(61)
            locked_since.clear()

    with every(0.3, look):
        yield advanced


def gathered(runner: ModuleRunner) -> dict[str, Any]:
    info = runner.ok("firewall_info", include=["options", "rules", "groups", "ipsets", "aliases", "nics"])
    return {key: info[key] for key in ("cluster", "nodes", "guests", "vnets")}


def seed(runner: ModuleRunner) -> None:
    """A cluster that already has a firewall: the datacenter on, access by rule, one IP set."""
    runner.ok("ipset", name="office", entries=[CONTROLLER])
    runner.ok("firewall_rule", rules=[{"type": "in", "action": "ACCEPT", "source": "+office", "proto": "tcp", "dport": "8006,22"}])
    runner.ok("firewall_options", level="cluster", options={"enable": True, "policy_in": "DROP"})


def test_without_a_tree_the_argument_spec_fails_the_role_before_any_request(guarded: ModuleRunner, tmp_path: Path) -> None:
    """safe_rollout_tree is required and has no default: the role's argument validation, the
    first task of the role, stops it before it reads or writes anything."""
    seq = guarded.seq()
    completed = rollout(guarded, tmp_path)
    assert completed.returncode != 0
    assert "Validating arguments against arg spec 'main'" in completed.stdout
    assert "missing required arguments: safe_rollout_tree" in completed.stdout, completed.stdout[-3000:]
    assert guarded.requests_since(seq) == []
    assert not (tmp_path / "snapshots").exists()


def test_a_change_that_locks_the_controller_out_is_refused_before_any_write(guarded: ModuleRunner, tmp_path: Path) -> None:
    seq = guarded.seq()
    completed = rollout(guarded, tmp_path, safe_rollout_tree=LOCKOUT_TREE)
    assert completed.returncode != 0
    assert "the lockout check failed" in completed.stdout and "0 of 6 accesses kept" in completed.stdout
    assert guarded.writes_since(seq) == []
    assert not (tmp_path / "snapshots").exists()


def test_a_tree_that_cuts_access_on_the_way_is_refused_before_any_write(guarded: ModuleRunner, tmp_path: Path) -> None:
    """The end state keeps the controller (the datacenter rules take over from the group), but
    the group also gains an ACCEPT rule, so it is written before the rules (a group the change
    only narrows would follow them): the preflight judges each stage and refuses."""
    admin_rules = [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": port, "source": CONTROLLER} for port in ("8006", "22")]
    guarded.ok("security_group", name="admin", rules=admin_rules)
    guarded.ok("firewall_rule", rules=[{"type": "group", "action": "admin"}])
    guarded.ok("firewall_options", level="cluster", options={"enable": True, "policy_in": "DROP"})
    seq = guarded.seq()
    other = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "192.0.2.77"}
    tree = {"cluster": {"groups": [{"name": "admin", "rules": [other]}], "rules": [*admin_rules, {"type": "group", "action": "admin"}]}}
    completed = rollout(guarded, tmp_path, safe_rollout_tree=tree)
    assert completed.returncode != 0
    assert "after the stage 'datacenter security group admin'" in completed.stdout, completed.stdout[-3000:]
    assert guarded.writes_since(seq) == []


# The seed's admin set office gives its entries to other admins, and a new set ops takes the
# controller over: written at once, office would drop the controller before the rule using ops
# is there. Added before removed, office holds both until the rules have moved.
MOVED_ADMIN_TREE = {
    "cluster": {
        "options": {"enable": True, "policy_in": "DROP"},
        "ipsets": [{"name": "office", "entries": ["198.51.100.0/24"]}, {"name": "ops", "entries": [CONTROLLER]}],
        "rules": [{"type": "in", "action": "ACCEPT", "source": source, "proto": "tcp", "dport": "8006,22"} for source in ("+office", "+ops")],
    }
}


@contextmanager
def judged_all_along(runner: ModuleRunner) -> Iterator[list[str]]:
    """Every verdict on the controller's access to pve1's API while the block runs."""
    seen: list[str] = []
    with every(0.1, lambda: seen.append(runner.control.judge(CONTROLLER, "pve1", 8006)["action"])):
        yield seen


def test_an_admin_set_whose_entries_are_replaced_while_the_rules_move_is_applied_without_a_lockout(guarded: ModuleRunner, tmp_path: Path) -> None:
    """The preflight judges every stage (the set with old and new entries until the last one)
    and lets it through; the set's new entries go before the datacenter rules, its dropped ones
    after them, and the controller is never cut off."""
    seed(guarded)
    seq = guarded.seq()
    with judged_all_along(guarded) as verdicts:
        completed = rollout(guarded, tmp_path, safe_rollout_tree=MOVED_ADMIN_TREE)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert verdicts and set(verdicts) == {"ACCEPT"}, verdicts
    writes = guarded.writes_since(seq)
    office = "/cluster/firewall/ipset/office"
    adds = [index for index, entry in enumerate(writes) if entry["method"] == "POST" and entry["path"] == office]
    rules = [index for index, entry in enumerate(writes) if entry["path"].startswith("/cluster/firewall/rules")]
    drops = [index for index, entry in enumerate(writes) if entry["method"] == "DELETE" and entry["path"].startswith(office + "/")]
    assert adds and rules and len(drops) == 1, writes
    assert max(adds) < min(rules) and max(rules) < min(drops), writes
    assert [entry["cidr"] for entry in guarded.api().get(office)] == ["198.51.100.0/24"]
    assert guarded.control.judge(CONTROLLER, "pve1", 8006)["action"] == "ACCEPT"


def test_dropping_the_admin_from_the_set_the_rules_keep_using_is_refused_before_any_write(guarded: ModuleRunner, tmp_path: Path) -> None:
    """No order keeps the controller: the stage that drops its entry cuts it off, and so does
    the end state."""
    seed(guarded)
    seq = guarded.seq()
    tree = {"cluster": {"ipsets": [{"name": "office", "entries": ["198.51.100.0/24"]}]}}
    completed = rollout(guarded, tmp_path, safe_rollout_tree=tree)
    assert completed.returncode != 0
    assert "the lockout check failed" in completed.stdout, completed.stdout[-3000:]
    assert "datacenter IP set office dropped entries removed" in completed.stdout, completed.stdout[-3000:]
    assert guarded.writes_since(seq) == []


def test_hardened_defaults_with_an_admin_set_no_rule_uses_is_refused_before_any_write(guarded: ModuleRunner, tmp_path: Path) -> None:
    """An admin set of its own name (not management) and no admin rules: nothing lets the
    controller in under the DROP policy, and the rollout stops before its first write."""
    variables = role_vars(
        guarded, tmp_path, hardened_defaults_admin_networks=[f"{CONTROLLER}/32"], hardened_defaults_admin_ipset="admins", hardened_defaults_admin_rules=False
    )
    seq = guarded.seq()
    task = {"name": "harden", "ansible.builtin.include_role": {"name": "pve.firewall.hardened_defaults"}, "vars": variables}
    completed = run_playbook(tmp_path, [task], guarded.env)[0]
    assert completed.returncode != 0
    assert "the lockout check failed" in completed.stdout and "0 of 6 accesses kept" in completed.stdout, completed.stdout[-3000:]
    assert guarded.writes_since(seq) == []


def test_a_forced_bad_change_reverts_by_itself_and_the_snapshot_is_restored(guarded: ModuleRunner, tmp_path: Path) -> None:
    """The restore is exact: option keys the change added are reset, NIC flags come back."""
    seed(guarded)
    before = gathered(guarded)
    assert before["guests"]["100"]["nic_firewall"] == {"net0": True, "net1": True} and before["guests"]["201"]["nic_firewall"] == {"net0": False}
    assert "log_level_in" not in before["nodes"]["pve1"]["options"] and before["guests"]["100"]["options"] == {}
    seq = guarded.seq()
    with revert_clock_while_locked_out(guarded) as advanced:
        completed = rollout(guarded, tmp_path, safe_rollout_tree=FORCED_TREE, safe_rollout_preflight=False)
    output = completed.stdout
    assert completed.returncode != 0, output[-3000:]
    assert "rollout failed and was rolled back" in output, output[-3000:]
    # what noticed the lockout depends on when the revert came: a later step's connection, the
    # verification's, or the check that the revert had not fired before the verification ended
    report = output[output.index("rollout failed and was rolled back") :]
    noticed = ("no answer from", "Reach each node", "auto-revert was still armed during the verification")
    assert any(text in report for text in noticed), report[:2000]
    assert advanced, "the controller was never locked out, so nothing was reverted"
    assert "NIC firewall flags are back" in report
    # the change did add the keys and flip the flags before the lockout
    writes = [entry["path"] for entry in guarded.writes_since(seq)]
    assert writes.count("/nodes/pve1/firewall/options") >= 2, writes  # log_level_in added, then reset
    assert writes.count("/nodes/pve1/qemu/100/config") >= 2 and writes.count("/nodes/pve2/lxc/201/config") >= 2  # flag flipped, then back
    after = gathered(guarded)
    assert after == before  # the snapshot is back exactly: rules, IP set, options (no added key, enable 1 again), NIC flags
    assert guarded.control.judge(CONTROLLER, "pve1", 8006)["action"] == "ACCEPT"
    snapshots = list((tmp_path / "snapshots").glob("firewall-*.yml"))
    assert len(snapshots) == 1 and "office" in snapshots[0].read_text()
    assert yaml.safe_load(snapshots[0].read_text())["guests"]["201"]["nic_firewall"] == {"net0": False}


def test_a_change_of_only_nic_flags_is_snapshotted_first(guarded: ModuleRunner, tmp_path: Path) -> None:
    """NIC flags live in guest configs, not in a .fw file: a tree that changes only those is a
    change all the same, with a snapshot to restore them from."""
    seed(guarded)
    completed = rollout(guarded, tmp_path, safe_rollout_tree={"guests": {"201": {"nic_firewall": True}}})
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "0 firewall(s) change: none; NIC firewall flags of guests 201; node access stays as it is" in completed.stdout, completed.stdout[-3000:]
    assert gathered(guarded)["guests"]["201"]["nic_firewall"] == {"net0": True}
    snapshots = list((tmp_path / "snapshots").glob("firewall-*.yml"))
    assert len(snapshots) == 1 and yaml.safe_load(snapshots[0].read_text())["guests"]["201"]["nic_firewall"] == {"net0": False}


def test_a_good_change_is_applied_verified_and_confirmed_and_a_rerun_writes_nothing(guarded: ModuleRunner, tmp_path: Path) -> None:
    seed(guarded)
    completed = rollout(guarded, tmp_path, safe_rollout_tree=ADMIN_TREE)
    assert completed.returncode == 0, completed.stdout[-3000:]
    options = guarded.api().get("/cluster/firewall/options")
    assert options["enable"] == 1 and options["policy_in"] == "DROP"  # confirmed, not a timestamp
    rules = guarded.api().get("/cluster/firewall/rules")
    assert [rule.get("comment") for rule in rules][:1] == ["gui"] and len(rules) == 2  # overridden: the seed rule is gone
    assert "firewall=1" in guarded.api().get("/nodes/pve1/qemu/100/config")["net0"]
    guarded.control.advance_clock(61)
    assert guarded.api().get("/cluster/firewall/options")["enable"] == 1  # no revert pending

    seq = guarded.seq()
    (tmp_path / "again").mkdir()
    again = rollout(guarded, tmp_path / "again", safe_rollout_tree=ADMIN_TREE)
    role_output = again.stdout.split("TASK [collect the results]")[0]  # the harness's own task writes a file
    assert again.returncode == 0 and "changed:" not in role_output, role_output[-3000:]
    assert guarded.writes_since(seq) == []


def test_check_mode_writes_nothing_and_shows_the_changes(guarded: ModuleRunner, tmp_path: Path) -> None:
    seed(guarded)
    seq = guarded.seq()
    variables = role_vars(guarded, tmp_path, safe_rollout_tree=ADMIN_TREE)
    task = {"name": "roll out", "ansible.builtin.include_role": {"name": "pve.firewall.safe_rollout"}, "vars": variables}
    completed = run_playbook(tmp_path, [task], guarded.env, check=True, diff=True)[0]
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "+IN ACCEPT -source +admins -p tcp -dport 8006 # gui" in completed.stdout  # the preflight's diff of cluster.fw
    assert "/etc/pve/firewall/100.fw" in completed.stdout
    # the plan reads as one sentence: "...; node access can change (...); <lockout summary>"
    plan = re.search(r'"msg": "(\d+ firewall\(s\) change: [^"]*)"', completed.stdout)
    assert plan is not None and "node access can change" in plan[1] and " ;" not in plan[1], completed.stdout[-3000:]
    assert guarded.writes_since(seq) == []


def collection_playbook(runner: ModuleRunner, work: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """ansible-playbook pve.firewall.<name> with the connection from PROXMOX_*."""
    env = {
        **os.environ,
        **runner.env,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".build"),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    command = [str(Path(sys.executable).with_name("ansible-playbook")), f"pve.firewall.{name}", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, timeout=300, check=False)


def test_export_then_harden_changes_nothing_and_an_edited_export_is_applied_exactly(guarded: ModuleRunner, tmp_path: Path) -> None:
    seed(guarded)
    guarded.ok("ipset", name="old", entries=["192.0.2.9"])
    guarded.ok("firewall_rule", level="vm", vmid=100, rules=[{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}])
    tree_file = tmp_path / "tree.yml"
    exported = collection_playbook(guarded, tmp_path, "export", "-e", f"pve_firewall_export_file={tree_file}")
    assert exported.returncode == 0, exported.stdout[-3000:]
    document = yaml.safe_load(tree_file.read_text())
    assert document["safe_rollout_prune"] is True and document["safe_rollout_rules_state"] == "overridden"
    assert {ipset["name"] for ipset in document["safe_rollout_tree"]["cluster"]["ipsets"]} == {"office", "old"}
    assert document["safe_rollout_tree"]["guests"]["100"]["nic_firewall"] == {"net0": True, "net1": True}

    extra = ["-e", f"@{tree_file}", *(f"-e{key}={value}" for key, value in role_vars(guarded, tmp_path).items())]
    seq = guarded.seq()
    unchanged = collection_playbook(guarded, tmp_path, "harden", *extra)
    assert unchanged.returncode == 0 and "changed=0" in unchanged.stdout, unchanged.stdout[-3000:]
    assert guarded.writes_since(seq) == []

    # the GitOps edit: drop an IP set, change the VM's rule, one NIC's flag; applied exactly, guarded as ever
    document["safe_rollout_tree"]["cluster"]["ipsets"] = [item for item in document["safe_rollout_tree"]["cluster"]["ipsets"] if item["name"] != "old"]
    document["safe_rollout_tree"]["guests"]["100"]["rules"] = [{"type": "in", "action": "ACCEPT", "macro": "HTTP"}]
    document["safe_rollout_tree"]["guests"]["100"]["nic_firewall"]["net1"] = False
    tree_file.write_text(yaml.safe_dump(document))
    applied = collection_playbook(guarded, tmp_path, "harden", *extra)
    assert applied.returncode == 0, applied.stdout[-3000:]
    assert [ipset["name"] for ipset in guarded.api().get("/cluster/firewall/ipset")] == ["office"]
    assert [rule["macro"] for rule in guarded.api().get("/nodes/pve1/qemu/100/firewall/rules")] == ["HTTP"]
    config = guarded.api().get("/nodes/pve1/qemu/100/config")
    assert "firewall=1" in config["net0"] and "firewall" not in config["net1"]
    assert guarded.api().get("/cluster/firewall/options")["enable"] == 1


def test_hardened_defaults_turn_all_three_switches_on_for_the_guests_they_manage(guarded: ModuleRunner, tmp_path: Path) -> None:
    """The datacenter's enable, the guest's enable and firewall=1 on each NIC: without the
    third switch PVE leaves a VM unfiltered whatever its rules say (CT 201 has it off)."""
    variables = role_vars(
        guarded,
        tmp_path,
        hardened_defaults_admin_networks=[f"{CONTROLLER}/32"],
        hardened_defaults_guest_groups=[{"groups": ["web"], "tags": ["web"]}],
    )
    task = {"name": "harden", "ansible.builtin.include_role": {"name": "pve.firewall.hardened_defaults"}, "vars": variables}
    completed = run_playbook(tmp_path, [task], guarded.env)[0]
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "stays unfiltered" not in completed.stdout  # the same run turns the datacenter firewall on
    api = guarded.api()
    assert api.get("/cluster/firewall/options")["enable"] == 1
    for path, vmid in (("/nodes/pve1/qemu/100", 100), ("/nodes/pve2/qemu/101", 101), ("/nodes/pve2/lxc/201", 201)):  # tagged web
        assert api.get(f"{path}/firewall/options")["enable"] == 1, vmid
        nics = {key: value for key, value in api.get(f"{path}/config").items() if key.startswith("net")}
        assert nics and all("firewall=1" in line for line in nics.values()), (vmid, nics)
    result = guarded.ok(
        "firewall_simulate",
        source="live",
        packets=[
            {"from": "203.0.113.9", "to": "ct201", "dport": 22, "expect": "DROP"},  # filtered now: the flag is on
            {"from": "203.0.113.9", "to": "ct201", "dport": 443, "expect": "ACCEPT"},
            {"from": "203.0.113.9", "to": "vm102", "dport": 22, "expect": "ACCEPT"},  # db1: not managed, firewall off
        ],
    )
    assert result["failed_expectations"] == []


def test_a_canary_node_is_written_and_verified_before_the_other_nodes(guarded: ModuleRunner, tmp_path: Path) -> None:
    seed(guarded)
    rule = [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "9000", "comment": "metrics"}]
    tree = {"nodes": {node: {"rules": rule} for node in ("pve1", "pve2", "pve3")}}
    seq = guarded.seq()
    completed = rollout(guarded, tmp_path, safe_rollout_tree=tree, safe_rollout_canary_node="pve2")
    assert completed.returncode == 0, completed.stdout[-3000:]
    log = guarded.requests_since(seq)
    host_writes = [(index, entry["path"].split("/")[2]) for index, entry in enumerate(log) if entry["method"] == "POST" and "/firewall/rules" in entry["path"]]
    nodes = [node for index, node in host_writes]
    assert nodes[0] == "pve2" and sorted(nodes) == ["pve1", "pve2", "pve3"]
    canary_done = host_writes[0][0]
    others_start = min(index for index, node in host_writes if node != "pve2")
    # the verification's new connection to pve2 (no credentials: 401) comes between
    between = [entry for entry in log[canary_done:others_start] if entry["path"].endswith("/version") and entry["node"] == "pve2"]
    assert between, [(entry["method"], entry["path"], entry["node"]) for entry in log[canary_done:others_start]]
