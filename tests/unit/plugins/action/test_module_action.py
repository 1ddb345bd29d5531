"""The controller path without a playbook: argument validation as AnsibleModule does it, the
masking of no_log values, the result's shape, exits and failures raised instead of exiting,
the choice of the path, and one action plugin per module over that module's SPEC.

The runs use the modules' offline states (firewall_rule rendered and parsed, firewall_simulate
from .fw text), which never connect; the playbook tests of both paths against the emulator are
in tests/integration/modules/test_execution_paths.py.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.pve.firewall.plugins.module_utils._module_kit.runner import ModuleFailure, ModuleSpec, Run, run_module
from ansible_collections.pve.firewall.plugins.plugin_utils.controller import run_on_controller
from ansible_collections.pve.firewall.plugins.plugin_utils.module_action import EXECUTION_SWITCH, ModuleAction, environment, module_spec

REPO_ROOT = Path(__file__).resolve().parents[4]
MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
ACTIONS = sorted(path.stem for path in (REPO_ROOT / "plugins" / "action").glob("*.py") if path.stem != "__init__")
SECRET = "5ec7e7-never-shown"
RULE = "IN ACCEPT -source 192.0.2.0/24 -p tcp -dport 22"


def run(module: str, args: dict[str, Any], *, check: bool = False, diff: bool = False) -> dict[str, Any]:
    return run_on_controller(module_spec(module), args, name=f"pve.firewall.{module}", check_mode=check, diff=diff)


def test_every_module_has_its_action_plugin_over_its_spec() -> None:
    assert ACTIONS == MODULES
    for name in MODULES:
        action = importlib.import_module(f"ansible_collections.pve.firewall.plugins.action.{name}").ActionModule
        assert issubclass(action, ModuleAction) and action.module_name == name
        assert isinstance(module_spec(name), ModuleSpec)


def test_the_module_path_builds_its_ansible_module_from_the_same_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.module_utils import basic

    seen: dict[str, Any] = {}

    def capture(self: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        raise RuntimeError("captured")

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    spec = module_spec("security_group")
    with pytest.raises(RuntimeError, match="captured"):
        run_module(spec)
    assert seen["argument_spec"] == spec.spec() and seen["supports_check_mode"] is True
    assert seen["required_if"] == list(spec.required_if) and "mutually_exclusive" not in seen and "required_by" not in seen


def test_the_controller_path_never_builds_an_ansible_module(monkeypatch: pytest.MonkeyPatch) -> None:
    from ansible.module_utils import basic

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("AnsibleModule built on the controller path")

    monkeypatch.setattr(basic.AnsibleModule, "__init__", refuse)
    result = run("firewall_rule", {"state": "rendered", "rules": [RULE]})
    assert result["rendered"] == f"[RULES]\n\n{RULE}\n\n" and result["changed"] is False


def test_the_result_has_the_invocation_with_defaults_and_json_types() -> None:
    result = run("firewall_rule", {"state": "rendered", "rules": [RULE], "lockout_ports": (8006,)})
    module_args = result["invocation"]["module_args"]
    assert module_args["state"] == "rendered" and module_args["level"] == "cluster" and module_args["api_port"] == 8006
    assert module_args["rules"][0] == {**dict.fromkeys(("macro", "iface", "dest", "sport", "icmp_type", "log", "comment")), **{
        "type": "in", "action": "ACCEPT", "source": "192.0.2.0/24", "proto": "tcp", "dport": "22", "enable": True}}  # fmt: skip
    assert module_args["lockout_ports"] == [8006]  # a list, as a module receives a tuple


def test_check_and_diff_mode_reach_the_backend() -> None:
    assert "diff" in run("firewall_rule", {"state": "rendered", "rules": [RULE]}, diff=True)
    assert "diff" not in run("firewall_rule", {"state": "rendered", "rules": [RULE]}, diff=False)

    def start(module: Any) -> Run:
        return Run(lambda: {"changed": False, "check": module.check_mode, "diff_mode": module._diff})  # pylint: disable=protected-access

    for check in (True, False):
        spec = spec_starting(start)
        result = run_on_controller(spec, {}, name="pve.firewall.test", check_mode=check, diff=not check)
        assert result["check"] is check and result["diff_mode"] is not check


@pytest.mark.parametrize(
    ("module", "args", "words"),
    [
        ("firewall_rule", {"state": "rendered", "colour": "red"}, "Unsupported parameters for (pve.firewall.firewall_rule) module: colour. Supported"),
        ("firewall_rule", {"state": "rendered", "api_port": "eighty"}, "argument 'api_port' is of type str and we were unable to convert to int"),
        ("firewall_rule", {"state": "sideways"}, "value of state must be one of: merged"),
        ("firewall_rule", {"state": "parsed"}, "state is parsed but all of the following are missing: running_config"),
        ("firewall_rule", {"state": "rendered", "rules": [{"action": "ACCEPT"}]}, "missing required arguments: type found in rules"),
        ("firewall_simulate", {"cluster_fw": "", "config": {}}, "parameters are mutually exclusive: fw_dir|config|cluster_fw"),
        ("firewall_options", {"nics": ["net0"]}, "missing parameter(s) required by 'nics': nic_firewall"),
        ("firewall_rule", {"state": "rendered", "rules": "IN ACCEPT"}, "rules must be a list"),
        ("firewall_rule", {"state": "rendered", "rules": [RULE, "IN SIDEWAYS"]}, "rules[1]"),
    ],
)
def test_bad_arguments_fail_naming_the_field(module: str, args: dict[str, Any], words: str) -> None:
    result = run(module, args)
    assert result["failed"] is True and words in result["msg"], result["msg"]
    assert "invocation" in result


def test_a_rule_line_error_waits_for_the_spec() -> None:
    """As with AnsibleModule: an argument spec error is reported first, rule lines after it."""
    result = run("firewall_rule", {"state": "rendered", "rules": ["IN SIDEWAYS"], "colour": "red"})
    assert "Unsupported parameters" in result["msg"] and "SIDEWAYS" not in result["msg"]


def test_fallbacks_read_the_environment_and_no_log_values_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXMOX_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("PROXMOX_PORT", "8443")
    result = run("firewall_rule", {"state": "rendered", "rules": [{"type": "in", "action": "ACCEPT", "comment": f"see {SECRET}"}]})
    module_args = result["invocation"]["module_args"]
    assert module_args["api_port"] == 8443 and module_args["api_token_secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert SECRET not in repr(result) and "see ********" in result["rendered"]


def test_environment_lays_the_task_environment_over_the_process_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXMOX_HOST", "outer.example.org")
    monkeypatch.delenv("PROXMOX_PORT", raising=False)
    with environment({"PROXMOX_HOST": "inner.example.org", "PROXMOX_PORT": 8443}):
        assert os.environ["PROXMOX_HOST"] == "inner.example.org" and os.environ["PROXMOX_PORT"] == "8443"
        result = run("firewall_rule", {"state": "rendered"})
        assert result["invocation"]["module_args"]["api_host"] == "inner.example.org"
    assert os.environ["PROXMOX_HOST"] == "outer.example.org" and "PROXMOX_PORT" not in os.environ


def spec_starting(start: Any) -> ModuleSpec:
    """A module with one no_log option ``secret`` whose run is ``start(module)``."""
    return ModuleSpec(argument_spec={"secret": {"type": "str", "no_log": True}}, start=start)


def run_spec(spec: ModuleSpec) -> dict[str, Any]:
    return run_on_controller(spec, {"secret": SECRET}, name="pve.firewall.test", check_mode=False, diff=False)


def test_exit_json_and_fail_json_of_a_backend_end_the_run_without_exiting() -> None:
    def exits(module: Any) -> Run:
        return Run(lambda: module.exit_json(changed=True, said=f"it is {SECRET}"))

    def fails(module: Any) -> Run:
        return Run(lambda: module.fail_json(msg=f"no {SECRET}", detail=1))

    masked = {"secret": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"}
    assert run_spec(spec_starting(exits)) == {"changed": True, "said": "it is ********", "invocation": {"module_args": masked}}
    failed = run_spec(spec_starting(fails))
    assert failed["failed"] is True and failed["msg"] == "no ********" and failed["detail"] == 1


def test_a_failure_carries_the_report_values_and_the_details() -> None:
    report = SimpleNamespace(values={"commands": ["PUT /cluster/firewall/options"]})

    def start(module: Any) -> Run:
        def work() -> dict[str, Any]:
            module.warn("careful")
            raise ModuleFailure("stopped", lockout={"ok": False})

        return Run(work, report)  # type: ignore[arg-type]

    result = run_spec(spec_starting(start))
    assert result["failed"] is True and result["msg"] == "stopped"
    assert result["commands"] == ["PUT /cluster/firewall/options"] and result["lockout"] == {"ok": False}
    assert result["warnings"] == ["careful"]


def test_a_bug_fails_the_task_with_its_traceback_and_no_secret() -> None:
    def start(module: Any) -> Run:
        def work() -> dict[str, Any]:
            raise KeyError(f"token {module.params['secret']}")

        return Run(work)

    result = run_spec(spec_starting(start))
    assert result["failed"] is True and result["msg"].startswith("KeyError") and "********" in result["msg"]
    assert "Traceback" in result["exception"] and SECRET not in repr(result)


def action(*, transport: str = "local", async_val: int = 0, become: bool = False) -> ModuleAction:
    """A ModuleAction with the parts module_path_reason reads."""
    plugin = ModuleAction.__new__(ModuleAction)
    plugin._task = SimpleNamespace(async_val=async_val)  # pylint: disable=protected-access
    plugin._connection = SimpleNamespace(transport=transport)  # pylint: disable=protected-access
    plugin._play_context = SimpleNamespace(become=become)  # pylint: disable=protected-access
    return plugin


@pytest.mark.parametrize(
    ("kwargs", "switch", "reason"),
    [
        ({}, None, None),
        ({}, "auto", None),
        ({}, "", None),
        ({"transport": "ssh"}, None, "connection ssh"),
        ({"async_val": 30}, None, "async"),
        ({"become": True}, None, "become"),
        ({}, "module", "PVE_FIREWALL_EXECUTION=module"),
        ({"transport": "ssh"}, "Module", "PVE_FIREWALL_EXECUTION=module"),
    ],
)
def test_the_path_is_chosen_by_connection_async_become_and_the_switch(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, Any], switch: str | None, reason: str | None
) -> None:
    if switch is None:
        monkeypatch.delenv(EXECUTION_SWITCH, raising=False)
    else:
        monkeypatch.setenv(EXECUTION_SWITCH, switch)
    assert action(**kwargs).module_path_reason() == reason


def test_an_unknown_switch_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXECUTION_SWITCH, "remote")
    with pytest.raises(AnsibleActionFail, match="PVE_FIREWALL_EXECUTION='remote' is none of auto, module"):
        action().module_path_reason()


def test_loading_an_action_plugin_imports_its_module_for_the_workers_to_inherit() -> None:
    """Ansible's strategy loads the action plugin's class before it forks a task's worker; the
    module (and what it imports) must be imported then, not again in every worker."""
    import ansible_collections  # the namespace package this test imports the collection from

    collections_root = Path(next(iter(ansible_collections.__path__))).parent
    script = (
        "import importlib, sys\n"
        "from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder\n"
        f"_AnsibleCollectionFinder(paths=[{str(collections_root)!r}])._install()\n"
        "modules = 'ansible_collections.pve.firewall.plugins.modules.'\n"
        "for name in sys.argv[1:]:\n"
        "    assert modules + name not in sys.modules, name\n"
        "    importlib.import_module('ansible_collections.pve.firewall.plugins.action.' + name)\n"
        "    assert modules + name in sys.modules, name\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, *ACTIONS], capture_output=True, text=True, check=False, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


JUDGE_ONLY = ("._engine.", ".access_guard")  # the lockout analysis: imported to judge a change, not to start


@pytest.mark.parametrize("name", [name for name in MODULES if name not in ("firewall_audit", "firewall_simulate")])
def test_a_module_that_only_judges_some_changes_starts_without_the_verdict_engine(name: str) -> None:
    script = (
        "import importlib, sys\n"
        f"importlib.import_module('ansible_collections.pve.firewall.plugins.modules.{name}')\n"
        f"print(sorted(module for module in sys.modules if any(part in module for part in {JUDGE_ONLY!r})))\n"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120, env=environment)
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr
