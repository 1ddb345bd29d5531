"""The firewall_simulate module, run for real by ansible-playbook against localhost.

One playbook runs every scenario (tasks that are expected to fail use ``ignore_errors``) and
writes the registered results as JSON; the tests then check each result. The collection is
found through ``<repo>/.build`` (ANSIBLE_COLLECTIONS_PATH), as tests/conftest.py sets up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
PLAYBOOK_BIN = Path(sys.executable).parent / "ansible-playbook"

CLUSTER_FW = "[OPTIONS]\nenable: 1\n\n[IPSET management]\n\n198.51.100.0/24\n\n[RULES]\n\nIN DROP -p tcp -dport 22 # no ssh\n"
HOST_FW = "[RULES]\n\nIN ACCEPT -p tcp -dport 8443\n"
GUEST_FW = "[OPTIONS]\n\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 443 # web\n"

INVENTORY = {
    "nodes": {"pve1": {"address": "192.0.2.11", "local_network": "192.0.2.0/24"}},
    "guests": {100: {"type": "qemu", "nics": {"net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1"}}},
}

STRUCTURED = {
    "cluster": {
        "options": {"enable": 1},
        "ipsets": [{"name": "management", "entries": ["198.51.100.0/24", "!198.51.100.128/25"]}],
        "groups": [{"name": "web", "rules": [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "80,443"}]}],
    },
    "guests": {100: {"options": {"enable": True}, "rules": [{"type": "group", "action": "web"}]}},
}

SSH_ACCEPT = {"name": "ssh", "from": "198.51.100.7", "to": "host:pve1", "dport": 22, "expect": "ACCEPT"}


def _tasks(fw_dir: Path) -> list[dict[str, Any]]:
    simulate = "pve.firewall.firewall_simulate"
    return [
        {
            "name": "fw_dir with expectations that hold",
            simulate: {
                "fw_dir": str(fw_dir),
                "inventory": INVENTORY,
                "packets": [
                    {"name": "web", "from": "outside", "to": "vm100", "dport": 443, "expect": "ACCEPT"},
                    {"name": "ssh", "from": "198.51.100.7", "to": "host:pve1", "dport": 22, "expect": "DROP"},
                    {"from": "outside", "to": "host", "dport": 8443},
                ],
            },
            "register": "fw_dir",
        },
        {
            "name": "an expectation that does not hold",
            simulate: {
                "fw_dir": str(fw_dir),
                "inventory": INVENTORY,
                "packets": [{"name": "web", "from": "outside", "to": "vm100", "dport": 443, "expect": "ACCEPT"}, SSH_ACCEPT],
            },
            "register": "failing",
            "ignore_errors": True,
        },
        {
            "name": "text input",
            simulate: {
                "cluster_fw": CLUSTER_FW,
                "host_fw": HOST_FW,
                "guests_fw": {100: GUEST_FW},
                "inventory": INVENTORY,
                "packets": [
                    {"from": "outside", "to": "host", "dport": 8443, "expect": "ACCEPT"},
                    {"from": "outside", "to": "vm100", "dport": 80, "expect": "DROP"},
                ],
            },
            "register": "texts",
        },
        {
            "name": "structured input, in check mode",
            simulate: {
                "config": STRUCTURED,
                "inventory": INVENTORY,
                "packets": [
                    {"from": "outside", "to": "vm100", "dport": 80, "expect": "ACCEPT"},
                    {"from": "outside", "to": "vm100", "dport": 22, "expect": "DROP"},
                    {"from": "198.51.100.200", "to": "host", "dport": 8006, "expect": "DROP"},
                ],
            },
            "check_mode": True,
            "register": "structured",
        },
        {
            "name": "lockout report",
            simulate: {
                "cluster_fw": CLUSTER_FW,
                "inventory": INVENTORY,
                "lockout_check": {"clients": ["198.51.100.7", "203.0.113.5"]},
            },
            "register": "lockout",
        },
        {
            "name": "lockout report that fails the task",
            simulate: {"cluster_fw": CLUSTER_FW, "inventory": INVENTORY, "lockout_check": {"clients": ["198.51.100.7"], "fail_on_lockout": True}},
            "register": "lockout_failing",
            "ignore_errors": True,
        },
        {
            "name": "upstream test inventory by default",
            simulate: {
                "cluster_fw": "[OPTIONS]\nenable: 1\n",
                "guests_fw": {100: GUEST_FW},
                "packets": [{"from": "ct200", "to": "vm100", "dport": 443, "expect": "ACCEPT"}],
            },
            "register": "default_inventory",
        },
        {
            "name": "two configuration sources",
            simulate: {"fw_dir": str(fw_dir), "config": STRUCTURED},
            "register": "exclusive",
            "ignore_errors": True,
        },
        {
            "name": "an unknown zone",
            simulate: {"cluster_fw": CLUSTER_FW, "inventory": INVENTORY, "packets": [{"from": "mars", "to": "host"}]},
            "register": "bad_zone",
            "ignore_errors": True,
        },
    ]


def _run_playbook(work: Path, tasks: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    """Run ``tasks`` on localhost with the collection under development; the playbook lives in ``work``."""
    if not PLAYBOOK_BIN.exists():
        pytest.skip(f"ansible-playbook is not installed beside {sys.executable} (run the tests from the project's venv)")
    playbook = work / "play.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}], sort_keys=False))
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCAL_TEMP=str(work / "tmp"))
    command = [str(PLAYBOOK_BIN), "-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)]
    return subprocess.run(command, env=environment, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("simulate")
    fw_dir = work / "fw"
    (fw_dir / "nodes" / "pve1").mkdir(parents=True)
    (fw_dir / "cluster.fw").write_text(CLUSTER_FW)
    (fw_dir / "nodes" / "pve1" / "host.fw").write_text(HOST_FW)
    (fw_dir / "100.fw").write_text(GUEST_FW)
    tasks = _tasks(fw_dir)
    names = [task["register"] for task in tasks]
    output = work / "results.json"
    collect = "{{ {" + ", ".join(f"'{name}': {name}" for name in names) + "} | to_json }}"
    tasks.append({"name": "collect", "ansible.builtin.copy": {"content": collect, "dest": str(output)}})
    run = _run_playbook(work, tasks)
    if run.returncode != 0 or not output.exists():
        pytest.fail(f"ansible-playbook failed ({run.returncode}):\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    return json.loads(output.read_text())


def test_fw_dir_expectations_hold(results: dict[str, Any]):
    result = results["fw_dir"]
    assert not result.get("failed") and result["changed"] is False
    assert [item["verdict"] for item in result["results"]] == ["ACCEPT", "DROP", "ACCEPT"]
    assert all(item["passed"] for item in result["results"])
    web, ssh, host = result["results"]
    assert web["decided_by"]["comment"] == "web" and web["decided_by"]["level"] == "vm" and web["decided_by"]["position"] == 0
    # the management exception cannot save SSH: the cluster rule comes first
    assert ssh["decided_by"]["rule"] == "IN DROP -p tcp -dport 22" and ssh["decided_by"]["level"] == "cluster"
    assert ssh["decided_by"]["comment"] == "no ssh"
    assert host["name"] == "outside -> host" and host["expected"] is None
    assert host["packet"] == {"source": "100.100.1.2", "dest": "192.0.2.11", "proto": "tcp", "dport": 8443}
    assert host["decided_by"]["level"] == "host"


def test_failed_expectation_fails_the_task_with_a_clear_message(results: dict[str, Any]):
    result = results["failing"]
    assert result["failed"] is True
    assert result["msg"].splitlines() == [
        "1 of 2 expectations failed:",
        "- ssh: expected ACCEPT, got DROP (host pve1 IN: cluster rule pos 0: IN DROP -p tcp -dport 22 # no ssh)",
    ]
    assert [item["passed"] for item in result["results"]] == [True, False]


def test_text_input(results: dict[str, Any]):
    result = results["texts"]
    assert not result.get("failed")
    assert [item["verdict"] for item in result["results"]] == ["ACCEPT", "DROP"]


def test_structured_input_in_check_mode(results: dict[str, Any]):
    result = results["structured"]
    assert not result.get("failed") and result["changed"] is False
    accepted = result["results"][0]
    assert accepted["decided_by"]["group"] == "web" and accepted["decided_by"]["chain"] == "GROUP-web-IN"
    # !198.51.100.128/25 (nomatch) takes 198.51.100.200 out of the management ipset
    assert result["results"][2]["verdict"] == "DROP"


def test_lockout_report(results: dict[str, Any]):
    lockout = results["lockout"]["lockout"]
    assert not results["lockout"].get("failed")
    assert lockout["ok"] is False
    statuses = {(access["client"], access["port"]): access["status"] for access in lockout["accesses"]}
    assert statuses == {("198.51.100.7", 8006): "kept", ("198.51.100.7", 22): "lost", ("203.0.113.5", 8006): "lost", ("203.0.113.5", 22): "lost"}
    fixes = {(access["client"], access["port"]): access["fix"] for access in lockout["accesses"]}
    assert fixes[("198.51.100.7", 22)] == "rule 0 (IN DROP -p tcp -dport 22) at cluster level drops it; move it below an ACCEPT for 198.51.100.7 or delete it"
    assert fixes[("203.0.113.5", 8006)].startswith("add 203.0.113.5 to ipset management")
    assert "would cut off" in lockout["summary"]


def test_lockout_can_fail_the_task(results: dict[str, Any]):
    result = results["lockout_failing"]
    assert result["failed"] is True
    assert result["msg"].startswith("the lockout check failed:\n- lockout check: 1 of 2 accesses kept")


def test_default_inventory_is_pves_test_environment(results: dict[str, Any]):
    result = results["default_inventory"]
    assert result["results"][0]["verdict"] == "ACCEPT"
    assert [step["chain"] for step in result["results"][0]["trail"]] == ["veth200i0-OUT", "tap100i0-IN"]


def test_one_configuration_source_only(results: dict[str, Any]):
    assert results["exclusive"]["failed"] is True
    assert "mutually exclusive" in results["exclusive"]["msg"]


def test_bad_packet_names_the_packet(results: dict[str, Any]):
    assert results["bad_zone"]["failed"] is True
    assert results["bad_zone"]["msg"].startswith("packets[0] (mars -> host): unknown zone 'mars'")


def _documented(options: dict[str, Any]) -> dict[str, Any]:
    return {name: (spec.get("type", "str"), _documented(spec.get("suboptions", {}))) for name, spec in options.items()}


def _specified(options: dict[str, Any]) -> dict[str, Any]:
    return {name: (spec.get("type", "str"), _specified(spec.get("options", {}))) for name, spec in options.items()}


def test_documentation_matches_argument_spec():
    """A quick local check of names and types; ansible-test's validate-modules is the full one.
    The connection options come from the ``pve.firewall.api`` fragment."""
    pytest.importorskip("ansible", reason="ansible-core is not installed in this Python")
    from ansible_collections.pve.firewall.plugins.doc_fragments.api import ModuleDocFragment
    from ansible_collections.pve.firewall.plugins.modules import firewall_simulate

    documentation = yaml.safe_load(firewall_simulate.DOCUMENTATION)
    assert "pve.firewall.api" in documentation["extends_documentation_fragment"]
    documented = {**yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"], **documentation["options"]}
    assert _documented(documented) == _specified(firewall_simulate.argument_spec())
    assert yaml.safe_load(firewall_simulate.EXAMPLES) and yaml.safe_load(firewall_simulate.RETURN)


# The EXAMPLES run in tests/integration/modules/test_firewall_simulate_live.py: one of them reads
# a live cluster, so they run there against the emulator.
