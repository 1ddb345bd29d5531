"""verify_rule semantics that the corpus does not pin on its own: order, family, references."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._compiler.rule_validation import References, check_rule
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
    assert fields(Rule("in", "DROP", source="+sdn/anything"), Level.VM, refs) == []
    assert fields(Rule("group", "db"), Level.VM, refs) == [("action", "no such security group 'db'")]
    pve_exact = References(cluster_ipsets=frozenset({"myset"}), case_sensitive=True)
    assert fields(Rule("in", "DROP", source="+MySet"), Level.HOST, pve_exact) == [("source", "no such ipset 'MySet'")]
    assert fields(Rule("in", "DROP", source="+MySet"), Level.HOST, References(cluster_ipsets=frozenset({"myset"}))) == []


def test_scope_can_be_ignored_as_pves_api_does():
    refs = References(cluster_ipsets=frozenset({"onlydc"}), cluster_aliases={"dbhost": 4}, scope_checked=False)
    assert fields(Rule("in", "DROP", source="+guest/onlydc", dest="guest/dbhost"), Level.HOST, refs) == []
    assert fields(Rule("in", "DROP", source="+guest/nosuch"), Level.HOST, refs) == [("source", "no such ipset 'nosuch'")]
