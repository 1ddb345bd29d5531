"""What a run loads: the lockout analysis and the verdict engine under it (a third of the code
a module would load) only when a change must be judged, never on a run that changes nothing.

Each run is a fresh interpreter (``python -c``) against a TLS emulator: the module path runs the
module's ``main()``, the controller path ``plugin_utils.controller.run_on_controller`` with the
module's SPEC, as the action plugin does; the probe prints the result and every module of the
collection that was imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._engine.lockout import DEFAULT_PORTS
from ansible_collections.pve.firewall.plugins.module_utils._module_kit.access import ACCESS_ARGS, MANAGEMENT_PORTS
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection, run_module

BUILD_DIR = Path(__file__).resolve().parents[5] / ".build"
PACKAGE = "ansible_collections.pve.firewall.plugins"

PROBE = """
import contextlib, importlib, io, json, sys
name, path, args, diff = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4] == "diff"
if path == "module":
    from ansible.module_utils.testing import patch_module_args
    module = importlib.import_module(f"{PACKAGE}.modules.{name}")
    out = io.StringIO()
    with patch_module_args({**args, "_ansible_diff": diff}), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    result = json.loads(out.getvalue())
else:
    from ansible_collections.pve.firewall.plugins.plugin_utils.controller import run_on_controller
    spec = importlib.import_module(f"{PACKAGE}.modules.{name}").SPEC
    result = run_on_controller(spec, args, name=name, check_mode=False, diff=diff)
print(json.dumps({"result": result, "modules": sorted(sys.modules)}))
""".replace("{PACKAGE}", PACKAGE)

# What a run that changes nothing must not load: the lockout analysis and the verdict engine.
HEAVY = (f"{PACKAGE}.module_utils._api.access_guard", f"{PACKAGE}.module_utils._engine.")


def loaded(running: RunningEmulator, name: str, args: dict[str, Any], *, path: str = "module", diff: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The result of one run in a new interpreter, and the heavy modules it imported."""
    argv = [sys.executable, "-c", PROBE, name, path, json.dumps({**module_connection(running), **args}), "diff" if diff else "plain"]
    completed = subprocess.run(argv, cwd=BUILD_DIR, check=True, capture_output=True, text=True)
    probe = json.loads(completed.stdout)
    return probe["result"], [module for module in probe["modules"] if module.startswith(HEAVY)]


@pytest.fixture
def pve_tls(make_pve_emulator: Callable[..., RunningEmulator]) -> Iterator[RunningEmulator]:
    yield make_pve_emulator(tls=True)


def converge(running: RunningEmulator, name: str, args: dict[str, Any]) -> None:
    result = run_module(name, {**module_connection(running), **args})
    assert not result.get("failed"), result.get("msg")


NO_OPS: dict[str, tuple[str, dict[str, Any]]] = {
    "ipset": ("ipset", {"name": "blocked", "entries": [f"198.18.{index}.0/24" for index in range(50)]}),
    "firewall_rule merged": ("firewall_rule", {"level": "cluster", "rules": [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22"}]}),
    "firewall_options": ("firewall_options", {"level": "cluster", "options": {"policy_in": "ACCEPT"}}),
    "security_group": ("security_group", {"name": "web", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}]}),
    "alias": ("alias", {"name": "admin", "cidr": "192.0.2.10"}),
}


@pytest.mark.parametrize("path", ["module", "controller"])
@pytest.mark.parametrize("case", sorted(NO_OPS))
def test_a_rerun_that_changes_nothing_loads_no_lockout_analysis(pve_tls: RunningEmulator, case: str, path: str) -> None:
    name, args = NO_OPS[case]
    converge(pve_tls, name, args)
    result, heavy = loaded(pve_tls, name, args, path=path)
    assert result["changed"] is False and not result.get("failed"), result
    assert heavy == []


def test_firewall_info_loads_no_lockout_analysis(pve_tls: RunningEmulator) -> None:
    result, heavy = loaded(pve_tls, "firewall_info", {})
    assert not result.get("failed"), result
    assert heavy == []


def test_an_ipset_change_with_the_datacenter_firewall_off_loads_no_lockout_analysis(pve_tls: RunningEmulator) -> None:
    """While the datacenter firewall is off no node filters: the guard reads the option and stops."""
    converge(pve_tls, "ipset", {"name": "management", "entries": ["192.0.2.0/24"]})
    result, heavy = loaded(pve_tls, "ipset", {"name": "management", "entries": ["192.0.2.0/24", "198.51.100.0/24"]})
    assert result["changed"] is True and "lockout" not in result
    assert heavy == []


@pytest.mark.parametrize("path", ["module", "controller"])
def test_a_change_that_decides_access_loads_the_analysis(pve_tls: RunningEmulator, path: str) -> None:
    """The control: the probe does see the engine when the guard runs (a policy change with the
    datacenter firewall on)."""
    converge(pve_tls, "firewall_options", {"level": "cluster", "options": {"enable": True}, "allow_lockout": True})
    result, heavy = loaded(pve_tls, "firewall_options", {"level": "cluster", "options": {"policy_in": "DROP"}, "allow_lockout": True}, path=path)
    assert result["changed"] is True and "lockout" in result, result
    assert f"{PACKAGE}.module_utils._api.access_guard" in heavy
    assert f"{PACKAGE}.module_utils._engine.verdict" in heavy


def test_the_default_ports_are_the_engines() -> None:
    """access.MANAGEMENT_PORTS spells out the engine's default so the spec needs no engine."""
    assert MANAGEMENT_PORTS == DEFAULT_PORTS
    assert ACCESS_ARGS["lockout_ports"]["default"] == list(DEFAULT_PORTS)
