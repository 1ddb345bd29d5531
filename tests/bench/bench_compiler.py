"""Benchmark of the rule compiler: prints figures, asserts nothing about time.

    make bench-compiler

1. parse + validate + normalise + render of a 10,000-rule host.fw;
2. planning between two 1,000-rule lists that differ in 5% of the rules (inserts, deletes,
   changed fields and moves mixed).

Each figure is the median of several runs, as rules per second. Compare ratios within one
run: these machines are shared and noisy.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".build"))

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import parse_address_spec  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._compiler.config_validation import validate_file  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import parse_fw, render_fw  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_file, normalise_rule  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._compiler.ports import parse_port_list  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile, IPSet, Rule  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._plan.planner import plan_keyed, plan_ordered  # noqa: E402

RUNS = 5


def sample_rule(rng: random.Random, index: int) -> Rule:
    kind = index % 4
    source = rng.choice(["10.0.0.0/8", f"192.168.{index % 250}.0/24", "+management", "10.1.1.1-10.1.1.20", None])
    if kind == 0:
        return Rule("in", "ACCEPT", proto="tcp", dport=str(1024 + index % 60000), source=source, comment=f"rule {index}")
    if kind == 1:
        return Rule("in", "DROP", macro=rng.choice(["SSH", "HTTPS", "DNS", "Ping"]), source=source, iface="vmbr0")
    if kind == 2:
        return Rule("out", "REJECT", proto="udp", dport="53,123,5000:5100", dest=source, log="info")
    return Rule("in", "ACCEPT", proto="icmp", icmp_type="echo-request", enable=index % 7 != 0)


def median_seconds(work: Callable[[], object]) -> tuple[float, float]:
    """Median wall and CPU seconds of ``work``: on a busy machine the CPU time (this process
    only) moves less than the wall time, which waits for the other processes too."""
    walls, cpus = [], []
    for _run in range(RUNS):
        start, start_cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return statistics.median(walls), statistics.median(cpus)


def bench_pipeline(rule_count: int) -> None:
    rng = random.Random(1)
    text = render_fw(FirewallFile(FileKind.HOST, rules=tuple(sample_rule(rng, i) for i in range(rule_count))))
    cluster = FirewallFile(FileKind.CLUSTER, ipsets=(IPSet("management"),))

    def pipeline() -> str:
        for cached in (parse_address_spec, parse_port_list, normalise_rule):
            cached.cache_clear()  # measure a cold run, as one module run is
        parsed = parse_fw(text, FileKind.HOST)
        errors = validate_file(parsed.file, cluster=cluster)
        assert not errors, errors[:3]
        return render_fw(normalise_file(parsed.file))

    seconds, cpu = median_seconds(pipeline)
    print(
        f"parse+validate+normalise+render  {rule_count:>6} rules  {seconds * 1000:8.1f} ms  {rule_count / seconds:>10,.0f} rules/s"
        f"  (CPU {cpu * 1000:.1f} ms: {rule_count / cpu:,.0f} rules/s)"
    )


def mutate(rng: random.Random, rules: list[Rule], fraction: float) -> list[Rule]:
    desired = list(rules)
    for step in range(int(len(rules) * fraction)):
        action = step % 4
        index = rng.randrange(len(desired))
        if action == 0:
            desired.insert(index, Rule("in", "ACCEPT", proto="tcp", dport=str(60000 + step), comment="new"))
        elif action == 1:
            del desired[index]
        elif action == 2:
            desired[index] = replace(desired[index], comment=f"changed {step}")
        else:
            desired.insert(rng.randrange(len(desired)), desired.pop(index))
    return desired


def bench_planner(rule_count: int, fraction: float) -> None:
    rng = random.Random(2)
    current = [sample_rule(rng, i) for i in range(rule_count)]
    desired = mutate(rng, current, fraction)
    plan: tuple = ()

    def planning() -> None:
        nonlocal plan
        plan = plan_ordered(current, desired)

    seconds, _cpu = median_seconds(planning)
    print(
        f"plan {rule_count} -> {len(desired)} rules, {fraction:.0%} changed  {seconds * 1000:8.1f} ms  "
        f"{rule_count / seconds:>10,.0f} rules/s  ({len(plan)} writes planned)"
    )


def bench_keyed(entry_count: int) -> None:
    current = {f"10.{k // 65536}.{k // 256 % 256}.{k % 256}": k for k in range(entry_count)}
    desired = {cidr: k for cidr, k in current.items() if k % 100}  # 1% removed
    desired.update({f"172.16.{k // 256}.{k % 256}": k for k in range(entry_count // 100)})  # 1% added
    plan = None

    def planning() -> None:
        nonlocal plan
        plan = plan_keyed(current, desired)

    seconds, _cpu = median_seconds(planning)
    print(f"plan ipset {entry_count} entries, 1% delta  {seconds * 1000:8.1f} ms  {entry_count / seconds:>10,.0f} entries/s  ({plan.writes} writes planned)")


def main() -> None:
    print(f"rule compiler benchmark (median of {RUNS} runs, Python {sys.version.split()[0]})")
    bench_pipeline(10_000)
    bench_planner(1_000, 0.05)
    bench_keyed(50_000)


if __name__ == "__main__":
    main()
