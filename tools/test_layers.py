"""Helpers of `make test`: run one pytest layer, and summarise all layers at the end.

``python tools/test_layers.py pytest NAME DIRECTORY [PYTEST-ARGS...]``
    Runs ``pytest DIRECTORY`` and writes a JUnit report to ``.build/test-results/NAME.xml``.
    A layer whose directory holds no test file yet (``test_*.py`` / ``*_test.py``) is not run
    and counts as empty. A layer that has test files but collects none (pytest exit code 5)
    fails: that is a broken layer, not an empty one.

``python tools/test_layers.py summary``
    Prints one line per layer with its wall time, the wall time of all layers, and a closing
    ``total: N passed, N failed, N skipped`` line counted from the JUnit reports. Fails when
    any layer failed or when no test ran at all.

Layer outcomes are recorded in ``.build/test-results/layers.txt`` (``NAME STATUS`` lines,
appended by the Makefile and by this script); layer wall times in
``.build/test-results/times.txt`` (``NAME START END`` lines, epoch seconds, appended by the
Makefile around each layer).
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / ".build" / "test-results"
LAYERS_FILE = RESULTS / "layers.txt"
TIMES_FILE = RESULTS / "times.txt"
PYTEST_NO_TESTS_COLLECTED = 5


def has_test_files(directory: Path) -> bool:
    """Return whether ``directory`` holds a file that pytest would collect tests from."""
    if not directory.is_dir():
        return False
    return any(p.name.startswith("test_") or p.name.endswith("_test.py") for p in directory.rglob("*.py") if "__pycache__" not in p.parts)


def record(name: str, status: str) -> None:
    """Append a layer outcome to the layers file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    with LAYERS_FILE.open("a", encoding="utf-8") as handle:
        handle.write(f"{name} {status}\n")


def run_pytest(name: str, directory: str, args: list[str]) -> int:
    """Run one pytest layer; see the module docstring."""
    report = RESULTS / f"{name}.xml"
    report.unlink(missing_ok=True)
    path = REPO_ROOT / directory
    if not has_test_files(path):
        print(f"{name}: no test files in {directory}/ yet: nothing to run")
        record(name, "empty")
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pytest", directory, f"--junitxml={report}", *args]
    code = subprocess.call(command, cwd=REPO_ROOT)
    if code == PYTEST_NO_TESTS_COLLECTED:
        print(f"{name}: {directory}/ has test files but pytest collected no test: failing the layer")
        code = 1
    return code


def counts(report: Path) -> tuple[int, int, int]:
    """Return (passed, failed, skipped) from a JUnit report written by pytest."""
    root = ET.parse(report).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    tests = failed = skipped = 0
    for suite in suites:
        tests += int(suite.get("tests", 0))
        failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skipped += int(suite.get("skipped", 0))
    return tests - failed - skipped, failed, skipped


def durations(path: Path | None = None) -> dict[str, float]:
    """Return each layer's wall time in seconds from ``NAME START END`` lines of ``path``
    (default: the times file; a layer run twice adds up); lines that do not parse are ignored."""
    path = TIMES_FILE if path is None else path
    times: dict[str, float] = {}
    if not path.exists():
        return times
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) != 3:
            continue
        try:
            start, end = float(fields[1]), float(fields[2])
        except ValueError:
            continue
        times[fields[0]] = times.get(fields[0], 0.0) + max(0.0, end - start)
    return times


def format_duration(seconds: float) -> str:
    """``7.3s`` under a minute, ``11m42s`` from a minute on."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def summary() -> int:
    """Print the per-layer and total outcome; return non-zero on any failure or no test run."""
    statuses: dict[str, str] = {}
    if LAYERS_FILE.exists():
        for line in LAYERS_FILE.read_text(encoding="utf-8").splitlines():
            name, _sep, status = line.partition(" ")
            # first word wins (e.g. "empty" before the Makefile's "ok"), but FAILED always shows
            if name not in statuses or status == "FAILED":
                statuses[name] = status
    times = durations()
    passed = failed = skipped = 0
    print("")
    print("==> summary")
    for name, status in statuses.items():
        report = RESULTS / f"{name}.xml"
        detail = ""
        if report.exists():
            layer = counts(report)
            passed, failed, skipped = passed + layer[0], failed + layer[1], skipped + layer[2]
            detail = f" ({layer[0]} passed, {layer[1]} failed, {layer[2]} skipped)"
        took = format_duration(times[name]) if name in times else "-"
        print(f"  {name:<12} {status:<7} {took:>7}{detail}")
    if times:
        print(f"  {'all layers':<12} {'':<7} {format_duration(sum(times.values())):>7}")
    broken = [name for name, status in statuses.items() if status == "FAILED"]
    code = 0
    if broken:
        print(f"failed layers: {', '.join(broken)}")
        code = 1
    if passed + failed == 0:
        print("no test ran in any pytest layer: failing")
        code = 1
    print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
    return code


def main(argv: list[str]) -> int:
    """Command line entry point."""
    if len(argv) >= 3 and argv[0] == "pytest":
        return run_pytest(argv[1], argv[2], argv[3:])
    if argv == ["summary"]:
        return summary()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
