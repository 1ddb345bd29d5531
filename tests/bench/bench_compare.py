"""pve.firewall and community.proxmox side by side on the same jobs (``make bench-compare``).

Both collections run real ``ansible-playbook`` processes against one emulator (in this
process, HTTPS, lockout simulation off, 3 nodes and 10 guests): pve.firewall from the
project's .venv, community.proxmox (from the ``ansible`` package, with proxmoxer) from its own
virtualenv, ``.build/compare-venv`` (requirements/compare.txt). For every scenario
(tests/bench/compare/spec.py) and latency, each run starts from the same state (written as
``.fw`` files through the emulator's control API), runs one tool's playbook, counts its
requests and writes in the emulator's request log and reads the whole cluster back to check
it against the desired state. A tool that ends elsewhere did not reach it, however fast.

Three rows per scenario: pve.firewall's per-object tasks, pve.firewall's one ``firewall_tree``
task, community.proxmox's tasks. They take turns run by run (who goes first rotates), so that
load that comes and goes on a shared machine falls on all alike. Printed per scenario and row:
requests, writes, the median wall time and the median client CPU time (user + system of the
``ansible-playbook`` process tree; the emulator runs in this process and is not counted) of
``--runs`` runs; on each pve.firewall line the ratios community.proxmox / that line, the
time ratios as the median of the per-run ratios; the lower bound (spec.lower_bound) and
whether the desired state was reached; then where the requests went. ``--doc`` rewrites the results
block of docs/benchmarks.md (only after a full run).

    PYTHONPATH=.build .venv/bin/python tests/bench/bench_compare.py [--runs 3] [--latency 0 --latency 0.02]
        [--scenario NAME ...] [--tool pve.firewall|community.proxmox] [--doc docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build"))

from ansible_collections.pve.firewall.tests.bench.compare import playbooks, spec  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, ControlClient  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.fixtures import TOKEN, RunningEmulator, start_in_process  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.topology import topology_from_data  # noqa: E402

OURS, OURS_TREE, THEIRS = playbooks.OURS, playbooks.OURS_TREE, playbooks.THEIRS
TOOLS = (OURS, OURS_TREE, THEIRS)
collection_of = playbooks.collection_of
COMPARE_VENV = REPO / ".build" / "compare-venv"
DOC_BEGIN = "<!-- bench-compare results: written by tests/bench/bench_compare.py -->"
DOC_END = "<!-- end of bench-compare results -->"


# --------------------------------------------------------------------------------------------
# Reading the cluster back


def rules_path(key: str) -> str:
    if key == "cluster":
        return "/cluster/firewall/rules"
    kind, name = key.split("/")
    if kind == "node":
        return f"/nodes/{name}/firewall/rules"
    guest = spec.guest_of(key)
    return f"/nodes/{guest.node}/{'qemu' if guest.level == 'vm' else 'lxc'}/{guest.vmid}/firewall/rules"


def read_state(api: ApiClient) -> spec.State:
    """The whole cluster as the API shows it, in spec.expected_state's form."""
    base = "/cluster/firewall"
    state: spec.State = {
        "aliases": {item["name"].lower(): (item["cidr"], item.get("comment") or None) for item in api.get(f"{base}/aliases")},
        "ipsets": {
            item["name"]: (item.get("comment") or None, frozenset(spec.canonical_entry(entry) for entry in api.get(f"{base}/ipset/{item['name']}")))
            for item in api.get(f"{base}/ipset")
        },
        "groups": {
            item["group"]: (item.get("comment") or None, tuple(spec.canonical_rule(rule) for rule in api.get(f"{base}/groups/{item['group']}")))
            for item in api.get(f"{base}/groups")
        },
    }
    for key in spec.list_keys():
        path = rules_path(key)
        state[f"rules {key}"] = tuple(spec.canonical_rule(rule) for rule in api.get(path))
        state[f"options {key}"] = spec.canonical_options(api.get(path[: -len("rules")] + "options"))
    for guest in spec.GUESTS:
        firewall = rules_path(guest.key)[: -len("/rules")]
        state[f"aliases {guest.key}"] = {item["name"].lower(): (item["cidr"], item.get("comment") or None) for item in api.get(f"{firewall}/aliases")}
        state[f"ipsets {guest.key}"] = {
            item["name"]: (item.get("comment") or None, frozenset(spec.canonical_entry(entry) for entry in api.get(f"{firewall}/ipset/{item['name']}")))
            for item in api.get(f"{firewall}/ipset")
        }
    return state


_PATH_SHAPES = (
    (re.compile(r"^/nodes/[^/]+/(qemu|lxc)/\d+/"), r"/nodes/{node}/\1/{vmid}/"),
    (re.compile(r"^/nodes/[^/]+/"), "/nodes/{node}/"),
    (re.compile(r"/rules/\d+$"), "/rules/{pos}"),
    (re.compile(r"/groups/[^/]+/\d+$"), "/groups/{group}/{pos}"),
    (re.compile(r"/groups/[^/{]+$"), "/groups/{group}"),
    (re.compile(r"/ipset/[^/]+/.+$"), "/ipset/{name}/{cidr}"),
    (re.compile(r"/ipset/[^/{]+$"), "/ipset/{name}"),
    (re.compile(r"/aliases/[^/]+$"), "/aliases/{name}"),
)


def path_shape(path: str) -> str:
    """``/nodes/pve2/qemu/101/firewall/rules/3`` -> ``/nodes/{node}/qemu/{vmid}/firewall/rules/{pos}``."""
    path = path.split("?")[0]
    for pattern, replacement in _PATH_SHAPES:
        path = pattern.sub(replacement, path)
    return path


# --------------------------------------------------------------------------------------------
# Running the tools


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system seconds of the ansible-playbook process and its children
    requests: int
    writes: int
    reached: bool
    failed: str | None  # the playbook's failure, if it failed
    wrong: list[str]  # where the state read back is not the desired one
    shapes: Counter[str]


@dataclass
class Row:
    scenario: spec.Scenario
    latency: float
    tool: str
    tasks: int
    runs: list[Run] = field(default_factory=list)
    cannot: str | None = None

    @property
    def wall(self) -> float:
        return statistics.median(run.seconds for run in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(run.cpu for run in self.runs)

    @property
    def requests(self) -> int:
        return int(statistics.median(run.requests for run in self.runs))

    @property
    def writes(self) -> int:
        return int(statistics.median(run.writes for run in self.runs))

    @property
    def reached(self) -> bool:
        return all(run.reached for run in self.runs)

    @property
    def steady(self) -> bool:
        """Every run made the same requests."""
        return len({(run.requests, run.writes) for run in self.runs}) == 1

    def verdict(self) -> str:
        if self.cannot:
            return "n/a"
        good = sum(run.reached for run in self.runs)
        if good == len(self.runs):
            return "yes"
        failed = any(run.failed for run in self.runs)
        text = "FAILED" if failed else "NO"
        return text if good == 0 else f"{text} ({len(self.runs) - good}/{len(self.runs)} runs)"


class Bench:
    def __init__(self, running: RunningEmulator, workdir: Path, compare_venv: Path) -> None:
        self.running = running
        self.control: ControlClient = running.control
        self.api = running.api(timeout=60)
        self.workdir = workdir
        self.compare_venv = compare_venv
        host, port, _ssh = running.node_host()
        self.connection = {
            OURS: {"api_host": host, "api_port": port, "api_token_id": TOKEN.full_id, "api_token_secret": TOKEN.secret, "ca_path": running.ca},
            # proxmoxer takes no CA file through the module's options: certificate checks off
            THEIRS: {
                "api_host": host,
                "api_port": port,
                "api_user": TOKEN.user,
                "api_token_id": TOKEN.token_id,
                "api_token_secret": TOKEN.secret,
                "validate_certs": False,
            },
        }

    def env(self, tool: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")}
        home = self.workdir / f"home-{collection_of(tool)}"
        env.update(
            {
                "ANSIBLE_HOME": str(home),
                "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_LOCALHOST_WARNING": "0",
                # pve.firewall from the checkout; community.proxmox from the ansible package only
                "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build") if collection_of(tool) == OURS else str(home / "collections"),
            }
        )
        bin_dir = (REPO / ".venv" / "bin") if collection_of(tool) == OURS else (self.compare_venv / "bin")
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        return env

    def playbook_command(self, tool: str) -> str:
        return str(((REPO / ".venv") if collection_of(tool) == OURS else self.compare_venv) / "bin" / "ansible-playbook")

    def write_playbook(self, tool: str, scenario: spec.Scenario) -> tuple[Path, int]:
        tasks = playbooks.tasks_of(tool, scenario)
        path = self.workdir / f"{scenario.name}-{tool}.yml"
        path.write_text(json.dumps(playbooks.playbook(tool, tasks, self.connection[collection_of(tool)]), indent=1))  # JSON is YAML
        return path, len(tasks)

    def seed(self, cluster: spec.Cluster, latency: float) -> None:
        """An empty cluster, then ``cluster`` written as its .fw files."""
        self.control.reset()
        for relpath, text in spec.render_files(cluster).items():
            self.control.write_file(relpath, text)
        self.control.settings(latency=latency, judging=False)

    def check_seeding(self, scenario: spec.Scenario) -> None:
        """The seeded files read back as the spec says (else the comparison means nothing)."""
        for cluster in (scenario.before, scenario.after):
            self.seed(cluster, 0.0)
            wrong = spec.differences(spec.expected_state(cluster), read_state(self.api))
            if wrong:
                raise SystemExit(f"bench-compare: scenario {scenario.name}: the seeded state reads back differently: {'; '.join(wrong)}")

    def run_once(self, tool: str, scenario: spec.Scenario, path: Path, latency: float) -> Run:
        self.seed(scenario.before, latency)
        seq = int(self.control.requests(10**12)["last_seq"])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [self.playbook_command(tool), str(path)], cwd=self.workdir, env=self.env(tool), capture_output=True, text=True, timeout=3600, check=False
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)  # children are counted once reaped, as run() does
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        logged = self.control.requests(seq)["requests"]
        self.control.settings(latency=0.0)
        wrong = spec.differences(spec.expected_state(scenario.after), read_state(self.api))
        failed = None if done.returncode == 0 else failure_text(done.stdout + done.stderr)
        return Run(
            seconds=seconds,
            cpu=cpu,
            requests=len(logged),
            writes=sum(entry["method"] != "GET" for entry in logged),
            reached=not wrong and failed is None,
            failed=failed,
            wrong=wrong,
            shapes=Counter(f"{entry['method']} {path_shape(entry['path'])}" for entry in logged),
        )


def failure_text(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("fatal:") or "FAILED!" in line:
            match = re.search(r'"msg": "((?:[^"\\]|\\.)*)"', line)
            return (match.group(1) if match else line)[:300]
    return output.strip().splitlines()[-1][:300] if output.strip() else "ansible-playbook failed"


# --------------------------------------------------------------------------------------------
# Output


def ratio(theirs: float, ours: float) -> str:
    if ours == 0:
        return "-" if theirs == 0 else "inf"
    return f"{theirs / ours:.1f}x"


def paired_ratio(theirs: list[float], ours: list[float]) -> str:
    """The median of run-by-run ratios: run i of one tool was timed right beside run i of the other."""
    pairs = [one / two for one, two in zip(theirs, ours) if two > 0]
    return f"{statistics.median(pairs):.2f}x" if pairs else "-"


def fmt_latency(latency: float) -> str:
    return f"{latency * 1000:.0f} ms"


def table_rows(rows: list[Row]) -> list[list[str]]:
    """One line per scenario, latency and tool; on each pve.firewall line the ratios of
    community.proxmox's figures to that line's."""
    out = []
    by_key = {(row.scenario.name, row.latency, row.tool): row for row in rows}
    for row in rows:
        bound = spec.lower_bound(row.scenario.before, row.scenario.after)
        theirs = by_key.get((row.scenario.name, row.latency, THEIRS))
        cells = [row.scenario.title, fmt_latency(row.latency), f"{bound.requests} ({bound.reads} r + {bound.writes} w)", row.tool]
        if row.cannot:
            out.append(cells + ["-", "-", "-", "-", "-", f"cannot express: {row.cannot}", ""])
            continue
        mark = "" if row.steady else "~"
        cells += [str(row.tasks), f"{mark}{row.requests}", f"{mark}{row.writes}", f"{row.wall:.2f}", f"{row.cpu:.2f}", row.verdict()]
        if row.tool != THEIRS and theirs is not None and theirs.runs and row.runs:
            wall = paired_ratio([run.seconds for run in theirs.runs], [run.seconds for run in row.runs])
            cpu = paired_ratio([run.cpu for run in theirs.runs], [run.cpu for run in row.runs])
            cells.append(f"{ratio(theirs.requests, row.requests)} / {ratio(theirs.writes, row.writes)} / {wall} / {cpu}")
        else:
            cells.append("")
        out.append(cells)
    return out


HEADER = [
    "scenario",
    "latency",
    "lower bound: requests",
    "tool",
    "tasks",
    "requests",
    "writes",
    "wall s (median)",
    "client CPU s (median)",
    "reached",
    "community.proxmox / this: req / writes / wall / CPU (paired medians)",
]


def print_table(rows: list[Row]) -> None:
    lines = [HEADER, *table_rows(rows)]
    widths = [max(len(line[index]) for line in lines if index < len(line)) for index in range(len(HEADER))]
    widths[0] = min(widths[0], 58)
    print()
    for number, line in enumerate(lines):
        print("  ".join(cell[: widths[index]].ljust(widths[index]) for index, cell in enumerate(line)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join(["---"] * len(HEADER)) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in table_rows(rows)]
    return "\n".join(lines)


def where_requests_went(rows: list[Row]) -> list[str]:
    """Each tool's requests by method and path shape (first run), per scenario at the first latency."""
    lines = []
    first = rows[0].latency if rows else 0.0
    for row in rows:
        if row.latency != first or not row.runs:
            continue
        shapes = row.runs[0].shapes
        text = ", ".join(f"{shape} x{count}" for shape, count in sorted(shapes.items(), key=lambda item: (-item[1], item[0])))
        lines.append(f"{row.scenario.name} / {row.tool}: {text}")
    return lines


def problems(rows: list[Row]) -> list[str]:
    """The runs that did not reach the desired state, one line per scenario, tool and reason."""
    found: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        for run in row.runs:
            if not run.reached:
                why = "; ".join(([f"playbook failed: {run.failed}"] if run.failed else []) + run.wrong)
                found.setdefault((row.scenario.name, row.tool, why), []).append(fmt_latency(row.latency))
    lines = []
    for (name, tool, why), latencies in found.items():
        runs = sum(1 for row in rows if row.scenario.name == name and row.tool == tool for _run in row.runs)
        lines.append(f"{name}, {tool}, {len(latencies)} of {runs} runs (at {', '.join(sorted(set(latencies)))}): {why}")
    return lines


def facts(compare_venv: Path) -> list[str]:
    cpu = "unknown CPU"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ours = version_of(REPO / ".venv", "ansible-core")
    theirs = {name: version_of(compare_venv, name) for name in ("ansible", "ansible-core", "proxmoxer", "requests")}
    manifest = next(compare_venv.glob("lib/python*/site-packages/ansible_collections/community/proxmox/MANIFEST.json"), None)
    community = json.loads(manifest.read_text())["collection_info"]["version"] if manifest else "?"
    galaxy = re.search(r"^version:\s*(\S+)", (REPO / "galaxy.yml").read_text(), re.M)
    return [
        f"machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}",
        f"python: {platform.python_version()} (both virtualenvs)",
        f"pve.firewall {galaxy.group(1) if galaxy else '?'} (this checkout) with ansible-core {ours}",
        f"community.proxmox {community} from ansible {theirs['ansible']} (ansible-core {theirs['ansible-core']}), "
        f"proxmoxer {theirs['proxmoxer']}, requests {theirs['requests']}",
        f"emulator: tests/emulator in the benchmark's process, HTTPS, lockout simulation off, {len(spec.NODES)} nodes, {len(spec.GUESTS)} guests",
        "load average at the start (1, 5, 15 min): " + ", ".join(f"{value:.1f}" for value in os.getloadavg()),
    ]


def version_of(venv: Path, package: str) -> str:
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "?"


def write_doc(doc: Path, rows: list[Row], lines: dict[str, list[str]]) -> None:
    block = [DOC_BEGIN, "", f"Command: `{lines['command'][0]}` ({lines['elapsed'][0]})", ""]
    block += [f"- {line}" for line in lines["facts"]]
    block += ["", markdown_table(rows), ""]
    if lines["notes"]:
        block += [f"- {line}" for line in lines["notes"]] + [""]
    if lines["problems"]:
        block += ["Runs that did not reach the desired state:", ""] + [f"- {line}" for line in lines["problems"]] + [""]
    block += ["Where the requests went (first run at the first latency; method, path, count):", ""]
    block += [f"- `{line.split(': ', 1)[0]}`: {line.split(': ', 1)[1]}" for line in lines["shapes"]] + ["", DOC_END]
    text = doc.read_text() if doc.exists() else f"# Benchmarks\n\n{DOC_BEGIN}\n{DOC_END}\n"
    if DOC_BEGIN not in text or DOC_END not in text:
        text = text.rstrip("\n") + f"\n\n{DOC_BEGIN}\n{DOC_END}\n"
    head, rest = text.split(DOC_BEGIN, 1)
    tail = rest.split(DOC_END, 1)[1]
    doc.write_text(head + "\n".join(block) + tail)


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [scenario.name for scenario in spec.scenarios()]
    parser.add_argument("--runs", type=int, default=5, help="runs (pairs) per scenario and latency; times are medians, ratios medians of the pairs")
    parser.add_argument("--latency", type=float, action="append", help="seconds the emulator adds to every request (repeatable; default 0 and 0.02)")
    parser.add_argument("--scenario", action="append", choices=names, help="only these scenarios (repeatable)")
    parser.add_argument("--tool", action="append", choices=TOOLS, help="only these tools (repeatable)")
    parser.add_argument("--compare-venv", type=Path, default=COMPARE_VENV, help="virtualenv with ansible 12 and proxmoxer (make bench-compare builds it)")
    parser.add_argument("--doc", type=Path, help="rewrite the results block of this file (after a full run only)")
    parser.add_argument("--command", default=None, help="the command to show as the one that reproduces the results")
    args = parser.parse_args()
    latencies = sorted(set(args.latency if args.latency is not None else [0.0, 0.02]))
    chosen = [scenario for scenario in spec.scenarios() if not args.scenario or scenario.name in args.scenario]
    tools = [tool for tool in TOOLS if not args.tool or tool in args.tool]
    if THEIRS in tools and not (args.compare_venv / "bin" / "ansible-playbook").exists():
        parser.error(f"{args.compare_venv} has no ansible-playbook: run `make bench-compare` (it builds the virtualenv)")
    command = args.command or "PYTHONPATH=.build .venv/bin/python tests/bench/bench_compare.py " + " ".join(sys.argv[1:])

    started = time.perf_counter()
    print(f"bench-compare: {', '.join(tools)}; {len(chosen)} scenarios at {', '.join(fmt_latency(value) for value in latencies)}; {args.runs} runs each")
    info = facts(args.compare_venv)
    for line in info:
        print(f"  {line}")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-compare-") as scratch:
        workdir = Path(scratch)
        running = start_in_process(workdir / "state", tls=True, judging=False, topology=topology_from_data(spec.topology()))
        try:
            bench = Bench(running, workdir, args.compare_venv)
            for scenario in chosen:
                bench.check_seeding(scenario)
            for latency in latencies:
                for scenario in chosen:
                    pair = []
                    for tool in tools:
                        path, count = bench.write_playbook(tool, scenario)
                        row = Row(scenario, latency, tool, count, cannot=scenario.community_cannot if tool == THEIRS else None)
                        rows.append(row)
                        if not row.cannot:
                            pair.append((row, path))
                    # the tools take turns (and who goes first rotates), so that a load
                    # that comes and goes on the machine falls on both alike
                    for number in range(args.runs):
                        start = number % len(pair) if pair else 0
                        for row, path in pair[start:] + pair[:start]:
                            run = bench.run_once(row.tool, scenario, path, latency)
                            row.runs.append(run)
                            print(
                                f"  {fmt_latency(latency):>5}  {scenario.name:<9} {row.tool:<18} run {number + 1}: {run.requests:>6} requests "
                                f"{run.writes:>6} writes {run.seconds:8.2f} s wall {run.cpu:7.2f} s CPU  {'reached' if run.reached else 'NOT reached'}",
                                flush=True,
                            )
        finally:
            running.close_clients()
            if running.emulator is not None:
                running.emulator.stop()

    print_table(rows)
    notes = [f"{scenario.title}: community.proxmox needs {scenario.community_note}" for scenario in chosen if scenario.community_note and THEIRS in tools]
    if any(not row.steady for row in rows if row.runs):
        notes.append("~: the runs did not all make the same number of requests; the median is shown")
    notes.append("lower bound: spec.lower_bound (docs/benchmarks.md); r = reads, w = writes")
    for line in notes:
        print(f"NOTE: {line}")
    found = problems(rows)
    if found:
        print("\nruns that did not reach the desired state:")
        for line in found:
            print(f"  {line}")
    shapes = where_requests_went(rows)
    print("\nwhere the requests went (first run at the first latency):")
    for line in shapes:
        print(f"  {line}")
    elapsed = f"{time.perf_counter() - started:.0f} s in all"
    # other work on the machine slows the wall times (both tools alike: they take turns)
    info.append("load average at the end (1, 5, 15 min): " + ", ".join(f"{value:.1f}" for value in os.getloadavg()))
    print(f"  {info[-1]}")
    print(f"\ntotal {elapsed}; reproduce with: {command}")
    if args.doc:
        if len(chosen) == len(names) and len(tools) == len(TOOLS):
            write_doc(args.doc, rows, {"command": [command], "elapsed": [elapsed], "facts": info, "notes": notes, "problems": found, "shapes": shapes})
            print(f"wrote the results to {args.doc}")
        else:
            print(f"{args.doc} not written: only a run of every scenario with both tools goes there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
