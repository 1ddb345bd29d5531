"""The lock files of requirements/ hold every supported Python version, without the network.

The Makefile's PYTHON_VERSIONS are the versions supported; each has a lock file that pins every
package of requirements/test.txt at its version, and packages that two lock files both pin have
one version.  Whether each lock also resolves on PyPI for its version is `make lock-check`
(tools/lock_check.py, run by .ci/run).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
REQUIREMENTS = REPO_ROOT / "requirements"
TOOL = REPO_ROOT / "tools" / "lock_check.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("lock_check", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["lock_check"] = module
    spec.loader.exec_module(module)
    return module


lock_check = _load_tool()


def _makefile_versions() -> list[str]:
    match = re.search(r"^PYTHON_VERSIONS := (.+)$", (REPO_ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, "the Makefile sets no PYTHON_VERSIONS"
    return match.group(1).split()


VERSIONS = _makefile_versions()
TEST_PINS = lock_check.read_pins(REQUIREMENTS / "test.txt")


def test_the_supported_versions_are_ansible_core_2_19s_controller_range() -> None:
    assert VERSIONS == ["3.11", "3.12", "3.13"]


def test_tests_config_requires_the_lowest_supported_version() -> None:
    config = yaml.safe_load((REPO_ROOT / "tests" / "config.yml").read_text(encoding="utf-8"))
    assert config["modules"]["python_requires"] == f">={VERSIONS[0]}"


def test_each_supported_version_has_a_lock_file_and_no_other_version_has_one() -> None:
    expected = {lock_check.lock_file(version).name for version in VERSIONS}
    present = {path.name for path in REQUIREMENTS.glob("constraints*.txt")}
    assert present == expected
    assert lock_check.lock_file("3.11").name == "constraints.txt"
    assert lock_check.lock_file("3.13").name == "constraints-py3.13.txt"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_lock_file_says_which_python_it_was_resolved_on(version: str) -> None:
    header = lock_check.lock_file(version).read_text(encoding="utf-8").splitlines()[:2]
    assert all(line.startswith("#") for line in header)
    assert f"on Python {version}" in " ".join(header)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_lock_file_pins_every_test_requirement_at_its_version(version: str) -> None:
    pins = lock_check.read_pins(lock_check.lock_file(version))
    missing = sorted(set(TEST_PINS) - set(pins))
    assert not missing, f"{lock_check.lock_file(version).name} lacks {missing}: run `make lock PYTHON=python{version}`"
    differ = {name: (want, pins[name]) for name, want in TEST_PINS.items() if pins[name] != want}
    assert not differ, f"requirements/test.txt and {lock_check.lock_file(version).name} disagree: {differ}"


@pytest.mark.parametrize("version", [version for version in VERSIONS if version != lock_check.BASE_VERSION])
def test_lock_files_agree_on_every_package_they_both_pin(version: str) -> None:
    base = lock_check.read_pins(lock_check.lock_file(lock_check.BASE_VERSION))
    pins = lock_check.read_pins(lock_check.lock_file(version))
    differ = {name: (base[name], pins[name]) for name in set(base) & set(pins) if base[name] != pins[name]}
    assert not differ, f"{lock_check.lock_file(version).name} differs from constraints.txt (3.11): {differ}"


@pytest.mark.parametrize(("name", "allowed"), [("docs.txt", {"docutils"}), ("galaxy-importer.txt", {"attrs"}), ("ansible-builder.txt", set())])
def test_the_separate_virtualenvs_pin_the_locked_versions_but_their_stated_exception(name: str, allowed: set[str]) -> None:
    """docs.txt, galaxy-importer.txt and ansible-builder.txt pin the versions of constraints.txt, but for the one each names."""
    base = lock_check.read_pins(lock_check.lock_file(lock_check.BASE_VERSION))
    pins = lock_check.read_pins(REQUIREMENTS / name)
    differ = {package for package in set(base) & set(pins) if base[package] != pins[package]}
    assert differ <= allowed, {package: (base[package], pins[package]) for package in differ - allowed}


def test_pins_are_read_with_includes_and_normalised_names(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("# comment\nAnsible_Core==2.19.14\n", encoding="utf-8")
    (tmp_path / "top.txt").write_text("-r base.txt\nruamel.yaml==0.19.1  # why\n\nPyYAML==6.0.3\n", encoding="utf-8")
    assert lock_check.read_pins(tmp_path / "top.txt") == {"ansible-core": "2.19.14", "ruamel-yaml": "0.19.1", "pyyaml": "6.0.3"}


@pytest.mark.parametrize("line", ["pytest>=9", "pytest", "-e .", "pytest==9.2.0; python_version < '3.12'"])
def test_a_line_that_is_no_exact_pin_is_refused(tmp_path: Path, line: str) -> None:
    (tmp_path / "bad.txt").write_text(f"ruff==0.17.5\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.txt:2"):
        lock_check.read_pins(tmp_path / "bad.txt")


def test_a_package_pinned_twice_at_two_versions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "twice.txt").write_text("ruff==0.17.5\nRuff==0.17.4\n", encoding="utf-8")
    with pytest.raises(ValueError, match="pinned twice"):
        lock_check.read_pins(tmp_path / "twice.txt")


def test_lock_check_refuses_arguments_that_are_no_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert lock_check.main([]) == 2
    assert lock_check.main(["3.11", "latest"]) == 2
    assert "make lock-check" in capsys.readouterr().err
