"""The collection tarball as a user gets it: ``ansible-galaxy collection build`` of the checkout,
installed with ``ansible-galaxy collection install --offline`` into a directory of its own, then
used from there alone.

The tarball must hold what a user runs and reads (plugins, roles, playbooks, meta, docs, the
changelog) and none of the development files that ``build_ignore`` in galaxy.yml leaves out:
the tests need the PVE API emulator and the tools, which are not shipped, so they are of no use
in the tarball, and neither are the Makefile, its requirements or tool configuration.

The installed copy is checked with ``ansible-doc`` and an ad hoc run of a module
(``state: rendered`` works offline), with ANSIBLE_COLLECTIONS_PATH pointing at the install
directory only, so that the checkout under development cannot stand in for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # not resolved: the virtualenv's bin, not the base interpreter's

# Top-level files and directories of the checkout that the tarball must leave out.
DEV_FILES = (
    ".ansible-lint",
    ".gitignore",
    "Makefile",
    "pyproject.toml",
    "pytest.ini",
)
DEV_DIRECTORIES = (
    ".ansible",
    ".build",
    ".ci",
    ".venv",
    "changelogs/fragments",
    "extensions",
    "requirements",
    "tests",
    "tools",
)
# Members a user needs; the modules and roles are checked one by one below.
USER_FILES = (
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "meta/runtime.yml",
    "meta/execution-environment.yml",  # with the two files it names, read by ansible-builder
    "requirements.txt",
    "bindep.txt",
    "playbooks/harden.yml",
    "playbooks/export.yml",
    "playbooks/blocklist.yml",
    "changelogs/changelog.yaml",
    "CHANGELOG.rst",
    "docs/docsite/extra-docs.yml",
    "docs/docsite/links.yml",
    "docs/examples/execution-environment.yml",
    "docs/examples/fleet/inventory.yml",
    "docs/examples/fleet/group_vars/pve_clusters.yml",
)
RULE = {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24"}


def _run(command: list[str], environment: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Build the tarball, install it, return the tarball, the install directory and an environment
    that finds only the installed copy."""
    root = tmp_path_factory.mktemp("dist")
    collections = root / "collections"
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "ANSIBLE_CONFIG")}
    environment.update(
        {
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
            "ANSIBLE_HOME": str(root / "ansible-home"),
            "ANSIBLE_LOCAL_TEMP": str(root / "ansible-tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    _run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(root), str(REPO_ROOT)], environment, root)
    (tarball,) = root.glob("pve-firewall-*.tar.gz")
    _run(
        [str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections), str(tarball)],
        environment,
        root,
    )
    return {"tarball": tarball, "collection": collections / "ansible_collections" / "pve" / "firewall", "env": environment, "cwd": root}


@pytest.fixture(scope="module")
def members(installed: dict[str, object]) -> set[str]:
    tarball = installed["tarball"]
    assert isinstance(tarball, Path)
    with tarfile.open(tarball) as archive:
        return {name.rstrip("/") for name in archive.getnames()}


def test_tarball_leaves_out_development_files(members: set[str]) -> None:
    shipped = sorted(
        member for member in members if member in DEV_FILES or any(member == directory or member.startswith(f"{directory}/") for directory in DEV_DIRECTORIES)
    )
    assert shipped == []


def test_tarball_leaves_out_caches(members: set[str]) -> None:
    caches = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis")
    assert sorted(member for member in members if set(member.split("/")) & set(caches) or member.endswith((".pyc", ".tar.gz"))) == []


def test_tarball_has_what_users_run(members: set[str]) -> None:
    modules = {path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "plugins" / "modules").glob("*.py")}
    roles = {f"roles/{path.parent.parent.name}/meta/main.yml" for path in (REPO_ROOT / "roles").glob("*/meta/main.yml")}
    guides = {path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "docs").glob("*.md")}
    assert modules and roles and guides
    assert sorted((set(USER_FILES) | modules | roles | guides) - members) == []


def test_installed_copy_documents_module(installed: dict[str, object]) -> None:
    environment, cwd, collection = installed["env"], installed["cwd"], installed["collection"]
    assert isinstance(environment, dict) and isinstance(cwd, Path) and isinstance(collection, Path)
    result = _run([str(VENV_BIN / "ansible-doc"), "-t", "module", "pve.firewall.firewall_rule"], environment, cwd)
    assert "pve.firewall.firewall_rule" in result.stdout
    assert str(collection / "plugins" / "modules" / "firewall_rule.py") in result.stdout
    assert str(REPO_ROOT) not in result.stdout


def test_installed_copy_runs_module(installed: dict[str, object]) -> None:
    environment, cwd = installed["env"], installed["cwd"]
    assert isinstance(environment, dict) and isinstance(cwd, Path)
    arguments = json.dumps({"level": "cluster", "state": "rendered", "rules": [RULE]})
    result = _run(
        [str(VENV_BIN / "ansible"), "localhost", "-m", "pve.firewall.firewall_rule", "-a", arguments],
        environment,
        cwd,
    )
    head, separator, body = result.stdout.partition(" => ")
    assert separator and head.strip() == "localhost | SUCCESS", result.stdout
    outcome = json.loads(body)
    assert outcome["changed"] is False
    assert outcome["rendered"] == "[RULES]\n\nIN SSH(ACCEPT) -source 192.0.2.0/24\n\n"
