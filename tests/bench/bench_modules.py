"""API requests, writes and wall time of the modules converging a realistic cluster (``make bench``).

The cluster: 3 nodes, 50 guests (VMs and CTs spread over the nodes) with 10 rules each, 5
security groups that the guest rules use, 5 datacenter IP sets of a few entries and one
10,000-entry blocklist set. It is managed the way a playbook does it, one module call per
object: ``ipset`` per set, ``security_group`` per group, ``firewall_options`` for the
datacenter, each node and each guest, ``firewall_rule`` per guest. The modules run in this
process (``tests/emulator/modules.run_module``, as the module tests run them), so Python's
start-up does not hide the API's cost; each call opens its own HTTPS connection, as a task
does. The emulator runs in-process over TLS with the lockout simulation off.

Scenarios, each a full run of the playbook, at every latency given (the emulator adds it to
each API request):

1. converge from an empty cluster;
2. run again, nothing changed;
3. one rule inserted in the middle of one guest's list;
4. the blocklist feed moved by 1% (50 entries removed, 50 added).

Requests and writes come from the emulator's request log. Figures, no assertions: compare
them between changes, on this 2-core machine. PVE has no bulk entry API, so the blocklist
converges with one POST per entry; when that would push the whole run past ``--budget``, a
run at a non-zero latency seeds the blocklist as a ``.fw`` file instead, says so, and
extrapolates the converge figure from the 0 ms run.

    PYTHONPATH=.build python tests/bench/bench_modules.py [--latency 0] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import bisect
import importlib
import ipaddress
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build"))

from ansible_collections.pve.firewall.tests.emulator.client import ControlClient  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator, start_in_process  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection, run_module  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.topology import topology_from_data  # noqa: E402

NODES = ("pve1", "pve2", "pve3")
MODULES = ("ipset", "security_group", "firewall_options", "firewall_rule")
BLOCKLIST = "blocklist"
BLOCKLIST_COMMENT = "drop feed"
BLOCKLIST_NET = ipaddress.IPv4Network("198.18.0.0/15")  # benchmarking range, 131,072 addresses
INSERTED_GUEST_INDEX = 17  # the guest whose list gets a rule in scenario 3
DELTA = 50  # entries removed from and added to the blocklist in scenario 4

IPSETS: dict[str, tuple[str, list[Any]]] = {
    "admins": ("admin networks", ["192.0.2.0/26", "192.0.2.200", {"cidr": "203.0.113.0/28", "comment": "vpn"}]),
    "monitoring": ("monitoring hosts", ["10.20.0.10", "10.20.0.11", "10.20.0.12", "10.20.1.0/24"]),
    "backends": ("application servers", ["10.30.0.0/24", "10.30.1.0/24", "10.30.2.10", "10.30.2.11", "10.30.2.12"]),
    "partners": ("partner networks", ["198.51.100.0/24", "!198.51.100.128/27", "203.0.113.64/26", "203.0.113.128/26"]),
    "resolvers": ("DNS resolvers", ["10.40.0.53", "10.40.1.53", "2001:db8::53"]),
}

GROUPS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "webserver": (
        "public web servers",
        [
            {"type": "in", "action": "ACCEPT", "macro": "HTTPS"},
            {"type": "in", "action": "ACCEPT", "macro": "HTTP"},
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8443", "source": "+partners"},
        ],
    ),
    "database": (
        "databases",
        [
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "5432", "source": "+backends"},
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "3306", "source": "+backends"},
            {"type": "in", "action": "DROP", "proto": "tcp", "dport": "5432,3306", "log": "info", "comment": "everyone else"},
        ],
    ),
    "monitored": (
        "scraped by monitoring",
        [
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "9100", "source": "+monitoring"},
            {"type": "in", "action": "ACCEPT", "macro": "Ping", "source": "+monitoring"},
            {"type": "in", "action": "ACCEPT", "proto": "udp", "dport": "161", "source": "+monitoring"},
        ],
    ),
    "adminssh": (
        "admin access",
        [
            {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+admins"},
            {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "+admins"},
            {"type": "in", "action": "REJECT", "macro": "SSH", "log": "warning"},
            {"type": "out", "action": "ACCEPT", "proto": "tcp", "dport": "22", "dest": "+admins"},
        ],
    ),
    "dnsclient": (
        "resolver access",
        [
            {"type": "out", "action": "ACCEPT", "macro": "DNS", "dest": "+resolvers"},
            {"type": "out", "action": "DROP", "proto": "udp", "dport": "53", "log": "info"},
        ],
    ),
}


@dataclass(frozen=True)
class Guest:
    vmid: int
    level: str  # vm or ct
    node: str


def guests(count: int) -> list[Guest]:
    """VMs 100.. and CTs 200.., one in three a container, round robin over the nodes."""
    found = []
    for index in range(count):
        is_ct = index % 3 == 2
        found.append(Guest((200 if is_ct else 100) + index, "ct" if is_ct else "vm", NODES[index % len(NODES)]))
    return found


def topology(members: list[Guest]) -> dict[str, Any]:
    return {
        "nodes": [{"name": name} for name in NODES],
        "guests": [
            {
                "vmid": guest.vmid,
                "type": "qemu" if guest.level == "vm" else "lxc",
                "node": guest.node,
                "nics": [{"bridge": "vmbr0", "ip": f"10.0.{guest.vmid // 250}.{guest.vmid % 250 + 2}/16"}],
            }
            for guest in members
        ],
    }


def guest_rules(index: int) -> list[dict[str, Any]]:
    """Ten rules: two security groups, set references, ports, a macro, logging, comments."""
    group_names = list(GROUPS)
    return [
        {"type": "in", "action": "DROP", "source": f"+{BLOCKLIST}", "log": "info", "comment": "blocklist"},
        {"type": "group", "action": group_names[index % 5]},
        {"type": "group", "action": group_names[(index + 2) % 5]},
        {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(8000 + index), "source": "+backends", "comment": f"app {index}"},
        {"type": "in", "action": "ACCEPT", "macro": "Ping", "source": "10.0.0.0/8"},
        {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "80,443", "iface": "net0"},
        {"type": "in", "action": "REJECT", "proto": "tcp", "dport": "25", "log": "warning"},
        {"type": "out", "action": "ACCEPT", "proto": "tcp", "dport": "443", "dest": "+partners"},
        {"type": "out", "action": "ACCEPT", "proto": "udp", "dport": "123", "dest": "10.40.0.0/16", "comment": "ntp"},
        {"type": "out", "action": "DROP", "dest": "198.51.100.0/24", "enable": index % 4 != 0},
    ]


def blocklist_feed(size: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """``size`` distinct host addresses of the feed, and ``DELTA`` more that scenario 4 adds."""
    hosts = random.Random(seed).sample(range(1, BLOCKLIST_NET.num_addresses - 1), size + DELTA)
    first = int(BLOCKLIST_NET.network_address)
    addresses = [str(ipaddress.IPv4Address(first + host)) for host in hosts]
    return addresses[:size], addresses[size:]


@dataclass(frozen=True)
class Desired:
    """What the playbook asks for; each scenario changes a copy."""

    members: tuple[Guest, ...]
    rules: dict[int, list[dict[str, Any]]]
    blocklist: tuple[str, ...]


@dataclass(frozen=True)
class Call:
    module: str
    label: str
    args: dict[str, Any]


def playbook(desired: Desired) -> list[Call]:
    """One module call per object, in dependency order: sets, groups, options, guest rules."""
    calls = [Call("ipset", f"ipset {name}", {"name": name, "comment": comment, "entries": entries}) for name, (comment, entries) in IPSETS.items()]
    calls.append(Call("ipset", f"ipset {BLOCKLIST}", {"name": BLOCKLIST, "comment": BLOCKLIST_COMMENT, "entries": list(desired.blocklist)}))
    calls += [
        Call("security_group", f"security_group {name}", {"name": name, "comment": comment, "state": "overridden", "rules": rules})
        for name, (comment, rules) in GROUPS.items()
    ]
    calls.append(
        Call("firewall_options", "firewall_options cluster", {"level": "cluster", "options": {"enable": True, "policy_in": "DROP", "policy_out": "ACCEPT"}})
    )
    calls += [
        Call(
            "firewall_options",
            f"firewall_options node {node}",
            {"level": "node", "node": node, "options": {"log_level_in": "info", "protection_synflood": True}},
        )
        for node in NODES
    ]
    for guest in desired.members:
        scope = {"level": guest.level, "vmid": guest.vmid}  # the node is looked up, as the EXAMPLES do
        calls.append(
            Call(
                "firewall_options",
                f"firewall_options {guest.level} {guest.vmid}",
                {**scope, "options": {"enable": True, "policy_in": "DROP"}, "nic_firewall": True},
            )
        )
        calls.append(Call("firewall_rule", f"firewall_rule {guest.level} {guest.vmid}", {**scope, "state": "overridden", "rules": desired.rules[guest.vmid]}))
    return calls


@dataclass
class Tally:
    calls: int = 0
    changed: int = 0
    requests: int = 0
    writes: int = 0
    seconds: float = 0.0
    server_seconds: float = 0.0  # as the emulator's log measures it, injected latency included

    def add(self, other: Tally) -> None:
        for name in ("calls", "changed", "requests", "writes", "seconds", "server_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Outcome:
    scenario: str
    latency: float
    total: Tally
    per_call: dict[str, Tally]
    note: str = ""
    extrapolated: bool = False

    def by_module(self) -> dict[str, Tally]:
        tallies: dict[str, Tally] = defaultdict(Tally)
        for label, tally in self.per_call.items():
            tallies[label.split()[0]].add(tally)
        return tallies


@dataclass
class Bench:
    running: RunningEmulator
    control: ControlClient
    connection: dict[str, Any]
    outcomes: list[Outcome] = field(default_factory=list)

    def run(self, scenario: str, latency: float, calls: list[Call]) -> Outcome:
        """Run the calls one after the other; attribute the logged requests to them by time."""
        seq = int(self.control.requests(10**12)["last_seq"])
        spans: list[tuple[float, float, Call, bool]] = []
        started = time.perf_counter()
        for call in calls:
            begin = time.time()
            result = run_module(call.module, {**self.connection, **call.args})
            spans.append((begin, time.time(), call, bool(result.get("changed"))))
            if result.get("failed"):
                raise RuntimeError(f"{scenario}: {call.label} failed: {result.get('msg')}")
        wall = time.perf_counter() - started
        logged = self.control.requests(seq)["requests"]
        per_call = {call.label: Tally(calls=1, changed=int(changed), seconds=end - begin) for begin, end, call, changed in spans}
        starts = [span[0] for span in spans]
        for entry in logged:
            begin, end, call, _changed = spans[max(bisect.bisect_right(starts, entry["time"]) - 1, 0)]
            tally = per_call[call.label]
            tally.requests += 1
            tally.writes += entry["method"] != "GET"
            tally.server_seconds += entry["duration_ms"] / 1000
        total = Tally()
        for tally in per_call.values():
            total.add(tally)
        total.seconds = wall  # the calls' own spans leave out the loop between them
        outcome = Outcome(scenario, latency, total, per_call)
        self.outcomes.append(outcome)
        return outcome


def seed_blocklist(control: ControlClient, entries: Iterable[str]) -> None:
    """The blocklist written straight into cluster.fw, as PVE would have stored it."""
    text = f"[IPSET {BLOCKLIST}] # {BLOCKLIST_COMMENT}\n\n" + "".join(f"{cidr}\n" for cidr in entries)
    control.write_file("firewall/cluster.fw", text)


def half(bench: Bench, base: Desired, latency: float, *, seed: bool) -> None:
    """The four scenarios at one latency, from an empty cluster."""
    assert bench.running.emulator is not None
    bench.running.emulator.reset()
    bench.control.settings(latency=latency, judging=False)
    if seed:
        seed_blocklist(bench.control, base.blocklist)
    label = "converge (blocklist seeded)" if seed else "converge"
    print(f"  {latency * 1000:.0f} ms: {label} ...", flush=True)
    bench.run(f"1 {label}", latency, playbook(base))
    print(f"  {latency * 1000:.0f} ms: rerun, no change ...", flush=True)
    bench.run("2 rerun, no change", latency, playbook(base))
    vmid = base.members[INSERTED_GUEST_INDEX].vmid
    rules = list(base.rules[vmid])
    rules.insert(len(rules) // 2, {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "9443", "source": "+admins", "comment": "inserted"})
    inserted = replace(base, rules={**base.rules, vmid: rules})
    print(f"  {latency * 1000:.0f} ms: insert one rule in guest {vmid} ...", flush=True)
    bench.run("3 insert 1 rule", latency, playbook(inserted))
    removed = set(random.Random(11).sample(base.blocklist, DELTA))
    _feed, extra = blocklist_feed(len(base.blocklist))
    moved = replace(inserted, blocklist=tuple([cidr for cidr in base.blocklist if cidr not in removed] + extra))
    print(f"  {latency * 1000:.0f} ms: blocklist delta -{DELTA} +{DELTA} ...", flush=True)
    bench.run(f"4 blocklist -{DELTA}/+{DELTA}", latency, playbook(moved))


def latency_cost(bench: Bench, latency: float, count: int = 40) -> float:
    """Wall seconds one request gains at ``latency``, measured: a sleep and a thread wake-up
    cost a little more than the latency itself."""
    api = bench.running.api()
    api.get("/version")  # connect first
    timings = []
    for value in (0.0, latency):
        bench.control.settings(latency=value)
        begin = time.perf_counter()
        for _index in range(count):
            api.get("/version")
        timings.append(time.perf_counter() - begin)
    bench.control.settings(latency=0.0)
    return max((timings[1] - timings[0]) / count, latency)


def extrapolated_converge(measured: Outcome, reference: Outcome, per_request: float) -> Outcome:
    """The seeded converge with the blocklist call replaced by the 0 ms run's, each of its
    requests ``per_request`` seconds longer (the emulator's own work taken as at 0 ms)."""
    label = f"ipset {BLOCKLIST}"
    full = reference.per_call[label]
    estimate = replace(full, seconds=full.seconds + full.requests * per_request, server_seconds=full.server_seconds + full.requests * measured.latency)
    per_call = {**measured.per_call, label: estimate}
    total = Tally()
    for tally in per_call.values():
        total.add(tally)
    total.seconds = measured.total.seconds - measured.per_call[label].seconds + estimate.seconds
    return Outcome("1 converge (extrapolated)", measured.latency, total, per_call, extrapolated=True)


def print_table(outcomes: list[Outcome]) -> None:
    print()
    header = (
        f"{'scenario':<30} {'latency':>7} {'calls':>5} {'changed':>7} {'requests':>8} {'writes':>6} {'wall s':>8} "
        f"{'server s':>8}  {'req/write':>9} {'req/call':>8} {'ms/req':>7}"
    )
    print(header)
    print("-" * len(header))
    for outcome in outcomes:
        total = outcome.total
        per_write = f"{total.requests / total.writes:9.2f}" if total.writes else f"{'-':>9}"
        mark = "~" if outcome.extrapolated else " "
        print(
            f"{outcome.scenario:<30} {outcome.latency * 1000:>5.0f}ms {total.calls:>5} {total.changed:>7} {total.requests:>8} {total.writes:>6} "
            f"{mark}{total.seconds:>7.2f} {total.server_seconds:>8.2f}  {per_write} {total.requests / total.calls:>8.2f} "
            f"{total.seconds / total.requests * 1000 if total.requests else 0:>7.2f}"
        )


def print_changed(outcomes: list[Outcome]) -> None:
    """What the changed objects cost on their own in scenarios 3 and 4."""
    print("\nthe changed object's own module call:")
    for outcome in outcomes:
        if outcome.scenario[0] not in "34":
            continue
        for label, tally in outcome.per_call.items():
            if tally.changed:
                print(
                    f"  {outcome.scenario:<22} {outcome.latency * 1000:>3.0f}ms  {label:<26} {tally.requests:>5} requests "
                    f"{tally.writes:>4} writes  {tally.seconds:7.2f} s"
                )


def print_modules(outcome: Outcome) -> None:
    print(f"\nby module, {outcome.scenario} at {outcome.latency * 1000:.0f} ms:")
    for module, tally in sorted(outcome.by_module().items()):
        print(
            f"  {module:<17} {tally.calls:>3} calls  {tally.requests:>6} requests  {tally.writes:>6} writes  {tally.seconds:8.2f} s  "
            f"({tally.requests / tally.calls:6.1f} requests and {tally.seconds / tally.calls * 1000:7.1f} ms per call)"
        )


def print_per_rule(outcome: Outcome, base: Desired) -> None:
    rules = sum(len(rules) for rules in base.rules.values())
    group_rules = sum(len(rules) for _comment, rules in GROUPS.values())
    entries = len(base.blocklist)
    modules = outcome.by_module()
    lines = [
        ("guest rule (firewall_rule)", modules["firewall_rule"], rules),
        ("group rule (security_group)", modules["security_group"], group_rules),
        ("blocklist entry (ipset)", outcome.per_call[f"ipset {BLOCKLIST}"], entries),
    ]
    print(f"\ncost per rule of the initial convergence at {outcome.latency * 1000:.0f} ms{' (extrapolated)' if outcome.extrapolated else ''}:")
    for what, tally, count in lines:
        print(
            f"  {what:<28} {count:>6} of them: {tally.requests / count:5.2f} requests, {tally.writes / count:5.2f} writes, "
            f"{tally.seconds / count * 1000:7.2f} ms each"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, action="append", help="seconds added to every API request (repeatable; default 0 and 0.02)")
    parser.add_argument("--guests", type=int, default=50)
    parser.add_argument("--blocklist", type=int, default=10_000, help="entries of the blocklist set")
    parser.add_argument(
        "--budget",
        type=float,
        default=600.0,
        help="seconds the whole run should stay under: a non-zero latency seeds the blocklist when converging it would pass this (raise it to measure)",
    )
    args = parser.parse_args()
    latencies = sorted(set(args.latency if args.latency is not None else [0.0, 0.02]))
    if args.guests <= INSERTED_GUEST_INDEX or args.blocklist <= DELTA:
        parser.error(f"--guests must be over {INSERTED_GUEST_INDEX} and --blocklist over {DELTA}")

    members = guests(args.guests)
    feed, _extra = blocklist_feed(args.blocklist)
    base = Desired(tuple(members), {guest.vmid: guest_rules(index) for index, guest in enumerate(members)}, tuple(feed))
    for module in MODULES:
        importlib.import_module(f"ansible_collections.pve.firewall.plugins.modules.{module}")  # not timed
    vms = sum(guest.level == "vm" for guest in members)
    print(
        f"modules benchmark: {len(NODES)} nodes, {len(members)} guests ({vms} VMs, {len(members) - vms} CTs) x {len(guest_rules(0))} rules, "
        f"{len(GROUPS)} security groups, {len(IPSETS)} IP sets + a {len(feed):,}-entry blocklist; "
        f"{len(playbook(base))} module calls per run; latencies {', '.join(f'{value * 1000:.0f} ms' for value in latencies)}"
    )
    print(f"in-process HTTPS emulator, lockout simulation off; Python {sys.version.split()[0]}")

    started = time.perf_counter()
    notes = []
    with tempfile.TemporaryDirectory(prefix="bench-modules-") as state:
        running = start_in_process(Path(state), tls=True, judging=False, topology=topology_from_data(topology(members)))
        try:
            bench = Bench(running, running.control, module_connection(running))
            for latency in latencies:
                seed, per_request = False, latency
                reference = next((item for item in bench.outcomes if item.latency == 0 and item.scenario == "1 converge"), None)
                if latency and reference is not None:
                    per_request = latency_cost(bench, latency)
                    # one POST per entry: the 0 ms call's time plus what the latency adds to each request
                    full = reference.per_call[f"ipset {BLOCKLIST}"]
                    estimate = full.seconds + full.requests * per_request
                    # the rest of this half likewise
                    zero = [item.total for item in bench.outcomes if item.latency == 0]
                    rest = sum(item.seconds for item in zero) - full.seconds + (sum(item.requests for item in zero) - full.requests) * per_request
                    projected = time.perf_counter() - started + estimate + rest
                    if projected > args.budget:
                        seed = True
                        notes.append(
                            f"At {latency * 1000:.0f} ms the blocklist was seeded as a .fw file before the converge: converging its {len(feed):,} "
                            f"entries takes one POST each (PVE has no bulk entry API), about {estimate:.0f} s at this latency "
                            f"(the 0 ms call's {full.seconds:.0f} s + {full.requests} requests x {per_request * 1000:.1f} ms, what this "
                            f"latency measurably adds to a request), which would put the run at about {projected / 60:.0f} min, past the "
                            f"{args.budget / 60:.0f} min budget (--budget). The measured 'converge (blocklist seeded)' row leaves the "
                            f"blocklist's writes out; the '~' row puts the 0 ms call's requests back in, each {per_request * 1000:.1f} ms "
                            f"longer: an estimate that takes the emulator's own work per request as at 0 ms."
                        )
                half(bench, base, latency, seed=seed)
                if seed and reference is not None:
                    measured = next(item for item in bench.outcomes if item.latency == latency and item.scenario.startswith("1 "))
                    bench.outcomes.insert(bench.outcomes.index(measured) + 1, extrapolated_converge(measured, reference, per_request))
        finally:
            running.close_clients()
            assert running.emulator is not None
            running.emulator.stop()

    print_table(bench.outcomes)
    print_changed(bench.outcomes)
    for outcome in bench.outcomes:
        if outcome.scenario.startswith("1 ") and "seeded" not in outcome.scenario:
            print_modules(outcome)
            print_per_rule(outcome, base)
    print("\nserver s: time the emulator's log counts inside requests (injected latency included); the rest is the modules' own work.")
    print("req/write: requests per write; req/call: requests per module call; ms/req: wall time per request; ~: extrapolated.")
    for note in notes:
        print(f"NOTE: {note}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
