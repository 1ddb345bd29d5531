"""What the lockout guard costs: API requests and wall time of one change, guarded or not.

Every module that writes the rules, groups, IP sets or aliases of the datacenter or a node
first asks the lockout analysis whether the change keeps the operator's access (docs/
lockout-safety.md, layer 1). That costs one read of the datacenter's options, and, while the
datacenter firewall is on, one gather of the datacenter file, every node's host file, the
cluster status and the nodes' networks. This prints, per change, the requests a run makes with
the datacenter firewall off (the guard reads the options only) and on (the whole analysis),
the reads the guard adds, and the wall time; a no-op rerun and a guest-level change (which no
guard reads for) are the baselines. Two firewall_tree rows show the requests of a tree's judge:
it reuses the gather (whose inventory reads the status and the networks whatever the firewall)
and adds one /cluster/status. Their wall time between off and on also holds the emulator's own
work while the firewall is on (it judges every new connection), so the judge's compute time is
printed apart: the steps of the wider tree laid over the cluster as the emulator stores it and
analysed one by one, as firewall_tree does. Figures only, no assertions: compare them.

The cluster: 3 nodes, 20 guests, a datacenter with 30 rules, 4 security groups and 5 IP sets
of 200 entries, each node with 10 rules. Modules run in this process over TLS, each call with
its own connection, as a task does.

    PYTHONPATH=.build python tests/bench/bench_guard.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build"))

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._engine.lockout import OperatorView, analyse_lockout  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import Environment  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Inventory, Node  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._plan.rollout_stages import step_stages  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._plan.tree import apply_tree, canonical_config, tree_from_user  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._plan.tree_steps import plan_steps  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator, start_in_process  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection, run_module  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.topology import topology_from_data  # noqa: E402

NODES = ("pve1", "pve2", "pve3")
ADMIN = "127.0.0.1"  # the benchmark's own address, as the emulator's nodes see it
GUARD_PATHS = ("/cluster/status", "/network")  # reads only the analysis makes


@dataclass(frozen=True)
class Change:
    label: str
    module: str
    args: Callable[[int], dict[str, Any]]  # run number -> the module's arguments (each run changes something)


def rule(port: int, **extra: Any) -> dict[str, Any]:
    return {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(port), **extra}


def set_entries(index: int) -> list[str]:
    """The entries seed() gives the IP set ``set<index>``."""
    return [f"10.{index}.{entry // 250}.{entry % 250 + 1}" for entry in range(200)]


def wide_tree(run: int) -> dict[str, Any]:
    """Every datacenter IP set and group gains one item, the datacenter and every node one
    rule: 13 steps of the datacenter's and the nodes' files, and from the second run on 5 more
    (the entry the run before added leaves each set), each judged by firewall_tree."""
    ipsets = [{"name": f"set{index}", "entries": [*set_entries(index), f"10.98.{run}.{index + 1}"]} for index in range(5)]
    groups = [{"name": f"group{index}", "rules": [rule(20000 + 10 * index + number) for number in range(5)] + [rule(45000 + run)]} for index in range(4)]
    nodes = {node: {"rules": [rule(46000 + run)]} for node in NODES}
    return {"tree": {"cluster": {"ipsets": ipsets, "groups": groups, "rules": [rule(47000 + run)]}, "nodes": nodes}, "rules_state": "merged"}


CHANGES = (
    Change("datacenter rule added", "firewall_rule", lambda run: {"level": "cluster", "state": "merged", "rules": [rule(40000 + run)]}),
    Change("node rule added", "firewall_rule", lambda run: {"level": "node", "node": "pve2", "state": "merged", "rules": [rule(41000 + run)]}),
    Change("datacenter IP set entry added", "ipset", lambda run: {"level": "cluster", "name": "set0", "entries": [f"10.99.{run}.1"], "purge": False}),
    Change("security group rule added", "security_group", lambda run: {"name": "group0", "state": "merged", "rules": [rule(42000 + run)]}),
    Change("no-op rerun (datacenter rules)", "firewall_rule", lambda run: {"level": "cluster", "state": "merged", "rules": [rule(8006, source=ADMIN)]}),
    Change("guest rule added (no guard)", "firewall_rule", lambda run: {"level": "vm", "vmid": 100, "state": "merged", "rules": [rule(43000 + run)]}),
    Change("tree: one datacenter rule", "firewall_tree", lambda run: {"tree": {"cluster": {"rules": [rule(44000 + run)]}}, "rules_state": "merged"}),
    Change("tree: sets, groups, rules", "firewall_tree", wide_tree),
)


def topology() -> dict[str, Any]:
    guests = [
        {"vmid": 100 + index, "type": "qemu" if index % 2 == 0 else "lxc", "node": NODES[index % 3], "nics": [{"bridge": "vmbr0", "firewall": True}]}
        for index in range(20)
    ]
    return {"nodes": [{"name": node, "local_network": "192.0.2.0/24"} for node in NODES], "guests": guests}


def seed(running: RunningEmulator) -> None:
    """The datacenter and the nodes as a mid-sized cluster has them, written through the API."""
    api = running.api()
    for index in range(5):
        api.post("/cluster/firewall/ipset", name=f"set{index}")
        for cidr in set_entries(index):
            api.post(f"/cluster/firewall/ipset/set{index}", cidr=cidr)
    for index in range(4):
        api.post("/cluster/firewall/groups", group=f"group{index}")
        for number in range(5):
            api.post(f"/cluster/firewall/groups/group{index}", enable=1, **rule(20000 + 10 * index + number))
    for number in range(28):
        api.post("/cluster/firewall/rules", enable=1, **rule(30000 + number, source="+set1"))
    api.post("/cluster/firewall/rules", enable=1, type="group", action="group0")
    api.post("/cluster/firewall/rules", enable=1, **rule(8006, source=ADMIN))
    api.post("/cluster/firewall/rules", enable=1, **rule(22, source=ADMIN))
    for node in NODES:
        for number in range(10):
            api.post(f"/nodes/{node}/firewall/rules", enable=1, **rule(31000 + number))


def measure(running: RunningEmulator, change: Change, run: int) -> tuple[int, int, float]:
    """Requests, requests only the guard makes, and wall seconds of one module run."""
    control = running.control
    seq = int(control.requests(10**12)["last_seq"])
    started = time.perf_counter()
    result = run_module(change.module, {**module_connection(running), **change.args(run)})
    wall = time.perf_counter() - started
    if result.get("failed"):
        raise RuntimeError(f"{change.label}: {result.get('msg')}")
    logged = control.requests(seq)["requests"]
    guard = sum(1 for entry in logged if entry["method"] == "GET" and any(entry["path"].endswith(path) for path in GUARD_PATHS))
    return len(logged), guard, wall


def judge_cost(running: RunningEmulator, runs: int) -> None:
    """The compute time of firewall_tree's step judge on the wider tree (no requests)."""
    control = running.control
    inventory = Inventory({node: Node(node, f"192.0.2.{11 + index}", "192.0.2.0/24") for index, node in enumerate(NODES)})
    hosts = {node: control.read_file(f"nodes/{node}/host.fw") or "" for node in NODES}
    config = config_from_texts(control.read_file("firewall/cluster.fw"), hosts, inventory=inventory).config
    wide = wide_tree(250)
    tree, errors = tree_from_user(wide["tree"])
    if errors:
        raise RuntimeError(f"wide tree: {errors}")
    plan_ms, judge_ms, steps = [], [], 0
    for _run in range(runs):
        started = time.perf_counter()
        before = canonical_config(config)
        after = canonical_config(apply_tree(config, tree, inventory, "merged"))
        stages = step_stages(before, after, plan_steps(before, after))
        planned = time.perf_counter()
        environment = Environment(inventory)
        for stage in stages:
            analyse_lockout(stage.config, environment, OperatorView((ADMIN,)))
        plan_ms.append((planned - started) * 1000)
        judge_ms.append((time.perf_counter() - planned) * 1000)
        steps = len(stages)
    print(
        f"firewall_tree's step judge on the wider tree, offline: {steps} steps laid in {statistics.median(plan_ms):.0f} ms "
        f"(with the plan), analysed in {statistics.median(judge_ms):.0f} ms ({statistics.median(judge_ms) / max(steps, 1):.1f} ms a step)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each change per firewall state (median reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        running = start_in_process(Path(state), topology=topology_from_data(topology()), tls=True)
        try:
            seed(running)
            api = running.api()
            print(f"lockout guard cost: {len(CHANGES)} changes x {args.runs} runs, datacenter firewall off, then on (median)")
            print(f"{'change':<34} {'firewall':>8} {'requests':>8} {'guard reads':>11} {'wall ms':>8}")
            for enable in (0, 1):
                api.put("/cluster/firewall/options", enable=enable, policy_in="DROP")
                run_base = 100 * enable  # every run changes something new (run numbers stay below 256)
                for change in CHANGES:
                    figures = [measure(running, change, run_base + run) for run in range(args.runs)]
                    requests = statistics.median(item[0] for item in figures)
                    guard = statistics.median(item[1] for item in figures)
                    wall = statistics.median(item[2] for item in figures) * 1000
                    print(f"{change.label:<34} {'on' if enable else 'off':>8} {requests:>8.0f} {guard:>11.0f} {wall:>8.0f}")
            judge_cost(running, args.runs)
        finally:
            running.close_clients()
            assert running.emulator is not None
            running.emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
