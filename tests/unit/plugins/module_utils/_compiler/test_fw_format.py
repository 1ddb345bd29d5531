"""The .fw format: exact layout, every line kind, strict errors with line numbers, round trips."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import firewall_files

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import parse_fw, parse_rule_line, render_fw, render_rule_line
from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_file
from ansible_collections.pve.firewall.plugins.module_utils._model.errors import FirewallValidationError
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import (
    Alias,
    FileKind,
    FirewallFile,
    IPSet,
    IPSetEntry,
    Rule,
    SecurityGroup,
)

EXAMPLES = {"cluster.fw": FileKind.CLUSTER, "host.fw": FileKind.HOST, "100.fw": FileKind.GUEST}


def test_rule_line_layout_follows_pves_writer():
    rule = Rule(
        "in",
        "ACCEPT",
        iface="vmbr0",
        source="10.0.0.0/24",
        dest="+dc/web",
        proto="tcp",
        dport="80,443",
        sport="1024:65535",
        log="info",
        comment="web",
    )
    assert render_rule_line(rule) == "IN ACCEPT -i vmbr0 -source 10.0.0.0/24 -dest +dc/web -p tcp -dport 80,443 -sport 1024:65535 -log info # web"


def test_disabled_macro_and_group_rules():
    assert render_rule_line(Rule("out", "DROP", macro="SSH", enable=False)) == "|OUT SSH(DROP)"
    assert render_rule_line(Rule("group", "webservers", iface="net0")) == "GROUP webservers -i net0"
    assert render_rule_line(Rule("in", "ACCEPT", proto="icmp", icmp_type="echo-request")) == "IN ACCEPT -p icmp -icmp-type echo-request"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("IN SSH(ACCEPT) -i net0", Rule("in", "ACCEPT", macro="SSH", iface="net0")),
        ("|in ACCEPT -p tcp -dport 22", Rule("in", "ACCEPT", proto="tcp", dport="22", enable=False)),
        ("|OUT DROP", Rule("out", "DROP", enable=False)),
        ("IN ACCEPT -p tcp -dport 22 -p udp", Rule("in", "ACCEPT", proto="udp", dport="22")),  # the last value wins
        ("IN  ACCEPT --proto tcp --dport 22 --source 10.0.0.1", Rule("in", "ACCEPT", proto="tcp", dport="22", source="10.0.0.1")),
        (
            "IN ACCEPT -proto udp -sport 53 -log nolog #  a comment # with hash ",
            Rule("in", "ACCEPT", proto="udp", sport="53", log="nolog", comment="a comment # with hash"),
        ),
        ("GROUP Group1 -i net0", Rule("group", "Group1", iface="net0")),
        (
            "FORWARD ACCEPT --dest 10.0.0.0/8 --icmp-type any -p icmp",
            Rule("forward", "ACCEPT", dest="10.0.0.0/8", proto="icmp", icmp_type="any"),
        ),
    ],
)
def test_rule_lines_in_every_spelling(line, expected):
    assert parse_rule_line(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("IN", "unable to parse rule: IN"),
        ("IN ACCEPT -x 1", "unable to parse rule parameters: -x 1"),
        ("IN ACCEPT -p", "unable to parse rule parameters: -p"),
        ("| OUT DROP", "unable to parse rule:  OUT DROP"),  # no blank after the '|'
        ("IN ACCEPT -log loud", "unable to parse rule parameters: -log loud"),
        ("GROUP web -p tcp", "unable to parse rule parameters: -p tcp"),
    ],
)
def test_unparseable_rule_lines(line, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_rule_line(line)


def test_strict_parse_reports_every_bad_line_with_its_number():
    text = "junk before section\n[OPTIONS]\nenable: 1\n[RULES]\nIN ACCEPT -bogus 1\nIN ACCEPT -p tcp\nIN\n[IPSET nope]\n1.2.3.4\n"
    with pytest.raises(FirewallValidationError) as caught:
        parse_fw(text, FileKind.HOST)
    locations = [error.location for error in caught.value.errors]
    assert locations == ["host.fw line 1", "host.fw line 5", "host.fw line 7", "host.fw line 8", "host.fw line 9"]
    assert "unable to parse rule parameters: -bogus 1" in str(caught.value)


def test_lenient_parse_skips_like_pve_and_keeps_the_rest():
    parsed = parse_fw("[RULES]\nIN ACCEPT -bogus 1\nIN DROP -p tcp\n", FileKind.HOST, lenient=True)
    assert parsed.file.rules == (Rule("in", "DROP", proto="tcp"),)
    assert [warning.location for warning in parsed.warnings] == ["host.fw line 2"]


def test_sections_names_and_comments():
    text = (
        "[OPTIONS]\n\nenable: 1\npolicy_in: drop\n\n[ALIASES]\n\nMyServer 10.0.0.1/32 # db\n\n"
        "[IPSET Mgmt] # admins\n\n10.0.0.0/8\n! 10.9.0.0/16 # not these\nmyserver\n\n"
        "[RULES]\n\nGROUP web\n\n[group Web] # web servers\n\nIN HTTPS(ACCEPT)\n"
    )
    parsed = parse_fw(text, FileKind.CLUSTER)
    fw = parsed.file
    assert dict(fw.options) == {"enable": 1, "policy_in": "DROP"}
    assert fw.aliases == (Alias("MyServer", "10.0.0.1", "db"),)  # FW parse_ip_or_cidr drops the /32
    assert fw.ipsets == (IPSet("mgmt", "admins", (IPSetEntry("10.0.0.0/8"), IPSetEntry("10.9.0.0/16", True, "not these"), IPSetEntry("myserver"))),)
    assert fw.groups == (SecurityGroup("web", "web servers", (Rule("in", "ACCEPT", macro="HTTPS"),)),)
    assert parsed.lines[("ipsets", "mgmt", 1)] == 13
    assert parsed.lines[("groups", "web", 0)] == 22


def test_render_exact_text():
    fw = FirewallFile(
        FileKind.CLUSTER,
        options={"policy_in": "DROP", "enable": 1},
        aliases=(Alias("web", "10.0.0.5"),),
        ipsets=(IPSet("management", None, (IPSetEntry("192.168.0.0/24"), IPSetEntry("10.0.0.0/8", comment="lan"))),),
        rules=(Rule("in", "ACCEPT", macro="SSH", source="+management"),),
        groups=(SecurityGroup("empty", "nothing yet"),),
    )
    assert render_fw(fw) == (
        "[OPTIONS]\n\nenable: 1\npolicy_in: DROP\n\n"
        "[ALIASES]\n\nweb 10.0.0.5\n\n"
        "[IPSET management]\n\n10.0.0.0/8 # lan\n192.168.0.0/24\n\n"
        "[RULES]\n\nIN SSH(ACCEPT) -source +management\n\n"
        "[group empty] # nothing yet\n\n\n"
    )


def test_empty_file_renders_empty_and_empty_sets_survive():
    assert render_fw(FirewallFile(FileKind.HOST)) == ""
    fw = FirewallFile(FileKind.GUEST, ipsets=(IPSet("ipfilter-net0"),))
    assert parse_fw(render_fw(fw), FileKind.GUEST).file == fw


def test_a_header_of_a_section_the_kind_lacks_is_a_plain_line():
    # generic_fw_config_parser tests [ALIASES] only where the empty config has aliases
    with pytest.raises(FirewallValidationError, match="line 1: section='\\[ALIASES\\]': section not allowed in host.fw: PVE reads this line as part"):
        parse_fw("[ALIASES]\nfoo 10.0.0.1\n", FileKind.HOST)
    parsed = parse_fw("[RULES]\nIN DROP\n[ALIASES]\nfoo 10.0.0.1\n", FileKind.HOST, lenient=True)
    assert parsed.file.rules == (Rule("in", "DROP"), Rule("foo", "10.0.0.1"))
    assert [warning.location for warning in parsed.warnings] == ["host.fw line 3", "host.fw line 4"]


@pytest.mark.parametrize("kind", list(FileKind))
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_parse_render_round_trip(kind, data):
    fw = normalise_file(data.draw(firewall_files(kind)))
    text = render_fw(fw)
    assert normalise_file(parse_fw(text, kind).file) == fw
    assert render_fw(parse_fw(text, kind).file) == text


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_upstream_examples_parse_and_render_back_to_equivalent_content(shared_dir: Path, name: str):
    path = shared_dir / "conformance" / "example-configs" / name
    parsed = parse_fw(path.read_text(), EXAMPLES[name], filename=name, lenient=True)
    # the one line PVE itself skips: its /etc/ethertypes reader takes decimal numbers only, so
    # PPP (880B) is an unknown ethernet protocol type (FW parse_protocol_file, verify_ethertype)
    expected = [("100.fw line 13", "layer2_protocols", "unknown ethernet protocol type: PPP")] if name == "100.fw" else []
    assert [(warning.location, warning.field, warning.message) for warning in parsed.warnings] == expected
    rendered = render_fw(parsed.file)
    again = parse_fw(rendered, EXAMPLES[name], filename=name)
    assert normalise_file(again.file) == normalise_file(parsed.file)
    original_rules = [line.split("#")[0].split() for line in path.read_text().splitlines() if line.strip() and line.strip()[0] in "|IOGF"]
    assert len(parsed.file.rules) + sum(len(group.rules) for group in parsed.file.groups) == len(original_rules)


def test_render_as_given_keeps_values_but_orders_like_pve():
    fw = FirewallFile(
        FileKind.CLUSTER,
        rules=(Rule("in", "ACCEPT", source="10.0.0.1/32", log="nolog"),),
        ipsets=(IPSet("b"), IPSet("a", entries=(IPSetEntry("10.0.0.2"), IPSetEntry("10.0.0.1"), IPSetEntry("10.0.0.2", True)))),
    )
    assert render_fw(fw, canonical=False) == ("[IPSET a]\n\n10.0.0.1\n10.0.0.2\n\n[IPSET b]\n\n\n[RULES]\n\nIN ACCEPT -source 10.0.0.1/32 -log nolog\n\n")
    assert "-source 10.0.0.1 " not in render_fw(fw, canonical=False) and "-source 10.0.0.1\n" in render_fw(fw)


# PVE reads a .fw file with one regex over its bytes (FW generic_fw_config_parser): lines end at
# \n only, and \h trims space, tab and the byte 0xA0 around each line.


def test_lines_end_at_line_feed_only():
    comment = "a\rb\x0bc\u2028d\u0085e\u2029f\x0cg"
    parsed = parse_fw(f"[RULES]\nIN ACCEPT # {comment}\nOUT DROP\n", FileKind.CLUSTER)
    assert [(rule.type, rule.comment) for rule in parsed.file.rules] == [("in", comment), ("out", None)]
    assert parsed.lines == {("rules", 0): 2, ("rules", 1): 3}


def test_a_line_that_ends_in_the_byte_0xa0_loses_it():
    text = "[ALIASES]\nfirst 10.0.0.1 # voil\u00e0\nsecond 10.0.0.2 # x\u00a0 \t\nthird 10.0.0.3 # x\u00a0y\n\n[RULES]\nIN ACCEPT # \u0820\n"
    parsed = parse_fw(text, FileKind.CLUSTER).file
    assert [alias.comment for alias in parsed.aliases] == ["voil\ufffd", "x\ufffd", "x\u00a0y"]
    assert parsed.rules[0].comment == "\ufffd"


def test_blank_lines_are_ascii_blank_and_a_carriage_return_does_not_end_a_header():
    assert parse_fw("[RULES]\n\r\n \x0b\t\nIN ACCEPT\n", FileKind.HOST).file.rules == (Rule("in", "ACCEPT"),)
    with pytest.raises(FirewallValidationError, match="skip line - no section"):
        parse_fw("[RULES]\r\nIN ACCEPT\r\n", FileKind.HOST)


def test_a_comment_of_zero_is_kept_on_rules_only_and_never_written():
    text = "[ALIASES]\nnet 10.0.0.0/8 # 0\n\n[IPSET web] # 0\n\n10.0.0.1 # 0\n\n[RULES]\n\nIN ACCEPT # 0\n\n[group dmz] # 0\n\nIN DROP\n"
    fw = parse_fw(text, FileKind.CLUSTER).file
    assert (fw.aliases[0].comment, fw.ipsets[0].comment, fw.ipsets[0].entries[0].comment, fw.groups[0].comment) == (None, None, None, None)
    assert fw.rules[0].comment == "0"  # FW parse_fw_rule keeps it; the next write loses it
    written = FirewallFile(
        FileKind.CLUSTER,
        aliases=(Alias("net", "10.0.0.0/8", "0"),),
        ipsets=(IPSet("web", "0", (IPSetEntry("10.0.0.1", comment="0"),)),),
        rules=(Rule("in", "ACCEPT", comment="0"), Rule("in", "DROP", comment="\u2028 \u3000")),
        groups=(SecurityGroup("dmz", "0", ()),),
    )
    assert "#" not in render_fw(written, canonical=False)
