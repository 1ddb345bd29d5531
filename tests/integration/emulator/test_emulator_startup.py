"""The emulator starts from its command line (TLS, tokens, addresses), serves every node,
keeps its state across a restart, and stops on SIGTERM."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, probe
from ansible_collections.pve.firewall.tests.emulator.fixtures import TOKEN, RunningEmulator, start_process, stop_process
from ansible_collections.pve.firewall.tests.emulator.server import SSH_BANNER


def test_command_line_serves_every_node_over_verified_tls(pve_emulator_process: RunningEmulator) -> None:
    running = pve_emulator_process
    assert running.ca and Path(running.ca).is_file()
    assert [node["node"] for node in running.nodes] == ["pve1", "pve2", "pve3"]
    for node in running.nodes:
        assert node["api_url"].startswith("https://")
        version = running.api(node["node"]).get("/version")
        assert version["release"] == "9.1"


def test_tls_refuses_a_client_without_the_ca(pve_emulator_process: RunningEmulator) -> None:
    client = ApiClient(pve_emulator_process.node_url(), token=f"{TOKEN.full_id}={TOKEN.secret}")
    with pytest.raises(ssl.SSLCertVerificationError):
        client.get("/version")


def test_any_node_serves_the_whole_cluster(pve_emulator_process: RunningEmulator) -> None:
    first, last = pve_emulator_process.api("pve1"), pve_emulator_process.api("pve3")
    first.post("/cluster/firewall/aliases", name="fromfirst", cidr="192.0.2.1")
    assert [alias["name"] for alias in last.get("/cluster/firewall/aliases")] == ["fromfirst"]
    first.post("/nodes/pve3/firewall/rules", type="in", action="ACCEPT", proto="tcp", dport="22", enable=1)
    assert last.get("/nodes/pve3/firewall/rules")[0]["dport"] == "22"


def test_ssh_port_answers_with_an_openssh_banner(pve_emulator_process: RunningEmulator) -> None:
    import socket

    host, _api_port, ssh_port = pve_emulator_process.node_host("pve2")
    assert ssh_port is not None
    with socket.create_connection((host, ssh_port), timeout=5) as sock:
        assert sock.recv(len(SSH_BANNER)) == SSH_BANNER
    assert probe(host, ssh_port) == "open"


def test_state_survives_a_restart_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    process, running = start_process(tmp_path)
    try:
        running.api().post("/cluster/firewall/ipset", name="kept", comment="across restarts")
    finally:
        running.close_clients()
        assert stop_process(process) == 0
    assert (tmp_path / "firewall" / "cluster.fw").read_text().startswith("[IPSET kept] # across restarts")
    process, running = start_process(tmp_path)
    try:
        assert running.api().get("/cluster/firewall/ipset")[0]["comment"] == "across restarts"
    finally:
        running.close_clients()
        stop_process(process)


def test_a_topology_file_sets_nodes_guests_and_vnets(tmp_path: Path) -> None:
    topology = tmp_path / "topology.yml"
    topology.write_text(
        "nodes:\n  - {name: alpha}\n  - {name: beta, local_network: 192.0.2.0/24}\n"
        "guests:\n  - {vmid: 4000, type: lxc, node: beta, name: cache, tags: [db, cache], nics: [{bridge: vmbr9, ip: 10.9.0.4/24}]}\n"
        "vnets:\n  - {name: blue, zone: z2}\n"
    )
    process, running = start_process(tmp_path / "state", "--topology", str(topology))
    try:
        api = running.api("beta")
        assert [node["node"] for node in api.get("/nodes")] == ["alpha", "beta"]
        (resource,) = api.get("/cluster/resources", type="vm")
        assert {key: resource[key] for key in ("id", "type", "node", "vmid", "name", "tags")} == {
            "id": "lxc/4000", "type": "lxc", "node": "beta", "vmid": 4000, "name": "cache", "tags": "db;cache",
        }
        assert api.get("/nodes/beta/lxc/4000/config")["net0"] == "name=eth0,bridge=vmbr9,hwaddr=BC:24:11:0F:A0:00,ip=10.9.0.4/24,firewall=1"
        api.post("/cluster/sdn/vnets/blue/firewall/rules", type="forward", action="ACCEPT", enable=1)
        assert (running.state_dir / "sdn" / "firewall" / "blue.fw").is_file()
    finally:
        running.close_clients()
        stop_process(process)


def test_a_bad_topology_stops_the_start(tmp_path: Path) -> None:
    topology = tmp_path / "topology.yml"
    topology.write_text("nodes:\n  - {name: alpha}\nguests:\n  - {vmid: 100, node: gamma}\n")
    with pytest.raises(RuntimeError, match="unknown node 'gamma'"):
        start_process(tmp_path / "state", "--topology", str(topology))
