"""The guides run as written: README.md, docs/quickstart.md and docs/gitops.md.

Each fenced block of these pages carries a ``<!-- doc-test: ... -->`` marker (doc_runner.py
says what each kind means); the blocks run in page order in a scratch directory laid out like
the repository root, against an emulator started by the page's own command, and the output a
page quotes must appear in the real output. Only the connection is changed: the emulator's
addresses and ports (``PROXMOX_HOST``, ``PROXMOX_PORT``, ``PVE_DEMO_*``) and, for the review jobs
of the GitOps guide, its read-only token.

The three pages run in separate tests, each with its own emulator on loopback addresses of its
own, so pytest-xdist runs them side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from doc_runner import REPO_ROOT, VENV_BIN, Block, guide_run, parse_guide, scratch_checkout

from ansible_collections.pve.firewall.tests.emulator.fixtures import TOKEN, RunningEmulator, random_listen_base

GUIDES = ("README.md", "docs/quickstart.md", "docs/gitops.md")


def blocks_of(name: str) -> list[Block]:
    blocks, problems = parse_guide(REPO_ROOT / name)
    assert not problems, "\n".join(f"{problem.where}: {problem.text}" for problem in problems)
    return blocks


@pytest.mark.parametrize("name", GUIDES)
def test_every_fenced_block_is_run_or_marked_with_the_reason(name: str) -> None:
    blocks = blocks_of(name)
    assert any(block.kind in ("run", "connection", "playbook") for block in blocks), f"{name}: nothing runs"
    outputs = [index for index, block in enumerate(blocks) if block.kind == "output"]
    for index in outputs:
        source = next((block for block in reversed(blocks[:index]) if block.kind in ("run", "connection", "emulator")), None)
        assert source is not None, f"{blocks[index].where}: output before any run block"


def test_the_parser_refuses_an_unmarked_block_and_a_skip_without_reason(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n```sh\nrm -rf /\n```\n\n<!-- doc-test: skip -->\n```sh\nmake\n```\n\n<!-- doc-test: runs -->\n```\nx\n```\n")
    problems = [problem.text for problem in parse_guide(page)[1]]
    assert problems == [
        "fenced block without a doc-test marker (run it, or mark it and say why not)",
        "a skipped block must say why it is not run",
        "unknown doc-test kind 'runs' (known: run, output, emulator, connection, file, edit, shape, ci, playbook, skip)",
    ]


@pytest.mark.slow
def test_the_quickstart_runs_as_written(tmp_path: Path) -> None:
    work = scratch_checkout(tmp_path)
    with guide_run(work, random_listen_base()) as run:
        run.play(blocks_of("docs/quickstart.md"))
    # the page's cleanup removed everything it wrote, and no rollout fell back to the role's
    # default snapshot directory in $HOME (every one passes harden-demo.yml)
    assert not (work / ".build" / "quickstart").exists()
    assert not (work / "home" / ".local" / "state" / "pve.firewall").exists()


@pytest.mark.slow
def test_the_gitops_guide_runs_as_written(tmp_path: Path) -> None:
    """Against the emulator as the quickstart leaves it after its hardening (section 4), from a
    repository of its own; ``ansible-playbook`` is the one of .venv (the install block pins the
    same ansible-core) with the collection of this checkout."""
    work = scratch_checkout(tmp_path)
    with guide_run(work, random_listen_base()) as run:
        run.play(blocks_of("docs/quickstart.md"), until="hardened")
        repository = tmp_path / "firewall-repo"
        repository.mkdir()
        run.work = repository
        run.env["PATH"] = f"{VENV_BIN}:{run.env['PATH']}"
        # the skipped install block would put the collection in ./collections
        run.env["ANSIBLE_COLLECTIONS_PATH"] = str(work / ".build")
        run.play(blocks_of("docs/gitops.md"))
    assert (repository / "snapshots").is_dir() and list((repository / "snapshots").glob("firewall-*.yml"))


@pytest.mark.slow
def test_the_readme_runs_as_written(tmp_path: Path, make_pve_emulator: Callable[..., RunningEmulator]) -> None:
    pve = make_pve_emulator(tls=True)
    host, port, _ssh = pve.node_host()
    work = scratch_checkout(tmp_path)
    with guide_run(work, random_listen_base()) as run:
        assert pve.ca is not None
        # the collection as "Using the collection from this checkout" sets it up, further down
        run.env["ANSIBLE_COLLECTIONS_PATH"] = str(work / ".build")
        run.env.update(PROXMOX_HOST=host, PROXMOX_PORT=str(port), PROXMOX_TOKEN_ID=TOKEN.full_id, PROXMOX_TOKEN_SECRET=TOKEN.secret, PROXMOX_CA_PATH=pve.ca)
        run.play(blocks_of("README.md"))
    rules = pve.api().get("/cluster/firewall/rules")
    assert [rule.get("macro") or rule.get("dport") for rule in rules] == ["SSH", "8006"]
    assert pve.api().get("/cluster/firewall/options")["policy_in"] == "DROP"
