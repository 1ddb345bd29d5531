"""User-facing shapes: conversion, type errors, and gathered output feeding back in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import firewall_files

from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_file
from ansible_collections.pve.firewall.plugins.module_utils._compiler.user_input import (
    entry_from_user,
    entry_to_user,
    file_from_user,
    file_to_user,
    options_from_user,
    rule_from_user,
    rule_to_user,
    rules_from_user,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile, IPSetEntry, Rule


def test_rule_from_user_converts_numbers_and_flags():
    rule, errors = rule_from_user({"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": 22, "enable": 0}, "rules[0]")
    assert errors == []
    assert rule == Rule("in", "ACCEPT", proto="tcp", dport="22", enable=False)


def test_rule_shape_errors_are_all_reported():
    rules, errors = rules_from_user([{"type": "in", "action": "ACCEPT", "port": 22, "dport": [22], "enable": "maybe"}, "not a mapping", {"action": "DROP"}])
    summary = [(error.location, error.field) for error in errors]
    assert ("rules[0]", "port") in summary
    assert ("rules[0]", "dport") in summary
    assert ("rules[0]", "enable") in summary
    assert ("rules[1]", "rule") in summary
    assert ("rules[2]", "type") in summary
    assert "port=22" in str(errors[0]) and "unknown rule key 'port'" in str(errors[0])


def test_rule_to_user_omits_defaults():
    assert rule_to_user(Rule("in", "ACCEPT", macro="SSH")) == {"type": "in", "action": "ACCEPT", "macro": "SSH"}
    assert rule_to_user(Rule("out", "DROP", enable=False))["enable"] is False


def test_entry_strings_and_mappings():
    assert entry_from_user("!10.0.0.0/8", "e")[0] == IPSetEntry("10.0.0.0/8", True)
    assert entry_from_user({"cidr": "10.0.0.1", "comment": "db"}, "e")[0] == IPSetEntry("10.0.0.1", False, "db")
    assert entry_to_user(IPSetEntry("10.0.0.0/8", True)) == "!10.0.0.0/8"
    assert entry_to_user(IPSetEntry("10.0.0.1", False, "db")) == {"cidr": "10.0.0.1", "comment": "db"}
    entry, errors = entry_from_user({"nomatch": True}, "e")
    assert entry is None and errors[0].field == "cidr"


@settings(max_examples=80, deadline=None)
@given(data=st.data(), kind=st.sampled_from(list(FileKind)))
def test_gathered_output_feeds_back_unchanged(data, kind):
    fw = normalise_file(data.draw(firewall_files(kind)))
    again, errors = file_from_user(kind, file_to_user(fw))
    assert errors == []
    assert normalise_file(again) == fw


def test_line_breaks_in_text_are_refused_before_they_reach_a_file():
    errors = rule_from_user({"type": "in", "action": "ACCEPT", "comment": "one\nIN ACCEPT"}, "rules[0]")[1]
    assert [(error.field, error.message) for error in errors] == [("comment", "comment cannot contain line breaks")]


# -- what PVE accepts but cannot store as meant (issue 15, classes 2 and 3)


def test_a_group_rule_with_a_macro_is_refused_naming_what_pve_would_write():
    """FW format_rules writes 'GROUP SSH(webgrp)', which parse_fw_rule reads as a bad group name."""
    rule, errors = rule_from_user({"type": "group", "action": "webgrp", "macro": "SSH"}, "rules[0]")
    assert rule is not None
    assert [(error.field, error.value) for error in errors] == [("macro", "SSH")]
    assert "'GROUP SSH(webgrp)'" in errors[0].message and "FW format_rules" in errors[0].message


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("source", "10.0.0.0/8"),
        ("dest", "+blocklist"),
        ("proto", "tcp"),
        ("dport", "22"),
        ("sport", "1024:65535"),
        ("log", "info"),
        ("icmp_type", "echo-request"),
    ],
)
def test_a_group_rule_takes_no_match_field_as_pves_writer_drops_it(key, value):
    rule, errors = rule_from_user({"type": "group", "action": "webgrp", key: value}, "rules[2]")
    assert rule is not None
    assert [(error.location, error.field, error.value) for error in errors] == [("rules[2]", key, value)]
    assert "leaves" in errors[0].message and "FW format_rules" in errors[0].message


def test_what_a_group_rule_keeps_is_accepted():
    for data in ({"type": "group", "action": "webgrp", "iface": "net0", "comment": "web tier", "enable": False}, "GROUP webgrp -i net0 # web tier"):
        rule, errors = rule_from_user(data, "rules[0]")
        assert errors == [] and rule is not None and rule.action == "webgrp"
    # the same fields on an in/out rule stay allowed
    assert rule_from_user({"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "10.0.0.0/8", "log": "info"}, "r")[1] == []


def test_group_rules_of_a_file_and_of_a_group_are_checked_too():
    data = {"rules": [{"type": "group", "action": "webgrp", "proto": "tcp"}], "groups": [{"name": "webgrp", "rules": [{"type": "in", "action": "ACCEPT"}]}]}
    _fw, errors = file_from_user(FileKind.CLUSTER, data)
    assert [(error.location, error.field) for error in errors] == [("rules[0]", "proto")]


@pytest.mark.parametrize(("raw", "shown"), [(2, 2), ("5", "5"), (1700000000, 1700000000)])
def test_a_cluster_enable_above_1_is_refused_as_pve_would_store_a_timestamp(raw, shown):
    options, errors = options_from_user("cluster", {"enable": raw, "policy_in": "DROP"})
    assert options == {"policy_in": "DROP"}
    assert [(error.field, error.value) for error in errors] == [("enable", shown)]
    assert "arm_auto_revert" in errors[0].accepted


def test_a_cluster_enable_of_0_1_or_a_boolean_stays():
    for raw, value in ((True, 1), (False, 0), (1, 1), ("0", 0)):
        assert options_from_user("cluster", {"enable": raw}) == ({"enable": value}, [])
    # other levels' enable is a boolean: 2 fails its type check as before
    assert options_from_user("vnet", {"enable": 2})[1][0].message == "type check ('boolean') failed - got '2'"


@pytest.mark.parametrize("raw", ["", []])
def test_empty_conntrack_helpers_are_refused_as_pves_parser_drops_the_line(raw):
    options, errors = options_from_user("host", {"nf_conntrack_helpers": raw})
    assert options == {}
    assert [(error.field, error.value) for error in errors] == [("nf_conntrack_helpers", raw)]
    assert "parse_hostfw_option" in errors[0].message and "reset" in errors[0].accepted
    assert options_from_user("host", {"nf_conntrack_helpers": "sip,ftp"}) == ({"nf_conntrack_helpers": "ftp,sip"}, [])


@pytest.mark.parametrize(("enable", "exported"), [(1_700_000_000, 1), (2, 1), (1, 1), (0, 0)])
def test_an_armed_datacenter_enable_is_exported_as_on(enable: int, exported: int):
    # FW API2 Cluster set_options stores the time of the write for an enable above 1; what the
    # admin turned on is 1, and the input shape refuses the timestamp (it would switch the
    # firewall off again 60 s after each apply)
    data = file_to_user(FirewallFile(FileKind.CLUSTER, options={"enable": enable, "policy_in": "DROP"}))
    assert data["options"] == {"enable": exported, "policy_in": "DROP"}
    fw, errors = file_from_user(FileKind.CLUSTER, data)
    assert errors == [] and fw is not None and fw.options["enable"] == exported
    assert file_to_user(FirewallFile(FileKind.VNET, options={"enable": 1})) == {"options": {"enable": 1}}
