"""One firewall_tree task against the per-object tasks it replaces: wall time and API requests.

The same tree is applied to an empty cluster firewall two ways: one module run per object, in
the safe order the safe_rollout role used (IP sets, aliases, groups, each guest's options and
rules, each node's, the datacenter's rules and options), and one firewall_tree run (at most
``--parallel`` files at once, default 4). Runs are paired: each pair starts from a reset
emulator, the two ways alternate which goes first, and each way's median is printed, at 0 and
20 ms of latency per request (the emulator's latency knob). Modules run in this process over
TLS, each run with its own connection(s), as a task does. Figures only, no assertions.

The cluster: 3 nodes, 12 guests; the tree: a datacenter with 3 IP sets of 40 entries,
3 aliases, 3 groups of 4 rules and 12 rules, each node 1 option and 4 rules, each guest
its firewall on, an IP set of 8 entries and 3 rules.

    PYTHONPATH=.build python tests/bench/bench_tree.py [--runs 3] [--parallel 4]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build"))

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator, start_in_process  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection, run_module  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.topology import topology_from_data  # noqa: E402

NODES = ("pve1", "pve2", "pve3")
GUESTS = tuple(range(100, 112))
LATENCIES = (0.0, 0.02)


def level(vmid: int) -> str:
    return "vm" if vmid % 2 == 0 else "ct"


def topology() -> dict[str, Any]:
    guests = [{"vmid": vmid, "type": "qemu" if level(vmid) == "vm" else "lxc", "node": NODES[vmid % 3]} for vmid in GUESTS]
    return {"nodes": [{"name": node} for node in NODES], "guests": guests}


def rule(port: int, **extra: Any) -> dict[str, Any]:
    return {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(port), **extra}


def tree() -> dict[str, Any]:
    return {
        "cluster": {
            "options": {"policy_in": "DROP"},
            "aliases": [{"name": f"host{index}", "cidr": f"198.51.100.{index + 1}"} for index in range(3)],
            "ipsets": [{"name": f"set{index}", "entries": [f"10.{index}.{entry // 200}.{entry % 200 + 1}" for entry in range(40)]} for index in range(3)],
            "groups": [{"name": f"group{index}", "rules": [rule(9000 + index * 10 + port, source=f"+set{index}") for port in range(4)]} for index in range(3)],
            "rules": [rule(8000 + port, source="+set0") for port in range(12)],
        },
        "nodes": {node: {"options": {"log_level_in": "info"}, "rules": [rule(7000 + port) for port in range(4)]} for node in NODES},
        "guests": {
            str(vmid): {
                "options": {"enable": 1},
                "ipsets": [{"name": "clients", "entries": [f"172.16.{vmid % 256}.{entry + 1}" for entry in range(8)]}],
                "rules": [{"type": "group", "action": "group0"}, rule(443, source="+clients"), rule(80)],
            }
            for vmid in GUESTS
        },
    }


def per_object_tasks(wanted: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(module, arguments) per object, in the order the role's per-object tasks ran."""
    cluster = wanted["cluster"]
    tasks: list[tuple[str, dict[str, Any]]] = []
    tasks += [("ipset", {"level": "cluster", **ipset}) for ipset in cluster["ipsets"]]
    tasks += [("alias", {"level": "cluster", **alias}) for alias in cluster["aliases"]]
    for key, guest in wanted["guests"].items():
        tasks += [("ipset", {"level": level(int(key)), "vmid": int(key), **ipset}) for ipset in guest["ipsets"]]
    tasks += [("security_group", {"state": "overridden", **group}) for group in cluster["groups"]]
    for key, guest in wanted["guests"].items():
        scope = {"level": level(int(key)), "vmid": int(key)}
        tasks += [("firewall_options", {**scope, "options": guest["options"]}), ("firewall_rule", {**scope, "state": "overridden", "rules": guest["rules"]})]
    for node, host in wanted["nodes"].items():
        scope = {"level": "node", "node": node}
        tasks += [("firewall_options", {**scope, "options": host["options"]}), ("firewall_rule", {**scope, "state": "overridden", "rules": host["rules"]})]
    tasks += [("firewall_rule", {"level": "cluster", "state": "overridden", "rules": cluster["rules"]})]
    tasks += [("firewall_options", {"level": "cluster", "options": cluster["options"]})]
    return tasks


def run_tasks(running: RunningEmulator, tasks: list[tuple[str, dict[str, Any]]]) -> None:
    connection = module_connection(running)
    for module, args in tasks:
        result = run_module(module, {**connection, **args})
        if result.get("failed"):
            raise RuntimeError(f"{module}: {result.get('msg')}")


def measure(running: RunningEmulator, latency: float, work: Callable[[], None]) -> tuple[float, int]:
    """Wall seconds and API requests of ``work`` on a reset emulator with ``latency``."""
    assert running.emulator is not None
    running.emulator.reset()
    control = running.control
    control.settings(latency=latency)
    seq = int(control.requests(10**12)["last_seq"])
    started = time.perf_counter()
    work()
    wall = time.perf_counter() - started
    count = len(control.requests(seq)["requests"])
    return wall, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="pairs per latency (default 3)")
    parser.add_argument("--parallel", type=int, default=4, help="firewall_tree's parallel (default 4)")
    options = parser.parse_args()
    wanted = tree()
    tasks = per_object_tasks(wanted)

    def one_task() -> None:
        run_tasks(running, [("firewall_tree", {"tree": wanted, "parallel": options.parallel})])

    def many_tasks() -> None:
        run_tasks(running, tasks)

    with tempfile.TemporaryDirectory() as state:
        running = start_in_process(Path(state), topology=topology_from_data(topology()), tls=True)
        try:
            print(f"{len(tasks)} per-object tasks vs 1 firewall_tree task (parallel {options.parallel}); {options.runs} paired runs, medians")
            print(f"{'latency':>8} {'way':<22} {'wall s':>8} {'requests':>9}")
            for latency in LATENCIES:
                figures: dict[str, list[tuple[float, int]]] = {"per-object tasks": [], "firewall_tree": []}
                for run in range(options.runs):
                    order = [("per-object tasks", many_tasks), ("firewall_tree", one_task)]
                    for label, work in order if run % 2 == 0 else order[::-1]:
                        figures[label].append(measure(running, latency, work))
                for label, found in figures.items():
                    wall = statistics.median(item[0] for item in found)
                    requests = statistics.median(item[1] for item in found)
                    print(f"{latency * 1000:>6.0f}ms {label:<22} {wall:>8.2f} {requests:>9.0f}")
                ratio = statistics.median(item[0] for item in figures["firewall_tree"]) / statistics.median(item[0] for item in figures["per-object tasks"])
                print(f"{'':>8} {'firewall_tree / tasks':<22} {ratio:>8.2f}")
        finally:
            running.close_clients()
            assert running.emulator is not None
            running.emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
