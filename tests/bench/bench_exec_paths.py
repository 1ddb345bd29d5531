"""What a task costs on each execution path: the controller path (the action plugin runs the
module's code in the worker process) and the module path (the module is packed, started in a
new interpreter and run there; PVE_FIREWALL_EXECUTION=module).

For each path and workload, ansible-playbook runs a play of 1 task and a play of 1 + N tasks
(``--tasks``, default 20) on localhost; the difference divided by N is the cost of one task,
without Ansible's start-up. Wall time, and CPU time of ansible-playbook with all its processes
(workers and modules: the children's rusage), the median of ``--runs`` runs. The workloads:

* offline: firewall_rule ``state: rendered`` (no request: the cost of the path alone);
* no-op: firewall_options on an unchanged datacenter (the reads of a rerun that changes nothing);
* no-op: ipset with 10,000 entries, unchanged (``--entries``): the reads, checks and result of
  a large set that changes nothing.

Then the size of one no-op's result (its JSON, as the module prints it), without and with diff
mode.

The emulator serves over TLS in this process, so its CPU is not counted. Figures only, no
assertions: compare the two paths on the same machine.

    PYTHONPATH=.build python tests/bench/bench_exec_paths.py [--tasks 20] [--runs 3] [--only ipset]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build"))

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator, start_in_process  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection, run_module  # noqa: E402

PATHS = {"controller": "auto", "module": "module"}  # label -> PVE_FIREWALL_EXECUTION


@dataclass(frozen=True)
class Workload:
    """One task, repeated; ``play_vars`` go to the play (a large list templated into each task
    instead of written into each, so the play's YAML does not grow with the tasks)."""

    label: str
    module: str
    args: dict[str, Any]
    play_vars: dict[str, Any]

    @property
    def task(self) -> dict[str, Any]:
        return {f"pve.firewall.{self.module}": self.args}

    def module_args(self) -> dict[str, Any]:
        """The arguments with the play's variables filled in (for a run without a play)."""
        names = {f"{{{{ {name} }}}}": value for name, value in self.play_vars.items()}
        return {key: names.get(value, value) if isinstance(value, str) else value for key, value in self.args.items()}


def workloads(entries: int) -> list[Workload]:
    return [
        Workload("offline (firewall_rule rendered)", "firewall_rule", {"state": "rendered", "rules": ["IN ACCEPT -p tcp -dport 22"]}, {}),
        Workload("no-op (firewall_options unchanged)", "firewall_options", {"level": "cluster", "options": {"policy_in": "ACCEPT"}}, {}),
        Workload(
            f"no-op (ipset {entries:,} entries)",
            "ipset",
            {"name": "bench", "entries": "{{ bench_entries }}"},
            {"bench_entries": [f"10.{index >> 16 & 255}.{index >> 8 & 255}.{index & 255}" for index in range(1, entries + 1)]},
        ),
    ]


ENVIRONMENT_NAMES = {
    "api_host": "PROXMOX_HOST",
    "api_port": "PROXMOX_PORT",
    "api_token_id": "PROXMOX_TOKEN_ID",
    "api_token_secret": "PROXMOX_TOKEN_SECRET",
    "ca_path": "PROXMOX_CA_PATH",
}


@dataclass(frozen=True)
class Cost:
    wall: float
    cpu: float


def playbook(work: Path, workload: Workload, count: int) -> Path:
    path = work / f"play-{count}.yml"
    play = {"hosts": "localhost", "connection": "local", "gather_facts": False, "vars": workload.play_vars, "tasks": [workload.task] * count}
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


def run_play(work: Path, play: Path, env: dict[str, str]) -> Cost:
    """One ansible-playbook run: its wall time and the CPU time of it and its descendants."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "localhost,", str(play)]
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=work, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return Cost(wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def environment(running: RunningEmulator, work: Path, path: str) -> dict[str, str]:
    connection = module_connection(running)
    return {
        **os.environ,
        **{ENVIRONMENT_NAMES[key]: str(value) for key, value in connection.items()},
        "PVE_FIREWALL_EXECUTION": path,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build"),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }


def per_task(running: RunningEmulator, work: Path, workload: Workload, path: str, tasks: int, runs: int) -> tuple[Cost, Cost]:
    """The median cost of one task, and of the 1-task play (start-up included)."""
    env = environment(running, work, path)
    one, many = playbook(work, workload, 1), playbook(work, workload, 1 + tasks)
    run_play(work, one, env)  # warm the file caches and the emulator's state
    singles, extras_wall, extras_cpu = [], [], []
    for _run in range(runs):
        single = run_play(work, one, env)
        more = run_play(work, many, env)
        singles.append(single)
        extras_wall.append((more.wall - single.wall) / tasks)
        extras_cpu.append((more.cpu - single.cpu) / tasks)
    play = Cost(statistics.median(cost.wall for cost in singles), statistics.median(cost.cpu for cost in singles))
    return Cost(statistics.median(extras_wall), statistics.median(extras_cpu)), play


def result_sizes(running: RunningEmulator, workload: Workload) -> tuple[int, int]:
    """Bytes of one run's JSON result without and with diff mode (after a run that converges)."""
    args = {**module_connection(running), **workload.module_args()}
    run_module(workload.module, args)
    return tuple(len(json.dumps(run_module(workload.module, args, diff=diff))) for diff in (False, True))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tasks", type=int, default=20, help="tasks of the longer play (default 20)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each play; the median is shown (default 3)")
    parser.add_argument("--entries", type=int, default=10_000, help="entries of the ipset workload (default 10000)")
    parser.add_argument("--only", default="", help="run only the workloads whose label contains this text")
    args = parser.parse_args()
    chosen = [workload for workload in workloads(args.entries) if args.only in workload.label]
    with tempfile.TemporaryDirectory(prefix="bench-exec-paths-") as tmp:
        work = Path(tmp)
        running = start_in_process(work / "emulator", tls=True)
        try:
            print(f"one task on each path: median of {args.runs} runs, from plays of 1 and {1 + args.tasks} tasks; CPU of ansible-playbook and its processes")
            print(f"{'workload':38} {'path':11} {'wall/task':>10} {'CPU/task':>10} {'1-task play':>12}")
            for workload in chosen:
                label = workload.label
                costs = {}
                for name, path in PATHS.items():
                    costs[name], play = per_task(running, work, workload, path, args.tasks, args.runs)
                    print(f"{label:38} {name:11} {costs[name].wall * 1000:8.0f} ms {costs[name].cpu * 1000:7.0f} ms {play.wall:10.2f} s", flush=True)
                saved = costs["module"].cpu - costs["controller"].cpu
                print(f"{'':38} {'saved':11} {(costs['module'].wall - costs['controller'].wall) * 1000:8.0f} ms {saved * 1000:7.0f} ms")
            print("\nthe JSON result of one run, as the module prints it")
            print(f"{'workload':38} {'no diff':>12} {'diff mode':>12}")
            for workload in chosen:
                plain, diff = result_sizes(running, workload)
                print(f"{workload.label:38} {plain:>8,} B {diff:>10,} B")
        finally:
            running.close_clients()
            if running.emulator is not None:
                running.emulator.stop()


if __name__ == "__main__":
    main()
