"""`make demo`: harden an emulated three-node Proxmox VE cluster and show the result.

Starts the PVE API emulator (tests/emulator) over HTTPS with tools/demo-topology.yml, runs
`ansible-playbook pve.firewall.harden -e @playbooks/vars/harden-demo.yml` against it, prints
what changed (the API writes the emulator logged), the resulting cluster.fw, and a verdict
table: each packet asked of the live cluster with pve.firewall.firewall_simulate, and for the
nodes also a real new connection to the emulator, which drops what the firewall drops.
Then runs the playbook again to show that nothing changes, and stops the emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".build"))

from ansible_collections.pve.firewall.tests.emulator.client import ControlClient  # noqa: E402

WORK = ROOT / ".build" / "demo"
TOKEN_ID, TOKEN_SECRET = "root@pam!ansible", "demo-secret"
ADMIN, OUTSIDER = "127.0.0.1", "127.0.0.99"  # the controller; a loopback address in no admin network

# (what, from, to, proto, port): the packets of the verdict table
PACKETS = [
    ("admin to the web interface", ADMIN, "host:pve1", "tcp", 8006),
    ("admin to SSH", ADMIN, "host:pve2", "tcp", 22),
    ("office to the web interface", "198.51.100.7", "host:pve3", "tcp", 8006),
    ("outside to the web interface", OUTSIDER, "host:pve1", "tcp", 8006),
    ("outside to SSH", OUTSIDER, "host:pve2", "tcp", 22),
    ("outside to web1 HTTPS", OUTSIDER, "vm100", "tcp", 443),
    ("outside to web1 SSH", OUTSIDER, "vm100", "tcp", 22),
    ("admin to web1 SSH", ADMIN, "vm100", "tcp", 22),
    ("outside to db1 PostgreSQL", OUTSIDER, "vm102", "tcp", 5432),
    ("web1 to db1 PostgreSQL", "10.0.0.100", "vm102", "tcp", 5432),
    ("outside to dns1 DNS", OUTSIDER, "ct200", "udp", 53),
]


def banner(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def start_emulator() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    state = WORK / "state"
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    command = [
        sys.executable, str(ROOT / "tests/emulator/pve_emulator.py"), "--state-dir", str(state), "--topology", str(ROOT / "tools/demo-topology.yml"),
        "--tls", "--token", f"{TOKEN_ID}={TOKEN_SECRET}", "--port", "0", "--ssh-port", "0",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / ".build")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        print(f"    {line.rstrip()}" if not line.startswith("ready ") else "    ready", flush=True)
        if line.startswith("ready "):
            return process, json.loads(line[len("ready ") :])
    raise SystemExit(f"the emulator stopped before it was ready (exit {process.wait()})")


def ansible_env(ready: dict[str, Any]) -> dict[str, str]:
    first = ready["nodes"][0]
    return {
        **os.environ,
        "PROXMOX_HOST": first["host"],
        "PROXMOX_PORT": str(first["api_port"]),
        "PROXMOX_TOKEN_ID": TOKEN_ID,
        "PROXMOX_TOKEN_SECRET": TOKEN_SECRET,
        "PROXMOX_CA_PATH": ready["ca"],
        "PVE_DEMO_API_PORT": str(first["api_port"]),
        "PVE_DEMO_SSH_PORT": str(first["ssh_port"]),
        "PVE_DEMO_DIR": str(WORK),
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".build"),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_LOCAL_TEMP": str(WORK / "tmp"),
    }


def playbook(env: dict[str, str], *args: str, quiet: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("ansible-playbook")), *args]
    completed = subprocess.run(command, env=env, cwd=WORK, text=True, capture_output=quiet, check=False)
    if completed.returncode != 0:
        if quiet:
            print(completed.stdout[-4000:], completed.stderr[-2000:])
        raise SystemExit(f"ansible-playbook {' '.join(args)} failed (exit {completed.returncode})")
    return completed


def what_changed(control: ControlClient, since: int) -> None:
    writes = [entry for entry in control.requests(since)["requests"] if entry["method"] != "GET"]
    kinds = Counter(f"{entry['method']:6} {_shape(entry['path'])}" for entry in writes)
    print(f"    {len(writes)} API writes:")
    for kind, count in sorted(kinds.items(), key=lambda item: item[0].split()[1]):
        print(f"    {count:4} x {kind}")


def _shape(path: str) -> str:
    """/nodes/pve1/qemu/100/firewall/rules -> /nodes/{node}/qemu/{vmid}/firewall/rules"""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if index >= 1 and parts[index - 1] == "nodes":
            parts[index] = "{node}"
        elif index >= 1 and parts[index - 1] in ("qemu", "lxc"):
            parts[index] = "{vmid}"
        elif index >= 1 and parts[index - 1] in ("ipset", "groups", "aliases"):
            parts[index] = "{name}"
        elif index >= 1 and parts[index - 1] == "rules" and part.isdigit():
            parts[index] = "{pos}"
    return "/".join(parts)


def verdicts(env: dict[str, str]) -> list[dict[str, Any]]:
    """Ask the live cluster with pve.firewall.firewall_simulate, through ansible-playbook."""
    packets = [{"name": what, "from": source, "to": dest, "proto": proto, "dport": port} for what, source, dest, proto, port in PACKETS]
    output = WORK / "verdicts.json"
    play = [
        {
            "name": "Ask the hardened cluster what it does with each packet",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "tasks": [
                {"name": "simulate", "pve.firewall.firewall_simulate": {"source": "live", "packets": packets}, "register": "simulation"},
                {"name": "save", "ansible.builtin.copy": {"content": "{{ simulation.results | to_json }}", "dest": str(output), "mode": "0600"}},
            ],
        }
    ]
    path = WORK / "verdicts.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    playbook(env, str(path), quiet=True)
    return list(json.loads(output.read_text()))


def connection(ready: dict[str, Any], source: str, dest: str, port: int) -> str:
    """What a real new connection to a node gets from the emulator (nodes only)."""
    if not dest.startswith("host:") or source not in (ADMIN, OUTSIDER):
        return ""
    node = next(item for item in ready["nodes"] if item["node"] == dest.split(":", 1)[1])
    real_port = node["api_port"] if port == 8006 else node["ssh_port"]
    try:
        with socket.create_connection((node["host"], real_port), timeout=1.0, source_address=(source, 0)) as sock:
            if port == 8006:  # the API speaks TLS first: a finished handshake is an answer
                context = ssl.create_default_context(cafile=ready["ca"])
                with context.wrap_socket(sock, server_hostname=node["host"]):
                    return "answered"
            return "answered" if sock.recv(1) else "closed"
    except (ConnectionResetError, ConnectionRefusedError):
        return "reset"
    except TimeoutError:
        return "timed out"


def main() -> int:
    banner("Start the PVE API emulator: three nodes, three VMs, two containers (tools/demo-topology.yml)")
    process, ready = start_emulator()
    try:
        control = ControlClient(ready["control_url"])
        env = ansible_env(ready)
        since = int(control.requests(10**12)["last_seq"])

        banner("ansible-playbook pve.firewall.harden -e @playbooks/vars/harden-demo.yml")
        playbook(env, "pve.firewall.harden", "-e", f"@{ROOT / 'playbooks/vars/harden-demo.yml'}")

        banner("What changed")
        what_changed(control, since)

        banner("The resulting /etc/pve/firewall/cluster.fw")
        print("    " + (WORK / "state/firewall/cluster.fw").read_text().rstrip().replace("\n", "\n    "))

        banner("Verdicts of the hardened cluster (pve.firewall.firewall_simulate, source: live)")
        rows = [("packet", "from", "to", "port", "verdict", "new connection")]
        for (what, source, dest, proto, port), result in zip(PACKETS, verdicts(env)):
            rows.append((what, source, dest, f"{proto}/{port}", result["verdict"], connection(ready, source, dest, port)))
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        for index, row in enumerate(rows):
            print("    " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
            if index == 0:
                print("    " + "  ".join("-" * width for width in widths))
        print(
            "    new connection: a real TCP connection from that address to the emulated node's API (TLS) or SSH\n"
            "    listener, judged by the emulator's firewall; blank where none can be made on this machine:\n"
            "    the guests are not emulated as hosts, and only loopback addresses can be a connection's source."
        )

        banner("Run it again: nothing changes")
        since = int(control.requests(10**12)["last_seq"])
        again = playbook(env, "pve.firewall.harden", "-e", f"@{ROOT / 'playbooks/vars/harden-demo.yml'}", quiet=True)
        recap = next(line for line in again.stdout.splitlines() if line.startswith("localhost"))
        writes = [entry for entry in control.requests(since)["requests"] if entry["method"] != "GET"]
        print(f"    {' '.join(recap.split())}\n    {len(writes)} API writes")
        return 0
    finally:
        banner("Stop the emulator")
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
