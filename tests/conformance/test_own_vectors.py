"""Our own vector directories (tests/conformance/vectors/test-*) must all pass.

They cover what PVE's suite does not (reference 6.5): IPv6, macros, port lists, address
ranges, nomatch, sport, REJECT policies, the enable timestamp, the order of management
exceptions and host/cluster rules, host-level groups, forward rules and vnets, the nftables
backend and unfiltered NICs. Every directory's ``tests`` file names the reference section
each case checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pve_tests import read_tests, run_directory

VECTORS = Path(__file__).resolve().parent / "vectors"
DIRECTORIES = sorted(path for path in VECTORS.glob("test-*") if path.is_dir())


def test_vector_directories_exist():
    assert len(DIRECTORIES) >= 10


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda path: path.name)
def test_own_directory_passes(directory: Path):
    result = run_directory(directory)
    assert not result.failures, "\n".join(result.failures)
    assert result.passed == len(list(read_tests(directory / "tests"))), "every line runs exactly once (from and to given)"


@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda path: path.name)
def test_directory_says_which_reference_statement_it_checks(directory: Path):
    header = [line for line in (directory / "tests").read_text(encoding="utf-8").splitlines() if line.startswith("#")]
    assert any("reference" in line.lower() for line in header), f"{directory}/tests must cite the reference section it checks"
