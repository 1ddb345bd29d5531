"""Requests, writes and wall time of the blocklist playbook on a 70,000-entry list (``make bench-blocklist``).

``ansible-playbook pve.firewall.blocklist`` runs as a user runs it, against an in-process
HTTPS emulator. The list is a realistic feed: comment header, blank lines, ``; SBL`` trailing
comments, mostly /32 hosts with /24../28 networks and a few IPv6 networks, and lines that
merging removes (halves of a network, hosts inside a listed network, duplicates). The IP set
is seeded as PVE would hold it after an earlier refresh, by writing ``cluster.fw`` through the
emulator's control API: converging 70,000 entries from empty costs one POST per entry, and
each write rewrites the whole file.

Scenarios:

1. preview: the feed moved by 1% (half of that removed, half added), ``--check --diff``;
2. refresh: the same feed for real, writing the delta only;
3. rerun: the same feed again, nothing to write.

Printed per scenario: address lines in the file, entries after merging, API requests,
writes, wall time of the whole ansible-playbook run, and the emulator's own time on the
requests (server s). Figures only, no assertions: compare them between changes, on the same
machine. The emulator, like PVE, re-reads and rewrites the whole ``cluster.fw`` on each write,
so a write costs time in proportion to the set's size; the table shows what that costs.

The sizes are ones a cluster holds: pmxcfs refuses a file over 1 MiB (1,048,576 bytes), and
the 70,000-line feed's 66,673 entries make a 974,280-byte ``cluster.fw`` (about 14.6 bytes an
entry, 93% of the limit). The bench refuses an ``--entries`` whose file would not fit, as the
ipset module does.

    PYTHONPATH=.build python tests/bench/bench_blocklist.py [--entries 70000] [--delta 700]
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / ".build"))

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import render_fw  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_size import PMXCFS_MAX_FILE_SIZE  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile, IPSet, IPSetEntry, Rule  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator, start_in_process  # noqa: E402
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection  # noqa: E402

IPSET = "blocklist"
COMMENT = "drop feed"
DROP_RULES = (
    Rule(type="in", action="DROP", source=f"+{IPSET}", comment="blocklist"),
    Rule(type="out", action="DROP", dest=f"+{IPSET}", comment="blocklist"),
)
OTHER_RULES = (
    Rule(type="in", action="ACCEPT", macro="SSH", source="192.0.2.0/24", comment="admin ssh"),
    Rule(type="in", action="ACCEPT", proto="tcp", dport="8006", source="192.0.2.0/24", comment="admin gui"),
)


# --------------------------------------------------------------------------------------------
# The feed


@dataclass(frozen=True)
class Network:
    """One network of the feed and the lines that list it (more than one when merging or
    de-duplication folds them into it)."""

    cidr: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Feed:
    networks: tuple[Network, ...]
    header: str = "# Blocklist for the pve.firewall benchmark\n# one address or CIDR per line\n\n"

    @property
    def entries(self) -> list[str]:
        """What the IP set holds after merging: one entry per network."""
        return [network.cidr for network in self.networks]

    @property
    def listed(self) -> int:
        """Address lines of the file (comments and blank lines not counted)."""
        return sum(len(network.lines) for network in self.networks)

    def text(self) -> str:
        out = [self.header]
        for index, network in enumerate(self.networks):
            if index and index % 1000 == 0:
                out.append(f"\n# part {index // 1000}\n")
            out.extend(f"{line}\n" for line in network.lines)
        return "".join(out)

    def changed(self, delta: int, seed: int = 11) -> tuple[Feed, list[str], list[str]]:
        """The feed with ``delta // 2`` one-line IPv4 networks dropped and as many new ones
        added; also the dropped and the added entries."""
        rng = random.Random(seed)
        single = [index for index, network in enumerate(self.networks) if len(network.lines) == 1 and ":" not in network.cidr]
        dropped = set(rng.sample(single, delta // 2))
        space = _Space.of(self.entries)
        fresh = tuple(_network(rng, space, redundant=False) for _index in range(delta // 2))
        kept = tuple(network for index, network in enumerate(self.networks) if index not in dropped)
        return Feed(kept + fresh, self.header), [self.networks[index].cidr for index in sorted(dropped)], [network.cidr for network in fresh]


@dataclass
class _Space:
    """The /24s (IPv4) and /48s (IPv6) in use. Every network gets one of its own, an even one,
    so no two networks of a feed overlap or lie side by side (which would merge them)."""

    v4: set[int]
    v6: set[int]

    @classmethod
    def of(cls, cidrs: list[str]) -> _Space:
        networks = [ipaddress.ip_network(cidr) for cidr in cidrs]
        return cls(
            {int(net.network_address) >> 8 for net in networks if net.version == 4},
            {int(net.network_address) >> 80 & 0xFFFF for net in networks if net.version == 6},
        )

    def take(self, rng: random.Random, used: set[int], low: int, high: int) -> int:
        while True:
            block = rng.randrange(low, high) * 2
            if block not in used:
                used.add(block)
                return block


def _v4(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def _network(rng: random.Random, space: _Space, *, redundant: bool) -> Network:
    """A network as public lists have them: mostly hosts, some /24../28, few IPv6; with
    ``redundant``, some listed by lines that merging or de-duplication fold into it."""
    kind = rng.random()
    sbl = f" ; SBL{rng.randrange(100000, 999999)}" if rng.random() < 0.1 else ""
    if kind < 0.02:
        net = ipaddress.IPv6Network(((0x2001_0DB8 << 96) | (space.take(rng, space.v6, 0, 1 << 15) << 80), rng.choice([48, 56, 64])))
        return Network(str(net), (f"{net}{sbl}",))
    base = space.take(rng, space.v4, 1 << 15, 223 << 15) << 8  # 1.0.0.0 .. 222.255.254.0
    if kind < 0.80:
        host = _v4(base + rng.randrange(1, 255))
        return Network(host, (f"{host}{sbl}",))
    prefix = rng.choice([24, 25, 26, 27, 28])
    cidr = f"{_v4(base)}/{prefix}"
    extra = rng.random() if redundant else 1.0
    if extra < 0.10:  # listed as its two halves
        half = 1 << (31 - prefix)
        return Network(cidr, (f"{_v4(base)}/{prefix + 1}", f"{_v4(base + half)}/{prefix + 1}{sbl}"))
    if extra < 0.20:  # a host inside it listed too
        return Network(cidr, (f"{cidr}{sbl}", _v4(base + rng.randrange(1 << (32 - prefix)))))
    if extra < 0.25:  # listed twice, once with host bits set
        return Network(cidr, (f"{_v4(base + 1)}/{prefix}", f"{cidr}{sbl}"))
    return Network(cidr, (f"{cidr}{sbl}",))


def make_feed(lines: int, seed: int = 7) -> Feed:
    """A feed of exactly ``lines`` address lines."""
    rng = random.Random(seed)
    space = _Space(set(), set())
    networks: list[Network] = []
    count = 0
    while count < lines:
        network = _network(rng, space, redundant=lines - count > 1)
        networks.append(network)
        count += len(network.lines)
    return Feed(tuple(networks))


def seeded_cluster_fw(entries: list[str], *, rules: bool = True) -> str:
    """cluster.fw as PVE holds it after a refresh of ``entries``: the set, and with ``rules``
    the DROP rules on top of two other rules."""
    fw = FirewallFile(
        FileKind.CLUSTER,
        rules=(DROP_RULES + OTHER_RULES) if rules else OTHER_RULES,
        ipsets=(IPSet(IPSET, COMMENT, tuple(IPSetEntry(cidr) for cidr in entries)),),
    )
    return render_fw(fw)


# --------------------------------------------------------------------------------------------
# Running the playbook


def connection_env(running: RunningEmulator) -> dict[str, str]:
    names = {
        "api_host": "PROXMOX_HOST",
        "api_port": "PROXMOX_PORT",
        "api_token_id": "PROXMOX_TOKEN_ID",
        "api_token_secret": "PROXMOX_TOKEN_SECRET",
        "ca_path": "PROXMOX_CA_PATH",
    }
    return {names[key]: str(value) for key, value in module_connection(running).items()}


def run_blocklist(work: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook pve.firewall.blocklist`` in ``work`` with ``env`` and arguments."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "pve.firewall.blocklist", *extra]
    environment = {
        **os.environ,
        **env,
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".build"),
        "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=work, timeout=3600, check=False)


@dataclass(frozen=True)
class Outcome:
    scenario: str
    listed: int
    entries: int
    requests: int
    writes: int
    seconds: float
    server_seconds: float  # the emulator's own time on the requests


def measure(running: RunningEmulator, work: Path, scenario: str, feed: Feed, *extra: str) -> Outcome:
    listing = work / "feed.txt"
    listing.write_text(feed.text())
    seq = int(running.control.requests(10**12)["last_seq"])
    begin = time.perf_counter()
    completed = run_blocklist(work, connection_env(running), "-e", f"blocklist_file={listing}", "-e", f"blocklist_comment='{COMMENT}'", *extra)
    seconds = time.perf_counter() - begin
    if completed.returncode != 0:
        raise SystemExit(f"{scenario}: ansible-playbook failed\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    requests = running.control.requests(seq)["requests"]
    writes = sum(1 for request in requests if request["method"] != "GET")
    server = sum(float(request.get("duration_ms") or 0) for request in requests) / 1000
    return Outcome(scenario, feed.listed, len(feed.entries), len(requests), writes, seconds, server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=70_000, help="address lines of the feed")
    parser.add_argument("--delta", type=int, default=None, help="entries that change: half removed, half added (default: 1%% of --entries)")
    args = parser.parse_args()
    delta = args.delta if args.delta is not None else args.entries // 100

    base = make_feed(args.entries)
    moved, dropped, added = base.changed(delta)
    seeded = seeded_cluster_fw(base.entries)
    size = max(len(seeded.encode()), len(seeded_cluster_fw(moved.entries).encode()))
    if size > PMXCFS_MAX_FILE_SIZE:
        parser.error(f"--entries {args.entries}: cluster.fw would be {size:,} bytes, over pmxcfs' {PMXCFS_MAX_FILE_SIZE:,}; a cluster cannot hold it")
    print(
        f"cluster.fw: {size:,} bytes of at most {PMXCFS_MAX_FILE_SIZE:,}\n"
        f"feed: {base.listed:,} address lines, {len(base.entries):,} entries after merging; "
        f"refresh: -{len(dropped)} +{len(added)} entries ({delta / args.entries:.1%} of the lines)",
        flush=True,
    )
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="bench-blocklist-") as state:
        running = start_in_process(Path(state) / "emulator", tls=True)
        try:
            assert running.emulator is not None
            running.emulator.reset()
            running.control.settings(judging=False)
            running.control.write_file("firewall/cluster.fw", seeded)
            work = Path(state) / "work"
            work.mkdir()
            for scenario, extra in (("1 preview (--check --diff)", ("--check", "--diff")), ("2 refresh", ()), ("3 rerun, no change", ())):
                print(f"  {scenario} ...", flush=True)
                outcomes.append(measure(running, work, scenario, moved, *extra))
        finally:
            running.close_clients()
            assert running.emulator is not None
            running.emulator.stop()

    print()
    header = f"{'scenario':<28} {'address lines':>13} {'after merging':>13} {'requests':>8} {'writes':>6} {'wall s':>7} {'server s':>8}"
    print(header)
    print("-" * len(header))
    for outcome in outcomes:
        print(
            f"{outcome.scenario:<28} {outcome.listed:>13,} {outcome.entries:>13,} {outcome.requests:>8} {outcome.writes:>6} "
            f"{outcome.seconds:>7.1f} {outcome.server_seconds:>8.1f}"
        )
    refresh, rerun = outcomes[1], outcomes[2]
    if refresh.writes:
        per_write = (refresh.seconds - rerun.seconds) / refresh.writes
        print(
            f"\nthe refresh's {refresh.writes} writes took {per_write:.2f} s each beyond the rerun's {rerun.seconds:.1f} s "
            f"(the emulator's own time: {refresh.server_seconds / refresh.requests:.2f} s a request): each rewrites the whole file"
        )
    try:
        load = os.getloadavg()
        print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs (figures grow with the load)")
    except OSError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
