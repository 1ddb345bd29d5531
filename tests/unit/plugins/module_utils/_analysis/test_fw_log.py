"""The firewall log backend: pvefw-logger lines parsed into fields, PVE's answer placeholders,
the filters with their input checks, paging from the end, and the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._analysis.fw_log import (
    LogEntry,
    LogFilter,
    LogMessage,
    ParsedLog,
    Unparsed,
    answer_lines,
    chain_direction,
    epoch_of,
    log_filter,
    parse_line,
    summarise,
    tail_window,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.errors import FirewallValidationError

# Lines as pvefw-logger writes them (pvefw-logger.c: print_pkt, print_iphdr, print_ip6hdr...).
BRIDGED = (
    "117 6 tap117i0-IN 14/Mar/2014:12:47:07 +0100 policy REJECT: IN=vmbr1 OUT=vmbr1 PHYSIN=eth0 PHYSOUT=tap117i0 "
    "MAC=52:54:00:aa:bb:cc:00:11:22:33:44:55:08:00 SRC=192.0.2.10 DST=192.0.2.117 LEN=60 TOS=0x00 PREC=0x00 "
    "TTL=63 ID=4242 DF PROTO=TCP SPT=51234 DPT=22 SEQ=3735928559 ACK=0 WINDOW=29200 SYN "
)
HOST_RULE = (
    "0 4 PVEFW-HOST-IN 20/Nov/2025:09:00:00 +0000 DROP: IN=vmbr0 MAC=bc:24:11:00:00:01:52:54:00:12:34:56:08:00 "
    "SRC=203.0.113.7 DST=192.0.2.1 LEN=52 TOS=0x00 PREC=0x00 TTL=50 ID=0 DF PROTO=TCP SPT=443 DPT=8006 SEQ=1 "
    "ACK=2 WINDOW=502 ACK RST "
)
IPV6_TCP = (
    "100 6 tap100i0-OUT 20/Nov/2025:09:00:00 -0500 ACCEPT: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=tap100i0 "
    "PHYSOUT=fwln100o0 SRC=2001:db8::100 DST=2001:db8:ffff::1 LEN=20 TC=0 FLOWLBL=12345 HOPLIMIT=64 PROTO=TCP "
    "SPT=40000 DPT=443 SEQ=1 ACK=0 WINDOW=64800 SYN "
)
ICMPV6_NS = (
    "100 6 tap100i0-IN 20/Nov/2025:09:00:01 +0000 policy DROP: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100o0 "
    "PHYSOUT=tap100i0 SRC=fe80::1 DST=ff02::1:ff00:100 LEN=32 TC=0 FLOWLBL=0 HOPLIMIT=255 PROTO=ICMPV6 TYPE=135 CODE=0 "
)
ICMP_ECHO = (
    "0 6 PVEFW-HOST-IN 20/Nov/2025:09:00:02 +0000 ACCEPT: IN=vmbr0 SRC=198.51.100.9 DST=192.0.2.1 LEN=84 "
    "TOS=0x00 PREC=0x00 TTL=64 ID=11 DF PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1 "
)
UDP_MARKED = (
    "200 7 veth200i0-OUT 20/Nov/2025:09:00:03 +0000 policy DROP: IN=fwbr200i0 OUT=vmbr0 PHYSIN=veth200i0 "
    "SRC=192.0.2.200 DST=198.51.100.53 LEN=61 TOS=0x00 PREC=0x00 TTL=64 ID=99 PROTO=UDP SPT=5353 DPT=53 LEN=41mark=7 "
)
ARP = "101 6 tap101i0-IN 20/Nov/2025:09:00:04 +0000 policy DROP: IN=fwbr101i0 PHYSIN=fwln101o0 SRC=192.0.2.1 DST=192.0.2.101 PROTO=ARP REQUEST "
OLD_IPV6 = "0 6 PVEFW-HOST-IN 14/Mar/2014:12:47:07 +0100 policy DROP: IN=vmbr0 MAC=33:33:00:00:00:01:52:54:00:12:34:56:86:dd IPV6 logging not implemented "
FOREIGN_NFLOG = "0 6 - 20/Nov/2025:09:00:05 +0000 my-own-rule IN=eth1 OUT= SRC=192.0.2.5 DST=192.0.2.6 LEN=40 PROTO=TCP SPT=1 DPT=2 "
STARTING = "0 5 - 20/Nov/2025:08:00:00 +0000 starting pvefw logger"
SKIPPED = "0 3 - 20/Nov/2025:08:00:01 +0000 skipped 12 log entries (queue full)"


def entry(text: str) -> LogEntry:
    parsed = parse_line(text, node="pve1", n=7)
    assert isinstance(parsed, LogEntry), parsed
    return parsed


# -- parsing ----------------------------------------------------------------------------------------


def test_a_bridged_guest_line_gives_every_field() -> None:
    line = entry(BRIDGED)
    assert line.to_dict() == {
        "node": "pve1",
        "n": 7,
        "vmid": 117,
        "level": "info",
        "chain": "tap117i0-IN",
        "timestamp": 1394797627,
        "time": "2014-03-14T12:47:07+01:00",
        "prefix": "policy REJECT:",
        "action": "REJECT",
        "policy": True,
        "direction": "in",
        "iface_in": "vmbr1",
        "iface_out": "vmbr1",
        "physin": "eth0",
        "physout": "tap117i0",
        "mac": "52:54:00:aa:bb:cc:00:11:22:33:44:55:08:00",
        "src": "192.0.2.10",
        "dst": "192.0.2.117",
        "proto": "tcp",
        "sport": 51234,
        "dport": 22,
        "icmp_type": None,
        "icmp_code": None,
        "flags": ["DF", "SYN"],
        "raw": BRIDGED,
    }
    assert line.blocked


def test_a_host_rule_line() -> None:
    line = entry(HOST_RULE)
    assert (line.vmid, line.level, line.chain, line.direction) == (None, "warning", "PVEFW-HOST-IN", "in")
    assert (line.action, line.policy, line.prefix) == ("DROP", False, "DROP:")
    assert (line.iface_in, line.iface_out, line.physin, line.physout) == ("vmbr0", None, None, None)
    assert line.flags == ("DF", "ACK", "RST")  # the bare ACK flag, not ACK=2 (the ack number)
    assert (line.sport, line.dport) == (443, 8006)


def test_ipv6_with_a_negative_zone_offset() -> None:
    line = entry(IPV6_TCP)
    assert (line.src, line.dst, line.proto, line.dport, line.direction, line.action, line.policy) == (
        "2001:db8::100",
        "2001:db8:ffff::1",
        "tcp",
        443,
        "out",
        "ACCEPT",
        False,
    )
    assert line.time == "2025-11-20T09:00:00-05:00"
    assert line.timestamp == int(datetime(2025, 11, 20, 14, 0, tzinfo=UTC).timestamp())
    assert line.flags == ("SYN",)


def test_icmp_and_icmpv6_have_types_and_no_ports() -> None:
    echo, solicitation = entry(ICMP_ECHO), entry(ICMPV6_NS)
    assert (echo.proto, echo.icmp_type, echo.icmp_code, echo.sport, echo.dport) == ("icmp", 8, 0, None, None)
    assert (solicitation.proto, solicitation.icmp_type, solicitation.icmp_code, solicitation.dport) == ("icmpv6", 135, 0, None)
    assert solicitation.policy and solicitation.action == "DROP"


def test_udp_keeps_the_ip_length_and_its_ports_despite_a_stuck_mark() -> None:
    line = entry(UDP_MARKED)
    assert (line.proto, line.sport, line.dport, line.level, line.direction) == ("udp", 5353, 53, "debug", "out")
    assert (line.iface_in, line.iface_out, line.physin) == ("fwbr200i0", "vmbr0", "veth200i0")


def test_arp_old_ipv6_and_foreign_prefixes_still_parse() -> None:
    arp = entry(ARP)
    assert (arp.proto, arp.src, arp.flags, arp.dport) == ("arp", "192.0.2.1", ("REQUEST",), None)
    old = entry(OLD_IPV6)
    assert (old.src, old.proto, old.flags, old.action) == (None, None, (), "DROP")
    foreign = entry(FOREIGN_NFLOG)
    assert (foreign.chain, foreign.direction, foreign.prefix, foreign.action, foreign.policy) == (None, None, "my-own-rule", None, False)
    assert (foreign.iface_out, foreign.dport) == (None, 2)


def test_logger_status_lines_are_messages() -> None:
    started, skipped = parse_line(STARTING, node="pve2", n=1), parse_line(SKIPPED, node="pve2", n=2)
    assert started == LogMessage(
        "pve2", 1, "notice", int(datetime(2025, 11, 20, 8, tzinfo=UTC).timestamp()), "2025-11-20T08:00:00+00:00", "starting pvefw logger", STARTING
    )
    assert isinstance(skipped, LogMessage) and (skipped.level, skipped.text) == ("err", "skipped 12 log entries (queue full)")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "not in pvefw-logger's format"),
        ("garbage", "not in pvefw-logger's format"),
        ("no content", "not in pvefw-logger's format"),
        ("abc 6 PVEFW-HOST-IN 20/Nov/2025:09:00:00 +0000 DROP: IN=vmbr0", "not in pvefw-logger's format"),
        ("0 8 PVEFW-HOST-IN 20/Nov/2025:09:00:00 +0000 DROP: IN=vmbr0", "not in pvefw-logger's format"),
        ("0 6 PVEFW-HOST-IN 20/Nov/2025:09:00:00", "not in pvefw-logger's format"),
        ("0 6 PVEFW-HOST-IN 20/Foo/2025:09:00:00 +0000 DROP: IN=vmbr0", "unreadable time"),
        ("0 6 PVEFW-HOST-IN 31/Feb/2025:09:00:00 +0000 DROP: IN=vmbr0", "unreadable time"),
        ("0 6 PVEFW-HOST-IN 20/Nov/2025:09:00:00 0000 DROP: IN=vmbr0", "unreadable time"),
        ("0 6 PVEFW-HOST-IN 20/Nov/2025:09:00:00 +0000 DROP: cut", "no packet fields"),
        ("unable to open file - No such file or directory", "not in pvefw-logger's format"),
    ],
)
def test_lines_that_do_not_fit_are_kept_with_a_reason(text: str, reason: str) -> None:
    parsed = parse_line(text, node="pve3", n=4, log_vmid=100)
    assert isinstance(parsed, Unparsed)
    assert (parsed.node, parsed.vmid, parsed.n, parsed.line) == ("pve3", 100, 4, text)
    assert reason in parsed.reason


def test_only_ascii_digits_are_numbers() -> None:
    line = entry("0 6 PVEFW-HOST-IN 20/Nov/2025:09:00:00 +0000 DROP: IN=vmbr0 SRC=192.0.2.1 PROTO=TCP SPT=\u00b2 DPT=\u0661\u0662")
    assert (line.sport, line.dport) == (None, None)
    assert isinstance(parse_line("\u0661 6 X 20/Nov/2025:09:00:00 +0000 IN=a"), Unparsed)
    parsed = ParsedLog()
    parsed.add([{"n": "\u00b2", "t": BRIDGED}, {"n": True, "t": BRIDGED}], node="pve1")
    assert [line.n for line in parsed.entries] == [0, 0]


@given(st.text())
def test_no_text_makes_the_parser_fail(text: str) -> None:
    assert isinstance(parse_line(text), (LogEntry, LogMessage, Unparsed))


@given(st.lists(st.sampled_from(["0", "6", "-", "tap1i0-IN", "20/Nov/2025:09:00:00", "+0000", "DROP:", "IN=", "SRC=x", "DPT=", "SYN", " ", "="]), max_size=14))
def test_no_mix_of_log_words_makes_the_parser_fail(words: list[str]) -> None:
    assert isinstance(parse_line(" ".join(words)), (LogEntry, LogMessage, Unparsed))


@pytest.mark.parametrize(
    ("chain", "direction"),
    [
        ("PVEFW-HOST-IN", "in"),
        ("PVEFW-HOST-OUT", "out"),
        ("tap100i0-IN", "in"),
        ("veth200i1-OUT", "out"),
        ("GROUP-web-IN", "in"),
        ("PVEFW-FORWARD", "forward"),
        ("PVEFW-smurflog", None),
        ("PVEFW-logflags", None),
        (None, None),
    ],
)
def test_direction_comes_from_the_chain(chain: str | None, direction: str | None) -> None:
    assert chain_direction(chain) == direction


def test_parsed_log_sorts_and_counts_every_line() -> None:
    parsed = ParsedLog()
    parsed.add([{"n": 1, "t": STARTING}, {"n": 2, "t": BRIDGED}, {"n": "3", "t": "junk"}, {"t": ICMP_ECHO}], node="pve1", log_vmid=None)
    assert parsed.read == 4
    assert [line.n for line in parsed.entries] == [2, 0]
    assert [line.text for line in parsed.messages] == ["starting pvefw logger"]
    assert [line.to_dict() for line in parsed.unparsed] == [{"node": "pve1", "vmid": None, "n": 3, "line": "junk", "reason": parsed.unparsed[0].reason}]


# -- PVE's answer -----------------------------------------------------------------------------------


def test_answer_lines_drop_the_empty_log_placeholder_only() -> None:
    assert answer_lines(1, [{"n": 1, "t": "no content"}]) == (0, [])
    assert answer_lines(3, [{"n": 3, "t": "no content"}]) == (3, [{"n": 3, "t": "no content"}])
    lines = [{"n": 1, "t": BRIDGED}]
    assert answer_lines(1, lines) == (1, lines)
    assert answer_lines(7, []) == (7, [])  # start beyond the end: no placeholder
    assert answer_lines(0, None) == (0, [])
    # dump_logfile answers one object, not a list, when the file does not open
    assert answer_lines(1, {"n": 1, "t": "unable to open file - Permission denied"}) == (1, [{"n": 1, "t": "unable to open file - Permission denied"}])


# -- time and filters -------------------------------------------------------------------------------

NOON = int(datetime(2025, 11, 20, 12, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    "value",
    [
        NOON,
        str(NOON),
        f" {NOON} ",
        float(NOON),
        "2025-11-20T12:00:00Z",
        "2025-11-20T12:00:00z",
        "2025-11-20T13:00:00+01:00",
        "2025-11-20 12:00:00",
        "2025-11-20T12:00:00",
        datetime(2025, 11, 20, 12),
        datetime(2025, 11, 20, 7, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_times_as_epoch_or_iso(value: object) -> None:
    assert epoch_of("since", value) == NOON


@pytest.mark.parametrize("value", ["yesterday", "", "2025-13-01", "12:00", True, 1.5, [1], -1, "1969-12-31T23:59:59Z"])
def test_bad_times_fail_naming_the_option_and_value(value: object) -> None:
    with pytest.raises(FirewallValidationError) as raised:
        epoch_of("until", value)
    [error] = raised.value.errors
    assert (error.location, error.field, error.value) == ("until", "until", value)
    assert "until=" in str(raised.value)


def test_every_bad_filter_is_reported_at_once() -> None:
    with pytest.raises(FirewallValidationError) as raised:
        log_filter(
            actions=["DROP", "drop"],
            directions=["sideways"],
            vmids=[100, -1],
            sources=["192.0.2.0/24", "192.0.2.300", "host.example"],
            dports=["22", "99999", "1:2,,3"],
            since="2025-11-20T12:00:00Z",
            until="2025-11-20T11:00:00Z",
        )
    assert [(error.location, error.value) for error in raised.value.errors] == [
        ("action[1]", "drop"),
        ("direction[0]", "sideways"),
        ("vmid[1]", -1),
        ("source[1]", "192.0.2.300"),
        ("source[2]", "host.example"),
        ("dport[1]", "99999"),
        ("dport[2]", "1:2,,3"),
        ("until", "2025-11-20T11:00:00Z"),
    ]


def test_an_empty_filter_keeps_everything() -> None:
    chosen = log_filter()
    assert chosen == LogFilter()
    assert all(chosen.matches(entry(text)) for text in (BRIDGED, HOST_RULE, IPV6_TCP, ARP, OLD_IPV6))


def test_filter_criteria() -> None:
    bridged, host, v6, arp = entry(BRIDGED), entry(HOST_RULE), entry(IPV6_TCP), entry(ARP)
    assert [line.vmid for line in (bridged, host, v6, arp) if log_filter(vmids=[0, 117]).matches(line)] == [117, None]
    assert [line.action for line in (bridged, host, v6) if log_filter(actions=["DROP", "REJECT"]).matches(line)] == ["REJECT", "DROP"]
    by_source = log_filter(sources=["192.0.2.0/24", "2001:db8::/32"])
    assert [line.src for line in (bridged, host, v6, arp) if by_source.matches(line)] == ["192.0.2.10", "2001:db8::100", "192.0.2.1"]
    assert not log_filter(sources=["::/0"]).matches(bridged)  # families do not mix
    by_port = log_filter(dports=["ssh", "8000:8010"])
    assert [line.dport for line in (bridged, host, v6, arp) if by_port.matches(line)] == [22, 8006]
    assert [line.direction for line in (bridged, v6) if log_filter(directions=["out"]).matches(line)] == ["out"]
    window = log_filter(since=host.timestamp, until=host.timestamp)
    assert [line.raw for line in (bridged, host, v6) if window.matches(line)] == [HOST_RULE]


# -- paging and summary -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "start", "limit", "window"),
    [(10, 0, 3, (7, 3)), (10, 2, 3, (5, 3)), (10, 0, 20, (0, 10)), (10, 8, 5, (0, 2)), (10, 12, 5, (0, 0)), (10, 3, 0, (0, 7)), (0, 0, 5, (0, 0))],
)
def test_tail_window(total: int, start: int, limit: int, window: tuple[int, int]) -> None:
    assert tail_window(total, start, limit) == window


def test_summary_counts_and_ranks() -> None:
    lines = [entry(text) for text in (BRIDGED, HOST_RULE, HOST_RULE, IPV6_TCP, ICMP_ECHO, UDP_MARKED, ARP, FOREIGN_NFLOG)]
    summary = summarise(lines, top=2)
    assert summary == {
        "total": 8,
        "by_action": {"ACCEPT": 2, "DROP": 4, "REJECT": 1, "other": 1},
        "top_sources": [{"source": "203.0.113.7", "count": 2}, {"source": "192.0.2.1", "count": 1}],
        "top_blocked_ports": [{"proto": "tcp", "dport": 8006, "count": 2}, {"proto": "tcp", "dport": 22, "count": 1}],
        "per_guest": {
            "100": {"total": 1, "blocked": 0},
            "101": {"total": 1, "blocked": 1},
            "117": {"total": 1, "blocked": 1},
            "200": {"total": 1, "blocked": 1},
        },
        "per_node": {"pve1": {"total": 8, "blocked": 5}},
    }
    assert len(summarise(lines, top=0)["top_sources"]) == 7
    assert summarise([], top=5) == {"total": 0, "by_action": {}, "top_sources": [], "top_blocked_ports": [], "per_guest": {}, "per_node": {}}
