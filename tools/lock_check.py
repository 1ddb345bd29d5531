"""Check that each supported Python version's lock file holds on PyPI (`make lock-check`).

``python tools/lock_check.py VERSION...`` (the Makefile passes its PYTHON_VERSIONS), for each
version X.Y and its lock file (``requirements/constraints.txt`` for 3.11,
``requirements/constraints-pyX.Y.txt`` for the others):

* ``requirements/test.txt`` resolves within the lock file (``pip install --dry-run``): every
  pinned package it needs has a distribution for X.Y, and every package it needs is pinned
  there (none would come in unpinned);
* the pins of ``requirements/docs.txt`` and ``requirements/galaxy-importer.txt`` (installed
  with ``--no-deps`` into virtualenvs of their own) each have a distribution for X.Y.

The resolution runs under a Python X.Y interpreter when one is found (``pythonX.Y`` on PATH,
or a pyenv version), which also evaluates environment markers as X.Y does and so also finds pins
that X.Y does not need.  Without one, this interpreter's pip resolves with
``--python-version X.Y`` (and ``--only-binary=:all:`` where it resolves dependencies): wheel tags and Requires-Python are those of X.Y,
environment markers are still this interpreter's.  Needs PyPI (or the configured index) only;
nothing is installed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "requirements"
BASE_VERSION = "3.11"  # requirements/constraints.txt is this version's lock
NO_DEPS_FILES = ("docs.txt", "galaxy-importer.txt", "ansible-builder.txt")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)\s*(?:#.*)?$")


def canonical(name: str) -> str:
    """The PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_file(version: str) -> Path:
    """The lock file of Python ``version`` (X.Y)."""
    return REQUIREMENTS / ("constraints.txt" if version == BASE_VERSION else f"constraints-py{version}.txt")


def read_pins(path: Path) -> dict[str, str]:
    """``{canonical name: version}`` of the ``name==version`` lines of ``path``, following
    ``-r`` includes; other requirement lines raise ``ValueError`` naming the line."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-r "):
            pins.update(read_pins(path.parent / line[3:].strip()))
            continue
        match = PIN.match(line)
        if not match:
            raise ValueError(f"{path.name}:{number}: not a name==version pin: {raw!r}")
        name = canonical(match.group(1))
        if name in pins and pins[name] != match.group(2):
            raise ValueError(f"{path.name}:{number}: {name} pinned twice ({pins[name]} and {match.group(2)})")
        pins[name] = match.group(2)
    return pins


def find_interpreter(version: str) -> str | None:
    """A Python ``version`` interpreter that runs and has pip >= 22.2 (for ``--report``)."""
    candidates = [f"python{version}"]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(path) for path in sorted((pyenv_root / "versions").glob(f"{version}.*/bin/python{version}"), reverse=True)]
    if ".".join(map(str, sys.version_info[:2])) == version:
        candidates.insert(0, sys.executable)
    probe = (
        "import sys, pip; v = tuple(int(p) for p in pip.__version__.split('.')[:2]); "
        f"sys.exit(0 if '%d.%d' % sys.version_info[:2] == {version!r} and v >= (22, 2) else 1)"
    )
    for candidate in candidates:
        path = shutil.which(candidate) if os.sep not in candidate else candidate
        if not path:
            continue
        env = {**os.environ, "PYENV_VERSION": version}  # a pyenv shim runs the version asked for
        try:
            result = subprocess.run([path, "-c", probe], capture_output=True, env=env, timeout=60, check=False)
        except OSError:
            continue
        if result.returncode == 0:
            return path
    return None


def pip_dry_run(version: str, interpreter: str | None, args: list[str]) -> tuple[dict[str, str] | None, str]:
    """``pip install --dry-run --ignore-installed ARGS`` for Python ``version``: the packages
    it would install (``{canonical name: version}``) and the end of pip's output; None when it fails."""
    with tempfile.TemporaryDirectory(prefix="lock-check-") as scratch:
        report = Path(scratch) / "report.json"
        if interpreter:
            command = [interpreter, "-m", "pip"]
            target: list[str] = []
        else:
            command = [sys.executable, "-m", "pip"]
            # pip takes a foreign --python-version only with --no-deps or wheels alone
            binary = [] if "--no-deps" in args else ["--only-binary=:all:"]
            target = ["--python-version", version, *binary, "--target", str(Path(scratch) / "target")]
        command += ["install", "--dry-run", "--ignore-installed", "--quiet", "--disable-pip-version-check", "--report", str(report), *target, *args]
        env = {**os.environ, "PYENV_VERSION": version, "PIP_NO_INPUT": "1"}
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, check=False)
        lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip() and not line.startswith("WARNING:")]
        output = "\n".join(lines[-15:])  # pip's error comes last
        if result.returncode != 0 or not report.exists():
            return None, output
        data = json.loads(report.read_text(encoding="utf-8"))
    installs = {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in data.get("install", [])}
    return installs, output


def check_version(version: str) -> list[str]:
    """The problems of Python ``version``'s lock file (empty when it holds)."""
    lock = lock_file(version)
    if not lock.exists():
        return [f"{lock} does not exist: run `make lock PYTHON=python{version}`"]
    pins = read_pins(lock)
    interpreter = find_interpreter(version)
    how = interpreter or f"{sys.executable} with --python-version {version}"
    print(f"Python {version}: {lock.name} ({len(pins)} pins) with {how}", flush=True)
    problems: list[str] = []
    installs, output = pip_dry_run(version, interpreter, ["-r", str(REQUIREMENTS / "test.txt"), "-c", str(lock)])
    if installs is None:
        problems.append(f"Python {version}: requirements/test.txt does not resolve within {lock.name}:\n{output}")
    else:
        for name, got in sorted(installs.items()):
            if name not in pins:
                problems.append(f"Python {version}: {lock.name} lacks {name} ({got}), which requirements/test.txt needs there")
            elif pins[name] != got:  # cannot happen under -c, but says so if pip ever differs
                problems.append(f"Python {version}: {name} resolved to {got}, {lock.name} pins {pins[name]}")
        if interpreter:
            unused = sorted(set(pins) - set(installs))
            if unused:
                problems.append(f"Python {version}: {lock.name} pins what requirements/test.txt does not need there: {', '.join(unused)}")
    for name in NO_DEPS_FILES:
        found, output = pip_dry_run(version, interpreter, ["--no-deps", "-r", str(REQUIREMENTS / name)])
        if found is None:
            problems.append(f"Python {version}: a pin of requirements/{name} has no distribution for it:\n{output}")
    return problems


def main(argv: list[str]) -> int:
    """Command line entry point."""
    if not argv or any(not re.fullmatch(r"3\.\d+", version) for version in argv):
        print(__doc__, file=sys.stderr)
        return 2
    problems = [problem for version in argv for problem in check_version(version)]
    for problem in problems:
        print(f"lock-check: {problem}", file=sys.stderr)
    if not problems:
        print(f"lock-check: the lock files of Python {', '.join(argv)} hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
