"""Benchmark of the verdict engine: prints figures, asserts nothing about time.

    make bench-verdict

A cluster with 1,000 host-level rules (ports, port lists, CIDRs, ranges, most of them
restricted to a 10,000-entry ipset that has nomatch entries too) and a 10,000-entry
blacklist. Prints the one-off compile cost and the steady verdicts per second for packets to
the host: half aimed at the rules' ports, half at random ports (most of those fall through
every rule to the policy).
Each figure is the median of several runs; these machines are shared and noisy.
"""

from __future__ import annotations

import ipaddress
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".build"))

from ansible_collections.pve.firewall.plugins.module_utils._engine import test_suite_env as env  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import Endpoint, Packet, VerdictEngine  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import (  # noqa: E402
    ClusterConfig,
    FileKind,
    FirewallFile,
    IPSet,
    IPSetEntry,
    Rule,
)

RULES = 1_000
IPSET_ENTRIES = 10_000
PACKETS = 2_000
RUNS = 5


def big_ipset(rng: random.Random, name: str) -> IPSet:
    """Distinct /32s and /24s across 10.0.0.0/8, every tenth /24 with a nomatch host inside."""
    entries: dict[str, IPSetEntry] = {}
    while len(entries) < IPSET_ENTRIES:
        a, b, c = rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)
        if rng.random() < 0.7:
            entries.setdefault(f"10.{a}.{b}.{c}", IPSetEntry(f"10.{a}.{b}.{c}"))
        else:
            entries.setdefault(f"10.{a}.{b}.0/24", IPSetEntry(f"10.{a}.{b}.0/24"))
            if len(entries) % 10 == 0:
                entries.setdefault(f"10.{a}.{b}.{c}", IPSetEntry(f"10.{a}.{b}.{c}", nomatch=True))
    return IPSet(name, entries=tuple(entries.values())[:IPSET_ENTRIES])


def sample_rule(rng: random.Random, index: int) -> Rule:
    port = 1024 + index * 7 % 60000
    kind = index % 5
    if kind == 0:
        return Rule("in", "ACCEPT", proto="tcp", dport=str(port), source="+bigset")
    if kind == 1:
        return Rule("in", "DROP", proto="udp", dport=f"{port},{port + 2}:{port + 9}", source="+bigset")
    if kind == 2:
        return Rule("in", "ACCEPT", proto="tcp", dport=str(port), source=f"192.168.{index % 250}.0/24")
    if kind == 3:
        return Rule("in", "REJECT", proto="tcp", sport="1024:65535", dport=str(port), source="172.20.0.1-172.20.0.99")
    return Rule("in", "ACCEPT", macro="SSH", source="+bigset", dest="172.16.1.0/24")


def build(rng: random.Random) -> VerdictEngine:
    cluster = FirewallFile(
        FileKind.CLUSTER,
        options={"enable": 1},
        ipsets=(big_ipset(rng, "bigset"), big_ipset(rng, "blacklist")),
        rules=tuple(sample_rule(rng, index) for index in range(RULES)),
    )
    return VerdictEngine(ClusterConfig(cluster), env.environment())


def packets(rng: random.Random) -> list[Packet]:
    """Half aimed at the rules' ports (so ipsets and addresses are consulted), half random."""
    found = []
    for number in range(PACKETS):
        source = str(ipaddress.IPv4Address(rng.choice([0x0A000000, 0xAC140000, 0xC0A80000]) + rng.randrange(1 << 16)))
        dport = 1024 + rng.randrange(RULES) * 7 % 60000 if number % 2 else rng.randrange(1, 65536)
        found.append(Packet(source, env.HOST_ADDRESS, proto=rng.choice(["tcp", "udp"]), sport=rng.randrange(1024, 65536), dport=dport))
    return found


def main() -> None:
    rng = random.Random(4711)
    source, dest = Endpoint.outside(), Endpoint.host()
    compile_times, rates = [], []
    verdicts: dict[str, int] = {}
    for _run in range(RUNS):
        engine = build(rng)
        batch = packets(rng)
        started = time.perf_counter()
        engine.evaluate(source, dest, batch[0])  # compiles the rule lists and ipsets
        compile_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        for packet in batch:
            verdict = engine.evaluate(source, dest, packet)
            verdicts[verdict.action] = verdicts.get(verdict.action, 0) + 1
        rates.append(len(batch) / (time.perf_counter() - started))
    print(f"verdict engine: {RULES} host-level rules, ipsets of {IPSET_ENTRIES} entries (with nomatch), {PACKETS} packets x {RUNS} runs")
    print(f"  first verdict (compiles rules and ipsets): {statistics.median(compile_times) * 1000:.0f} ms")
    print(f"  verdicts per second (median): {statistics.median(rates):,.0f}")
    print(f"  verdicts seen: {', '.join(f'{name} {count}' for name, count in sorted(verdicts.items()))}")


if __name__ == "__main__":
    main()
