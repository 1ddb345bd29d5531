"""The verdict engine, one semantic per test (reference 5 and 6.4).

Each test sets up a configuration where the semantic under test decides the verdict, so a
mistake in it (for example management exceptions evaluated before the user rules, cluster
rules before host rules, DHCP off by default) flips an assertion.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts
from ansible_collections.pve.firewall.plugins.module_utils._engine import endpoints
from ansible_collections.pve.firewall.plugins.module_utils._engine import test_suite_env as env
from ansible_collections.pve.firewall.plugins.module_utils._engine.addrset import AddressSet
from ansible_collections.pve.firewall.plugins.module_utils._engine.matchers import mac_link_local
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import (
    Endpoint,
    Environment,
    Packet,
    Verdict,
    VerdictEngine,
    VerdictError,
    cluster_enable_state,
    evaluate,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.corosync import Corosync, CorosyncNode, parse_corosync_conf
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Guest, Inventory, Nic, Node
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import ClusterConfig, FileKind, FirewallFile, Rule

ON = "[OPTIONS]\nenable: 1\n"
GUEST_ON = "[OPTIONS]\nenable: 1\n"


def engine(cluster: str = ON, host: str | None = None, guests: dict[int, str] | None = None, **environment: object) -> VerdictEngine:
    loaded = config_from_texts(cluster, {env.NODE: host} if host is not None else None, guests, env.INVENTORY)
    return VerdictEngine(loaded.config, env.environment(**environment))  # type: ignore[arg-type]


def ask(eng: VerdictEngine, from_zone: str, to_zone: str, /, **packet: object) -> Verdict:
    """A packet between two zones with PVE's test defaults for the addresses."""
    src, dst = endpoints.zone_endpoint(from_zone, env.INVENTORY), endpoints.zone_endpoint(to_zone, env.INVENTORY)
    addresses = endpoints.default_addresses(src, dst, env.INVENTORY, packet.pop("source", None), packet.pop("dest", None))  # type: ignore[arg-type]
    return eng.evaluate(src, dst, Packet(*addresses, **packet))  # type: ignore[arg-type]


def action(eng: VerdictEngine, from_zone: str, to_zone: str, /, **packet: object) -> str:
    return ask(eng, from_zone, to_zone, **packet).action


# --- enable at every level (reference 5.1, 5.2, 5.4) ---------------------------------------


def test_cluster_disabled_filters_nothing():
    eng = engine("[OPTIONS]\nenable: 0\n[RULES]\nIN DROP -p tcp -dport 22\n", guests={100: GUEST_ON})
    verdict = ask(eng, "outside", "host", dport=22)
    assert verdict.action == "ACCEPT"
    assert "nothing is filtered" in verdict.trail[0].detail
    assert action(eng, "outside", "vm100", dport=22) == "ACCEPT"


def test_cluster_without_enable_option_filters_nothing():
    assert action(engine("[RULES]\nIN DROP -p tcp -dport 22\n"), "outside", "host", dport=22) == "ACCEPT"


@pytest.mark.parametrize(("age", "filtered"), [(0, True), (60, True), (61, False), (3600, False)])
def test_cluster_enable_timestamp_reverts_after_60_seconds(age: int, filtered: bool):
    eng = engine("[OPTIONS]\nenable: 1700000000\n", now=1700000000 + age)
    assert action(eng, "outside", "host", dport=23) == ("DROP" if filtered else "ACCEPT")


def test_cluster_enable_state_explains_itself():
    assert cluster_enable_state({"enable": 1}, 0) == (True, "cluster firewall enabled (enable: 1)")
    enabled, why = cluster_enable_state({"enable": 1000}, 1100)
    assert not enabled and "100s old" in why


def test_host_enable_0_removes_only_the_host_chains():
    eng = engine(host="[OPTIONS]\nenable: 0\n", guests={100: GUEST_ON})
    verdict = ask(eng, "outside", "host", dport=23)
    assert verdict.action == "ACCEPT" and "host firewall" in verdict.trail[0].detail
    assert action(eng, "outside", "vm100", dport=23) == "DROP"


def test_guest_needs_enable_1():
    eng = engine(guests={100: "[OPTIONS]\nenable: 0\npolicy_in: DROP\n", 101: "[OPTIONS]\npolicy_in: DROP\n", 110: GUEST_ON})
    assert action(eng, "outside", "vm100", dport=22) == "ACCEPT"
    assert action(eng, "outside", "vm101", dport=22) == "ACCEPT"
    assert action(eng, "host", "vm110", dport=22) == "DROP"
    assert action(eng, "outside", "ct201", dport=22) == "ACCEPT"  # no file at all


def test_nic_without_firewall_flag_is_not_filtered():
    inventory = Inventory(
        {"pve": Node("pve", "192.0.2.1", "192.0.2.0/24")},
        {
            100: Guest(
                100,
                "qemu",
                "pve",
                (Nic("net0", "vmbr0", "BC:24:11:00:00:01", firewall=False), Nic("net1", "vmbr0", "BC:24:11:00:00:02", firewall=True)),
            )
        },
    )
    config = config_from_texts(ON, guests={100: GUEST_ON}, inventory=inventory).config
    eng = VerdictEngine(config, Environment(inventory))
    packet = Packet("198.51.100.1", "192.0.2.100", dport=22)
    unfiltered = eng.evaluate(Endpoint.outside(), Endpoint.guest(100, "net0"), packet)
    assert unfiltered.action == "ACCEPT" and "firewall=1" in unfiltered.trail[-1].detail
    assert eng.evaluate(Endpoint.outside(), Endpoint.guest(100, "net1"), packet).action == "DROP"


# --- host chains: order (reference 5.2) ------------------------------------------------------


def test_host_rules_come_before_cluster_rules():
    eng = engine(
        "[OPTIONS]\nenable: 1\n[RULES]\nIN DROP -p tcp -dport 22\nIN ACCEPT -p tcp -dport 8006\n",
        host="[RULES]\nIN ACCEPT -p tcp -dport 22\nIN DROP -p tcp -dport 8006\n",
    )
    accepted = ask(eng, "outside", "host", dport=22)
    assert accepted.action == "ACCEPT" and accepted.decided_by.level == "host"  # type: ignore[union-attr]
    dropped = ask(eng, "outside", "host", source="172.16.1.50", dport=8006)
    assert dropped.action == "DROP" and dropped.decided_by.level == "host"  # type: ignore[union-attr]


def test_management_exceptions_come_after_user_rules():
    eng = engine("[OPTIONS]\nenable: 1\n[RULES]\nIN DROP -p tcp -dport 22\n")
    verdict = ask(eng, "outside", "host", source="172.16.1.50", dport=22)
    assert verdict.action == "DROP" and verdict.decided_by.kind == "rule"  # type: ignore[union-attr]
    management = ask(eng, "outside", "host", source="172.16.1.50", dport=8006)
    assert management.action == "ACCEPT" and "management" in management.decided_by.detail  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        (8006, "ACCEPT"),
        (22, "ACCEPT"),
        (3128, "ACCEPT"),
        (5900, "ACCEPT"),
        (5999, "ACCEPT"),
        (60000, "ACCEPT"),
        (60050, "ACCEPT"),
        (6000, "DROP"),
        (80, "DROP"),
    ],
)
def test_management_ports_in(port: int, expected: str):
    assert action(engine(), "outside", "host", source="172.16.1.77", dport=port) == expected


def test_management_ipset_entries_and_local_network_alias():
    eng = engine("[OPTIONS]\nenable: 1\n[ALIASES]\nlocal_network 10.77.0.0/16\n[IPSET management]\n198.51.100.7\n")
    assert action(eng, "outside", "host", source="198.51.100.7", dport=8006) == "ACCEPT"
    assert action(eng, "outside", "host", source="198.51.100.8", dport=8006) == "DROP"
    # the alias replaces the node's own network
    assert action(eng, "outside", "host", source="10.77.1.1", dport=22) == "ACCEPT"
    assert action(eng, "outside", "host", source="172.16.1.50", dport=22) == "DROP"


def test_management_needs_tcp():
    assert action(engine(), "outside", "host", source="172.16.1.50", proto="udp", dport=22) == "DROP"


def test_host_out_local_network_list_has_no_migration_ports():
    eng = engine("[OPTIONS]\nenable: 1\npolicy_out: DROP\n")
    assert action(eng, "host", "outside", dest="172.16.1.3", dport=8006) == "ACCEPT"
    assert action(eng, "host", "outside", dest="172.16.1.3", dport=60000) == "DROP"
    assert action(eng, "host", "outside", dest="172.16.9.3", dport=8006) == "DROP"


@pytest.mark.parametrize("address", ["192.0.2.10", "192.0.2.10/24"])
def test_local_network_unknown_counts_only_the_node_itself(address: str):
    inventory = Inventory({"pve": Node("pve", address)})
    eng = VerdictEngine(ClusterConfig(FirewallFile(FileKind.CLUSTER, options={"enable": 1})), Environment(inventory))
    assert eng.evaluate(Endpoint.outside(), Endpoint.host(), Packet("192.0.2.11", "192.0.2.10", dport=8006)).action == "DROP"
    own = eng.evaluate(Endpoint.outside(), Endpoint.host(), Packet("192.0.2.10", "192.0.2.10", dport=8006))
    assert own.action == "ACCEPT" and "local_network of node pve is unknown" in own.warnings[0]


def test_sdn_ipsets_are_unknown_offline_and_say_so():
    eng = engine(host="[RULES]\nIN ACCEPT -source +sdn/vnet1-all -p tcp -dport 22\n")
    verdict = ask(eng, "outside", "host", dport=22)
    assert verdict.action == "DROP" and any("SDN" in warning for warning in verdict.warnings)


def test_corosync_between_members_on_the_same_link():
    eng = engine()
    assert action(eng, "outside", "host", source="172.16.1.3", proto="udp", dport=5405) == "ACCEPT"
    assert action(eng, "outside", "host", source="172.16.1.4", proto="udp", dport=5405) == "DROP"
    # a link-1 address of another node to the local link-0 address: not the same link
    assert action(eng, "outside", "host", source="172.16.2.3", proto="udp", dport=5404) == "DROP"
    assert action(eng, "outside", "host", source="172.16.2.3", dest="172.16.2.2", proto="udp", dport=5404) == "ACCEPT"
    assert action(eng, "host", "outside", dest="172.16.1.11", proto="udp", dport=5404) == "ACCEPT"


def test_corosync_multicast_only_with_transport_udp():
    multicast = dict(source="172.16.1.3", dest="239.192.1.1", proto="udp", dport=5404)
    assert action(engine(), "outside", "host", **multicast) == "ACCEPT"
    knet = Corosync(env.COROSYNC.nodes, "knet")
    assert action(engine(corosync=knet), "outside", "host", **multicast) == "DROP"
    assert action(engine(corosync=None), "outside", "host", source="172.16.1.3", proto="udp", dport=5404) == "DROP"


def test_parse_corosync_conf_keeps_ip_links_only():
    text = "totem {\n transport: knet\n}\nnodelist {\n node {\n  name: a\n  ring0_addr: 10.0.0.1\n  ring1_addr: host-a\n }\n}\n"
    membership = parse_corosync_conf(text)
    assert membership.transport == "knet" and not membership.multicast
    assert membership.nodes == (CorosyncNode("a", {0: "10.0.0.1"}),)


def test_host_rule_interface():
    eng = engine(host="[RULES]\nIN ACCEPT -i vmbr1 -p tcp -dport 80\n")
    assert action(eng, "vm110", "host", dport=80) == "ACCEPT"  # vm110 is on vmbr1
    assert action(eng, "outside", "host", dport=80) == "DROP"


def test_igmp_and_ndp_pass_host_in():
    eng = engine()
    assert action(eng, "outside", "host", proto="igmp") == "ACCEPT"
    ndp = dict(source="fe80::1", dest="fe80::2", proto="icmpv6", icmp_type="neighbor-solicitation")
    assert action(eng, "outside", "host", **ndp) == "ACCEPT"
    assert action(engine(host="[OPTIONS]\nndp: 0\n"), "outside", "host", **ndp) == "DROP"


# --- policies and PVE's standard chains -----------------------------------------------------


def test_policies():
    assert action(engine("[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n"), "outside", "host", dport=23) == "ACCEPT"
    assert action(engine("[OPTIONS]\nenable: 1\npolicy_in: REJECT\n"), "outside", "host", dport=23) == "REJECT"
    assert action(engine(), "outside", "host", dport=23) == "DROP"
    assert action(engine("[OPTIONS]\nenable: 1\npolicy_out: REJECT\n"), "host", "outside", dport=23) == "REJECT"
    assert action(engine(), "host", "outside", dport=23) == "ACCEPT"


def test_drop_policy_accepts_critical_icmp():
    eng = engine()
    assert action(eng, "outside", "host", proto="icmp", icmp_type="fragmentation-needed") == "ACCEPT"
    assert action(eng, "outside", "host", proto="icmp", icmp_type="3/4") == "ACCEPT"
    assert action(eng, "outside", "host", proto="icmp", icmp_type="host-unreachable") == "DROP"


def test_reject_never_answers_icmp_or_broadcast():
    eng = engine("[OPTIONS]\nenable: 1\npolicy_in: REJECT\n[RULES]\nIN REJECT -p udp -dport 9\n")
    assert action(eng, "outside", "host", proto="icmp", icmp_type="echo-request") == "DROP"
    assert action(eng, "outside", "host", proto="udp", dport=9) == "REJECT"
    assert action(eng, "outside", "host", proto="udp", dport=9, dsttype="BROADCAST") == "DROP"
    assert action(eng, "outside", "host", proto="udp", dport=9, source="224.0.0.9", srctype="UNICAST") == "DROP"


# --- guest chains (reference 5.3) -----------------------------------------------------------


def test_guest_dhcp_is_allowed_by_default():
    eng = engine(guests={100: GUEST_ON, 101: "[OPTIONS]\nenable: 1\ndhcp: 0\n"})
    reply = dict(proto="udp", sport=67, dport=68)
    verdict = ask(eng, "outside", "vm100", **reply)
    assert verdict.action == "ACCEPT" and "DHCP" in verdict.decided_by.detail  # type: ignore[union-attr]
    assert action(eng, "outside", "vm101", **reply) == "DROP"
    assert action(eng, "outside", "vm100", source="fe80::1", dest="fe80::2", proto="udp", sport=547, dport=546) == "ACCEPT"


def test_guest_dhcp_request_passes_before_the_mac_filter():
    eng = engine(guests={100: GUEST_ON})
    assert action(eng, "vm100", "outside", proto="udp", sport=68, dport=67, source_mac="AA:AA:AA:AA:AA:AA") == "ACCEPT"
    verdict = ask(eng, "vm100", "outside", dport=80, source_mac="AA:AA:AA:AA:AA:AA")
    assert verdict.action == "DROP" and "MAC filter" in verdict.decided_by.detail  # type: ignore[union-attr]
    assert action(eng, "vm100", "outside", dport=80, source_mac="0e:0b:38:b8:b3:21") == "ACCEPT"  # case-insensitive
    assert (
        action(engine(guests={100: "[OPTIONS]\nenable: 1\nmacfilter: 0\n"}), "vm100", "outside", dport=80, source_mac="AA:AA:AA:AA:AA:AA") == "ACCEPT"
    )


def test_guest_ipfilter_set():
    eng = engine(guests={100: "[OPTIONS]\nenable: 1\n[IPSET ipfilter-net0]\n10.1.1.0/24\n!10.1.1.128/25\n"})
    assert action(eng, "vm100", "outside", source="10.1.1.5") == "ACCEPT"
    verdict = ask(eng, "vm100", "outside", source="10.1.1.200")
    assert verdict.action == "DROP" and "ipfilter" in verdict.decided_by.detail  # type: ignore[union-attr]
    assert action(eng, "vm100", "outside", source="10.9.9.9") == "DROP"
    # the set also holds the NIC's link-local address, and nothing else of fe80::/10
    link_local = str(mac_link_local("0E:0B:38:B8:B3:21"))
    assert link_local == "fe80::c0b:38ff:feb8:b321"
    assert action(eng, "vm100", "outside", source=link_local, dest="fe80::1") == "ACCEPT"
    assert action(eng, "vm100", "outside", source="fe80::99", dest="fe80::1") == "DROP"
    # net1 has no set and ipfilter is off: not filtered
    assert action(eng, "vm100i1", "outside", source="10.9.9.9") == "ACCEPT"


def test_empty_ipfilter_set_blocks_its_family():
    eng = engine(guests={100: "[OPTIONS]\nenable: 1\n[IPSET ipfilter-net0]\n"})
    assert action(eng, "vm100", "outside", source="1.2.3.4") == "DROP"


def test_ipfilter_option_uses_the_containers_configured_address():
    eng = engine(guests={200: "[OPTIONS]\nenable: 1\nipfilter: 1\n", 100: "[OPTIONS]\nenable: 1\nipfilter: 1\n"})
    assert action(eng, "ct200", "outside", source="10.0.200.1") == "ACCEPT"
    assert action(eng, "ct200", "outside", source="10.0.200.2") == "DROP"
    assert action(eng, "vm100", "outside", source="10.0.200.1") == "DROP"


def test_guest_router_advertisements_need_radv():
    ra = dict(source=str(mac_link_local("0E:0B:38:B8:B3:21")), dest="ff02::1", proto="icmpv6", icmp_type="router-advertisement")
    assert action(engine(guests={100: GUEST_ON}), "vm100", "outside", **ra) == "DROP"
    assert action(engine(guests={100: "[OPTIONS]\nenable: 1\nradv: 1\n"}), "vm100", "outside", **ra) == "ACCEPT"


def test_guest_rules_policies_and_interfaces():
    eng = engine(
        guests={
            100: "[OPTIONS]\nenable: 1\npolicy_out: DROP\n[RULES]\n"
            "IN ACCEPT -i net1 -p tcp -dport 22\nOUT ACCEPT -p tcp -dport 443\n|IN ACCEPT -p tcp -dport 80\n"
        }
    )
    assert action(eng, "outside", "vm100i1", dport=22) == "ACCEPT"
    assert action(eng, "outside", "vm100", dport=22) == "DROP"
    assert action(eng, "outside", "vm100", dport=80) == "DROP"  # disabled rule
    assert action(eng, "vm100", "outside", dport=443) == "ACCEPT"
    assert action(eng, "vm100", "outside", dport=80) == "DROP"


def test_cluster_rules_never_apply_to_guests():
    eng = engine("[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 22\nOUT DROP -p tcp -dport 80\n", guests={100: GUEST_ON})
    assert action(eng, "outside", "vm100", dport=22) == "DROP"
    assert action(eng, "vm100", "outside", dport=80) == "ACCEPT"


def test_guest_to_host_passes_guest_out_then_host_in():
    eng = engine(host="[RULES]\nIN ACCEPT -p tcp -dport 80\n", guests={100: "[OPTIONS]\nenable: 1\n[RULES]\nOUT REJECT -p tcp -dport 81\n"})
    verdict = ask(eng, "vm100", "host", dport=80)
    assert verdict.action == "ACCEPT" and [step.chain for step in verdict.trail] == ["tap100i0-OUT", "PVEFW-HOST-IN"]
    assert ask(eng, "vm100", "host", dport=81).trail[-1].chain == "tap100i0-OUT"
    assert [step.chain for step in ask(eng, "host", "ct200", dport=1).trail] == ["PVEFW-HOST-OUT", "veth200i0-IN"]


# --- groups --------------------------------------------------------------------------------

GROUPS = """[OPTIONS]
enable: 1
[ALIASES]
trusted 10.5.0.0/16
[group web]
IN DROP -source 10.9.0.0/16 -p tcp -dport 80
IN ACCEPT -p tcp -dport 80
IN REJECT -p tcp -dport 81
OUT DROP -p tcp -dport 25
[group admins]
IN ACCEPT -source trusted -p tcp -dport 22
"""


def test_group_first_matching_rule_decides_and_no_match_falls_through():
    eng = engine(GROUPS, host="[RULES]\nGROUP web\nIN ACCEPT -p tcp -dport 82\n")
    assert action(eng, "outside", "host", dport=80) == "ACCEPT"
    verdict = ask(eng, "outside", "host", source="10.9.1.1", dport=80)
    assert verdict.action == "DROP" and verdict.decided_by.group == "web" and verdict.decided_by.position == 0  # type: ignore[union-attr]
    assert verdict.decided_by.group_reference.position == 0  # type: ignore[union-attr]
    assert action(eng, "outside", "host", dport=81) == "REJECT"
    assert action(eng, "outside", "host", dport=82) == "ACCEPT"  # after the group
    assert action(eng, "host", "outside", dport=25) == "DROP"


def test_group_in_guest_with_interface():
    eng = engine(GROUPS, guests={100: "[OPTIONS]\nenable: 1\npolicy_out: REJECT\n[RULES]\nGROUP web -i net1\nGROUP web\n"})
    assert action(eng, "outside", "vm100", dport=80) == "ACCEPT"
    assert action(eng, "vm100", "outside", dport=25) == "DROP"
    # a group ACCEPT on guest OUT accepts (the mark is turned into RETURN)
    eng_out = engine(
        "[OPTIONS]\nenable: 1\n[group out]\nOUT ACCEPT -p tcp -dport 443\n",
        guests={100: "[OPTIONS]\nenable: 1\npolicy_out: DROP\n[RULES]\nGROUP out\n"},
    )
    assert action(eng_out, "vm100", "outside", dport=443) == "ACCEPT"
    assert action(eng_out, "vm100", "outside", dport=444) == "DROP"


def test_group_rules_resolve_aliases_against_the_cluster_only():
    guest = "[OPTIONS]\nenable: 1\n[ALIASES]\ntrusted 10.6.0.0/16\n[RULES]\nGROUP admins\n"
    eng = engine(GROUPS, guests={100: guest})
    assert action(eng, "outside", "vm100", source="10.5.1.1", dport=22) == "ACCEPT"
    assert action(eng, "outside", "vm100", source="10.6.1.1", dport=22) == "DROP"


def test_missing_group_is_a_no_op():
    eng = engine(host="[RULES]\nGROUP nothere\nIN ACCEPT -p tcp -dport 22\n")
    verdict = ask(eng, "outside", "host", dport=22)
    assert verdict.action == "ACCEPT"
    assert any("does not exist" in step.detail for step in verdict.trail)


# --- blacklist and smurfs ------------------------------------------------------------------


def test_blacklist_before_rules_for_host_and_guests():
    eng = engine(
        "[OPTIONS]\nenable: 1\n[IPSET blacklist]\n10.66.0.0/16\n[RULES]\nIN ACCEPT -p tcp -dport 22\n",
        guests={100: "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 22\n"},
    )
    for target in ("host", "vm100", "vm101"):
        verdict = ask(eng, "outside", target, source="10.66.1.1", dport=22)
        assert verdict.action == "DROP" and "blacklist" in verdict.decided_by.detail, target  # type: ignore[union-attr]
        assert action(eng, "outside", target, source="10.67.1.1", dport=22) == "ACCEPT"


def test_smurfs_and_nosmurfs():
    rules = "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 22\n"
    assert action(engine(rules), "outside", "host", source="224.1.1.1", dport=22) == "DROP"
    assert action(engine(rules), "outside", "host", source="0.0.0.0", dport=22) == "ACCEPT"
    assert action(engine(rules, host="[OPTIONS]\nnosmurfs: 0\n"), "outside", "host", source="224.1.1.1", dport=22) == "ACCEPT"


# --- addresses, ipsets, aliases --------------------------------------------------------------


def test_ipset_nomatch_most_specific_entry_decides():
    eng = engine("[OPTIONS]\nenable: 1\n[IPSET myset]\n10.0.0.0/8\n!10.1.0.0/16\n10.1.2.0/24\n[RULES]\nIN ACCEPT -source +myset -p tcp -dport 22\n")
    assert [action(eng, "outside", "host", source=address, dport=22) for address in ("10.5.0.1", "10.1.0.1", "10.1.2.1")] == [
        "ACCEPT",
        "DROP",
        "ACCEPT",
    ]


def test_guest_ipset_and_alias_shadow_the_clusters():
    cluster = "[OPTIONS]\nenable: 1\n[ALIASES]\nsrv 10.0.0.1\n[IPSET myset]\n10.0.0.2\n"
    guest = (
        "[OPTIONS]\nenable: 1\n[ALIASES]\nsrv 10.0.0.3\n[IPSET myset]\n10.0.0.4\n[RULES]\n"
        "IN ACCEPT -source +myset -p tcp -dport 1\nIN ACCEPT -source srv -p tcp -dport 2\n"
        "IN ACCEPT -source +dc/myset -p tcp -dport 3\nIN ACCEPT -source dc/srv -p tcp -dport 4\n"
    )
    eng = engine(cluster, guests={100: guest})
    expected = {
        ("10.0.0.4", 1): "ACCEPT",
        ("10.0.0.2", 1): "DROP",
        ("10.0.0.3", 2): "ACCEPT",
        ("10.0.0.1", 2): "DROP",
        ("10.0.0.2", 3): "ACCEPT",
        ("10.0.0.4", 3): "DROP",
        ("10.0.0.1", 4): "ACCEPT",
        ("10.0.0.3", 4): "DROP",
    }
    assert {key: action(eng, "outside", "vm100", source=key[0], dport=key[1]) for key in expected} == expected


def test_ipset_entries_may_name_aliases():
    eng = engine("[OPTIONS]\nenable: 1\n[ALIASES]\nbox 10.8.8.8\n[IPSET myset]\nbox\n[RULES]\nIN ACCEPT -source +myset -p tcp -dport 22\n")
    assert action(eng, "outside", "host", source="10.8.8.8", dport=22) == "ACCEPT"


def test_scoped_reference_that_does_not_resolve_makes_the_rule_absent():
    eng = engine("[OPTIONS]\nenable: 1\n[IPSET myset]\n10.0.0.0/8\n", host="[RULES]\nIN ACCEPT -source +guest/myset -p tcp -dport 22\n")
    verdict = ask(eng, "outside", "host", source="10.1.1.1", dport=22)
    assert verdict.action == "DROP"
    assert any(step.kind == "note" and step.position == 0 and "myset" in step.detail for step in verdict.trail)


def test_rules_with_errors_are_ignored():
    eng = engine(host="[RULES]\nIN ACCEPT -dport 22\nIN ACCEPT -source +missing -p tcp -dport 23\nIN ACCEPT -source nosuchalias -p tcp -dport 24\n")
    for port in (22, 23, 24):
        verdict = ask(eng, "outside", "host", dport=port)
        assert verdict.action == "DROP"
    assert any("errors" in step.detail for step in ask(eng, "outside", "host", dport=22).trail)


def test_address_ranges_and_lists():
    eng = engine(host="[RULES]\nIN ACCEPT -source 10.0.0.5-10.0.0.9 -p tcp -dport 22\nIN ACCEPT -dest 10.1.0.1,10.2.0.0/16 -p tcp -dport 23\n")
    assert [action(eng, "outside", "host", source=f"10.0.0.{last}", dport=22) for last in (4, 5, 9, 10)] == ["DROP", "ACCEPT", "ACCEPT", "DROP"]
    assert action(eng, "outside", "host", dest="10.2.9.9", dport=23) == "ACCEPT"
    assert action(eng, "outside", "host", dest="10.1.0.2", dport=23) == "DROP"


def test_rules_of_the_other_family_are_skipped():
    eng = engine(
        host="[RULES]\nIN ACCEPT -source 2001:db8::/32 -p tcp -dport 22\nIN ACCEPT -source 10.0.0.0/8 -p tcp -dport 23\nIN ACCEPT -p tcp -dport 24\n"
    )
    v6 = dict(source="2001:db8::1", dest="2001:db8:ffff::1")
    assert action(eng, "outside", "host", dport=22, **v6) == "ACCEPT"
    assert action(eng, "outside", "host", dport=23, **v6) == "DROP"
    assert action(eng, "outside", "host", dport=24, **v6) == "ACCEPT"  # no family: both
    assert action(eng, "outside", "host", source="10.1.1.1", dport=22) == "DROP"


# --- protocols, ports, macros ---------------------------------------------------------------


def test_port_lists_ranges_and_sport():
    eng = engine(host="[RULES]\nIN ACCEPT -p tcp -dport 80,443,8000:8010\nIN ACCEPT -p udp -sport 123 -dport 1024:65535\n")
    assert [action(eng, "outside", "host", dport=port) for port in (80, 443, 8000, 8010, 8011, 81)] == ["ACCEPT"] * 4 + ["DROP"] * 2
    assert action(eng, "outside", "host", proto="udp", sport=123, dport=5000) == "ACCEPT"
    assert action(eng, "outside", "host", proto="udp", sport=124, dport=5000) == "DROP"
    assert action(eng, "outside", "host", proto="udp", sport=123, dport=1000) == "DROP"


def test_single_port_zero_matches_every_port():
    """PVE emits no --dport for a Perl-false "0" (FW ipt_rule_to_cmds)."""
    eng = engine(host="[RULES]\nIN ACCEPT -p tcp -dport 0\n")
    assert action(eng, "outside", "host", dport=4711) == "ACCEPT"


def test_protocol_numbers_and_icmp_types():
    eng = engine(host="[RULES]\nIN ACCEPT -p 17 -dport 53\nIN ACCEPT -p icmp -icmp-type destination-unreachable\nIN ACCEPT -p icmp -dport 8\n")
    assert action(eng, "outside", "host", proto="udp", dport=53) == "ACCEPT"
    assert action(eng, "outside", "host", proto="icmp", icmp_type="port-unreachable") == "ACCEPT"
    assert action(eng, "outside", "host", proto="icmp", icmp_type="echo-request") == "ACCEPT"
    assert action(eng, "outside", "host", proto="icmp", icmp_type="echo-reply") == "DROP"


def test_macros_and_their_ipv6_variants():
    eng = engine(host="[RULES]\nIN Ping(ACCEPT)\nIN DHCPv6(ACCEPT)\nIN DNS(ACCEPT) -source 10.0.0.53\n")
    assert action(eng, "outside", "host", proto="icmp", icmp_type="echo-request") == "ACCEPT"
    assert action(eng, "outside", "host", source="2001:db8::1", dest="2001:db8::2", proto="icmpv6", icmp_type="echo-request") == "ACCEPT"
    assert action(eng, "outside", "host", source="2001:db8::1", dest="2001:db8::2", proto="udp", sport=546, dport=547) == "ACCEPT"
    assert action(eng, "outside", "host", proto="udp", sport=546, dport=547) == "DROP"
    assert action(eng, "outside", "host", source="10.0.0.53", proto="tcp", dport=53) == "ACCEPT"
    assert action(eng, "outside", "host", source="10.0.0.54", proto="udp", dport=53) == "DROP"


# --- what the iptables backend ignores -------------------------------------------------------


def test_forward_rules_are_inert_and_said_so():
    eng = engine("[OPTIONS]\nenable: 1\n[RULES]\nFORWARD DROP -p tcp -dport 22\nIN ACCEPT -p tcp -dport 22\n")
    verdict = ask(eng, "outside", "host", dport=22)
    assert verdict.action == "ACCEPT"
    assert any("forward rule" in step.detail for step in verdict.trail)


def test_nftables_nodes_are_evaluated_by_their_backend():
    eng = engine(host="[OPTIONS]\nnftables: 1\n")
    verdict = ask(eng, "outside", "host", dport=22)
    assert verdict.action == "DROP" and verdict.decided_by is not None
    assert verdict.decided_by.chain == "inet proxmox-firewall cluster-in" and verdict.decided_by.kind == "policy"


def test_vnet_firewall_is_noted_as_inert():
    inventory = Inventory(
        {"pve": Node("pve", "192.0.2.1", "192.0.2.0/24")},
        {100: Guest(100, "qemu", "pve", (Nic("net0", "vnet1", "BC:24:11:00:00:01", firewall=True),))},
    )
    vnet = FirewallFile(FileKind.VNET, options={"enable": True}, rules=(Rule("forward", "DROP", proto="tcp", dport="22"),))
    config = ClusterConfig(FirewallFile(FileKind.CLUSTER, options={"enable": 1}), vnets={"vnet1": vnet})
    verdict = evaluate(config, Environment(inventory), Endpoint.outside(), Endpoint.guest(100), Packet("198.51.100.1", "192.0.2.100", dport=22))
    assert verdict.action == "ACCEPT" and any("vnet vnet1" in step.detail for step in verdict.trail)


# --- endpoints and errors --------------------------------------------------------------------


def test_address_endpoints_resolve_to_hosts_and_containers():
    eng = engine(host="[RULES]\nIN ACCEPT -p tcp -dport 22\n", guests={200: "[OPTIONS]\nenable: 1\n"})
    to_host = eng.evaluate(Endpoint.at_address("198.51.100.1"), Endpoint.at_address("172.16.1.2"), Packet("198.51.100.1", "172.16.1.2", dport=22))
    assert to_host.action == "ACCEPT" and to_host.trail[-1].chain == "PVEFW-HOST-IN"
    to_ct = eng.evaluate(Endpoint.at_address("198.51.100.1"), Endpoint.at_address("10.0.200.1"), Packet("198.51.100.1", "10.0.200.1", dport=22))
    assert to_ct.action == "DROP" and to_ct.trail[-1].chain == "veth200i0-IN"


def test_questions_that_cannot_be_asked():
    eng = engine()
    with pytest.raises(VerdictError, match="different IP families"):
        eng.evaluate(Endpoint.outside(), Endpoint.host(), Packet("10.0.0.1", "2001:db8::1"))
    with pytest.raises(VerdictError, match="unknown guest"):
        eng.evaluate(Endpoint.outside(), Endpoint.guest(999), Packet("10.0.0.1", "10.0.0.2"))
    with pytest.raises(VerdictError, match="unknown protocol"):
        eng.evaluate(Endpoint.outside(), Endpoint.host(), Packet("10.0.0.1", "10.0.0.2", proto="nope"))
    with pytest.raises(VerdictError, match="same node"):
        eng.evaluate(Endpoint.host(), Endpoint.host(), Packet("10.0.0.1", "10.0.0.2"))


def test_explain_lists_the_trail():
    text = ask(engine(), "outside", "host", dport=23).explain()
    assert text.startswith("verdict: DROP") and "policy_in DROP" in text


# --- the address set ---------------------------------------------------------------------------


def test_address_set_paints_nested_nomatch_entries():
    def net(text: str) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(text)

    entries = [
        (net("10.0.0.0/8"), False),
        (net("10.1.0.0/16"), True),
        (net("10.1.2.0/24"), False),
        (net("10.1.2.3/32"), True),
        (net("192.168.0.0/24"), False),
    ]
    members = AddressSet.from_ipset(4, entries)
    inside = {
        text: int(ipaddress.IPv4Address(text)) in members
        for text in ("10.0.0.0", "10.255.255.255", "10.1.0.0", "10.1.2.2", "10.1.2.3", "10.1.2.4", "10.1.3.0", "192.168.0.255", "192.168.1.0")
    }
    assert inside == {
        "10.0.0.0": True,
        "10.255.255.255": True,
        "10.1.0.0": False,
        "10.1.2.2": True,
        "10.1.2.3": False,
        "10.1.2.4": True,
        "10.1.3.0": False,
        "192.168.0.255": True,
        "192.168.1.0": False,
    }


_NETWORKS = st.builds(
    lambda address, prefix: ipaddress.IPv4Network((address, prefix), strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(20, 32),
)


@given(entries=st.lists(st.tuples(_NETWORKS, st.booleans()), max_size=12), probes=st.lists(st.integers(0, 2**32 - 1), max_size=20))
def test_address_set_equals_longest_prefix_lookup(entries: list[tuple[ipaddress.IPv4Network, bool]], probes: list[int]):
    """The kernel's hash:net semantics: the most specific entry containing the address decides."""
    unique = list({network: (network, nomatch) for network, nomatch in entries}.values())
    members = AddressSet.from_ipset(4, unique)
    nearby = [int(network.network_address) + offset for network, _nomatch in unique for offset in (-1, 0, 1)]
    for address in probes + [value for value in nearby if 0 <= value < 2**32]:
        containing = [
            (network.prefixlen, not nomatch)
            for network, nomatch in unique
            if int(network.network_address) <= address <= int(network.broadcast_address)
        ]
        expected = max(containing)[1] if containing else False
        assert (address in members) is expected
