"""Test-suite wide setup of the pve.firewall collection.

Makes ``ansible_collections.pve.firewall`` importable for a plain ``pytest`` run from the
repository root: ``<repo>/.build/ansible_collections/pve/firewall`` is a symlink to the
repository (created here when missing) and ``<repo>/.build`` goes first on ``sys.path``.
``ANSIBLE_COLLECTIONS_PATH`` is pointed there too, so Ansible's collection loader (installed
by pytest-ansible, see pytest.ini) and any ``ansible`` command a test runs find the
collection under development.

Reference material is read from ``<repo>/../shared``; use the ``shared_dir`` fixture (or
``shared_path()``), which skips the test when that directory is absent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / ".build"
COLLECTION_LINK = BUILD_DIR / "ansible_collections" / "pve" / "firewall"
SHARED_DIR = REPO_ROOT.parent / "shared"


def _ensure_collection_link() -> None:
    if COLLECTION_LINK.is_symlink() or COLLECTION_LINK.exists():
        if COLLECTION_LINK.resolve() != REPO_ROOT:
            raise RuntimeError(f"{COLLECTION_LINK} exists but does not point at {REPO_ROOT}; run `make clean`")
        return
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    try:
        COLLECTION_LINK.symlink_to(REPO_ROOT, target_is_directory=True)
    except FileExistsError:  # created concurrently by another pytest process
        pass


def _put_build_dir_first() -> None:
    build = str(BUILD_DIR)
    if build in sys.path:
        sys.path.remove(build)
    sys.path.insert(0, build)
    paths = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p and p != build]
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join([build, *paths])


def _install_collection_loader() -> None:
    # pytest_plugins below imports the collection at conftest import time, before
    # pytest-ansible's hook runs; Ansible's loader must own ``ansible_collections`` from the
    # first import on, or it later refuses the half-loaded package ("metadata not loaded").
    try:
        from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    except ImportError:  # plain Python without ansible-core: sys.path alone serves the compiler
        return
    _AnsibleCollectionFinder(paths=[str(BUILD_DIR)])._install()


_ensure_collection_link()
_put_build_dir_first()
_install_collection_loader()


def shared_path(*parts: str) -> Path:
    """Return ``<repo>/../shared/<parts>``; skip the calling test when ``../shared`` is absent."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"../shared is absent: {SHARED_DIR} does not exist (reference material lives beside the repository)")
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared is incomplete: {path} does not exist")
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The reference material directory ``<repo>/../shared`` (test skipped when absent)."""
    return shared_path()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root (the collection root)."""
    return REPO_ROOT


# The PVE API emulator's fixtures (tests/emulator/fixtures.py).
pytest_plugins = ["ansible_collections.pve.firewall.tests.emulator.fixtures"]
