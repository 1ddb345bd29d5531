"""Run galaxy-importer, the checks Galaxy runs on an uploaded collection, on the tarball of ``make dist``.

``python tools/galaxy_import.py TARBALL``  (the galaxy layer of ``make test``)

Runs ``python -m galaxy_importer.main TARBALL`` with the interpreter of the galaxy-importer
virtualenv (requirements/galaxy-importer.txt), whose ansible-doc, ansible-lint and flake8 come
first on PATH, and a configuration of its own in ``.build/galaxy-importer`` (read through
GALAXY_IMPORTER_CONFIG): ansible-doc, ansible-lint and flake8 run, ansible-test does not (the
sanity layer runs it), temporary files stay in ``.build/galaxy-importer``.

Fails when the importer fails or prints any ERROR or CRITICAL line, and on any WARNING line
(ansible-lint findings, a missing changelog or role README, flake8 findings) except the flake8
codes that contradict the formatter the project uses, ``ruff format``: E203 (whitespace before
':' in a slice), W503 (line break before a binary operator), E704 (a ``def`` with its ``...``
body on one line). pycodestyle leaves W503 and E704 out by default and E203 is the known
conflict with Black-style formatting, but galaxy-importer runs flake8 with ``--isolated``, so no
configuration of the collection can switch them off. Those are counted, not failed.

Galaxy refuses a collection without a ``repository`` URL; while galaxy.yml names a stand-in
under the reserved ``.invalid`` domain (the collection has no public repository yet), every run
says so in a NOTE line, so that it is replaced before the first upload.

The whole output is in ``.build/galaxy-importer/importer.log``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK = REPO_ROOT / ".build" / "galaxy-importer"
FORMATTER_CONFLICTS = {"E203", "W503", "E704"}
FLAKE8_FINDING = re.compile(r"^WARNING: \S+\.py:\d+:\d+: (?P<code>[A-Z]\d+) ")
PROBLEM = re.compile(r"^(ERROR|CRITICAL|WARNING): ")
CONFIG = """\
[galaxy-importer]
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = True
RUN_ANSIBLE_TEST = False
RUN_FLAKE8 = True
CHECK_CHANGELOG = True
ANSIBLE_LOCAL_TMP = {tmp}
TMP_ROOT_DIR = {tmp}
LOG_LEVEL_MAIN = INFO
"""


def repository_note(tarball: Path) -> str | None:
    """Return a note when the tarball's MANIFEST.json names no repository, or a stand-in one."""
    with tarfile.open(tarball) as archive:
        handle = archive.extractfile("MANIFEST.json")
        assert handle is not None
        repository = json.load(handle)["collection_info"].get("repository") or ""
    host = urlparse(repository).hostname or ""
    if not host or host.endswith(".invalid"):
        return f"galaxy-importer: NOTE galaxy.yml's repository {repository!r} is a stand-in: set the real URL before publishing"
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    tarball = Path(argv[0]).resolve()
    shutil.rmtree(WORK, ignore_errors=True)
    tmp = WORK / "tmp"
    tmp.mkdir(parents=True)
    config = WORK / "galaxy-importer.cfg"
    config.write_text(CONFIG.format(tmp=tmp), encoding="utf-8")
    bin_dir = Path(sys.executable).parent  # the galaxy-importer virtualenv's bin, not the base interpreter's
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("ANSIBLE_", "GALAXY_IMPORTER_"))}
    environment.update({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "GALAXY_IMPORTER_CONFIG": str(config)})
    command = [sys.executable, "-m", "galaxy_importer.main", str(tarball)]
    print("+ " + " ".join(command), flush=True)
    # cwd: the importer writes importer_result.json into the current directory
    result = subprocess.run(command, cwd=WORK, env=environment, capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    (WORK / "importer.log").write_text(output, encoding="utf-8")
    tolerated: Counter[str] = Counter()
    problems = []
    for line in output.splitlines():
        finding = FLAKE8_FINDING.match(line)
        if finding and finding.group("code") in FORMATTER_CONFLICTS:
            tolerated[finding.group("code")] += 1
        elif PROBLEM.match(line) or "Traceback (most recent call last)" in line:
            problems.append(line)
    first = output.splitlines()[:1]
    print("\n".join(first + [line for line in output.splitlines()[-2:] if line not in first]))
    if tolerated:
        counts = ", ".join(f"{code} x{count}" for code, count in sorted(tolerated.items()))
        print(f"galaxy-importer: flake8 findings that contradict ruff format, not counted: {counts}")
    if problems:
        print(f"galaxy-importer: {len(problems)} problem(s):")
        print("\n".join(problems))
    note = repository_note(tarball)
    if note:
        print(note)
    completed = "Importer processing completed successfully" in output
    if result.returncode != 0 or problems or not completed:
        print(f"galaxy-importer: FAILED (exit code {result.returncode}); the whole output is in {WORK / 'importer.log'}")
        return 1
    print(f"galaxy-importer: {tarball.name} passes (the whole output is in {WORK / 'importer.log'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
