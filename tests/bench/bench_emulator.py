"""Requests per second the PVE API emulator serves (``make bench-emulator``).

Starts the emulator's command line as a subprocess (so client and server do not share a
GIL), fills cluster.fw with rules, then runs bounded loops of reads and writes from a few
client threads over kept-alive connections, and prints the rates. No assertions: the
figures are for comparing changes, on this 2-core machine.

    PYTHONPATH=.build python tests/bench/bench_emulator.py [--tls] [--threads N] [--requests N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build"))

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator, start_process, stop_process  # noqa: E402

RULES = "/cluster/firewall/rules"


def _rate(label: str, threads: int, count: int, work: Callable[[ApiClient, int, int], None], running: RunningEmulator) -> None:
    clients = [running.api(f"pve{index % len(running.nodes) + 1}") for index in range(threads)]
    for client in clients:
        client.get("/version")  # connect before timing
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda index: [work(clients[index], index, item) for item in range(count)], range(threads)))
    elapsed = time.perf_counter() - started
    total = threads * count
    print(f"{label:<44} {total:>6} requests  {elapsed:6.2f} s  {total / elapsed:8.1f} req/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tls", action="store_true", help="measure over HTTPS")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=250, help="requests per thread and scenario")
    parser.add_argument("--rules", type=int, default=50, help="rules in cluster.fw while reading")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-emulator-") as state:
        process, running = start_process(Path(state), *(["--tls"] if args.tls else []))
        try:
            setup = running.api()
            for index in range(args.rules):
                setup.post(
                    RULES, type="in", action="ACCEPT", proto="tcp", dport=str(1000 + index), source="10.0.0.0/8", comment=f"rule {index}", enable=1
                )
            print(f"emulator {'https' if args.tls else 'http'}, {args.threads} client threads, {args.rules} rules in cluster.fw")
            _rate("GET /version (no file access)", args.threads, args.requests, lambda api, t, i: api.get("/version"), running)
            _rate(f"GET {RULES} ({args.rules} rules)", args.threads, args.requests, lambda api, t, i: api.get(RULES), running)
            _rate("GET /cluster/firewall/options", args.threads, args.requests, lambda api, t, i: api.get("/cluster/firewall/options"), running)
            _rate(
                "POST guest rules (one file per thread)",
                args.threads,
                args.requests // 5,
                lambda api, t, i: api.post(
                    f"/nodes/{['pve1', 'pve2', 'pve3', 'pve1'][t % 4]}/{['qemu/100', 'qemu/101', 'qemu/102', 'lxc/200'][t % 4]}/firewall/rules",
                    type="in",
                    action="ACCEPT",
                    comment=f"{t}-{i}",
                ),
                running,
            )
            _rate(
                "PUT cluster rule (one file, serialised)",
                args.threads,
                args.requests // 5,
                lambda api, t, i: api.put(f"{RULES}/{t}", comment=f"t{t} i{i}"),
                running,
            )
            _rate(
                "POST cluster alias (one file, serialised)",
                args.threads,
                args.requests // 5,
                lambda api, t, i: api.post("/cluster/firewall/aliases", name=f"a{t}x{i}", cidr="192.0.2.1"),
                running,
            )
        finally:
            running.close_clients()
            stop_process(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())
