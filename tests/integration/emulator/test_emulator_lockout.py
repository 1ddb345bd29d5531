"""The lockout simulation: new connections are judged by the verdict engine against the
configuration on disk; a bad policy really locks a client out until it changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, probe
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import DEFAULT_TOPOLOGY, topology_from_data

OUTSIDER = "127.0.0.1"  # not in the nodes' local network below
PROBE_TIMEOUT = 0.5


def _topology(local_network: str):  # noqa: ANN202 - a Topology
    nodes = [{"name": node["name"], "local_network": local_network} for node in DEFAULT_TOPOLOGY["nodes"]]
    return topology_from_data({**DEFAULT_TOPOLOGY, "nodes": nodes})


@pytest.fixture
def cluster(make_pve_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    """Judging on; the nodes' local network is a documentation range, so loopback clients
    are no management hosts."""
    return make_pve_emulator(topology=_topology("192.0.2.0/24"), judging=True)


def _reach(running: RunningEmulator, node: str = "pve1", *, ssh: bool = False, source: str = OUTSIDER) -> str:
    host, api_port, ssh_port = running.node_host(node)
    return probe(host, ssh_port if ssh and ssh_port else api_port, source_address=source, timeout=PROBE_TIMEOUT)


def _admin(running: RunningEmulator) -> ApiClient:
    """An established (kept-alive) connection, opened before any policy applies."""
    admin = running.api(source_address=OUTSIDER)
    admin.get("/version")
    return admin


def test_a_drop_policy_without_management_rule_locks_out_until_the_auto_revert(cluster: RunningEmulator) -> None:
    admin = _admin(cluster)
    assert _reach(cluster) == "open"
    admin.put("/cluster/firewall/options", policy_in="DROP", enable=2)  # enable with the 60 s revert
    assert _reach(cluster) == "timeout"
    assert _reach(cluster, ssh=True) == "timeout"
    assert _reach(cluster, "pve3") == "timeout"  # the cluster policy applies to every node
    cluster.control.advance_clock(61)
    assert _reach(cluster) == "open"
    assert _reach(cluster, ssh=True) == "open"


def test_established_connections_survive_a_lockout(cluster: RunningEmulator) -> None:
    admin = _admin(cluster)
    admin.put("/cluster/firewall/options", policy_in="DROP", enable=1)
    assert _reach(cluster) == "timeout"
    assert admin.get("/cluster/firewall/options")["policy_in"] == "DROP"  # conntrack: still served
    admin.put("/cluster/firewall/options", enable=0)
    assert _reach(cluster) == "open"


def test_a_reject_policy_refuses_connections(cluster: RunningEmulator) -> None:
    _admin(cluster).put("/cluster/firewall/options", policy_in="REJECT", enable=1)
    assert _reach(cluster) == "refused"


def test_a_management_rule_keeps_the_api_reachable(cluster: RunningEmulator) -> None:
    admin = _admin(cluster)
    admin.post("/cluster/firewall/rules", type="in", action="ACCEPT", source=OUTSIDER, proto="tcp", dport="8006", enable=1)
    admin.put("/cluster/firewall/options", policy_in="DROP", enable=1)
    assert _reach(cluster) == "open"
    assert _reach(cluster, ssh=True) == "timeout"  # only 8006 was allowed
    assert _reach(cluster, source="127.0.0.2") == "timeout"  # only from that address


def test_host_rules_decide_per_node(cluster: RunningEmulator) -> None:
    admin = _admin(cluster)
    admin.post("/nodes/pve2/firewall/rules", type="in", action="ACCEPT", proto="tcp", dport="8006", enable=1)
    admin.put("/cluster/firewall/options", policy_in="DROP", enable=1)
    assert _reach(cluster, "pve2") == "open"
    assert _reach(cluster, "pve1") == "timeout"


def test_management_hosts_pass_a_drop_policy_but_not_a_user_drop_rule(make_pve_emulator: Callable[..., RunningEmulator]) -> None:
    running = make_pve_emulator(judging=True)  # default: the loopback network is the nodes' local network
    admin = _admin(running)
    admin.put("/cluster/firewall/options", policy_in="DROP", enable=1)
    assert _reach(running) == "open"  # management exception (local_network, tcp 8006)
    admin.post("/cluster/firewall/rules", type="in", action="DROP", proto="tcp", dport="8006", enable=1)
    assert _reach(running) == "timeout"  # user rules come before the management exceptions


def test_refused_connections_are_logged_in_the_node_firewall_log(cluster: RunningEmulator) -> None:
    admin = _admin(cluster)
    admin.put("/nodes/pve1/firewall/options", log_level_in="warning")
    admin.put("/cluster/firewall/options", policy_in="DROP", enable=1)
    assert _reach(cluster) == "timeout"
    lines = admin.get("/nodes/pve1/firewall/log")
    assert len(lines) == 1
    text = lines[0]["t"]
    assert text.startswith("0 4 PVEFW-HOST-IN ") and " policy DROP: " in text
    assert f"SRC={OUTSIDER} " in text and " DPT=8006 " in text


def test_judging_can_be_switched_off(cluster: RunningEmulator) -> None:
    _admin(cluster).put("/cluster/firewall/options", policy_in="DROP", enable=1)
    assert _reach(cluster) == "timeout"
    cluster.control.settings(judging=False)
    assert _reach(cluster) == "open"
    assert cluster.control.judge(OUTSIDER, "pve1")["action"] == "DROP"  # the verdict itself is unchanged


def test_the_shared_emulator_judges_by_default(pve: RunningEmulator) -> None:
    admin = _admin(pve)
    admin.put("/cluster/firewall/options", enable=1)
    admin.post("/cluster/firewall/rules", type="in", action="REJECT", proto="tcp", dport="8006", enable=1)
    assert _reach(pve) == "refused"
    assert _reach(pve, ssh=True) == "open"
