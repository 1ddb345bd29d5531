"""tools/test_layers.py: the summary of `make test` gives each layer's wall time."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
TOOL = REPO_ROOT / "tools" / "test_layers.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("test_layers_tool", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["test_layers_tool"] = module
    spec.loader.exec_module(module)
    return module


test_layers = _load_tool()

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="2" tests="10" time="1.0"/></testsuites>
"""


@pytest.fixture(name="results")
def fixture_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(test_layers, "RESULTS", tmp_path)
    monkeypatch.setattr(test_layers, "LAYERS_FILE", tmp_path / "layers.txt")
    monkeypatch.setattr(test_layers, "TIMES_FILE", tmp_path / "times.txt")
    return tmp_path


@pytest.mark.parametrize(("seconds", "shown"), [(0.04, "0.0s"), (7.26, "7.3s"), (59.9, "59.9s"), (60, "1m00s"), (702.4, "11m42s")])
def test_a_duration_is_shown_in_seconds_or_minutes(seconds: float, shown: str) -> None:
    assert test_layers.format_duration(seconds) == shown


def test_durations_add_up_per_layer_and_skip_lines_that_do_not_parse(tmp_path: Path) -> None:
    times = tmp_path / "times.txt"
    times.write_text("unit 100.5 130.0\nlint 130 190\nunit 200 201\nbroken line\nlint x y\n", encoding="utf-8")
    assert test_layers.durations(times) == {"unit": 30.5, "lint": 60.0}
    assert test_layers.durations(tmp_path / "absent.txt") == {}


def test_the_summary_shows_each_layers_time_and_keeps_the_total_line_last(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (results / "layers.txt").write_text("unit ok\nlint FAILED\nsanity ok\n", encoding="utf-8")
    (results / "times.txt").write_text("unit 0 75\nlint 75 80.5\n", encoding="utf-8")
    (results / "unit.xml").write_text(JUNIT, encoding="utf-8")
    assert test_layers.summary() == 1
    lines = capsys.readouterr().out.splitlines()
    unit = next(line for line in lines if line.strip().startswith("unit"))
    assert "1m15s" in unit and "(7 passed, 1 failed, 2 skipped)" in unit
    assert "5.5s" in next(line for line in lines if line.strip().startswith("lint"))
    assert next(line for line in lines if line.strip().startswith("sanity")).split()[-1] == "-"  # no time recorded
    assert "1m20s" in next(line for line in lines if line.strip().startswith("all layers"))
    assert lines[-1] == "total: 7 passed, 1 failed, 2 skipped"
