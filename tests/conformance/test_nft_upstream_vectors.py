"""Verdicts derived from proxmox-firewall's own test (its input configuration and the ruleset
snapshot it generates) must pass on the nftables backend of the engine.

The upstream input files are read at test time, never copied into the project: from
``../shared/conformance/proxmox-firewall-tests/input`` when present, else from the mirrored
proxmox-firewall repository; the test is skipped, saying why, when neither is there. Our
derivation (``proxmox-firewall-snapshot/tests``, with the guests in ``inventory.yml``) is
run against them in the format of ``pve_tests.py``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from pve_tests import read_tests, run_directory

HERE = Path(__file__).resolve().parent
DERIVED = HERE / "proxmox-firewall-snapshot"
SHARED_INPUT = HERE.parents[1].parent / "shared" / "conformance" / "proxmox-firewall-tests" / "input"
MIRROR = Path("/work/.mirror/proxmox+proxmox-firewall/repo")
INPUT_PATH = "proxmox-firewall/tests/input"
FILES = ("cluster.fw", "host.fw", "100.fw", "101.fw")


def _upstream_input(target: Path) -> str | None:
    """Write the upstream input files into ``target``; a reason when they cannot be had."""
    if SHARED_INPUT.is_dir():
        for name in FILES:
            shutil.copyfile(SHARED_INPUT / name, target / name)
        return None
    if not MIRROR.is_dir():
        return f"neither {SHARED_INPUT} nor the proxmox-firewall mirror {MIRROR} is present"
    for name in FILES:
        shown = subprocess.run(["git", "--git-dir", str(MIRROR), "show", f"HEAD:{INPUT_PATH}/{name}"], capture_output=True, check=False)
        if shown.returncode != 0:
            return f"the mirror has no {INPUT_PATH}/{name}: {shown.stderr.decode(errors='replace').strip()}"
        (target / name).write_bytes(shown.stdout)
    return None


def test_the_derived_vectors_pass_on_the_upstream_input(tmp_path: Path) -> None:
    directory = tmp_path / "proxmox-firewall-snapshot"
    directory.mkdir()
    reason = _upstream_input(directory)
    if reason:
        pytest.skip(reason)
    assert "nftables: 1" in (directory / "host.fw").read_text(encoding="utf-8"), "the upstream host.fw selects the nftables backend"
    for name in ("tests", "inventory.yml"):
        shutil.copyfile(DERIVED / name, directory / name)
    result = run_directory(directory)
    assert not result.failures, "\n".join(result.failures)
    assert result.passed == len(list(read_tests(directory / "tests")))
