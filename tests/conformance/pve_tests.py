"""Run packet-verdict test directories in PVE's upstream format against the verdict engine.

    python tests/conformance/pve_tests.py DIR [DIR ...] [--verbose]

Each DIR holds ``cluster.fw``, optionally ``host.fw`` and ``<vmid>.fw``, and a ``tests`` file
of one Perl-hash-like line per test (reference 6.2). Extensions of the format are described
in tests/conformance/README.md (IPv6, ICMP types, ``sport``, ``now``, ``inventory.yml``).
The environment is PVE's test environment (reference 6.1) unless the directory overrides the
guests; ``corosync.conf`` is read from DIR, then from DIR's parent, else PVE's test
membership is used.

Prints one line per failing simulation and closes with ``N passed, M failed``; the exit
status is non-zero when a simulation fails or a directory cannot be run.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _make_collection_importable() -> None:
    """``ansible_collections.pve.firewall`` is the repository, through .build's symlink."""
    build = REPO_ROOT / ".build"
    link = build / "ansible_collections" / "pve" / "firewall"
    if not link.exists() and not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:  # created concurrently
            pass
    if str(build) not in sys.path:
        sys.path.insert(0, str(build))


_make_collection_importable()

import yaml  # noqa: E402

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import load_fw_dir  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._compiler.inventory_input import inventory_from_user  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._engine import endpoints  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._engine import test_suite_env as env  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._engine.sdn import sdn_from_data  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import (  # noqa: E402
    VERDICTS,
    Endpoint,
    Packet,
    Verdict,
    VerdictEngine,
    VerdictError,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.corosync import Corosync, parse_corosync_conf  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Inventory  # noqa: E402
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import ClusterConfig, FileKind, FirewallFile  # noqa: E402

CONTROL_KEYS = ("from", "to", "action", "id")
PACKET_KEYS = ("proto", "dport", "sport", "source", "dest", "srctype", "dsttype")
EXTENSION_KEYS = ("icmptype", "mac", "now", "backend")
BACKENDS = {"iptables": False, "nftables": True}  # the value of host option nftables on every node
_PAIR_RE = re.compile(r"\s*(\w+)\s*=>\s*(?:'([^']*)'|\"([^\"]*)\"|([^,\s}]+))\s*(,|$)")


class TestFormatError(ValueError):
    pass


@dataclass(frozen=True)
class TestLine:
    path: Path
    number: int
    text: str
    values: dict[str, str]

    @property
    def label(self) -> str:
        ident = self.values.get("id")
        return f"{self.path.parent.name} line {self.number}" + (f" (id {ident})" if ident else "")


@dataclass
class Result:
    passed: int = 0
    failures: list[str] = field(default_factory=list)


def parse_test_line(text: str) -> dict[str, str]:
    """``{ key => 'value', key => 42 }`` into a dict of strings (PVE evaluates it as Perl)."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise TestFormatError(f"parse error: not a {{ ... }} line: {text.strip()}")
    inner = body[1:-1].strip()
    values: dict[str, str] = {}
    position = 0
    while position < len(inner):
        match = _PAIR_RE.match(inner, position)
        if not match:
            raise TestFormatError(f"parse error at '{inner[position:]}'")
        key = match.group(1)
        value = next(group for group in match.group(2, 3, 4) if group is not None)
        if key not in CONTROL_KEYS + PACKET_KEYS + EXTENSION_KEYS:
            raise TestFormatError(f"unknown attribute '{key}'")
        values[key] = value
        position = match.end()
    return values


def read_tests(path: Path) -> Iterator[TestLine]:
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        yield TestLine(path, number, line, parse_test_line(line))


def _corosync(directory: Path, inventory: Inventory) -> Corosync:
    membership = env.COROSYNC
    for candidate in (directory / "corosync.conf", directory.parent / "corosync.conf"):
        if candidate.is_file():
            membership = parse_corosync_conf(candidate.read_text(encoding="utf-8"))
            break
    # PVE's tests call the local node 'proxself' and replace it by the host's name.
    nodes = sorted(inventory.nodes)
    return membership.renamed(env.NODE, nodes[0]) if len(nodes) == 1 else membership


def _inventory(directory: Path) -> Inventory:
    path = directory / "inventory.yml"
    if not path.is_file():
        return env.INVENTORY
    data = dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    sdn, sdn_errors = sdn_from_data(data.pop("sdn", None))
    inventory, errors = inventory_from_user(data)
    if inventory is None or sdn_errors:
        raise TestFormatError(f"{path}: " + "; ".join([*map(str, errors), *sdn_errors]))
    return replace(inventory, sdn=sdn)


def _now(value: str | None, cluster_enable: object) -> float | None:
    """``now => 1700000000`` is a UNIX time; ``now => '+90'`` is relative to the cluster's
    ``enable`` timestamp (for the 60 s auto-revert)."""
    if value is None:
        return None
    if value[:1] in "+-":
        if not isinstance(cluster_enable, int) or cluster_enable <= 1:
            raise TestFormatError("a relative 'now' needs an 'enable: <timestamp>' in cluster.fw")
        return cluster_enable + int(value)
    return float(value)


def with_backend(config: ClusterConfig, nodes: list[str], backend: str | None) -> ClusterConfig:
    """The configuration with every node's host option ``nftables`` set for ``backend``
    (``iptables`` or ``nftables``); None keeps the files as they are."""
    if backend is None:
        return config
    if backend not in BACKENDS:
        raise TestFormatError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    hosts = dict(config.hosts)
    for node in nodes:
        fw = hosts.get(node) or FirewallFile(FileKind.HOST)
        hosts[node] = replace(fw, options={**fw.options, "nftables": BACKENDS[backend]})
    return replace(config, hosts=hosts)


def _packet(values: dict[str, str], source: Endpoint, dest: Endpoint, inventory: Inventory) -> Packet:
    source_address, dest_address = endpoints.default_addresses(source, dest, inventory, values.get("source"), values.get("dest"))
    proto = values.get("proto", "tcp")
    dport, icmp_type = endpoints.icmp_type_from_dport(proto, values.get("dport"), values.get("icmptype"))
    return Packet(
        source=source_address,
        dest=dest_address,
        proto=proto,
        dport=int(dport) if dport is not None else None,
        sport=int(values["sport"]) if "sport" in values else None,
        icmp_type=icmp_type,
        srctype=values.get("srctype"),
        dsttype=values.get("dsttype"),
        source_mac=values.get("mac"),
    )


def _trail_text(verdict: Verdict) -> str:
    return " | ".join(str(step) for step in verdict.trail if step.kind != "note" or step.action != "-")


def run_directory(directory: Path, *, verbose: bool = False) -> Result:
    """Every simulation of one directory (zones expanded as PVE does)."""
    result = Result()
    inventory = _inventory(directory)
    corosync = _corosync(directory, inventory)
    loaded = load_fw_dir(directory, inventory)
    cluster_enable = loaded.config.cluster.options.get("enable")
    engines: dict[tuple[float | None, str | None], VerdictEngine] = {}
    tests_path = directory / "tests"
    for test in read_tests(tests_path):
        values = test.values
        expected = values.get("action")
        if expected not in (*VERDICTS, "QUERY"):
            raise TestFormatError(f"{test.label}: action must be one of {', '.join(VERDICTS)} or QUERY, not {expected!r}")
        if "from" not in values and "to" not in values:
            raise TestFormatError(f"{test.label}: a test needs 'from' or 'to'")
        if "from" in values and "to" in values:
            pairs = [(values["from"], values["to"])]
        else:  # run from (or to) every zone but the given one
            given = values.get("from") or values.get("to")
            pairs = [(values.get("from", zone), values.get("to", zone)) for zone in env.EXPANSION_ZONES if zone != given]
        now = _now(values.get("now"), cluster_enable)
        backend = values.get("backend")
        engine = engines.get((now, backend))
        if engine is None:
            config = with_backend(loaded.config, sorted(inventory.nodes), backend)
            engine = engines[(now, backend)] = VerdictEngine(config, env.environment(inventory, corosync, now))
        for source_zone, dest_zone in pairs:
            if source_zone == dest_zone:
                raise TestFormatError(f"{test.label}: from/to needs to be different")
            try:
                source = endpoints.parse_endpoint(source_zone, inventory)
                dest = endpoints.parse_endpoint(dest_zone, inventory)
                verdict = engine.evaluate(source, dest, _packet(values, source, dest, inventory))
            except VerdictError as error:
                result.failures.append(f"{directory} line {test.number}: {test.text} [from {source_zone} to {dest_zone}]: error: {error}")
                continue
            if expected == "QUERY" or verdict.action == expected:
                result.passed += 1
                if verbose:
                    print(f"ok {test.label} {source_zone} -> {dest_zone}: {verdict.action}: {_trail_text(verdict)}")
                continue
            result.failures.append(
                f"{directory} line {test.number}: {test.text} [from {source_zone} to {dest_zone}]: "
                f"expected {expected}, got {verdict.action}; trail: {_trail_text(verdict)}"
            )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("directories", nargs="+", type=Path, metavar="DIR")
    parser.add_argument("--verbose", action="store_true", help="also print passing simulations with their trail")
    args = parser.parse_args(argv)
    passed = failed = 0
    started = time.monotonic()
    for directory in args.directories:
        try:
            result = run_directory(directory, verbose=args.verbose)
        except (OSError, TestFormatError, VerdictError, ValueError) as error:
            print(f"{directory}: cannot run: {error}")
            failed += 1
            continue
        passed += result.passed
        failed += len(result.failures)
        for failure in result.failures:
            print(failure)
    if args.verbose:
        print(f"({time.monotonic() - started:.2f}s)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
