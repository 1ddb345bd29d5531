"""PVE's own packet-verdict tests (``../shared/conformance/pve-firewall-tests``) must all pass.

Each upstream directory is one test; the count of simulations is checked too, so that a
directory whose tests silently stopped running fails as well.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pve_tests import run_directory

SHARED_TESTS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "pve-firewall-tests"
DIRECTORIES = sorted(path for path in SHARED_TESTS.glob("test-*") if path.is_dir())


@pytest.mark.skipif(not DIRECTORIES, reason=f"upstream vectors absent: no test-* directories in {SHARED_TESTS}")
@pytest.mark.parametrize("directory", DIRECTORIES, ids=lambda path: path.name)
def test_upstream_directory_passes(directory: Path):
    result = run_directory(directory)
    assert not result.failures, "\n".join(result.failures)
    assert result.passed > 0, f"{directory} ran no simulation"
