"""The .fw corpus (fw_corpus.yml): every line and file read exactly as pve-firewall reads it.

Each case names the upstream function it follows. The lenient reading must equal PVE's, the
reported lines must be exactly those listed (strict mode raising on them), and where a case
says so, PVE's writer output, its death on a rule type, or a file PVE cannot load at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import load_fw_dir
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import FwFileUnreadable, FwWriteError, parse_fw, render_fw
from ansible_collections.pve.firewall.plugins.module_utils._model.errors import FirewallValidationError
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Alias, FileKind, FirewallFile, IPSet, IPSetEntry, Rule, SecurityGroup

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "fw_corpus.yml").read_text(encoding="utf-8"))
DEFAULT_NOW = 1_700_000_000


def _rule(data: dict[str, Any]) -> Rule:
    return Rule(**data)


def expected_file(case: dict[str, Any]) -> FirewallFile:
    return FirewallFile(
        FileKind(case["kind"]),
        options=case.get("options", {}),
        aliases=tuple(Alias(**alias) for alias in case.get("aliases", [])),
        ipsets=tuple(
            IPSet(name, (body or {}).get("comment"), tuple(IPSetEntry(**entry) for entry in (body or {}).get("entries", [])))
            for name, body in case.get("ipsets", {}).items()
        ),
        rules=tuple(map(_rule, case.get("rules", []))),
        groups=tuple(
            SecurityGroup(name, (body or {}).get("comment"), tuple(map(_rule, (body or {}).get("rules", [])))) for name, body in case.get("groups", {}).items()
        ),
    )


def _parse(case: dict[str, Any], *, lenient: bool):
    return parse_fw(case["text"], FileKind(case["kind"]), filename="corpus.fw", lenient=lenient, now=case.get("now", DEFAULT_NOW))


def test_every_case_names_its_upstream_function():
    assert len(CASES) >= 30
    assert all(case.get("follows") and case.get("name") for case in CASES)
    assert len({case["name"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_reading_is_pves(case: dict[str, Any]) -> None:
    if case.get("unreadable"):
        for lenient in (True, False):
            with pytest.raises(FwFileUnreadable, match="PVE cannot load corpus.fw"):
                _parse(case, lenient=lenient)
        return
    parsed = _parse(case, lenient=True)
    assert parsed.file == expected_file(case)
    reported = sorted({int(warning.location.rsplit(" ", 1)[1]) for warning in parsed.warnings})
    assert reported == case.get("reported", [])
    if reported:
        with pytest.raises(FirewallValidationError):
            _parse(case, lenient=False)
    else:
        assert _parse(case, lenient=False).file == parsed.file


@pytest.mark.parametrize("case", [case for case in CASES if "written" in case or case.get("write_fails")], ids=lambda case: case["name"])
def test_writing_is_pves(case: dict[str, Any]) -> None:
    fw = _parse(case, lenient=True).file
    if case.get("write_fails"):
        with pytest.raises(FwWriteError, match="unknown rule type"):
            render_fw(fw, canonical=False)
        return
    assert render_fw(fw, canonical=False) == case["written"]
    # what PVE writes, it reads back unchanged (apart from what the writer dropped)
    again = parse_fw(case["written"], fw.kind, lenient=True, now=case.get("now", DEFAULT_NOW))
    assert again.warnings == ()
    assert render_fw(again.file, canonical=False) == case["written"]


def test_a_directory_is_read_without_newline_translation(tmp_path: Path) -> None:
    # PVE keeps the \r of a CRLF file in each line (generic_fw_config_parser), so no plain header
    # is recognised; reading the file with universal newlines would see every rule
    (tmp_path / "cluster.fw").write_bytes(b"[OPTIONS]\r\nenable: 1\r\n\r\n[RULES]\r\nIN ACCEPT -p tcp -dport 22\r\n")
    loaded = load_fw_dir(tmp_path)
    assert loaded.config.cluster == FirewallFile(FileKind.CLUSTER)
    assert [warning.split(":", 1)[0] for warning in loaded.warnings] == [f"{tmp_path / 'cluster.fw'} line {n}" for n in (1, 2, 4, 5)]
