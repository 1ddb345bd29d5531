"""Both execution paths give the same results: the controller path (the action plugin runs the
module's code in the worker process, for tasks on the local connection) and the module path
(the module runs as a module: forced here with PVE_FIREWALL_EXECUTION=module).

One playbook with a task of every module (changes, an unchanged rerun, check mode, diff mode,
warnings, no_log masking, the failures of bad arguments, of rule lines and of the connection,
the task's ``environment``, ``module_defaults`` of the action group) runs once on each path
against a freshly reset emulator; each task's registered result, and the requests the
emulator received, must be the same. At verbosity 3 each task says which path it took, so the
run proves it took the one asked for.
"""

from __future__ import annotations

import difflib
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from conftest import ModuleRunner, playbook_environment, run_playbook

from ansible_collections.pve.firewall.tests.emulator.fixtures import TOKEN

GROUP = "group/pve.firewall.firewall"  # the action group of meta/runtime.yml
CONTROLLER_LINE = "controller path"
MODULE_LINE = "module path"
# A .fw text for firewall_simulate's offline source
OUTSIDER_TO_GUI = {"from": "203.0.113.9", "to": "host:proxself", "dport": 8006}  # proxself: the node of .fw texts
CLUSTER_FW = "[OPTIONS]\nenable: 1\npolicy_in: DROP\n\n[RULES]\nIN ACCEPT -source 192.0.2.0/24 -p tcp -dport 8006\n"


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scenario(cluster: ModuleRunner) -> list[dict[str, Any]]:
    """Tasks of every module; each failure is expected (ignore_errors) and names its reason."""
    # given as an argument, masked as no_log; read from the environment, so that the playbook's
    # text (which Ansible quotes around a failed task) does not hold it
    from_env = "{{ lookup('ansible.builtin.env', 'PROXMOX_TOKEN_SECRET') }}"
    secret = {"api_token_secret": from_env}
    diff = {"diff": True}
    check = {"check_mode": True, "diff": True}
    ignored = {"ignore_errors": True}
    rules = ["IN ACCEPT -source 192.0.2.0/24 -p tcp -dport 8006", {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24"}]
    return [
        {"name": "alias created", "pve.firewall.alias": {"name": "office", "cidr": "192.0.2.0/24", "comment": "the office", **secret}, **diff},
        {"name": "alias unchanged", "pve.firewall.alias": {"name": "office", "cidr": "192.0.2.0/24", "comment": "the office"}},
        {"name": "alias in check mode", "pve.firewall.alias": {"name": "lab", "cidr": "198.51.100.0/24"}, **check},
        {"name": "secret in a value is masked", "pve.firewall.alias": {"name": "masked", "cidr": "198.51.100.7", "comment": f"x {from_env}", **secret}},
        {"name": "required_if", "pve.firewall.alias": {"name": "office"}, **ignored},
        {"name": "unsupported option", "pve.firewall.alias": {"name": "office", "cidr": "192.0.2.0/24", "colour": "red"}, **ignored},
        {"name": "wrong type", "pve.firewall.alias": {"name": "office", "cidr": "192.0.2.0/24", "api_port": "eighty"}, **ignored},
        {"name": "ipset created", "pve.firewall.ipset": {"name": "admins", "entries": ["192.0.2.10", "192.0.2.11"]}, **diff},
        {"name": "rules merged from lines", "pve.firewall.firewall_rule": {"level": "cluster", "rules": rules}, **diff},
        {"name": "bad rule line", "pve.firewall.firewall_rule": {"level": "cluster", "rules": ["IN ACCEPT -p tcp -dport 8006", "IN SIDEWAYS"]}, **ignored},
        {"name": "rules rendered", "pve.firewall.firewall_rule": {"state": "rendered", "rules": rules}},
        {"name": "group in check mode", "pve.firewall.security_group": {"name": "web", "rules": ["IN HTTPS(ACCEPT)"]}, **check},
        {"name": "guest options warn", "pve.firewall.firewall_options": {"level": "vm", "vmid": 100, "options": {"enable": True}}, **diff},
        {"name": "datacenter options", "pve.firewall.firewall_options": {"level": "cluster", "options": {"enable": True}}, **diff},
        # parallel 1: the two paths' requests are compared in their order
        {"name": "info", "pve.firewall.firewall_info": {"levels": ["cluster", "vm"], "include": ["options", "rules", "aliases", "ipsets"], "parallel": 1}},
        {"name": "audit", "pve.firewall.firewall_audit": {"parallel": 1}},
        {"name": "logs", "pve.firewall.firewall_log_info": {"nodes": ["pve1"], "limit": 50}},
        {"name": "simulate", "pve.firewall.firewall_simulate": {"cluster_fw": CLUSTER_FW, "packets": [OUTSIDER_TO_GUI]}},
        {"name": "mutually exclusive", "pve.firewall.firewall_simulate": {"cluster_fw": CLUSTER_FW, "config": {}}, **ignored},
        {"name": "whole token as the id", "pve.firewall.firewall_info": {"api_token_id": f"{TOKEN.full_id}={from_env}"}, **ignored},
        {"name": "task environment", "pve.firewall.firewall_info": {"levels": ["cluster"]}, "environment": {"PROXMOX_PORT": str(closed_port())}, **ignored},
        {"name": "module defaults", "pve.firewall.firewall_info": {"levels": ["cluster"]}, "module_defaults": {GROUP: {"api_port": closed_port()}}, **ignored},
    ]


def run_path(cluster: ModuleRunner, work: Path, tasks: list[dict[str, Any]], path: str) -> tuple[str, list[dict[str, Any]], list[dict[str, Any]]]:
    """stdout, the results and the requests of one run of ``tasks`` on ``path`` (auto: the
    controller path for these local tasks; module), from a freshly reset emulator."""
    assert cluster.pve.emulator is not None
    cluster.pve.emulator.reset()
    seq = cluster.seq()
    work.mkdir()
    env = {**cluster.env, "PVE_FIREWALL_EXECUTION": path, "ANSIBLE_VERBOSITY": "3"}
    completed, results = run_playbook(work, tasks, env)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert len(results) == len(tasks)
    requests = [{key: entry[key] for key in ("method", "path", "params") if key in entry} for entry in cluster.requests_since(seq)]
    return completed.stdout, results, requests


def test_both_paths_give_the_same_results(cluster: ModuleRunner, tmp_path: Path) -> None:
    tasks = scenario(cluster)
    out_here, here, requests_here = run_path(cluster, tmp_path / "controller", tasks, "auto")
    out_there, there, requests_there = run_path(cluster, tmp_path / "module", tasks, "module")

    # each run took the path asked for, for every task of the collection
    assert out_here.count(CONTROLLER_LINE) == len(tasks) and MODULE_LINE not in out_here
    assert out_there.count(f"{MODULE_LINE} (PVE_FIREWALL_EXECUTION=module)") == len(tasks) and CONTROLLER_LINE not in out_there

    for task, mine, theirs in zip(tasks, here, there):
        assert mine == theirs, f"{task['name']}:\ncontroller: {json.dumps(mine, sort_keys=True)}\nmodule:     {json.dumps(theirs, sort_keys=True)}"
    # as a diff where they part (pytest's own comparison of two long lists hides the place)
    parted = difflib.unified_diff(list(map(str, requests_here)), list(map(str, requests_there)), "controller", "module", lineterm="")
    assert requests_here == requests_there, "\n".join(parted)

    by_name = {task["name"]: result for task, result in zip(tasks, here)}
    # the scenario did what it names (so the comparison compared something)
    assert by_name["alias created"]["changed"] is True and by_name["alias created"]["diff"]["after"]
    assert by_name["alias unchanged"]["changed"] is False
    assert by_name["alias in check mode"]["changed"] is True
    assert not any(request["path"].endswith("/aliases") and request.get("params", {}).get("name") == "lab" for request in requests_here)
    assert "x ********" in by_name["secret in a value is masked"]["after"]["comment"]
    assert "state is present but all of the following are missing: cidr" in by_name["required_if"]["msg"]
    assert "Unsupported parameters for (pve.firewall.alias) module: colour" in by_name["unsupported option"]["msg"]
    assert "argument 'api_port' is of type" in by_name["wrong type"]["msg"]
    assert "rules[1]: action='SIDEWAYS'" in by_name["bad rule line"]["msg"] and by_name["bad rule line"]["failed"] is True
    assert by_name["group in check mode"]["changed"] is True
    assert any("datacenter firewall is off" in str(warning) for warning in by_name["guest options warn"]["warnings"])
    assert by_name["datacenter options"]["lockout"]["ok"] is True
    assert by_name["simulate"]["results"][0]["verdict"] == "DROP"
    assert "mutually exclusive" in by_name["mutually exclusive"]["msg"]
    assert "api_token_id holds a whole token" in by_name["whole token as the id"]["msg"]
    assert "connection to" in by_name["task environment"]["msg"] and "connection to" in by_name["module defaults"]["msg"]
    # no path shows the secret: not in a result, not at verbosity 3 (invocation included)
    for shown in (json.dumps(here), json.dumps(there), out_here, out_there):
        assert TOKEN.secret not in shown
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out_here and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out_there


def play(work: Path, hosts: str, inventory: str, tasks: list[dict[str, Any]], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """ansible-playbook with an inventory of its own (no -c local), verbosity 3."""
    (work / "inventory.ini").write_text(inventory)
    (work / "playbook.yml").write_text(yaml.safe_dump([{"hosts": hosts, "gather_facts": False, "tasks": tasks}], sort_keys=False))
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", str(work / "inventory.ini"), str(work / "playbook.yml"), "-vvv"]
    return subprocess.run(command, capture_output=True, text=True, env=playbook_environment(work, env), cwd=work, timeout=300, check=False)


def test_the_connection_decides_the_path(cluster: ModuleRunner, tmp_path: Path) -> None:
    """A task delegated to localhost runs on the controller; the same task on a host reached
    over SSH runs as a module there (here: a host nobody listens for, so it is unreachable)."""
    inventory = f"jump ansible_connection=ssh ansible_host=127.0.0.1 ansible_port={closed_port()} ansible_python_interpreter={sys.executable}\n"
    read = {"pve.firewall.firewall_info": {"levels": ["cluster"], "include": ["options"]}}
    tasks = [
        {"name": "delegated", **read, "delegate_to": "localhost", "register": "delegated"},
        {"name": "show", "ansible.builtin.debug": {"msg": "options {{ delegated.cluster.options }}"}, "delegate_to": "localhost"},
        {"name": "over ssh", **read},
    ]
    completed = play(tmp_path, "jump", inventory, tasks, cluster.env)
    out = completed.stdout
    delegated, over_ssh = out.split("TASK [show]")[0], out.split("TASK [over ssh]")[1]
    assert CONTROLLER_LINE in delegated and MODULE_LINE not in delegated
    assert "options {}" in out  # the delegated task succeeded
    assert f"{MODULE_LINE} (connection ssh)" in over_ssh and CONTROLLER_LINE not in over_ssh
    assert "UNREACHABLE!" in over_ssh or "FAILED!" in over_ssh


def test_async_tasks_run_as_a_module(cluster: ModuleRunner, tmp_path: Path) -> None:
    tasks = [{"name": "async", "pve.firewall.alias": {"name": "office", "cidr": "192.0.2.0/24"}, "async": 60, "poll": 1}]
    completed, results = run_playbook(tmp_path, tasks, {**cluster.env, "ANSIBLE_VERBOSITY": "3"})
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert f"{MODULE_LINE} (async)" in completed.stdout and CONTROLLER_LINE not in completed.stdout
    assert results[0]["changed"] is True and results[0]["after"]["cidr"] == "192.0.2.0/24"
    assert cluster.api().get("/cluster/firewall/aliases")[0]["name"] == "office"


def test_an_unknown_switch_value_fails_the_task(cluster: ModuleRunner, tmp_path: Path) -> None:
    tasks = [{"name": "read", "pve.firewall.firewall_info": {"levels": ["cluster"]}, "ignore_errors": True}]
    completed, results = run_playbook(tmp_path, tasks, {**cluster.env, "PVE_FIREWALL_EXECUTION": "remote"})
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert results[0]["failed"] is True and "PVE_FIREWALL_EXECUTION='remote' is none of auto, module" in results[0]["msg"]
