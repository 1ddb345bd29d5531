"""Canonical forms: equal meaning compares equal, invalid values stay visible."""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import (
    comment_problem,
    fw_line,
    normalise_file,
    normalise_ipset,
    normalise_rule,
    optional_text,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Alias, FileKind, FirewallFile, IPSet, IPSetEntry, Rule, SecurityGroup


def test_rule_spellings_that_mean_the_same_compare_equal():
    written = Rule("IN", "ACCEPT", macro="ssh", source="10.0.0.1/32", dest="+MySet", proto="TCP", dport="022", log="nolog", comment="  ", iface=" vmbr0 ")
    assert normalise_rule(written) == Rule("in", "ACCEPT", macro="SSH", source="10.0.0.1", dest="+myset", proto="tcp", dport="22", iface="vmbr0")


def test_group_references_and_unset_markers():
    # PVE looks a group up by the name as written: 'WebServers' is not the group 'webservers'
    assert normalise_rule(Rule("group", "WebServers")).action == "WebServers"
    assert normalise_rule(Rule("group", "WebServers")) != normalise_rule(Rule("group", "webservers"))
    assert normalise_rule(Rule("in", "ACCEPT", source="-", dport="")) == Rule("in", "ACCEPT")


def test_invalid_values_are_left_for_validation():
    rule = Rule("in", "ACCEPT", source="10.0.0.300", proto="nosuch", dport="99999")
    assert normalise_rule(rule) == Rule("in", "ACCEPT", source="10.0.0.300", proto="nosuch", dport="99999")


def test_ipsets_sorted_deduplicated_and_lowercased():
    ipset = IPSet("BlockList", " x ", (IPSetEntry("192.168.1.155/24"), IPSetEntry("10.0.0.1/32"), IPSetEntry("10.0.0.1", True), IPSetEntry("Admins")))
    assert normalise_ipset(ipset) == IPSet("blocklist", "x", (IPSetEntry("10.0.0.1"), IPSetEntry("192.168.1.0/24"), IPSetEntry("admins")))


def test_file_sections_in_canonical_order():
    fw = FirewallFile(
        FileKind.CLUSTER,
        aliases=(Alias("zeta", "10.0.0.1"), Alias("Alpha", "10.0.0.2/32")),
        groups=(SecurityGroup("web"), SecurityGroup("DB")),
    )
    result = normalise_file(fw)
    assert [alias.name for alias in result.aliases] == ["Alpha", "zeta"]
    assert result.aliases[0].cidr == "10.0.0.2"
    assert [group.name for group in result.groups] == ["db", "web"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (" x ", "x"),
        ("\t\r\n x \x0b\x0c", "x"),
        ("\u00a0x", "\u00a0x"),  # PVE trims ASCII blanks only around a comment
        ("x\u2028", "x\u2028"),
        ("\x1c", "\x1c"),
        ("\u2028 \u3000", None),  # blank to the writer's Unicode \s: not written
        ("", None),
        (None, None),
    ],
)
def test_optional_text_trims_what_pve_trims(given, expected):
    assert optional_text(given) == expected


@pytest.mark.parametrize(
    ("comment", "problem"),
    [
        ("fine", None),
        (" spaced ", None),
        ("a\rb", None),
        ("x\u2028", None),
        ("caf\u00e9", None),
        ("x\u00a0y", None),
        ("0", "PVE drops the comment '0'"),
        (" 0\t", "PVE drops the comment '0'"),
        ("voil\u00e0", "'voil\ufffd'"),
        ("x\u00a0", "0xA0"),
        ("\u0820", "0xA0"),
    ],
)
def test_comment_problem_says_what_pve_would_not_read_back(comment, problem):
    found = comment_problem(comment)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_fw_line_trims_horizontal_blanks_and_the_byte_0xa0():
    assert fw_line(" \tIN ACCEPT # x \t") == "IN ACCEPT # x"
    assert fw_line("x\u00e0 \t") == "x\ufffd"
    assert fw_line("x\r") == "x\r"


def test_set_references_are_lowercased_except_sdn_ones():
    rule = normalise_rule(Rule(type="in", action="ACCEPT", source="+dc/MySet", dest="+sdn/MyNet-all"))
    assert (rule.source, rule.dest) == ("+dc/myset", "+sdn/MyNet-all")


def test_a_normalised_file_is_returned_as_it_is_and_equals_a_fresh_normalisation():
    fw = FirewallFile(FileKind.HOST, rules=(Rule(type="IN", action="ACCEPT", proto="TCP", dport="22,80", source="+MySet"),))
    once = normalise_file(fw)
    assert normalise_file(once) is once  # render_fw of a normalised file does not walk it again
    copy = FirewallFile(once.kind, rules=once.rules)  # an equal file that normalise_file did not make
    assert normalise_file(copy) == once and normalise_file(copy) is not copy
