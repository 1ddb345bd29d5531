"""Run the fenced code blocks of a Markdown guide, in order, against the PVE API emulator.

Every fenced block of a tested guide is preceded by a marker, an HTML comment that the rendered
page hides and the Markdown source shows::

    <!-- doc-test: KIND [ARGUMENTS] -->

``run [fails] [read-only] [id=NAME]``
    a shell block, run with ``bash`` (``set -e``) in the scratch directory; it must exit 0, or
    non-zero with ``fails``. What it exports carries over to the next blocks, as in a terminal.
    ``read-only``: run with the emulator's read-only token (a review job's token).
``output``
    what the last ``run`` or ``emulator`` block printed: each line must appear, in this order,
    in its output (stdout and stderr); ``...`` stands for any text, blank lines and a line of
    ``...`` alone are not compared, and a trailing run of ``*`` (a task banner) matches any.
``emulator``
    the command that starts the emulator; it is started in the background with only its
    addresses and ports changed (``--listen-base``, ``--port 0``, ``--ssh-port 0``), so that runs
    in parallel do not collide.
``connection``
    a ``run`` block that exports the connection; after it, the connection variables name the
    emulator the test started (``SUBSTITUTED``): that, and the addresses and ports in expected
    output, are all the test changes.
``file PATH``
    the block is written to ``PATH`` (a file the guide asks to save).
``edit PATH [branch]``
    a YAML excerpt of ``PATH`` merged into it: mappings key by key, lists of named items
    (``name:``) item by item, other lists replaced. ``branch``: undone after the next ``run``
    block (a branch that is not merged).
``shape PATH``
    an excerpt of the YAML file ``PATH`` as a program wrote it: every key it shows must be in
    the file at the same place; its values are examples (``...`` elides).
``ci``
    a CI pipeline, not run here: each ``ansible``/``ansible-playbook`` command in it must be a
    command that a ``run`` block of the same page ran.
``playbook``
    a playbook: its connection options (``module_defaults``) are dropped, so that the
    ``PROXMOX_*`` variables give the emulator; it is run twice, and the second run must change
    nothing.
``skip REASON``
    not run here, for the reason given (a package install, ``make`` on a fresh machine, ...).

A fenced block without a marker, or a marker without a block, fails the test of its page.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent

KINDS = ("run", "output", "emulator", "connection", "file", "edit", "shape", "ci", "playbook", "skip")
MARKER = re.compile(r"^<!--\s*doc-test:\s*(?P<kind>[\w-]+)\s*(?P<args>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")

# The addresses the guides write for the emulator's nodes (tools/demo-topology.yml, the
# emulator's defaults) and its default API and SSH ports.
DOC_NODE_ADDRESS = re.compile(r"(?<![\d.])127\.0\.10\.(?P<index>[1-9])(?::(?P<port>8006|2222))?(?![\d])")
DOC_API_PORT, DOC_SSH_PORT = 8006, 2222
# The variables that carry the connection, with the value a guide writes for the emulator: a
# guide that exports one of them must write that value (or not export it; then the modules' and
# harden-demo.yml's default is the same port).
SUBSTITUTED = {
    "PROXMOX_HOST": "127.0.10.1",
    "PROXMOX_PORT": str(DOC_API_PORT),
    "PVE_DEMO_API_PORT": str(DOC_API_PORT),
    "PVE_DEMO_SSH_PORT": str(DOC_SSH_PORT),
}
# bash's own variables, not part of what a block exports
SHELL_VARIABLES = {"_", "PWD", "OLDPWD", "SHLVL"}


@dataclass(frozen=True)
class Block:
    """A fenced block of a guide and the marker before it."""

    path: Path
    line: int  # of the opening fence, 1-based
    info: str
    text: str
    kind: str
    args: tuple[str, ...]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO_ROOT)}:{self.line}"

    @property
    def flags(self) -> set[str]:
        return {arg for arg in self.args if "=" not in arg}

    def option(self, name: str) -> str | None:
        return next((arg.split("=", 1)[1] for arg in self.args if arg.startswith(f"{name}=")), None)


@dataclass(frozen=True)
class Problem:
    where: str
    text: str


def parse_guide(path: Path) -> tuple[list[Block], list[Problem]]:
    """The fenced blocks of ``path`` with their markers, and what is wrong with the markup."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    problems: list[Problem] = []
    pending: tuple[int, str, str] | None = None  # line, kind, args of a marker not yet used
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = MARKER.match(line.strip())
        fence = FENCE.match(line)
        if marker:
            if pending:
                problems.append(Problem(f"{path.name}:{pending[0]}", "marker without a fenced block after it"))
            pending = (index + 1, marker["kind"], marker["args"])
        elif fence:
            close = next((end for end in range(index + 1, len(lines)) if _closes(lines[end], fence["fence"])), None)
            if close is None:
                problems.append(Problem(f"{path.name}:{index + 1}", "fenced block never closed"))
                break
            indent = len(fence["indent"])
            text = "\n".join(item[indent:] if item[:indent].isspace() else item for item in lines[index + 1 : close]) + "\n"
            where = f"{path.name}:{index + 1}"
            if pending is None:
                problems.append(Problem(where, "fenced block without a doc-test marker (run it, or mark it and say why not)"))
            else:
                kind, args = pending[1], pending[2]
                problems.extend(Problem(where, text) for text in _marker_problems(kind, args))
                split = (args,) if kind == "skip" else tuple(shlex.split(args))
                blocks.append(Block(path, index + 1, fence["info"].strip(), text, kind, split))
            pending = None
            index = close
        elif pending and line.strip():
            problems.append(Problem(f"{path.name}:{pending[0]}", "a marker must be followed by its fenced block"))
            pending = None
        index += 1
    if pending:
        problems.append(Problem(f"{path.name}:{pending[0]}", "marker without a fenced block after it"))
    return blocks, problems


def _closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened with ``fence`` (as long or longer, nothing else)."""
    stripped = line.strip()
    return stripped.startswith(fence) and not stripped.strip(fence[0])


def _marker_problems(kind: str, args: str) -> list[str]:
    if kind not in KINDS:
        return [f"unknown doc-test kind {kind!r} (known: {', '.join(KINDS)})"]
    words = shlex.split(args) if kind != "skip" else []
    if kind == "skip" and len(args) < 10:
        return ["a skipped block must say why it is not run"]
    if kind in ("file", "edit", "shape") and not words:
        return [f"{kind} needs the path of the file"]
    allowed = {"run": {"fails", "read-only"}, "edit": {"branch"}}.get(kind, set())
    extra = [word for word in words[1 if kind in ("file", "edit", "shape") else 0 :] if word not in allowed and not word.startswith("id=")]
    return [f"{kind}: unknown argument {word!r}" for word in extra]


def expected_lines(text: str) -> list[str]:
    """The lines of an output block that are compared."""
    return [line.rstrip() for line in text.splitlines() if line.strip() and line.strip() != "..."]


def line_pattern(line: str, substitute: Callable[[str], str]) -> re.Pattern[str]:
    """A line of expected output as a pattern: ``...`` is any text, a trailing run of ``*`` any run."""
    line = line.rstrip()
    stars = re.search(r" \*{3,}$", line)
    body = line[: stars.start()] if stars else line
    pattern = ".*?".join(re.escape(substitute(piece)) for piece in body.split("..."))
    return re.compile(pattern + (r" \*+" if stars else ""))


def missing_lines(expected: str, actual: str, substitute: Callable[[str], str]) -> list[str]:
    """The expected lines not found in ``actual``, in order (after the last one found)."""
    lines = actual.splitlines()
    position, missing = 0, []
    for line in expected_lines(expected):
        pattern = line_pattern(line, substitute)
        found = next((index for index in range(position, len(lines)) if pattern.search(lines[index])), None)
        if found is None:
            missing.append(line)
        else:
            position = found + 1
    return missing


def merge_excerpt(target: Any, excerpt: Any) -> Any:
    """``excerpt`` laid over ``target``: mappings key by key, named items by name, else replaced."""
    if isinstance(target, dict) and isinstance(excerpt, dict):
        merged = dict(target)
        for key, value in excerpt.items():
            merged[key] = merge_excerpt(target[key], value) if key in target else value
        return merged
    if _named(target) and _named(excerpt):
        by_name = {item["name"]: item for item in excerpt}
        merged_items = [merge_excerpt(item, by_name.pop(item["name"])) if item["name"] in by_name else item for item in target]
        return merged_items + list(by_name.values())
    return excerpt


def _named(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) and "name" in item for item in value)


def missing_keys(excerpt: Any, actual: Any, where: str = "") -> list[str]:
    """The keys of ``excerpt`` that ``actual`` lacks at the same place (``...`` elides)."""
    if excerpt == "..." or excerpt == {"...": None} or excerpt == ["..."]:
        return []
    if isinstance(excerpt, dict):
        if not isinstance(actual, dict):
            return [f"{where or '/'} is not a mapping"]
        missing = []
        for key, value in excerpt.items():
            if key == "...":
                continue
            if key not in actual:
                missing.append(f"{where}/{key}")
            else:
                missing.extend(missing_keys(value, actual[key], f"{where}/{key}"))
        return missing
    if isinstance(excerpt, list) and excerpt and isinstance(excerpt[0], dict):
        if not isinstance(actual, list) or not actual:
            return [f"{where} is not a list of mappings"]
        return [problem for item in excerpt for problem in missing_keys(item, _closest(item, actual), f"{where}[]")]
    return []


def _closest(item: dict[str, Any], candidates: list[Any]) -> Any:
    """The candidate of the same name, else the first one."""
    return next((candidate for candidate in candidates if isinstance(candidate, dict) and candidate.get("name") == item.get("name")), candidates[0])


def commands_of(text: str) -> list[str]:
    """The ansible and ansible-playbook command lines of a shell block or a CI definition."""
    found = []
    for line in text.splitlines():
        line = line.strip().removeprefix("- ").strip().strip("'\"")
        if re.match(r"^(\.venv/bin/)?ansible(-playbook)? ", line):
            found.append(" ".join(line.replace("$CI_PROJECT_DIR", "$PWD").split()))
    return found


@dataclass
class Emulator:
    """The emulator a guide's ``emulator`` block started."""

    process: subprocess.Popen[str]
    ready: dict[str, Any]
    output: str
    read_only_token: tuple[str, str] | None

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return list(self.ready["nodes"])

    def connection(self) -> dict[str, str]:
        first = self.nodes[0]
        return {
            "PROXMOX_HOST": str(first["host"]),
            "PROXMOX_PORT": str(first["api_port"]),
            "PVE_DEMO_API_PORT": str(first["api_port"]),
            "PVE_DEMO_SSH_PORT": str(first["ssh_port"]),
        }

    def substitute(self, text: str) -> str:
        """Expected text with the guide's node addresses and ports replaced by this emulator's."""

        def real(match: re.Match[str]) -> str:
            node = self.nodes[int(match["index"]) - 1]
            port = {str(DOC_API_PORT): node["api_port"], str(DOC_SSH_PORT): node["ssh_port"]}.get(match["port"] or "")
            return f"{node['host']}:{port}" if port else str(node["host"])

        return DOC_NODE_ADDRESS.sub(real, text)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Outcome:
    block: Block
    returncode: int
    output: str


@dataclass
class GuideRun:
    """Runs the blocks of guides in one scratch directory, carrying the environment along."""

    work: Path
    env: dict[str, str]
    listen_base: str
    emulator: Emulator | None = None
    last: Outcome | None = None
    ran: list[Block] = field(default_factory=list)
    branch: tuple[Path, str] | None = None  # a file to restore after the next run block

    def substitute(self, text: str) -> str:
        return self.emulator.substitute(text) if self.emulator else text

    def play(self, blocks: list[Block], until: str | None = None) -> None:
        """Run ``blocks`` in order (up to and including the one with ``id=until``)."""
        for block in blocks:
            self.step(block)
            if until is not None and block.option("id") == until:
                return
        assert until is None, f"no block with id={until}"

    def step(self, block: Block) -> None:
        handler = getattr(self, f"_{block.kind.replace('-', '_')}")
        handler(block)

    def _skip(self, block: Block) -> None:
        pass

    def _run(self, block: Block) -> None:
        env = dict(self.env)
        if "read-only" in block.flags:
            assert self.emulator and self.emulator.read_only_token, f"{block.where}: read-only needs the emulator's --read-only-token"
            env["PROXMOX_TOKEN_ID"], env["PROXMOX_TOKEN_SECRET"] = self.emulator.read_only_token
        env_file = self.work / ".doc-test-env"
        script = f"trap 'env -0 > {shlex.quote(str(env_file))}' EXIT\nset -e\n{block.text}"
        env["PWD"] = str(self.work)
        completed = subprocess.run(["bash", "-c", script], cwd=self.work, env=env, capture_output=True, text=True, timeout=600, check=False)
        output = completed.stdout + completed.stderr
        self.last = Outcome(block, completed.returncode, output)
        self.ran.append(block)
        if "fails" in block.flags:
            assert completed.returncode != 0, f"{block.where}: the guide says this fails, it exited 0:\n{output[-4000:]}"
        else:
            assert completed.returncode == 0, f"{block.where}: exit {completed.returncode}:\n{output[-6000:]}"
        if "read-only" not in block.flags and env_file.exists():
            exported = dict(item.split("=", 1) for item in env_file.read_text().split("\0") if "=" in item)
            self.env = {key: value for key, value in exported.items() if key not in SHELL_VARIABLES}
        if self.branch and block.kind == "run":
            path, text = self.branch
            path.write_text(text)
            self.branch = None

    def _connection(self, block: Block) -> None:
        before = dict(self.env)
        self._run(block)
        assert self.emulator, f"{block.where}: the connection block comes after the emulator block"
        for name, doc_value in SUBSTITUTED.items():
            written = self.env.get(name)
            if written is not None and written != before.get(name):
                assert written == doc_value, f"{block.where}: {name}={written}, the expected output of the guide is written for {doc_value}"
        self.env.update(self.emulator.connection())

    def _output(self, block: Block) -> None:
        assert self.last, f"{block.where}: an output block must follow a run or emulator block"
        missing = missing_lines(block.text, self.last.output, self.substitute)
        assert not missing, (
            f"{block.where}: the output of {self.last.block.where} lacks (in this order):\n"
            + "\n".join(missing)
            + f"\n--- it printed:\n{self.last.output[-8000:]}"
        )

    def _emulator(self, block: Block) -> None:
        assert self.emulator is None, f"{block.where}: a second emulator"
        command = block.text.strip() + f" --listen-base {self.listen_base} --port 0 --ssh-port 0"
        words = shlex.split(block.text.replace("\\\n", " "))
        token = next((words[index + 1] for index, word in enumerate(words[:-1]) if word == "--read-only-token"), None)
        process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.work, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        printed = []
        for line in process.stdout:
            if line.startswith("ready "):
                user_id, _sep, secret = (token or "").partition("=")
                self.emulator = Emulator(process, json.loads(line[len("ready ") :]), "".join(printed), (user_id, secret) if token else None)
                self.last = Outcome(block, 0, "".join(printed))
                return
            printed.append(line)
        raise AssertionError(f"{block.where}: the emulator stopped (exit {process.wait()}):\n{''.join(printed)}")

    def _file(self, block: Block) -> None:
        path = self.work / block.args[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.text)

    def _edit(self, block: Block) -> None:
        path = self.work / block.args[0]
        original = path.read_text()
        if "branch" in block.flags:
            self.branch = (path, original)
        path.write_text(yaml.safe_dump(merge_excerpt(yaml.safe_load(original), yaml.safe_load(block.text)), sort_keys=False))

    def _shape(self, block: Block) -> None:
        actual = yaml.safe_load((self.work / block.args[0]).read_text())
        missing = missing_keys(yaml.safe_load(block.text), actual)
        assert not missing, f"{block.where}: {block.args[0]} has none of these keys the guide shows: {missing}"

    def _ci(self, block: Block) -> None:
        ran = {command for item in self.ran for command in commands_of(item.text)}
        untested = [command for command in commands_of(block.text) if command not in ran]
        assert commands_of(block.text), f"{block.where}: no ansible command found in the CI definition"
        assert not untested, f"{block.where}: the pipeline runs commands no block of the page ran: {untested}"

    def _playbook(self, block: Block) -> None:
        plays = yaml.safe_load(block.text)
        for play in plays:
            for defaults in play.get("module_defaults", {}).values():
                for key in ("api_host", "api_port", "api_token_id", "api_token_secret", "ca_path", "validate_certs"):
                    defaults.pop(key, None)
        playbook = self.work / f"playbook-{block.line}.yml"
        playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
        for attempt in ("first", "second"):
            completed = subprocess.run(
                [str(VENV_BIN / "ansible-playbook"), str(playbook)], cwd=self.work, env=self.env, capture_output=True, text=True, timeout=600, check=False
            )
            output = completed.stdout + completed.stderr
            assert completed.returncode == 0, f"{block.where}: {attempt} run, exit {completed.returncode}:\n{output[-6000:]}"
            if attempt == "second":
                assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", output), f"{block.where}: the second run changed something:\n{output[-4000:]}"
        self.last = Outcome(block, 0, output)


def scratch_checkout(work: Path) -> Path:
    """A directory that looks like the repository root to the guides' commands: the read-only
    parts link to the checkout, ``.build`` is its own (what the guides write goes there)."""
    for name in (".venv", "playbooks", "tools", "tests"):
        (work / name).symlink_to(REPO_ROOT / name)
    (work / ".build").mkdir()
    (work / ".build" / "ansible_collections").symlink_to(REPO_ROOT / ".build" / "ansible_collections")
    return work


def base_environment(work: Path) -> dict[str, str]:
    """A terminal's environment without any connection or Ansible setting of this machine; HOME
    in the scratch directory, so that nothing lands in the real one."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PROXMOX_", "ANSIBLE_", "PVE_DEMO_", "PYTEST_", "PYTHON"))}
    home = work / "home"
    home.mkdir(exist_ok=True)
    return {**env, "HOME": str(home), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(work / "tmp"), "ANSIBLE_PYTHON_INTERPRETER": sys.executable}


@contextmanager
def guide_run(work: Path, listen_base: str) -> Iterator[GuideRun]:
    run = GuideRun(work, base_environment(work), listen_base)
    try:
        yield run
    finally:
        if run.emulator:
            run.emulator.stop()
