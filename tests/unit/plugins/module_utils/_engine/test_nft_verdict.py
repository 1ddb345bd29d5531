"""The verdict engine on the nftables backend (host option ``nftables: 1``), one difference
from pve-firewall per test (docs/nftables.md).

Each test asks the same question of the same configuration on both backends, so the
difference under test decides it: a mistake (the iptables order kept, the difference not
modelled) makes both answers equal and the assertion fails.
"""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts
from ansible_collections.pve.firewall.plugins.module_utils._engine import endpoints
from ansible_collections.pve.firewall.plugins.module_utils._engine import test_suite_env as env
from ansible_collections.pve.firewall.plugins.module_utils._engine.addrset import AddressSet
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import Packet, Verdict, VerdictEngine

NFT = "[OPTIONS]\nnftables: 1\n"
ON = "[OPTIONS]\nenable: 1\n"


def both(cluster: str, host: str = "", guests: dict[int, str] | None = None) -> tuple[VerdictEngine, VerdictEngine]:
    """(iptables, nftables) engines of one configuration; ``host`` holds extra host.fw text."""
    engines = []
    for head in ("[OPTIONS]\n", NFT):
        text = head + host.removeprefix("[OPTIONS]\n")
        loaded = config_from_texts(cluster, {env.NODE: text}, guests, env.INVENTORY)
        engines.append(VerdictEngine(loaded.config, env.environment()))
    return engines[0], engines[1]


def ask(eng: VerdictEngine, from_zone: str, to_zone: str, /, **packet: object) -> Verdict:
    src, dst = endpoints.zone_endpoint(from_zone, env.INVENTORY), endpoints.zone_endpoint(to_zone, env.INVENTORY)
    addresses = endpoints.default_addresses(src, dst, env.INVENTORY, packet.pop("source", None), packet.pop("dest", None))  # type: ignore[arg-type]
    return eng.evaluate(src, dst, Packet(*addresses, **packet))  # type: ignore[arg-type]


def answers(engines: tuple[VerdictEngine, VerdictEngine], from_zone: str, to_zone: str, /, **packet: object) -> tuple[str, str]:
    return ask(engines[0], from_zone, to_zone, **dict(packet)).action, ask(engines[1], from_zone, to_zone, **dict(packet)).action


# --- host input ------------------------------------------------------------------------------


def test_management_ipset_is_accepted_before_the_rules():
    engines = both(ON + "[IPSET management]\n100.100.1.0/24\n[RULES]\nIN DROP -p tcp -dport 22\n")
    assert answers(engines, "outside", "host", dport=22) == ("DROP", "ACCEPT")
    step = ask(engines[1], "outside", "host", dport=22).decided_by
    assert step is not None and step.chain == "inet proxmox-firewall accept-management"


def test_management_ports_do_not_include_the_migration_range():
    engines = both(ON + "[IPSET management]\n100.100.1.0/24\n")
    assert answers(engines, "outside", "host", dport=60001) == ("ACCEPT", "DROP")


def test_corosync_ports_are_accepted_from_any_source():
    engines = both(ON)
    assert answers(engines, "outside", "host", proto="udp", dport=5406) == ("DROP", "ACCEPT")


def test_smb_noise_is_rejected_before_an_accept_rule():
    engines = both(ON + "[RULES]\nIN ACCEPT -p tcp -dport 445\n")
    assert answers(engines, "outside", "host", dport=445) == ("ACCEPT", "REJECT")


def test_blacklist_is_not_used():
    engines = both(ON + "[IPSET blacklist]\n100.100.1.2\n[RULES]\nIN ACCEPT -p tcp -dport 80\n")
    assert answers(engines, "outside", "host", dport=80) == ("DROP", "ACCEPT")


def test_icmp_errors_are_accepted_before_a_drop_rule():
    engines = both(ON + "[RULES]\nIN DROP -p icmp\n")
    assert answers(engines, "outside", "host", proto="icmp", icmp_type="destination-unreachable") == ("DROP", "ACCEPT")


def test_reject_answers_icmp_on_the_host():
    engines = both(ON + "[RULES]\nIN REJECT -p icmp\n")
    assert answers(engines, "outside", "host", proto="icmp", icmp_type="echo-request") == ("DROP", "REJECT")


def test_ndp_off_drops_neighbor_discovery_whatever_the_policy():
    engines = both("[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n", "[OPTIONS]\nndp: 0\n")
    ipv6 = {"source": "fe80::1", "dest": "fe80::2", "proto": "icmpv6", "icmp_type": "neighbor-solicitation"}
    assert answers(engines, "outside", "host", **ipv6) == ("ACCEPT", "DROP")


def test_synflood_protection_drops_new_tcp_connections_outside_management():
    engines = both("[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n", "[OPTIONS]\nprotection_synflood: 1\n")
    assert answers(engines, "outside", "host", dport=80) == ("ACCEPT", "DROP")
    assert ask(engines[1], "host", "outside", dport=80).action == "ACCEPT"  # output has no such chain


def test_conntrack_helper_port_is_accepted_before_the_rules():
    engines = both(ON + "[RULES]\nIN DROP -p tcp -dport 21\n", "[OPTIONS]\nnf_conntrack_helpers: ftp\n")
    assert answers(engines, "outside", "host", dport=21) == ("DROP", "ACCEPT")


def test_host_rules_before_cluster_rules_and_the_chain_names():
    engines = both(ON + "[RULES]\nIN ACCEPT -p tcp -dport 80\n", "[RULES]\nIN DROP -p tcp -dport 80\n")
    verdict = ask(engines[1], "outside", "host", dport=80)
    assert verdict.action == "DROP" and verdict.decided_by is not None
    assert verdict.decided_by.chain == "inet proxmox-firewall host-in" and verdict.decided_by.position == 0


def test_group_rules_run_in_the_group_chain():
    engines = both(ON + "[RULES]\nGROUP web\n[group web]\nIN REJECT -p tcp -dport 80\n")
    verdict = ask(engines[1], "outside", "host", dport=80)
    assert verdict.action == "REJECT" and verdict.decided_by is not None
    assert verdict.decided_by.chain == "inet proxmox-firewall group-web-in"


def test_nomatch_entries_win_over_more_specific_members():
    cluster = ON + "[IPSET office]\n10.0.0.0/8\n!10.1.0.0/16\n10.1.2.0/24\n[RULES]\nIN ACCEPT -source +office -p tcp -dport 80\n"
    engines = both(cluster)
    assert answers(engines, "outside", "host", dport=80, source="10.1.2.5") == ("ACCEPT", "DROP")
    assert answers(engines, "outside", "host", dport=80, source="10.2.0.1") == ("ACCEPT", "ACCEPT")


def test_disabled_host_firewall_filters_nothing():
    engines = both(ON, "[OPTIONS]\nenable: 0\n")
    verdict = ask(engines[1], "outside", "host", dport=80)
    assert verdict.action == "ACCEPT" and "deletes table" in verdict.trail[-1].detail


# --- host output -----------------------------------------------------------------------------


def test_output_has_no_local_network_exception():
    engines = both("[OPTIONS]\nenable: 1\npolicy_out: DROP\n")
    assert answers(engines, "host", "outside", dport=22, dest="172.16.1.50") == ("ACCEPT", "DROP")


# --- guests ----------------------------------------------------------------------------------


def test_reject_towards_a_guest_is_a_drop_and_from_it_a_reject():
    guest = "[OPTIONS]\nenable: 1\n[RULES]\nIN REJECT -p tcp -dport 80\nOUT REJECT -p tcp -dport 80\n"
    engines = both(ON, guests={100: guest})
    assert answers(engines, "outside", "vm100", dport=80) == ("REJECT", "DROP")
    assert answers(engines, "vm100", "outside", dport=80) == ("REJECT", "REJECT")
    assert ask(engines[1], "vm100", "outside", dport=80).decided_by.chain == "bridge proxmox-firewall-guests guest-100-out"  # type: ignore[union-attr]


def test_dhcp_off_drops_dhcp_whatever_the_policy():
    engines = both(ON, guests={100: "[OPTIONS]\nenable: 1\ndhcp: 0\npolicy_out: ACCEPT\n"})
    assert answers(engines, "vm100", "outside", proto="udp", sport=68, dport=67) == ("ACCEPT", "DROP")


def test_defined_ipfilter_set_without_the_option_does_not_filter():
    guest = "[OPTIONS]\nenable: 1\n[IPSET ipfilter-net0]\n192.0.2.10\n"
    engines = both(ON, guests={100: guest})
    assert answers(engines, "vm100", "outside", dport=80, source="192.0.2.99") == ("DROP", "ACCEPT")


def test_ipfilter_set_has_no_implicit_link_local_address():
    guest = "[OPTIONS]\nenable: 1\nipfilter: 1\n[IPSET ipfilter-net0]\n192.0.2.10\n"
    engines = both(ON, guests={100: guest})
    link_local = "fe80::c0b:38ff:feb8:b321"  # net0's EUI-64 address
    assert answers(engines, "vm100", "outside", dport=80, source=link_local, dest="fe80::1") == ("ACCEPT", "DROP")


def test_guest_is_not_behind_blacklist_or_smurfs():
    engines = both(ON + "[IPSET blacklist]\n100.100.1.2\n", guests={100: "[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n"})
    assert answers(engines, "outside", "vm100", dport=80) == ("DROP", "ACCEPT")


def test_radv_off_drops_router_advertisements_from_the_guest():
    engines = both(ON, guests={100: "[OPTIONS]\nenable: 1\n"})
    ipv6 = {"source": "fe80::c0b:38ff:feb8:b321", "dest": "ff02::1", "proto": "icmpv6", "icmp_type": "router-advertisement"}
    verdict = ask(engines[1], "vm100", "outside", **ipv6)
    assert verdict.action == "DROP" and "block-ra-out" in verdict.decided_by.detail  # type: ignore[union-attr]


# --- the set semantics on their own ----------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "holes", "expected"),
    [
        (((0, 10),), ((3, 4),), ((0, 2), (5, 10))),
        (((0, 10),), ((0, 10),), ()),
        (((0, 3), (6, 9)), ((2, 7),), ((0, 1), (8, 9))),
        (((5, 9),), ((0, 1), (20, 30)), ((5, 9),)),
    ],
)
def test_address_set_minus(members: tuple[tuple[int, int], ...], holes: tuple[tuple[int, int], ...], expected: tuple[tuple[int, int], ...]):
    def build(pairs: tuple[tuple[int, int], ...]) -> AddressSet:
        return AddressSet(4, tuple(first for first, _last in pairs), tuple(last for _first, last in pairs))

    result = build(members).minus(build(holes))
    assert tuple(zip(result.starts, result.ends)) == expected
