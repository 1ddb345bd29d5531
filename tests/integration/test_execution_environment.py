"""The execution environment: what ansible-builder makes of docs/examples/execution-environment.yml
and of the collection's own dependency files.

* The collection names its Python and system requirements in meta/execution-environment.yml;
  requirements.txt lists every package plugins/ imports beyond the standard library and
  ansible-core (none today), and the tarball ships the three files.
* ``ansible-builder create`` (the build context only, no container build) writes a
  Containerfile on the example's base image with its ansible-core and ansible-runner, and a
  galaxy requirements file that installs the collection from the tarball the context holds.
* The collection, installed from that context as the Containerfile's galaxy stage does, is
  introspected with the context's own introspect script, as the builder stage does: it adds
  no requirement; a copy whose files list one shows it, so the script does read them.

ansible-builder runs from its own virtualenv (requirements/ansible-builder.txt): the command
named by ANSIBLE_BUILDER, else .build/ansible-builder-venv/bin/ansible-builder; the tests that
need it are skipped without it.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # the virtualenv's bin, not the base interpreter's
EXAMPLE = REPO_ROOT / "docs" / "examples" / "execution-environment.yml"
BUILDER = Path(os.environ.get("ANSIBLE_BUILDER") or REPO_ROOT / ".build" / "ansible-builder-venv" / "bin" / "ansible-builder")
needs_builder = pytest.mark.skipif(
    not BUILDER.is_file(),
    reason=f"ansible-builder not installed at {BUILDER}: install requirements/ansible-builder.txt (--no-deps) into "
    ".build/ansible-builder-venv or set ANSIBLE_BUILDER to its ansible-builder",
)


def requirement_names(path: Path) -> list[str]:
    """The package names of a pip requirements file (comments and blank lines skipped)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
            assert match, f"{path.name}: {line!r}"
            names.append(match.group(0).lower().replace("_", "-"))
    return names


def third_party_imports(root: Path) -> dict[str, str]:
    """The top-level packages the Python files under ``root`` import that are neither the
    standard library nor ansible-core, with a file that imports each."""
    found: dict[str, str] = {}
    own = {"ansible", "ansible_collections"}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".", 1)[0]
                if top not in sys.stdlib_module_names and top not in own and top != "__future__":
                    found.setdefault(top, str(path.relative_to(root)))
    return found


def test_the_collection_names_its_dependency_files() -> None:
    meta = yaml.safe_load((REPO_ROOT / "meta" / "execution-environment.yml").read_text(encoding="utf-8"))
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    for name in ("requirements.txt", "bindep.txt"):
        assert (REPO_ROOT / name).is_file()


def test_requirements_txt_lists_what_plugins_import() -> None:
    """A package plugins/ imports must be in requirements.txt, and nothing else may be: the
    import name is compared with the package name (they agree for what a module would use;
    a package whose names differ needs its pair here)."""
    imported = {name.lower().replace("_", "-"): where for name, where in third_party_imports(REPO_ROOT / "plugins").items()}
    declared = set(requirement_names(REPO_ROOT / "requirements.txt"))
    assert sorted(set(imported) - declared) == [], f"imported by plugins/ but not in requirements.txt: {imported}"
    assert sorted(declared - set(imported)) == [], "in requirements.txt but imported by no plugin"


def test_the_import_scan_sees_a_third_party_import(tmp_path: Path) -> None:
    """The scan above would notice one: the standard library, ansible-core and relative imports
    pass, a foreign package (even inside a function or a try) does not."""
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "mod.py").write_text(
        "import ipaddress\nfrom ansible.module_utils.basic import AnsibleModule\nfrom ..module_utils import x\n"
        "def main():\n    try:\n        import netaddr.ip\n    except ImportError:\n        pass\n",
        encoding="utf-8",
    )
    assert third_party_imports(tmp_path) == {"netaddr": "modules/mod.py"}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection tarball, built from the checkout as `make dist` builds it."""
    out = tmp_path_factory.mktemp("ee-dist")
    command = [str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO_ROOT)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300, env=ansible_env(out))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    (built,) = out.glob("pve-firewall-*.tar.gz")
    return built


def ansible_env(work: Path) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    return {**environment, "ANSIBLE_HOME": str(work / "ansible-home"), "ANSIBLE_LOCAL_TEMP": str(work / "tmp"), "ANSIBLE_NOCOLOR": "1"}


@pytest.fixture(scope="module")
def context(tarball: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ansible-builder create`` of the example, in a directory with the tarball next to it
    (as docs/awx.md tells users to lay it out)."""
    if not BUILDER.is_file():
        pytest.skip(f"ansible-builder not installed at {BUILDER}")
    work = tmp_path_factory.mktemp("ee")
    shutil.copy(EXAMPLE, work / "execution-environment.yml")
    shutil.copy(tarball, work / tarball.name)
    command = [str(BUILDER), "create", "--file", "execution-environment.yml", "--context", "context", "--output-filename", "Containerfile"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=work, check=False, timeout=300)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return work / "context"


def example() -> dict[str, Any]:
    return dict(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))


def test_the_example_names_the_tarball_of_this_version(tarball: Path) -> None:
    """The example installs the tarball `make dist` builds now: its version follows galaxy.yml."""
    definition = example()
    assert definition["version"] == 3
    (collection,) = definition["dependencies"]["galaxy"]["collections"]
    assert collection == {"name": f"collections/{tarball.name}", "type": "file"}
    assert definition["additional_build_files"] == [{"src": tarball.name, "dest": "collections"}]


def test_the_example_pins_the_ansible_core_the_collection_is_tested_with() -> None:
    runtime = (REPO_ROOT / "requirements" / "runtime.txt").read_text(encoding="utf-8")
    (pin,) = re.findall(r"^ansible-core==\S+", runtime, flags=re.MULTILINE)
    assert example()["dependencies"]["ansible_core"]["package_pip"] == pin


@needs_builder
def test_create_writes_a_containerfile_on_the_base_image_with_the_collection(context: Path, tarball: Path) -> None:
    definition = example()
    containerfile = (context / "Containerfile").read_text(encoding="utf-8")
    base = definition["images"]["base_image"]["name"]
    assert f'ARG EE_BASE_IMAGE="{base}"' in containerfile
    assert re.search(r"^FROM \$EE_BASE_IMAGE AS base$", containerfile, flags=re.MULTILINE | re.IGNORECASE)
    refs = f"{definition['dependencies']['ansible_core']['package_pip']} {definition['dependencies']['ansible_runner']['package_pip']}"
    assert f'ARG ANSIBLE_INSTALL_REFS="{refs}"' in containerfile
    assert f'ARG PYCMD="{definition["dependencies"]["python_interpreter"]["python_path"]}"' in containerfile
    # the galaxy stage installs the requirements file from the context; the builder stage introspects
    assert "COPY _build /build" in containerfile
    assert re.search(r"ansible-galaxy collection install .*-r requirements\.yml", containerfile)
    assert "scripts/introspect.py introspect" in containerfile
    requirements = yaml.safe_load((context / "_build" / "requirements.yml").read_text(encoding="utf-8"))
    assert requirements == {"collections": [{"name": f"collections/{tarball.name}", "type": "file"}]}
    assert (context / "_build" / "collections" / tarball.name).read_bytes() == tarball.read_bytes()


def install_from_context(context: Path, target: Path) -> Path:
    """What the galaxy stage does: ansible-galaxy in the context's _build (the image's /build)."""
    command = [str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml", "-p", str(target)]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=context / "_build", check=False, timeout=300, env=ansible_env(target))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return target / "ansible_collections" / "pve" / "firewall"


def introspect(context: Path, collections: Path, out: Path) -> dict[str, Any]:
    """The builder stage's introspection, with the script of the context."""
    python = BUILDER.parent / "python"
    command = [str(python), str(context / "_build" / "scripts" / "introspect.py"), "introspect", str(collections)]
    command += ["--write-pip", str(out / "requirements.txt"), "--write-bindep", str(out / "bindep.txt")]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return dict(yaml.safe_load(completed.stdout))


@needs_builder
def test_introspection_of_the_installed_collection_adds_no_requirement(context: Path, tmp_path: Path) -> None:
    installed = install_from_context(context, tmp_path / "collections")
    for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
        assert (installed / name).is_file(), f"{name} is not in the tarball"
    found = introspect(context, tmp_path / "collections", tmp_path)
    assert found == {"python": [], "system": []}
    assert not (tmp_path / "requirements.txt").exists() and not (tmp_path / "bindep.txt").exists()


@needs_builder
def test_introspection_reads_the_files_the_collection_names(context: Path, tmp_path: Path) -> None:
    """A copy whose requirements.txt and bindep.txt each list a package: both show up, marked
    as the collection's, so the empty result above comes from reading the real files."""
    installed = install_from_context(context, tmp_path / "collections")
    with (installed / "requirements.txt").open("a", encoding="utf-8") as handle:
        handle.write("netaddr==1.3.0\n")
    with (installed / "bindep.txt").open("a", encoding="utf-8") as handle:
        handle.write("openssl [platform:rpm]\n")
    found = introspect(context, tmp_path / "collections", tmp_path)
    assert found == {"python": ["netaddr==1.3.0  # from collection pve.firewall"], "system": ["openssl [platform:rpm]  # from collection pve.firewall"]}
    assert (tmp_path / "requirements.txt").read_text(encoding="utf-8").splitlines() == found["python"]
