"""tools/check_layers.py passes on the tree and fails on every kind of planted bad import."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
TOOL = REPO_ROOT / "tools" / "check_layers.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("check_layers", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layers"] = module
    spec.loader.exec_module(module)
    return module


check_layers = _load_tool()


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Path:
    """A copy of the collection's plugins/ to plant imports in."""
    shutil.copytree(REPO_ROOT / "plugins", tmp_path / "plugins", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _plant(tree: Path, relative: str, line: str) -> None:
    path = tree / "plugins" / "module_utils" / relative
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), "--root", str(root)], capture_output=True, text=True, check=False)


def test_the_collection_keeps_its_layers() -> None:
    result = _run(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every import goes down the layers" in result.stdout


def test_a_lower_layer_importing_a_higher_one_fails(tree: Path) -> None:
    _plant(tree, "_compiler/addresses.py", "from .._api.service import FirewallApi  # noqa")
    result = _run(tree)
    assert result.returncode == 1
    assert "plugins/module_utils/_compiler/addresses.py" in result.stdout
    assert "_compiler (layer 1) imports _api (layer 5)" in result.stdout


def test_an_absolute_upward_import_fails(tree: Path) -> None:
    _plant(tree, "_model/objects.py", "from ansible_collections.pve.firewall.plugins.module_utils._plan import planner  # noqa")
    violations = check_layers.check_tree(tree)
    assert [str(violation.path) for violation in violations] == ["plugins/module_utils/_model/objects.py"]
    assert "imports _plan" in violations[0].text


PURE_LAYER_FILES = ["_model/errors.py", "_reference/macros.py", "_compiler/options.py", "_plan/planner.py", "_engine/verdict.py", "_analysis/fw_log.py"]


@pytest.mark.parametrize("layer_file", PURE_LAYER_FILES)
def test_a_pure_layer_importing_ansible_fails(tree: Path, layer_file: str) -> None:
    _plant(tree, layer_file, "from ansible.module_utils.basic import AnsibleModule  # noqa")
    violations = check_layers.check_tree(tree)
    assert len(violations) == 1
    assert "is a pure layer and must not import ansible.module_utils.basic" in violations[0].text


def test_the_api_layer_may_import_ansible_and_lower_layers(tree: Path) -> None:
    _plant(tree, "_api/service.py", "from ansible.module_utils.basic import AnsibleModule  # noqa\nfrom .._engine import verdict  # noqa")
    assert check_layers.check_tree(tree) == []


def test_one_backend_importing_another_fails(tree: Path) -> None:
    for name in ("_module_one", "_module_two"):
        (tree / "plugins" / "module_utils" / name).mkdir()
        (tree / "plugins" / "module_utils" / name / "__init__.py").write_text("", encoding="utf-8")
    (tree / "plugins" / "module_utils" / "_module_one" / "runner.py").write_text("from .._module_kit import kit\n", encoding="utf-8")
    (tree / "plugins" / "module_utils" / "_module_two" / "runner.py").write_text("from .._module_one import runner\n", encoding="utf-8")
    violations = check_layers.check_tree(tree)
    assert [(str(violation.path), violation.line) for violation in violations] == [("plugins/module_utils/_module_two/runner.py", 1)]


def test_a_file_outside_every_layer_fails(tree: Path) -> None:
    (tree / "plugins" / "module_utils" / "_loose.py").write_text("X = 1\n", encoding="utf-8")
    violations = check_layers.check_tree(tree)
    assert [str(violation.path) for violation in violations] == ["plugins/module_utils/_loose.py"]
    assert "belong in a layer" in violations[0].text


@pytest.mark.parametrize(
    ("relative", "line", "named"),
    [
        ("module_utils/_module_kit/runner.py", "from ...plugin_utils.controller import run_on_controller  # noqa", "plugin_utils.controller"),
        ("module_utils/_api/service.py", "import ansible_collections.pve.firewall.plugins.plugin_utils.module_action  # noqa", "plugin_utils.module_action"),
        ("modules/alias.py", "from ..plugin_utils import controller  # noqa", "plugin_utils"),
        ("modules/ipset.py", "from ansible_collections.pve.firewall.plugins.action.ipset import ActionModule  # noqa", "plugins.action.ipset"),
    ],
)
def test_code_a_module_payload_carries_never_imports_controller_only_code(tree: Path, relative: str, line: str, named: str) -> None:
    path = tree / "plugins" / relative
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    result = _run(tree)
    assert result.returncode == 1
    assert f"plugins/{relative}" in result.stdout and named in result.stdout and "runs on the controller only" in result.stdout


def test_the_action_plugins_may_import_module_code(tree: Path) -> None:
    path = tree / "plugins" / "plugin_utils" / "module_action.py"
    path.write_text(path.read_text(encoding="utf-8") + "\nfrom ..module_utils._module_kit.runner import outcome  # noqa\n", encoding="utf-8")
    assert _run(tree).returncode == 0
