"""verify_rule semantics that the corpus does not pin on its own: order, family, references."""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.rule_validation import References, check_rule, sdn_vnet_ipsets
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Level, Rule


def fields(rule: Rule, level: Level = Level.HOST, refs: References | None = None) -> list[tuple[str, str]]:
    return [(error.field, error.message) for error in check_rule(rule, level, location="r", refs=refs).errors]


def test_icmp_is_decided_by_name_not_number():
    # PVE: 'icmp' allows icmp-type and fixes IPv4; protocol number 1 does neither.
    assert fields(Rule("in", "ACCEPT", proto="icmp", icmp_type="echo-request")) == []
    assert fields(Rule("in", "ACCEPT", proto="1", icmp_type="echo-request")) == [("proto", "missing property - 'icmp-type' requires this property")]
    assert check_rule(Rule("in", "ACCEPT", proto="icmp"), Level.HOST, location="r").ipversion == 4
    assert check_rule(Rule("in", "ACCEPT", proto="1"), Level.HOST, location="r").ipversion is None


def test_errors_come_in_pves_order_and_all_of_them():
    rule = Rule("forward", "REJECT", iface="vmbr-0", macro="nosuch", proto="bogus", source="10.0.0.300")
    assert [field for field, _message in fields(rule)] == ["action", "iface", "macro", "proto", "source"]


def test_family_follows_alias_and_conflicts_are_reported():
    refs = References(cluster_aliases={"v6host": 6}, guest_aliases={"v6host": 4})
    assert check_rule(Rule("in", "ACCEPT", source="v6host"), Level.VM, location="r", refs=refs).ipversion == 4
    assert check_rule(Rule("in", "ACCEPT", source="dc/v6host"), Level.VM, location="r", refs=refs).ipversion == 6
    assert fields(Rule("in", "ACCEPT", source="10.0.0.1", dest="dc/v6host"), Level.VM, refs) == [("dest", "detected mixed ipv4/ipv6 addresses in rule")]


def test_macro_parameters_checked_only_when_everything_else_is_valid():
    assert fields(Rule("in", "ACCEPT", macro="SSH", proto="tcp", dport="2222")) == [("dport", "parameter 'dport' already define in macro (value = '22')")]
    assert fields(Rule("in", "ACCEPT", macro="SSH", proto="tcp", dport="22")) == []
    # an earlier error suppresses the macro test-apply, as in PVE
    assert [field for field, _message in fields(Rule("in", "ACCEPT", macro="SSH", proto="tcp", dport="2222", log="loud"))] == ["log"]


def test_references_respect_scopes_and_case_mode():
    refs = References(cluster_ipsets=frozenset({"blocklist"}), guest_ipsets=frozenset({"local"}), groups=frozenset({"web"}))
    assert fields(Rule("in", "DROP", source="+blocklist"), Level.VM, refs) == []
    assert fields(Rule("in", "DROP", source="+guest/blocklist"), Level.VM, refs) == [("source", "no such ipset 'blocklist'")]
    assert fields(Rule("in", "DROP", source="+dc/local"), Level.VM, refs) == [("source", "no such ipset 'local'")]
    assert fields(Rule("in", "DROP", source="+sdn/vnet1-all"), Level.VM, refs) == []
    # FW verify_rule checks a group name's syntax only (measured: PVE's API stores both rules)
    assert fields(Rule("group", "db"), Level.VM, refs) == [
        ("action", "no such security group 'db': PVE's API takes any group name, so the rule would jump to no group")
    ]
    assert fields(Rule("group", "Web"), Level.VM, refs) == [
        ("action", "no such security group 'Web': the group is 'web' and PVE looks names up as written, so the rule would jump to no group")
    ]
    pve_exact = References(cluster_ipsets=frozenset({"myset"}), case_sensitive=True)
    assert fields(Rule("in", "DROP", source="+MySet"), Level.HOST, pve_exact) == [("source", "no such ipset 'MySet'")]
    assert fields(Rule("in", "DROP", source="+MySet"), Level.HOST, References(cluster_ipsets=frozenset({"myset"}))) == []


def test_scope_can_be_ignored_as_pves_api_does():
    refs = References(cluster_ipsets=frozenset({"onlydc"}), cluster_aliases={"dbhost": 4}, scope_checked=False)
    assert fields(Rule("in", "DROP", source="+guest/onlydc", dest="guest/dbhost"), Level.HOST, refs) == []
    assert fields(Rule("in", "DROP", source="+guest/nosuch"), Level.HOST, refs) == [("source", "no such ipset 'nosuch'")]


# -- +sdn/ references: PVE's SDN names its sets <vnet>-all, -gateway, -no-gateway, -dhcp and
# guest-ipam-<vmid> (proxmox-ve-config); FW ipt_gen_src_or_dst_match finds a +sdn/ name among those only.


@pytest.mark.parametrize(
    "name", ["vnet1-all", "vnet1-gateway", "vnet1-no-gateway", "vnet1-dhcp", "VNetA-all", "ab-dhcp", "guest-ipam-100", "guest-ipam-999999999"]
)
def test_offline_an_sdn_reference_may_name_what_sdn_can_generate(name: str) -> None:
    assert fields(Rule("in", "DROP", source=f"+sdn/{name}"), Level.VM, References()) == []


@pytest.mark.parametrize(
    "name",
    [
        "anything",
        "clusterset",
        "vnet1",
        "vnet1-other",
        "vnet1-All",
        "a-all",
        "toolongvnet-all",
        "v1-al",
        "vnet_1-all",
        "guest-ipam-99",
        "guest-ipam-0100",
        "vnet1-all-x",
    ],
)
def test_offline_an_sdn_reference_to_a_name_sdn_never_generates_is_refused(name: str) -> None:
    refs = References(cluster_ipsets=frozenset({"clusterset"}))
    errors = check_rule(Rule("in", "DROP", dest=f"+sdn/{name}"), Level.VM, location="r", refs=refs).errors
    assert [(error.field, error.message) for error in errors] == [("dest", f"no such ipset '{name}'")]
    assert "<vnet>-all" in errors[0].accepted


def test_known_sdn_sets_decide_exactly_and_are_the_last_place_an_unscoped_name_is_looked_up() -> None:
    refs = References(cluster_ipsets=frozenset({"clusterset"}), sdn_ipsets=sdn_vnet_ipsets(["vnet1"]))
    assert sdn_vnet_ipsets(["vnet1"]) == {"vnet1-all", "vnet1-gateway", "vnet1-no-gateway", "vnet1-dhcp"}
    assert fields(Rule("in", "DROP", source="+sdn/vnet1-dhcp"), Level.HOST, refs) == []
    assert fields(Rule("in", "DROP", source="+vnet1-all"), Level.HOST, refs) == []
    assert fields(Rule("in", "DROP", source="+sdn/vnet2-all"), Level.HOST, refs) == [("source", "no such ipset 'vnet2-all'")]
    assert fields(Rule("in", "DROP", source="+sdn/clusterset"), Level.HOST, refs) == [("source", "no such ipset 'clusterset'")]
    assert fields(Rule("in", "DROP", source="+dc/vnet1-all"), Level.HOST, refs) == [("source", "no such ipset 'vnet1-all'")]
    # without the SDN sets read, an unscoped name finds only the sets of the files
    assert fields(Rule("in", "DROP", source="+vnet1-all"), Level.HOST, References()) == [("source", "no such ipset 'vnet1-all'")]


def test_pves_api_finds_any_scope_anywhere_sdn_included() -> None:
    """FW verify_rule takes '+sdn/clusterset' (a datacenter set) and '+dc/vnet1-all' alike."""
    refs = References(cluster_ipsets=frozenset({"clusterset"}), sdn_ipsets=sdn_vnet_ipsets(["vnet1"]), scope_checked=False)
    assert fields(Rule("in", "DROP", source="+sdn/clusterset", dest="+dc/vnet1-all"), Level.HOST, refs) == []
    assert fields(Rule("in", "DROP", source="+sdn/vnet9-all"), Level.HOST, refs) == [("source", "no such ipset 'vnet9-all'")]
