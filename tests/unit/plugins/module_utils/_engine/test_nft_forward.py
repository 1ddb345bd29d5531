"""Forward traffic and vnet firewalls on the nftables backend, and the +sdn/ sets on both
backends (docs/nftables.md, "Forward traffic", "SDN IP sets").

As in test_nft_verdict, most tests ask one question of both backends: forward rules and vnet
firewalls are inert on the iptables backend, so a difference not modelled gives two equal
answers and the assertion fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import load_fw_dir
from ansible_collections.pve.firewall.plugins.module_utils._compiler.inventory_input import inventory_from_user
from ansible_collections.pve.firewall.plugins.module_utils._engine import endpoints
from ansible_collections.pve.firewall.plugins.module_utils._engine.sdn import sdn_from_data, sdn_sets
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import Environment, Packet, Verdict, VerdictEngine, VerdictError
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Inventory

INVENTORY_DATA = {
    "nodes": {"pve1": {"address": "172.16.1.2", "local_network": "172.16.1.0/24"}, "pve2": {"address": "172.16.1.3", "local_network": "172.16.1.0/24"}},
    "guests": {
        100: {"type": "qemu", "node": "pve1", "nics": {"net0": {"bridge": "vnet1", "mac": "0E:0B:38:B8:B3:21", "firewall": True}}},
        101: {"type": "qemu", "node": "pve1", "nics": {"net0": {"bridge": "vnet1", "mac": "0E:0B:38:B8:B3:22", "firewall": True}}},
        102: {"type": "qemu", "node": "pve1", "nics": {"net0": {"bridge": "vmbr0", "mac": "0E:0B:38:B8:B3:23", "firewall": True}}},
        103: {"type": "qemu", "node": "pve2", "nics": {"net0": {"bridge": "vnet1", "mac": "0E:0B:38:B8:B3:24", "firewall": True}}},
    },
}
SDN_DATA: Mapping[str, object] = MappingProxyType(
    {
        "vnets": {
            "vnet1": {"zone": "zone1", "subnets": [{"cidr": "10.10.0.0/24", "gateway": "10.10.0.1", "dhcp_ranges": ["10.10.0.100-10.10.0.130"]}]},
            "vnet2": {"zone": "zone1"},
        },
        "ipam": {100: ["10.10.0.5", "fd00::5"]},
    }
)
ON = "[OPTIONS]\nenable: 1\n"


def inventory(sdn: object = SDN_DATA) -> Inventory:
    found, errors = inventory_from_user(INVENTORY_DATA)
    assert found is not None, errors
    parsed, problems = sdn_from_data(sdn)
    assert not problems
    return replace(found, sdn=parsed)


def engines(tmp_path: Path, cluster: str, host: str = "", vnet: str | None = None, sdn: object = SDN_DATA) -> tuple[VerdictEngine, VerdictEngine]:
    """(iptables, nftables) engines: every node runs the backend; ``vnet`` is vnet1.fw."""
    found = []
    for backend in ("0", "1"):
        root = tmp_path / f"nftables-{backend}"
        (root / "sdn" / "firewall").mkdir(parents=True)
        (root / "cluster.fw").write_text(cluster, encoding="utf-8")
        for node in ("pve1", "pve2"):
            (root / "nodes" / node).mkdir(parents=True)
            (root / "nodes" / node / "host.fw").write_text(f"[OPTIONS]\nnftables: {backend}\n" + host.removeprefix("[OPTIONS]\n"), encoding="utf-8")
        if vnet is not None:
            (root / "sdn" / "firewall" / "vnet1.fw").write_text(vnet, encoding="utf-8")
        inv = inventory(sdn)
        found.append(VerdictEngine(load_fw_dir(root, inv).config, Environment(inv)))
    return found[0], found[1]


def ask(engine: VerdictEngine, from_zone: str, to_zone: str, /, **packet: object) -> Verdict:
    inv = engine.environment.inventory
    src, dst = endpoints.parse_endpoint(from_zone, inv), endpoints.parse_endpoint(to_zone, inv)
    addresses = endpoints.default_addresses(src, dst, inv, packet.pop("source", None), packet.pop("dest", None))  # type: ignore[arg-type]
    return engine.evaluate(src, dst, Packet(*addresses, **packet))  # type: ignore[arg-type]


def answers(pair: tuple[VerdictEngine, VerdictEngine], from_zone: str, to_zone: str, /, **packet: object) -> tuple[str, str]:
    return ask(pair[0], from_zone, to_zone, **dict(packet)).action, ask(pair[1], from_zone, to_zone, **dict(packet)).action


# --- routed through the node: forward, host-forward, cluster-forward ----------------------------


def test_cluster_forward_rules_and_policy_filter_routed_traffic(tmp_path):
    pair = engines(tmp_path, ON + "policy_forward: DROP\n[RULES]\nFORWARD ACCEPT -p tcp -dport 80\n")
    assert answers(pair, "vm102", "routed:outside", dport=80) == ("ACCEPT", "ACCEPT")
    assert answers(pair, "vm102", "routed:outside", dport=81) == ("ACCEPT", "DROP")
    step = ask(pair[1], "vm102", "routed:outside", dport=81).decided_by
    assert step is not None and step.chain == "inet proxmox-firewall cluster-forward" and step.kind == "policy"


def test_host_forward_runs_before_cluster_forward(tmp_path):
    pair = engines(tmp_path, ON + "[RULES]\nFORWARD ACCEPT -p tcp -dport 80\n", host="[RULES]\nFORWARD DROP -p tcp -dport 80\n")
    verdict = ask(pair[1], "routed:outside", "vm102", dport=80)
    assert verdict.action == "DROP"
    assert verdict.decided_by is not None and verdict.decided_by.chain == "inet proxmox-firewall host-forward" and verdict.decided_by.level == "host"


def test_forward_policy_defaults_to_accept(tmp_path):
    pair = engines(tmp_path, ON + "policy_in: DROP\n")
    verdict = ask(pair[1], "vm102", "routed:outside", dport=80)
    assert verdict.action == "ACCEPT" and "(default)" in (verdict.decided_by.detail if verdict.decided_by else "")


def test_iptables_notes_the_inert_forward_rules(tmp_path):
    pair = engines(tmp_path, ON + "[RULES]\nFORWARD DROP -p tcp -dport 80\n")
    verdict = ask(pair[0], "vm102", "routed:outside", dport=80)
    assert verdict.action == "ACCEPT"
    assert any(step.chain == "PVEFW-FORWARD" and "1 forward rule(s)" in step.detail for step in verdict.trail)


def test_forward_group_rules_jump_to_the_forward_chain_of_the_group(tmp_path):
    cluster = ON + "policy_forward: DROP\n[RULES]\nGROUP web\n[group web]\nFORWARD ACCEPT -p tcp -dport 443\nIN ACCEPT -p tcp -dport 444\n"
    pair = engines(tmp_path, cluster)
    verdict = ask(pair[1], "vm102", "routed:outside", dport=443)
    assert verdict.action == "ACCEPT" and verdict.decided_by is not None
    assert verdict.decided_by.chain == "inet proxmox-firewall group-web-forward"
    assert ask(pair[1], "vm102", "routed:outside", dport=444).action == "DROP"


def test_forward_rules_with_an_interface_are_left_out(tmp_path):
    pair = engines(tmp_path, ON + "policy_forward: DROP\n[RULES]\nFORWARD ACCEPT -i vmbr0 -p tcp -dport 80\n")
    assert answers(pair, "vm102", "routed:outside", dport=80) == ("ACCEPT", "DROP")


def test_host_disabled_deletes_the_forward_chain(tmp_path):
    pair = engines(tmp_path, ON + "policy_forward: DROP\n", host="[OPTIONS]\nenable: 0\n")
    verdict = ask(pair[1], "vm102", "routed:outside", dport=80)
    assert verdict.action == "ACCEPT" and verdict.decided_by is not None and verdict.decided_by.kind == "pass"


def test_routed_path_passes_the_guest_chains_too(tmp_path):
    pair = engines(tmp_path, ON + "[RULES]\nFORWARD ACCEPT -p tcp -dport 80\n")
    verdict = ask(pair[1], "routed:outside", "vm100", dport=80)
    chains = [step.chain for step in verdict.trail]
    assert chains[0].startswith("inet proxmox-firewall") and chains[-1] == "bridge proxmox-firewall-guests guest-100-in"


def test_routed_needs_one_routing_node(tmp_path):
    pair = engines(tmp_path, ON)
    with pytest.raises(VerdictError, match="different nodes"):
        ask(pair[1], "vm100", "routed:vm103", dport=80)
    with pytest.raises(VerdictError, match="routed"):
        ask(pair[1], "vm100", "routed:host", dport=80)


# --- vnet firewalls: bridge-<vnet> -------------------------------------------------------------

VNET = "[OPTIONS]\nenable: 1\npolicy_forward: DROP\n[RULES]\nFORWARD ACCEPT -p tcp -dport 22\n"


def test_vnet_chain_filters_traffic_bridged_within_the_vnet(tmp_path):
    pair = engines(tmp_path, ON, vnet=VNET)
    assert answers(pair, "vm100", "vm101", dport=22) == ("ACCEPT", "ACCEPT")
    assert answers(pair, "vm100", "vm101", dport=23) == ("ACCEPT", "DROP")
    step = ask(pair[1], "vm100", "vm101", dport=23).decided_by
    assert step is not None and step.chain == "bridge proxmox-firewall-guests bridge-vnet1" and step.level == "vnet"


def test_vnet_chain_filters_a_port_of_the_vnet(tmp_path):
    pair = engines(tmp_path, ON, vnet=VNET)
    assert answers(pair, "vnet1/eth1", "vm101", dport=23) == ("ACCEPT", "DROP")


def test_vnet_chain_runs_on_each_node_the_frame_crosses(tmp_path):
    pair = engines(tmp_path, ON, vnet=VNET)
    verdict = ask(pair[1], "vm100", "vm103", dport=22)
    assert [step.hop for step in verdict.trail if "bridge-vnet1" in step.chain] == ["vnet vnet1 on pve1", "vnet vnet1 on pve2"]


def test_vnet_without_enable_has_no_chain(tmp_path):
    pair = engines(tmp_path, ON, vnet="[OPTIONS]\npolicy_forward: DROP\n")
    assert answers(pair, "vm100", "vm101", dport=23) == ("ACCEPT", "ACCEPT")


def test_vnet_chain_filters_the_nodes_own_traffic_on_the_vnet(tmp_path):
    pair = engines(tmp_path, ON, vnet=VNET)
    assert answers(pair, "host:pve1", "vm100", dport=23) == ("ACCEPT", "DROP")
    verdict = ask(pair[1], "vm100", "host:pve1", dport=8006, dest="172.16.1.2")
    assert verdict.action == "DROP" and verdict.decided_by is not None and verdict.decided_by.chain == "inet proxmox-firewall bridge-vnet1"


def test_routed_traffic_out_of_a_vnet_does_not_pass_the_vnet_chain(tmp_path):
    pair = engines(tmp_path, ON, vnet=VNET)
    verdict = ask(pair[1], "vm100", "routed:outside", dport=23)
    assert verdict.action == "ACCEPT" and not any("bridge-vnet1" in step.chain for step in verdict.trail)


def test_a_path_between_bridges_warns_that_the_vnet_is_not_asked(tmp_path):
    pair = engines(tmp_path, ON, vnet=VNET)
    verdict = ask(pair[1], "outside", "vm100", dport=23)
    assert verdict.action == "ACCEPT" and any("routed:" in warning for warning in verdict.warnings)


# --- SDN sets -------------------------------------------------------------------------------


def test_sdn_sets_are_four_per_vnet_and_one_per_ipam_guest():
    sets = sdn_sets(inventory().sdn)  # type: ignore[arg-type]
    assert sorted(sets) == sorted(
        ["vnet1-all", "vnet1-gateway", "vnet1-no-gateway", "vnet1-dhcp", "vnet2-all", "vnet2-gateway", "vnet2-no-gateway", "vnet2-dhcp", "guest-ipam-100"]
    )
    assert [str(net) for net, _nomatch in sets["vnet1-dhcp"]] == ["10.10.0.100/30", "10.10.0.104/29", "10.10.0.112/28", "10.10.0.128/31", "10.10.0.130/32"]
    assert [(str(net), nomatch) for net, nomatch in sets["vnet1-no-gateway"]] == [("10.10.0.0/24", False), ("10.10.0.1/32", True)]
    assert sets["vnet2-all"] == ()


@pytest.mark.parametrize("backend", [0, 1])
@pytest.mark.parametrize(
    ("source", "expected"),
    [("10.10.0.7", "ACCEPT"), ("10.10.0.1", "DROP"), ("10.20.0.7", "DROP")],
)
def test_sdn_no_gateway_set_on_both_backends(tmp_path, backend, source, expected):
    pair = engines(tmp_path, ON + "policy_in: DROP\n[RULES]\nIN ACCEPT -source +sdn/vnet1-no-gateway -p tcp -dport 80\n")
    assert ask(pair[backend], "outside", "vm102", dport=80, source=source).action == "ACCEPT"  # no guest firewall file
    assert ask(pair[backend], "outside", "host:pve1", dport=80, source=source, dest="172.16.1.2").action == expected


def test_sdn_dhcp_and_ipam_sets(tmp_path):
    cluster = ON + "policy_in: DROP\n[RULES]\nIN ACCEPT -source +sdn/vnet1-dhcp -p tcp -dport 80\nIN ACCEPT -source +sdn/guest-ipam-100 -p tcp -dport 81\n"
    pair = engines(tmp_path, cluster)
    for engine in pair:
        assert ask(engine, "outside", "host:pve1", dport=80, source="10.10.0.130", dest="172.16.1.2").action == "ACCEPT"
        assert ask(engine, "outside", "host:pve1", dport=80, source="10.10.0.131", dest="172.16.1.2").action == "DROP"
        assert ask(engine, "outside", "host:pve1", dport=81, source="10.10.0.5", dest="172.16.1.2").action == "ACCEPT"
        assert ask(engine, "outside", "host:pve1", dport=81, source="fd00::5", dest="fd00::1").action == "ACCEPT"
        assert ask(engine, "outside", "host:pve1", dport=81, source="fd00::6", dest="fd00::1").action == "DROP"
        assert ask(engine, "outside", "host:pve1", dport=81, source="10.10.0.6", dest="172.16.1.2").action == "DROP"


def test_unscoped_sdn_name_is_found_by_pve_firewall_only(tmp_path):
    pair = engines(tmp_path, ON + "policy_in: DROP\n[RULES]\nIN ACCEPT -source +vnet1-all -p tcp -dport 80\n")
    assert answers(pair, "outside", "host:pve1", dport=80, source="10.10.0.9", dest="172.16.1.2") == ("ACCEPT", "DROP")


def test_unknown_sdn_configuration_leaves_the_rule_out_with_a_warning(tmp_path):
    pair = engines(tmp_path, ON + "policy_in: DROP\n[RULES]\nIN ACCEPT -source +sdn/vnet1-all -p tcp -dport 80\n", sdn=None)
    verdict = ask(pair[1], "outside", "host:pve1", dport=80, source="10.10.0.9", dest="172.16.1.2")
    assert verdict.action == "DROP" and any("SDN" in warning for warning in verdict.warnings)


def test_sdn_name_not_generated_leaves_the_rule_out(tmp_path):
    pair = engines(tmp_path, ON + "policy_in: DROP\n[RULES]\nIN ACCEPT -source +sdn/vnet9-all -p tcp -dport 80\n")
    assert answers(pair, "outside", "host:pve1", dport=80, source="10.10.0.9", dest="172.16.1.2") == ("DROP", "DROP")


def test_sdn_data_errors_name_their_place():
    sdn, errors = sdn_from_data(
        {"vnets": {"v1": {"subnets": [{"cidr": "10.0.0.0/33", "gateway": "x", "dhcp_ranges": ["1.1.1.1"]}]}}, "ipam": {"a": []}, "x": 1}
    )
    assert sdn is not None
    assert errors == [
        "sdn.x: unknown key (vnets, ipam)",
        "sdn.vnets.v1.subnets[0].cidr: '10.0.0.0/33' is not a CIDR",
        "sdn.vnets.v1.subnets[0].gateway: 'x' is not an IP address",
        "sdn.vnets.v1.subnets[0].dhcp_ranges: '1.1.1.1' is not a range <first>-<last>",
        "sdn.ipam.a: 'a' is not a guest id",
    ]


def test_a_forward_reject_rule_is_left_out_as_pve_refuses_it(tmp_path):
    pair = engines(tmp_path, ON + "[RULES]\nFORWARD REJECT -p tcp -dport 80\n")
    verdict = ask(pair[1], "vm102", "routed:outside", dport=80)
    assert verdict.action == "ACCEPT"
    assert any(step.kind == "note" and "cannot define REJECT rules on forward chain" in step.detail for step in verdict.trail)
