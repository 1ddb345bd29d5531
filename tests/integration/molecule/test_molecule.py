"""The collection's Molecule scenarios (extensions/molecule/<scenario>/), each run whole with
``molecule test -s <scenario>``: create (the PVE API emulator in the background), converge
(the role), idempotence (the rerun must change nothing), verify (verdicts and lockout check
asked of the live cluster, new connections to every node), destroy.

Molecule runs from the collection root, which it recognises by galaxy.yml, with this
virtualenv's tools first on PATH, the collection under development on
ANSIBLE_COLLECTIONS_PATH, and its ephemeral directory and Ansible's home in the test's
temporary directory. Nothing is installed: the scenarios turn the dependency step and the
prerun off (extensions/molecule/config.yml).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = sorted(path.parent.name for path in (REPO_ROOT / "extensions" / "molecule").glob("*/molecule.yml"))
ACTIONS = ("create", "converge", "idempotence", "verify", "destroy")


def test_every_scenario_is_found() -> None:
    assert SCENARIOS == ["hardened_defaults", "safe_rollout"]


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, tmp_path: Path) -> None:
    venv_bin = Path(sys.executable).parent  # not resolved: the virtualenv's bin, not the base interpreter's
    environment = {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",  # ansible-playbook, ansible-config
        "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".build"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "MOLECULE_EPHEMERAL_DIRECTORY": str(tmp_path / "molecule"),
        "NO_COLOR": "1",
        "ANSIBLE_NOCOLOR": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    completed = subprocess.run(
        [str(venv_bin / "molecule"), "test", "--scenario-name", scenario],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-8000:]
    for action in ACTIONS:  # molecule's summary: "<scenario> > <action>: Executed: Successful"
        assert re.search(rf"^{scenario} \S+ {action}: Executed: Successful", output, re.MULTILINE), output[-8000:]
    # destroy stopped the emulator and removed its state, log and facts
    assert not (tmp_path / "molecule" / "emulator").exists()
