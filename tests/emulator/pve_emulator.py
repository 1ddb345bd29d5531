"""Run the PVE API emulator until SIGTERM or SIGINT.

    python tests/emulator/pve_emulator.py --topology FILE --state-dir DIR [--tls]
        [--token USER@REALM!ID=SECRET] [--read-only-token ...] [--user root@pam --password ...]
        [--listen-base 127.0.10.1] [--port 8006] [--ssh-port 2222] [--no-judge]

It prints the addresses it serves (and the CA file with --tls), then a last line
``ready {json}`` with the same facts for programs that start it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def _make_importable() -> None:
    """Make ``ansible_collections.pve.firewall`` importable when run as a script."""
    try:
        import ansible_collections.pve.firewall.plugins.module_utils._model.objects  # noqa: F401
        return
    except ImportError:
        pass
    build = _REPO / ".build"
    link = build / "ansible_collections" / "pve" / "firewall"
    if not (link.exists() and link.resolve() == _REPO):
        build = Path(tempfile.mkdtemp(prefix="pve-emulator-"))
        link = build / "ansible_collections" / "pve" / "firewall"
        link.parent.mkdir(parents=True)
        link.symlink_to(_REPO, target_is_directory=True)
    sys.path.insert(0, str(build))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Proxmox VE firewall API emulator (test and demo asset).")
    parser.add_argument("--topology", type=Path, help="YAML topology (default: 3 nodes, 3 VMs, 2 CTs, 2 vnets)")
    parser.add_argument("--state-dir", type=Path, required=True, help="where the .fw files live (laid out like /etc/pve)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a throwaway CA (written to STATE/pve-root-ca.pem)")
    parser.add_argument("--token", action="append", default=[], metavar="USER@REALM!ID=SECRET", help="an API token (repeatable)")
    parser.add_argument("--read-only-token", action="append", default=[], metavar="USER@REALM!ID=SECRET", help="a token whose writes get 403")
    parser.add_argument("--user", default="root@pam", help="user for POST /access/ticket (default root@pam)")
    parser.add_argument("--password", default="emulator", help="its password (default 'emulator')")
    parser.add_argument("--listen-base", help="address of the first node; node N listens on base+N-1 (default: the topology's addresses, 127.0.10.1..)")
    parser.add_argument("--port", type=int, default=8006, help="API port on every node (0: a free one)")
    parser.add_argument("--ssh-port", type=int, default=2222, help="SSH banner port on every node (0: a free one, -1: none)")
    parser.add_argument("--control-port", type=int, default=0, help="control API port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-judge", dest="judge", action="store_false", help="start with the lockout simulation off (also a control setting)")
    parser.add_argument("--latency", type=float, default=0.0, help="a round trip in seconds: added to every API request and per handshake of a new connection")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _make_importable()
    from ansible_collections.pve.firewall.tests.emulator.app import Emulator, EmulatorConfig
    from ansible_collections.pve.firewall.tests.emulator.auth import Token
    from ansible_collections.pve.firewall.tests.emulator.topology import load_topology

    tokens = tuple(Token.parse(spec) for spec in args.token) + tuple(Token.parse(spec, read_only=True) for spec in args.read_only_token)
    config = EmulatorConfig(
        state_dir=args.state_dir,
        topology=load_topology(args.topology),
        tls=args.tls,
        tokens=tokens,
        users=((args.user, args.password),),
        listen_base=args.listen_base,
        port=args.port,
        ssh_port=args.ssh_port,
        control_port=args.control_port,
        judging=args.judge,
        latency=args.latency,
        verbose=args.verbose,
    )
    emulator = Emulator(config).start()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    status = emulator.status()
    for endpoint in emulator.endpoints:
        ssh = f"  ssh {endpoint.host}:{endpoint.ssh_port}" if endpoint.ssh_port else ""
        print(f"node {endpoint.node}: {endpoint.api_url}{ssh}")
    print(f"control: {emulator.control_url}")
    if emulator.tls_files:
        print(f"ca: {emulator.tls_files.ca}")
    print(f"state: {status['state_dir']}")
    print("ready " + json.dumps({key: status[key] for key in ("nodes", "control_url", "ca", "fingerprint", "state_dir")}), flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
