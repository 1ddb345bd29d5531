"""Model <-> PVE API parameters, with PVE's write quirks."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._compiler.api_mapping import (
    alias_from_api,
    alias_to_api,
    alias_update_params,
    comment_update_params,
    group_from_api,
    ipset_entry_from_api,
    ipset_entry_to_api,
    ipset_entry_update_params,
    ipset_from_api,
    named_object_params,
    options_from_api,
    options_to_api,
    rule_from_api,
    rule_to_api,
    rule_update_params,
    with_digest,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Alias, IPSet, IPSetEntry, Rule, SecurityGroup


def test_new_rule_sends_enable_explicitly_and_api_names():
    params = rule_to_api(Rule("in", "ACCEPT", proto="icmp", icmp_type="echo-request"))
    assert params == {"type": "in", "action": "ACCEPT", "enable": 1, "proto": "icmp", "icmp-type": "echo-request"}
    assert rule_to_api(Rule("in", "DROP", enable=False))["enable"] == 0


def test_update_sets_changed_fields_and_deletes_cleared_ones_but_never_enable():
    documented = Rule("in", "ACCEPT", proto="tcp", dport="22", comment="ssh", log="info")
    bare = Rule("in", "ACCEPT", proto="tcp", dport="2222", enable=False)
    assert rule_update_params(documented, bare) == {"enable": 0, "dport": "2222", "delete": "log,comment"}
    assert rule_update_params(bare, documented) == {"enable": 1, "dport": "22", "log": "info", "comment": "ssh"}
    assert rule_update_params(documented, documented) == {}


def test_rule_from_api_drops_meta_and_normalises():
    data = {
        "action": "ACCEPT",
        "dest": "8.8.8.8/32",
        "digest": "d90d",
        "dport": "80,443",
        "enable": 0,
        "ipversion": 4,
        "pos": 1,
        "proto": "tcp",
        "type": "out",
        "log": "nolog",
    }
    assert rule_from_api(data) == Rule("out", "ACCEPT", dest="8.8.8.8", proto="tcp", dport="80,443", enable=False)
    assert rule_from_api({"type": "in", "action": "ACCEPT", "macro": "ssh", "icmp-type": None}) == Rule("in", "ACCEPT", macro="SSH")


def test_round_trip_through_api_parameters():
    rule = Rule("group", "webservers", iface="net0", comment="web")
    assert rule_from_api(rule_to_api(rule)) == rule


def test_ipset_entry_and_alias_writes_send_every_field():
    assert ipset_entry_to_api(IPSetEntry("10.0.0.0/8")) == {"cidr": "10.0.0.0/8"}
    assert ipset_entry_to_api(IPSetEntry("10.0.0.0/8", True, "x")) == {"cidr": "10.0.0.0/8", "nomatch": 1, "comment": "x"}
    assert ipset_entry_update_params(IPSetEntry("10.0.0.0/8")) == {"nomatch": 0, "comment": ""}
    assert alias_update_params(Alias("web", "10.0.0.5")) == {"cidr": "10.0.0.5", "comment": ""}
    assert ipset_entry_from_api({"cidr": "10.0.0.0/8", "nomatch": 1, "digest": "x"}) == IPSetEntry("10.0.0.0/8", True)
    assert alias_from_api({"name": "Web", "cidr": "10.0.0.5/32", "ipversion": 4}) == Alias("Web", "10.0.0.5")


def test_options_both_ways():
    assert options_from_api("vm", {"enable": 1, "policy_in": "DROP", "digest": "abc"}) == {"enable": True, "policy_in": "DROP"}
    assert options_to_api("vm", {"enable": True, "macfilter": False}, ["dhcp", "ndp"]) == {
        "enable": 1,
        "macfilter": 0,
        "delete": "dhcp,ndp",
    }
    assert options_to_api("cluster", {"enable": 1}) == {"enable": 1}


def test_digest_is_carried_only_when_known():
    assert with_digest({"pos": 1}, "abc") == {"pos": 1, "digest": "abc"}
    assert with_digest({"pos": 1}, None) == {"pos": 1}


def test_ipsets_groups_and_aliases_to_and_from_the_api():
    assert named_object_params("name", "blocklist", None) == {"name": "blocklist"}
    assert named_object_params("group", "web", "web servers") == {"group": "web", "comment": "web servers"}
    # PVE edits a comment through a rename to the same name; an empty comment clears it
    assert comment_update_params("group", "web", None) == {"group": "web", "rename": "web", "comment": ""}
    assert alias_to_api(Alias("Web", "10.0.0.5", "front")) == {"name": "Web", "cidr": "10.0.0.5", "comment": "front"}
    assert alias_to_api(Alias("web", "10.0.0.5")) == {"name": "web", "cidr": "10.0.0.5"}
    ipset = ipset_from_api({"name": "BlockList", "comment": "", "digest": "x"}, [{"cidr": "10.0.0.1/32", "digest": "x"}])
    assert ipset == IPSet("blocklist", None, (IPSetEntry("10.0.0.1"),))
    group = group_from_api({"group": "Web", "comment": "w"}, [{"type": "in", "action": "ACCEPT", "macro": "https", "pos": 0, "enable": 1}])
    assert group == SecurityGroup("web", "w", (Rule("in", "ACCEPT", macro="HTTPS"),))
