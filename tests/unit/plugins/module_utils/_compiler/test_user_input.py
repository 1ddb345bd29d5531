"""User-facing shapes: conversion, type errors, and gathered output feeding back in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import firewall_files

from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_file
from ansible_collections.pve.firewall.plugins.module_utils._compiler.user_input import (
    entry_from_user,
    entry_to_user,
    file_from_user,
    file_to_user,
    rule_from_user,
    rule_to_user,
    rules_from_user,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, IPSetEntry, Rule


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
