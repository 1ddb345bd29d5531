"""The audit's findings, one check at a time: each with a case that is reported and a near miss
that is not (for shadowing: several, since a wrong "shadowed" would tell users to delete a
rule that still decides traffic)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._analysis.audit import (
    CHECKS,
    SEVERITIES,
    AuditFacts,
    AuditObject,
    AuditScope,
    AuditSettings,
    Finding,
    at_or_above,
    audit,
    counts,
    summary_lines,
)
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Guest, Inventory, Nic, Node
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import ClusterConfig, FileKind, FirewallFile, Rule

ON = "[OPTIONS]\nenable: 1\n"


def nic(name: str, firewall: bool = True) -> Nic:
    return Nic(name, "vmbr0", f"BC:24:11:00:00:0{name[-1]}", firewall)


INVENTORY = Inventory(
    {"pve1": Node("pve1", "192.0.2.11"), "pve2": Node("pve2", "192.0.2.12")},
    {
        100: Guest(100, "qemu", "pve1", (nic("net0"), nic("net1"))),
        200: Guest(200, "lxc", "pve2", (nic("net0"),)),
    },
)
INTERFACES = {"pve1": frozenset({"eno1", "vmbr0", "vmbr1"}), "pve2": frozenset({"eno1", "vmbr0"})}


def config(
    cluster: str = "", hosts: Mapping[str, str] | None = None, guests: Mapping[int, str] | None = None, inventory: Inventory = INVENTORY
) -> ClusterConfig:
    loaded = config_from_texts(cluster or None, hosts, guests, inventory)
    assert loaded.warnings == ()
    return loaded.config


def findings(
    check: str,
    cluster: str = "",
    hosts: Mapping[str, str] | None = None,
    guests: Mapping[int, str] | None = None,
    *,
    inventory: Inventory = INVENTORY,
    scope: AuditScope | None = None,
    **facts: object,
) -> list[Finding]:
    """The findings of one check (every check runs, so a check never relies on running alone)."""
    facts.setdefault("node_interfaces", INTERFACES)
    max_rules = int(facts.pop("max_rules", 20))  # type: ignore[call-overload]
    found = audit(
        config(cluster, hosts, guests, inventory),
        AuditFacts(inventory, **facts),  # type: ignore[arg-type]
        scope,
        AuditSettings(max_rules_per_guest=max_rules),
    )
    return [finding for finding in found if finding.check == check]


def positions(found: list[Finding]) -> list[int | None]:
    return [finding.target.position for finding in found]


# -- the three switches -------------------------------------------------------------------


GUEST_RULES = "[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -p tcp -dport 443\n"


def test_guest_with_rules_but_datacenter_off_is_unfiltered():
    found = findings("guest-unfiltered", "", guests={100: GUEST_RULES})
    assert len(found) == 1
    finding = found[0]
    assert finding.severity == "critical"
    assert finding.target == AuditObject("vm", node="pve1", vmid=100)
    assert "datacenter firewall is off" in finding.message
    assert "level: cluster, options: {enable: true}" in finding.fix


def test_guest_with_rules_and_all_switches_on_is_filtered():
    assert findings("guest-unfiltered", ON, guests={100: GUEST_RULES}) == []


def test_guest_with_rules_but_own_firewall_off_is_unfiltered():
    found = findings("guest-unfiltered", ON, guests={100: "[RULES]\nIN ACCEPT -p tcp -dport 443\n"})
    assert len(found) == 1 and "guest's firewall is off" in found[0].message
    assert "level: vm, vmid: 100, options: {enable: true}" in found[0].fix


def test_guest_with_rules_and_a_nic_without_the_flag_is_unfiltered_on_that_nic():
    inventory = Inventory(INVENTORY.nodes, {100: Guest(100, "qemu", "pve1", (nic("net0"), nic("net1", firewall=False)))})
    found = findings("guest-unfiltered", ON, guests={100: GUEST_RULES}, inventory=inventory)
    assert len(found) == 1
    assert "the traffic of net1" in found[0].message and "nics: [net1]" in found[0].fix


def test_a_guest_with_disabled_rules_only_is_not_unfiltered():
    assert findings("guest-unfiltered", "", guests={100: "[RULES]\n|IN ACCEPT -p tcp -dport 443\n"}) == []


def test_an_expired_enable_timestamp_counts_as_off():
    cluster = "[OPTIONS]\nenable: 1000\n"
    assert len(findings("guest-unfiltered", cluster, guests={100: GUEST_RULES}, now=1030.0)) == 0
    assert len(findings("guest-unfiltered", cluster, guests={100: GUEST_RULES}, now=1100.0)) == 1


def test_guest_firewall_off_while_the_datacenter_is_on():
    found = findings("guest-firewall-off", ON, guests={100: "[OPTIONS]\npolicy_in: DROP\n"})
    assert [(finding.target.vmid, finding.severity) for finding in found] == [(100, "medium"), (200, "medium")]  # 200: no file at all
    assert all("options: {enable: true}" in finding.fix for finding in found)


def test_guest_firewall_off_is_not_reported_while_the_datacenter_is_off_or_the_guest_on():
    assert findings("guest-firewall-off", "", guests={100: ""}) == []
    assert [finding.target.vmid for finding in findings("guest-firewall-off", ON, guests={100: ON})] == [200]


def test_nic_flag_off_while_datacenter_and_guest_are_on():
    inventory = Inventory(INVENTORY.nodes, {100: Guest(100, "qemu", "pve1", (nic("net0"), nic("net1", firewall=False)))})
    found = findings("nic-flag-off", ON, guests={100: ON}, inventory=inventory)
    assert [(finding.target.vmid, finding.target.nic) for finding in found] == [(100, "net1")]
    assert "nic_firewall: true, nics: [net1]" in found[0].fix
    assert findings("nic-flag-off", ON, guests={100: ON}) == []  # every NIC has the flag


def test_guest_policy_accept():
    found = findings("guest-policy-accept", ON, guests={200: "[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n"})
    assert [(finding.target.level, finding.target.vmid) for finding in found] == [("ct", 200)]
    assert "policy_in: DROP" in found[0].fix


def test_guest_policy_drop_or_a_disabled_guest_is_no_policy_finding():
    assert findings("guest-policy-accept", ON, guests={200: "[OPTIONS]\nenable: 1\npolicy_in: DROP\n"}) == []
    assert findings("guest-policy-accept", ON, guests={200: ON}) == []  # unset: DROP
    assert findings("guest-policy-accept", ON, guests={200: "[OPTIONS]\npolicy_in: ACCEPT\n"}) == []


def test_too_many_rules_counts_active_rules_against_the_threshold():
    rules = "".join(f"IN ACCEPT -p tcp -dport {port}\n" for port in (1001, 1002, 1003))
    found = findings("too-many-rules", ON, guests={100: ON + "[RULES]\n" + rules}, max_rules=2)
    assert len(found) == 1 and "3 active rules (threshold 2)" in found[0].message
    assert findings("too-many-rules", ON, guests={100: ON + "[RULES]\n" + rules}, max_rules=3) == []
    assert findings("too-many-rules", ON, guests={100: ON + "[RULES]\n|" + rules}, max_rules=2) == []  # one disabled


# -- interfaces ----------------------------------------------------------------------------


def test_guest_rule_bound_to_a_nic_the_guest_does_not_have():
    found = findings("nic-missing", ON, guests={100: ON + "[RULES]\nIN ACCEPT -i net5 -p tcp -dport 22\nIN ACCEPT -i net1 -p tcp -dport 80\n"})
    assert positions(found) == [0]
    assert "it has net0, net1" in found[0].message


def test_host_rule_bound_to_an_interface_the_node_does_not_have():
    hosts = {"pve2": "[RULES]\nIN ACCEPT -i vmbr1 -p tcp -dport 22\nIN ACCEPT -i vmbr0 -p tcp -dport 80\nIN ACCEPT -i lo -p tcp -dport 81\n"}
    found = findings("iface-missing", ON, hosts)
    assert [(finding.target.node, finding.target.position) for finding in found] == [("pve2", 0)]
    # the same rule on pve1, which has vmbr1, is fine
    assert findings("iface-missing", ON, {"pve1": hosts["pve2"]}) == []


def test_datacenter_rule_bound_to_an_interface_one_node_lacks():
    found = findings("iface-missing", ON + "[RULES]\nIN ACCEPT -i vmbr1 -p tcp -dport 22\nIN ACCEPT -i vmbr0\n")
    assert positions(found) == [0] and "node pve2 does not have" in found[0].message


def test_interfaces_of_unknown_nodes_are_not_judged():
    assert findings("iface-missing", ON + "[RULES]\nIN ACCEPT -i vmbr7\n", node_interfaces={}) == []


# -- management access -----------------------------------------------------------------------


def test_drop_policy_without_management_access():
    found = findings("no-management-access", ON)
    assert len(found) == 1 and found[0].severity == "high" and found[0].target == AuditObject("cluster")
    assert "on pve1, pve2" in found[0].message and "ipset 'management'" in found[0].fix


@pytest.mark.parametrize(
    "cluster",
    [
        ON + "[IPSET management]\n198.51.100.0/24\n",
        ON + "[RULES]\nIN ACCEPT -source 198.51.100.0/24 -p tcp -dport 22\n",
        ON + "[RULES]\nIN SSH(ACCEPT) -source 198.51.100.0/24\n",
        ON + "[RULES]\nIN ACCEPT -p tcp -dport 8000:8010\n",
        ON + "[RULES]\nGROUP admin\n[group admin]\nIN ACCEPT -p tcp -dport 8006\n",
        "[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n",
        "[OPTIONS]\nenable: 0\n",
    ],
    ids=["management-ipset", "ssh-rule", "ssh-macro", "port-range", "group", "policy-accept", "firewall-off"],
)
def test_management_access_is_there(cluster: str):
    assert findings("no-management-access", cluster) == []


@pytest.mark.parametrize(
    "cluster",
    [
        ON + "[IPSET management]\n",  # empty
        ON + "[RULES]\nIN ACCEPT -p tcp -dport 2222\n",
        ON + "[RULES]\nIN DROP -p tcp -dport 22\n",
        ON + "[RULES]\nOUT ACCEPT -p tcp -dport 22\n",
        ON + "[RULES]\n|IN ACCEPT -p tcp -dport 22\n",
    ],
    ids=["empty-ipset", "other-port", "drop", "out", "disabled"],
)
def test_management_access_is_missing(cluster: str):
    assert len(findings("no-management-access", cluster)) == 1


def test_host_rules_give_management_access_per_node():
    found = findings("no-management-access", ON, {"pve1": "[RULES]\nIN ACCEPT -p tcp -dport 8006\n"})
    assert len(found) == 1 and "on pve2 " in found[0].message
    assert findings("no-management-access", ON, {"pve1": "[RULES]\nIN ACCEPT -p tcp -dport 8006\n", "pve2": "[OPTIONS]\nenable: 0\n"}) == []


# -- references ---------------------------------------------------------------------------------


def test_missing_ipset_alias_and_group():
    cluster = ON + "[RULES]\nIN ACCEPT -source +nosuchset\nIN ACCEPT -dest nosuchalias\nGROUP nosuchgroup\n|IN ACCEPT -source +disabledref\n"
    found = findings("missing-reference", cluster)
    assert positions(found) == [0, 1, 2]  # a disabled rule is left alone
    assert all(finding.severity == "high" for finding in found)
    assert "IP set" in found[0].message and "alias" in found[1].message and "security group 'nosuchgroup'" in found[2].message


def test_references_that_resolve_are_not_missing():
    cluster = (
        ON + "[ALIASES]\ngw 192.0.2.1\n[IPSET web]\n10.0.0.0/24\n"
        "[RULES]\nIN ACCEPT -source +web\nIN ACCEPT -dest gw\nIN ACCEPT -source local_network\nIN ACCEPT -source +dc/web\n"
    )
    guest = (
        ON + "[IPSET own]\n10.1.0.0/24\n[ALIASES]\nmine 10.1.0.1\n"
        "[RULES]\nIN ACCEPT -source +own\nIN ACCEPT -source mine\nIN ACCEPT -source +guest/own\nIN ACCEPT -source +web\n"
    )
    assert findings("missing-reference", cluster, guests={100: guest}) == []


def test_scoped_references_resolve_where_the_compiler_looks():
    cluster = ON + "[IPSET web]\n10.0.0.0/24\n"
    host = "[RULES]\nIN ACCEPT -source +guest/web\n"  # a host has no sets of its own
    guest = ON + "[RULES]\nIN ACCEPT -source +guest/web\nIN ACCEPT -source +dc/web\n"
    assert [(finding.target.level, finding.target.position) for finding in findings("missing-reference", cluster, {"pve1": host}, {100: guest})] == [
        ("node", 0),
        ("vm", 0),
    ]


def test_sdn_ipsets_are_checked_when_known():
    cluster = ON + "[RULES]\nIN ACCEPT -source +sdn/vnet1-all\nIN ACCEPT -source +vnet1-gateway\n"
    assert findings("missing-reference", cluster, sdn_ipsets=frozenset({"vnet1-all", "vnet1-gateway"})) == []
    assert positions(findings("missing-reference", cluster, sdn_ipsets=frozenset())) == [0, 1]
    assert positions(findings("missing-reference", cluster)) == [1]  # unknown: +sdn/ is not judged


def test_ipset_entry_naming_a_missing_alias():
    found = findings("missing-reference", ON + "[ALIASES]\ngw 192.0.2.1\n[IPSET hosts]\ngw\nnosuch\n")
    assert [(finding.target.ipset, finding.target.entry) for finding in found] == [("hosts", 1)]


def test_unused_objects():
    cluster = ON + "[ALIASES]\ngw 192.0.2.1\n[IPSET idle]\n10.0.0.0/24\n[group idle]\nIN ACCEPT -p tcp -dport 80\n"
    guest = ON + "[IPSET own]\n10.1.0.0/24\n[ALIASES]\nmine 10.1.0.1\n"
    assert [finding.target.ipset for finding in findings("unused-ipset", cluster, guests={100: guest})] == ["idle", "own"]
    assert [finding.target.alias for finding in findings("unused-alias", cluster, guests={100: guest})] == ["gw", "mine"]
    assert [finding.target.group for finding in findings("unused-group", cluster)] == ["idle"]


def test_objects_used_anywhere_are_not_unused():
    cluster = (
        ON + "[ALIASES]\ngw 192.0.2.1\nhost2 192.0.2.2\nlocal_network 192.0.2.0/24\n"
        "[IPSET web]\n10.0.0.0/24\n[IPSET viaentry]\nhost2\n[IPSET management]\n192.0.2.0/24\n[IPSET blacklist]\n203.0.113.0/24\n"
        "[group used]\nIN ACCEPT -source +viaentry\n"
    )
    host = "[RULES]\n|IN ACCEPT -source +web\n"  # a disabled rule still uses the set
    guest = ON + "[IPSET ipfilter-net0]\n10.0.0.100\n[ALIASES]\nMine 10.9.9.9\n[RULES]\nGROUP used\nIN ACCEPT -source GW\nIN ACCEPT -dest mine\n"
    for check in ("unused-ipset", "unused-alias", "unused-group"):
        assert findings(check, cluster, {"pve1": host}, {100: guest}) == [], check


def test_a_guest_alias_hides_the_datacenter_alias_of_the_same_name():
    cluster = ON + "[ALIASES]\ngw 192.0.2.1\n"
    guest = ON + "[ALIASES]\ngw 10.9.9.9\n[RULES]\nIN ACCEPT -source gw\n"
    assert [(finding.target.level, finding.target.alias) for finding in findings("unused-alias", cluster, guests={100: guest})] == [("cluster", "gw")]


# -- rules that never decide ------------------------------------------------------------------------


def shadowed(rules: str, cluster_extra: str = "", **kwargs: object) -> list[int | None]:
    return positions(findings("rule-shadowed", ON + cluster_extra + "[RULES]\n" + rules, **kwargs))  # type: ignore[arg-type]


def test_a_wider_port_range_shadows_a_rule_below():
    assert shadowed("IN ACCEPT -p tcp -dport 8000:8100\nIN DROP -p tcp -dport 8080\n") == [1]


def test_a_narrower_port_range_does_not_shadow():
    assert shadowed("IN ACCEPT -p tcp -dport 8080\nIN DROP -p tcp -dport 8000:8100\n") == []


def test_protocol_direction_and_port_kind_matter():
    assert shadowed("IN ACCEPT -p udp -dport 53\nIN DROP -p tcp -dport 53\n") == []
    assert shadowed("OUT ACCEPT -p tcp -dport 53\nIN DROP -p tcp -dport 53\n") == []
    assert shadowed("IN ACCEPT -p tcp -sport 53\nIN DROP -p tcp -dport 53\n") == []
    assert shadowed("IN ACCEPT\nIN DROP -p tcp -dport 53\n") == [1]
    assert shadowed("IN ACCEPT -p tcp\nIN DROP -p tcp -dport 53 -sport 1024:65535\n") == [1]


def test_addresses_must_be_a_superset():
    assert shadowed("IN ACCEPT -source 10.0.0.0/8\nIN DROP -source 10.1.0.0/16\n") == [1]
    assert shadowed("IN ACCEPT -source 10.1.0.0/16\nIN DROP -source 10.0.0.0/8\n") == []
    assert shadowed("IN ACCEPT -source 10.0.0.0/8\nIN DROP -dest 10.1.0.0/16\n") == []
    assert shadowed("IN ACCEPT -source 10.0.0.1-10.0.0.20\nIN DROP -source 10.0.0.5,10.0.0.7\n") == [1]


def test_an_address_of_one_family_does_not_shadow_a_rule_of_both():
    assert shadowed("IN ACCEPT -source 0.0.0.0/0 -p tcp\nIN DROP -p tcp -dport 22\n") == []
    assert shadowed("IN ACCEPT -source 0.0.0.0/0 -p tcp\nIN ACCEPT -source ::/0 -p tcp\nIN DROP -p tcp -dport 22\n") == [2]
    assert shadowed("IN ACCEPT -p tcp\nIN DROP -source 10.0.0.0/8 -p tcp -dport 22\n") == [1]


def test_ipsets_and_aliases_are_compared_by_their_contents():
    sets = "[ALIASES]\nnet 10.0.0.0/8\n[IPSET wide]\n10.0.0.0/8\n[IPSET holey]\n10.0.0.0/8\n!10.5.0.0/16\n[IPSET inner]\n10.5.1.0/24\n10.6.0.0/16\n"
    assert shadowed("IN ACCEPT -source +wide\nIN DROP -source +inner\n", sets) == [1]
    assert shadowed("IN ACCEPT -source net\nIN DROP -source +inner\n", sets) == [1]
    assert shadowed("IN ACCEPT -source +holey\nIN DROP -source +inner\n", sets) == []  # 10.5.1.0/24 is a nomatch hole
    assert shadowed("IN ACCEPT -source +holey\nIN DROP -source 10.6.0.0/16\n", sets) == [1]


def test_interfaces_must_agree():
    assert shadowed("IN ACCEPT -p tcp\nIN DROP -i vmbr0 -p tcp -dport 22\n") == [1]
    assert shadowed("IN ACCEPT -i vmbr0 -p tcp\nIN DROP -p tcp -dport 22\n") == []
    assert shadowed("IN ACCEPT -i vmbr0 -p tcp\nIN DROP -i vmbr1 -p tcp -dport 22\n") == []


def test_disabled_rules_and_rules_with_errors_shadow_nothing():
    assert shadowed("|IN ACCEPT -p tcp\nIN DROP -p tcp -dport 22\n") == []
    assert shadowed("IN ACCEPT -source +nosuchset -p tcp\nIN DROP -p tcp -dport 22\n") == []
    assert shadowed("IN ACCEPT -p tcp\n|IN DROP -p tcp -dport 22\n") == []  # a disabled rule is not reported either


def test_macros_are_expanded_on_both_sides():
    assert shadowed("IN SSH(ACCEPT)\nIN DROP -p tcp -dport 22 -source 10.0.0.0/8\n") == [1]
    assert shadowed("IN ACCEPT -p udp -dport 53\nIN ACCEPT -p tcp -dport 53\nIN DNS(DROP)\n") == [2]
    assert shadowed("IN ACCEPT -p udp -dport 53\nIN DNS(DROP)\n") == []  # the tcp half of DNS still decides


def test_icmp_types():
    assert shadowed("IN ACCEPT -p icmp\nIN DROP -p icmp -icmp-type echo-request\n") == [1]
    assert shadowed("IN ACCEPT -p icmp -icmp-type echo-request\nIN DROP -p icmp\n") == []
    assert shadowed("IN ACCEPT -p icmp -icmp-type destination-unreachable\nIN DROP -p icmp -icmp-type port-unreachable\n") == [1]


def test_a_group_rule_shadows_with_its_group_and_is_shadowed_as_a_whole():
    group = "[group web]\nIN ACCEPT -p tcp -dport 80\nIN ACCEPT -p tcp -dport 443\n"
    cluster = ON + "[RULES]\nGROUP web\nIN DROP -p tcp -dport 443\nIN DROP -p tcp -dport 22\n" + group
    assert positions(findings("rule-shadowed", cluster)) == [1]
    cluster = ON + "[RULES]\nIN ACCEPT -p tcp -dport 1:1000\nGROUP web\n" + group
    assert positions(findings("rule-shadowed", cluster)) == [1]
    cluster = ON + "[RULES]\nIN ACCEPT -p tcp -dport 1:100\nGROUP web\n" + group
    assert findings("rule-shadowed", cluster) == []


def test_a_group_rule_bound_to_an_interface_shadows_only_that_interface():
    group = "[group web]\nIN ACCEPT -p tcp -dport 80\n"
    assert positions(findings("rule-shadowed", ON + "[RULES]\nGROUP web -i vmbr0\nIN DROP -i vmbr0 -p tcp -dport 80\n" + group)) == [1]
    assert findings("rule-shadowed", ON + "[RULES]\nGROUP web -i vmbr0\nIN DROP -p tcp -dport 80\n" + group) == []


def test_rules_on_sets_pve_fills_itself_are_not_judged():
    cluster = ON + "[IPSET management]\n192.0.2.0/24\n[RULES]\nIN ACCEPT -source 192.0.2.0/24\nIN DROP -source +management\n"
    assert findings("rule-shadowed", cluster) == []  # management also holds the local network


def test_shadowing_in_guests_groups_and_hosts():
    rules = "[RULES]\nIN ACCEPT -p tcp\nIN DROP -p tcp -dport 22\n"
    found = findings("rule-shadowed", ON + "[group web]\nIN ACCEPT -p tcp\nIN DROP -p tcp -dport 22\n", {"pve1": rules}, {100: ON + rules})
    assert [(finding.target.label) for finding in found] == ["security group 'web' rules[1]", "node pve1 rules[1]", "vm 100 rules[1]"]
    assert "pve.firewall.security_group" in found[0].fix and "above rules[0]" in found[0].fix


def test_duplicates():
    found = findings("rule-duplicate", ON + "[RULES]\nIN ACCEPT -p tcp -dport 22 # one\nIN ACCEPT -p tcp -dport 22 # two\nIN ACCEPT -p tcp -dport 23\n")
    assert positions(found) == [1] and "repeats rules[0]" in found[0].message
    # a duplicate is not also reported as shadowed
    assert findings("rule-shadowed", ON + "[RULES]\nIN ACCEPT -p tcp -dport 22\nIN ACCEPT -p tcp -dport 22\n") == []


def test_rules_that_differ_are_no_duplicates():
    assert findings("rule-duplicate", ON + "[RULES]\nIN ACCEPT -p tcp -dport 22\nIN ACCEPT -p tcp -dport 2222\nIN DROP -p tcp -dport 22\n") == []


# -- shorter rules ------------------------------------------------------------------------------------


def test_a_raw_port_rule_that_is_a_macro():
    found = findings("macro-available", ON + "[RULES]\nIN ACCEPT -source 10.0.0.0/8 -p tcp -dport 22\nIN ACCEPT -p tcp -dport 2222\n")
    assert positions(found) == [0] and "macro SSH" in found[0].message and "'macro: SSH'" in found[0].fix


def test_consecutive_rules_that_together_are_a_macro():
    found = findings("macro-available", ON + "[RULES]\nIN ACCEPT -p udp -dport 53\nIN ACCEPT -p tcp -dport 53\n")
    assert positions(found) == [0] and "rules[0]..rules[1]" in found[0].message and "DNS" in found[0].message
    # other fields differ: no single macro rule
    assert findings("macro-available", ON + "[RULES]\nIN ACCEPT -p udp -dport 53\nIN ACCEPT -source 10.0.0.1 -p tcp -dport 53\n") == []


def test_icmp_rules_are_not_offered_a_macro():
    # Ping becomes icmpv6 in IPv6: not the same as an icmp rule
    assert findings("macro-available", ON + "[RULES]\nIN ACCEPT -p icmp -icmp-type echo-request\n") == []


def test_a_run_of_rules_differing_only_in_source():
    rules = "".join(f"IN ACCEPT -source 10.0.0.{host} -p tcp -dport 5432\n" for host in (1, 2, 3))
    found = findings("ipset-candidate", ON + "[RULES]\n" + rules)
    assert positions(found) == [0] and "differ only in source" in found[0].message and "+<set name>" in found[0].fix


def test_two_rules_or_an_interrupted_run_are_no_ipset_candidate():
    rules = "IN ACCEPT -source 10.0.0.1 -p tcp -dport 5432\nIN ACCEPT -source 10.0.0.2 -p tcp -dport 5432\n"
    assert findings("ipset-candidate", ON + "[RULES]\n" + rules) == []
    assert findings("ipset-candidate", ON + "[RULES]\n" + rules + "IN DROP -p tcp -dport 22\nIN ACCEPT -source 10.0.0.3 -p tcp -dport 5432\n") == []
    assert findings("ipset-candidate", ON + "[RULES]\n" + rules + "IN ACCEPT -source 10.0.0.3 -p tcp -dport 5433\n") == []


def test_a_run_differing_only_in_dest():
    rules = "".join(f"OUT ACCEPT -dest 10.0.0.{host} -p tcp -dport 5432\n" for host in (1, 2, 3, 4))
    found = findings("ipset-candidate", ON + "[RULES]\n" + rules)
    assert len(found) == 1 and "differ only in dest" in found[0].message


# -- scope, settings and results ----------------------------------------------------------------------


def test_scope_limits_levels_nodes_and_guests():
    hosts = {"pve1": "[RULES]\nIN ACCEPT -source +nosuch\n", "pve2": "[RULES]\nIN ACCEPT -source +nosuch\n"}
    guests = {100: ON + "[RULES]\nIN ACCEPT -source +nosuch\n", 200: ON + "[RULES]\nIN ACCEPT -source +nosuch\n"}
    cluster = ON + "[RULES]\nIN ACCEPT -source +nosuch\n"
    everything = findings("missing-reference", cluster, hosts, guests)
    assert [finding.target.firewall for finding in everything] == ["cluster", "node pve1", "node pve2", "vm 100", "ct 200"]
    only = findings("missing-reference", cluster, hosts, guests, scope=AuditScope(frozenset({"node", "ct"}), nodes=frozenset({"pve2"})))
    assert [finding.target.firewall for finding in only] == ["node pve2", "ct 200"]
    only = findings("missing-reference", cluster, hosts, guests, scope=AuditScope(frozenset({"vm", "ct"}), vmids=frozenset({100})))
    assert [finding.target.firewall for finding in only] == ["vm 100"]


def test_checks_can_be_chosen_and_unknown_ones_are_refused():
    cfg = config(ON + "[RULES]\nIN ACCEPT -source +nosuch\nIN ACCEPT -source +nosuch\n")
    found = audit(cfg, AuditFacts(INVENTORY), settings=AuditSettings(checks=frozenset({"rule-duplicate"})))
    assert {finding.check for finding in found} == {"rule-duplicate"}
    with pytest.raises(ValueError, match="unknown checks: nosuch"):
        audit(cfg, settings=AuditSettings(checks=frozenset({"nosuch"})))


def test_results_are_ordered_by_severity_and_summarised():
    cfg = config(ON + "[IPSET idle]\n10.0.0.0/24\n[RULES]\nIN ACCEPT -source +nosuch\n", guests={100: "[RULES]\nIN ACCEPT -p tcp -dport 443\n"})
    found = audit(cfg, AuditFacts(INVENTORY))
    ranks = [SEVERITIES.index(finding.severity) for finding in found]
    assert ranks == sorted(ranks) and found[0].check == "guest-unfiltered"
    numbers = counts(found)
    assert numbers["total"] == len(found) and sum(numbers["by_severity"].values()) == len(found)  # type: ignore[union-attr]
    lines = summary_lines(found)
    assert lines[0].startswith(f"{len(found)} findings: 1 critical, ")
    assert lines[1].startswith("CRITICAL guest-unfiltered vm 100: ")
    assert {finding.severity for finding in at_or_above(found, "high")} <= {"critical", "high"}
    assert summary_lines(()) == ["no findings"]
    record = found[0].as_dict()
    assert record["id"] == "guest-unfiltered@vm 100" and record["object"] == {"level": "vm", "node": "pve1", "vmid": 100}


def test_every_check_has_a_known_severity():
    assert all(check.severity in SEVERITIES for check in CHECKS.values())


def test_an_empty_cluster_has_no_findings():
    assert audit(ClusterConfig(FirewallFile(FileKind.CLUSTER)), AuditFacts(INVENTORY)) == ()


def test_rules_given_as_model_values():
    guest = FirewallFile(FileKind.GUEST, {"enable": True}, rules=(Rule("in", "ACCEPT", proto="tcp"), Rule("in", "DROP", proto="tcp", dport="22")))
    from ansible_collections.pve.firewall.plugins.module_utils._model.objects import GuestFirewall, Level

    cfg = ClusterConfig(FirewallFile(FileKind.CLUSTER, {"enable": 1}), guests={100: GuestFirewall(100, Level.VM, guest)})
    assert [finding.target.label for finding in audit(cfg, AuditFacts(INVENTORY)) if finding.check == "rule-shadowed"] == ["vm 100 rules[1]"]


def test_within_a_severity_findings_follow_the_objects():
    guest = "[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n"
    cluster = ON + "[RULES]\nIN ACCEPT -p tcp\nIN DROP -p tcp -dport 22\n"
    found = [finding for finding in audit(config(cluster, guests={100: guest}), AuditFacts(INVENTORY)) if finding.severity == "medium"]
    assert [(finding.check, finding.target.label) for finding in found] == [
        ("rule-shadowed", "cluster rules[1]"),
        ("guest-policy-accept", "vm 100"),
        ("guest-firewall-off", "ct 200"),
    ]
