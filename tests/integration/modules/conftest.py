"""Run the collection's modules against a TLS emulator, in-process or through ansible-playbook.

* ``pve_tls`` (session): one HTTPS emulator; ``cluster`` (function) resets it and gives a
  ``ModuleRunner`` whose ``run(module, **args)`` calls the module's ``main()`` in this
  process with the connection options filled in (token auth, the emulator's CA), and returns
  the module's JSON result. ``check=True`` and ``diff=True`` set check and diff mode.
* ``run_playbook(work, tasks, env)`` runs tasks with ansible-playbook on localhost with the
  connection given through the PROXMOX_* environment variables (``runner.env``);
  ``run_examples`` runs a module's EXAMPLES that way. Those tasks take the controller path
  (the action plugins run the modules in the worker process); ``PVE_FIREWALL_EXECUTION=module``
  in ``env`` runs them as modules (test_execution_paths compares the two).

``run`` goes through the module's ``main()`` and ``AnsibleModule`` (the module path's code).

The emulator's request log tells what a run wrote: ``runner.writes_since(seq)``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, ControlClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator, start_in_process
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection, run_module

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def pve_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start_in_process(tmp_path_factory.mktemp("pve-tls"), tls=True)
    yield running
    running.close_clients()
    assert running.emulator is not None
    running.emulator.stop()


@dataclass
class ModuleRunner:
    """Runs modules of pve.firewall against one emulator node."""

    pve: RunningEmulator
    node: str | None = None

    @property
    def connection(self) -> dict[str, Any]:
        return module_connection(self.pve, self.node)

    @property
    def env(self) -> dict[str, str]:
        """The PROXMOX_* variables that give the same connection."""
        names = {
            "api_host": "PROXMOX_HOST",
            "api_port": "PROXMOX_PORT",
            "api_token_id": "PROXMOX_TOKEN_ID",
            "api_token_secret": "PROXMOX_TOKEN_SECRET",
            "ca_path": "PROXMOX_CA_PATH",
        }
        return {names[key]: str(value) for key, value in self.connection.items()}

    def run(self, module: str, *, check: bool = False, diff: bool = False, connection: bool = True, **args: Any) -> dict[str, Any]:
        """The module's result; a failed module returns its result too (``failed`` is set)."""
        return run_module(module, {**(self.connection if connection else {}), **args}, check=check, diff=diff)

    def ok(self, module: str, **args: Any) -> dict[str, Any]:
        result = self.run(module, **args)
        assert not result.get("failed"), result.get("msg")
        return result

    def unchanged(self, module: str, **args: Any) -> dict[str, Any]:
        """A rerun that must change nothing and write nothing."""
        seq = self.seq()
        result = self.ok(module, **args)
        assert result["changed"] is False and result["commands"] == [], result
        assert self.writes_since(seq) == []
        return result

    def fails(self, module: str, **args: Any) -> dict[str, Any]:
        """A run that must fail and write nothing."""
        seq = self.seq()
        result = self.run(module, **args)
        assert result.get("failed") is True, result
        assert self.writes_since(seq) == []
        return result

    def api(self) -> ApiClient:
        return self.pve.api(self.node)

    @property
    def control(self) -> ControlClient:
        return self.pve.control

    def seq(self) -> int:
        """The request log's position now (pass to ``writes_since``)."""
        return int(self.control.requests(10**12)["last_seq"])

    def requests_since(self, seq: int) -> list[dict[str, Any]]:
        return list(self.control.requests(seq)["requests"])

    def writes_since(self, seq: int) -> list[dict[str, Any]]:
        return [entry for entry in self.requests_since(seq) if entry["method"] != "GET"]


def overlaps(first: dict[str, Any], second: dict[str, Any]) -> bool:
    """Two logged requests were served at the same time (each entry: start and duration)."""
    return first["time"] < second["time"] + second["duration_ms"] / 1000 and second["time"] < first["time"] + first["duration_ms"] / 1000


def any_overlap(logged: list[dict[str, Any]]) -> bool:
    """Some two of the logged requests were served at the same time."""
    return any(overlaps(a, b) for index, a in enumerate(logged) for b in logged[index + 1 :])


def with_4_and_1_connections(runner: ModuleRunner, run: Callable[[int], dict[str, Any]], latency: float = 0.05) -> tuple[dict[int, Any], dict[int, Any]]:
    """``run(parallel)`` with 4 connections, then with 1, each round trip ``latency`` seconds
    long: the results and the requests of each run, by ``parallel``."""
    runner.control.settings(latency=latency)
    results: dict[int, Any] = {}
    logs: dict[int, Any] = {}
    try:
        for parallel in (4, 1):
            seq = runner.seq()
            results[parallel] = run(parallel)
            logs[parallel] = runner.requests_since(seq)
    finally:
        runner.control.settings(latency=0)
    return results, logs


# The levels that hold IP sets and aliases: scope options and the firewall's API base.
SET_LEVELS: dict[str, tuple[dict[str, Any], str]] = {
    "cluster": ({"level": "cluster"}, "/cluster/firewall"),
    "vm": ({"level": "vm", "vmid": 100}, "/nodes/pve1/qemu/100/firewall"),
    "ct": ({"level": "ct", "vmid": 200}, "/nodes/pve1/lxc/200/firewall"),
}


def methods(writes: list[dict[str, Any]]) -> list[str]:
    """The HTTP methods of logged requests, in order."""
    return [entry["method"] for entry in writes]


@pytest.fixture
def cluster(pve_tls: RunningEmulator) -> Iterator[ModuleRunner]:
    assert pve_tls.emulator is not None
    pve_tls.emulator.reset()
    yield ModuleRunner(pve_tls)
    pve_tls.close_clients()


def playbook_environment(work: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment of an ansible-playbook run in ``work``: ``env`` (the PROXMOX_*
    connection), this interpreter, the collection under development, temporary files in ``work``."""
    return {
        **os.environ,
        **env,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".build"),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }


def run_playbook(
    work: Path, tasks: list[dict[str, Any]], env: dict[str, str], *, check: bool = False, diff: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """ansible-playbook on localhost. Every task is registered (its own ``register`` kept) and
    the results are collected in order; a play that stops early returns those that ran."""
    tasks = [dict(task) for task in tasks]
    names = []
    for index, task in enumerate(tasks):
        task.setdefault("register", f"task_result_{index}")
        names.append(task["register"])
    output = work / "results.json"
    collect = "{{ [" + ", ".join(f"({name} | default(None))" for name in names) + "] | to_json }}"
    finale = {"name": "collect the results", "ansible.builtin.copy": {"content": collect, "dest": str(output)}, "check_mode": False, "diff": False}
    play = {"hosts": "localhost", "gather_facts": False, "tasks": [{"block": tasks, "always": [finale]}]}
    playbook = work / "playbook.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", "-c", "local", str(playbook)]
    command += ["--check"] if check else []
    command += ["--diff"] if diff else []
    completed = subprocess.run(command, capture_output=True, text=True, env=playbook_environment(work, env), cwd=work, timeout=300, check=False)
    results = json.loads(output.read_text()) if output.exists() else []
    return completed, [result for result in results if result is not None]


CONNECTION_KEYS = ("api_host", "api_port", "api_user", "api_password", "api_token_id", "api_token_secret", "validate_certs", "ca_path")


def example_tasks(module_name: str) -> list[dict[str, Any]]:
    """A module's EXAMPLES as tasks that reach the emulator: the connection options written in
    them (pve1.example.org, vaulted secrets) are dropped, so PROXMOX_* supplies them."""
    mod = importlib.import_module(f"ansible_collections.pve.firewall.plugins.modules.{module_name}")
    tasks = yaml.safe_load(mod.EXAMPLES)
    fqcn = f"pve.firewall.{module_name}"
    for task in tasks:
        # an example may use another module of the collection or a builtin with the result
        called = [key for key in task if key == fqcn or key.startswith(("pve.firewall.", "ansible.builtin."))]
        assert called, f"{module_name} EXAMPLES: task {task.get('name')!r} does not call {fqcn}"
        args = task[called[0]]
        if called[0].startswith("pve.firewall."):
            assert isinstance(args, dict), f"{module_name} EXAMPLES: task {task.get('name')!r} has no arguments"
            for key in CONNECTION_KEYS:
                args.pop(key, None)
    assert any(fqcn in task for task in tasks), f"{module_name} EXAMPLES never call {fqcn}"
    return tasks


def run_examples(runner: ModuleRunner, module_name: str, work: Path, *, setup: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Run a module's EXAMPLES (after ``setup`` tasks) against the emulator; every task must
    succeed. Returns the example tasks' results."""
    tasks = [*(setup or []), *example_tasks(module_name)]
    completed, results = run_playbook(work, tasks, runner.env)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert len(results) == len(tasks)
    for task, result in zip(tasks, results):
        assert not result.get("failed"), f"{task.get('name')}: {result.get('msg')}"
    return results[len(setup or []) :]
