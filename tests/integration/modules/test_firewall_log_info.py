"""firewall_log_info against the TLS emulator: which logs it reads, paging, every filter, the
summary, lines it cannot parse, bad input, and a line the lockout simulation logged.

Logs are filled through the emulator's control API, as structured entries (formatted like
pvefw-logger) or as raw lines.
"""

from __future__ import annotations

import calendar
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_examples

from ansible_collections.pve.firewall.tests.emulator.client import probe
from ansible_collections.pve.firewall.tests.emulator.fixtures import READ_ONLY_TOKEN

MODULE = "firewall_log_info"


def at(hour: int, minute: int = 0) -> int:
    """Epoch seconds of 2025-11-20 hour:minute UTC."""
    return calendar.timegm((2025, 11, 20, hour, minute, 0))


# Real pvefw-logger lines (a bridged guest with PHYSIN/PHYSOUT, IPv6, ICMP without ports).
GUEST_V4 = (
    "100 6 tap100i0-IN 20/Nov/2025:10:00:00 +0100 policy DROP: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100o0 "
    "PHYSOUT=tap100i0 MAC=bc:24:11:00:01:00:52:54:00:12:34:56:08:00 SRC=203.0.113.7 DST=192.0.2.100 LEN=60 "
    "TOS=0x00 PREC=0x00 TTL=63 ID=54321 DF PROTO=TCP SPT=51234 DPT=22 SEQ=1 ACK=0 WINDOW=64240 SYN "
)
GUEST_V6 = (
    "100 4 tap100i0-IN 20/Nov/2025:10:05:00 +0100 REJECT: IN=fwbr100i0 OUT=fwbr100i0 PHYSIN=fwln100o0 "
    "PHYSOUT=tap100i0 SRC=2001:db8::7 DST=2001:db8:100::1 LEN=40 TC=0 FLOWLBL=0 HOPLIMIT=64 PROTO=TCP "
    "SPT=40000 DPT=3389 SEQ=1 ACK=0 WINDOW=64800 SYN "
)
HOST_ICMP = (
    "0 6 PVEFW-HOST-IN 20/Nov/2025:09:10:00 +0000 ACCEPT: IN=vmbr0 SRC=198.51.100.9 DST=192.0.2.1 LEN=84 "
    "TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=ICMP TYPE=8 CODE=0 ID=7 SEQ=1 "
)
LOGGER_START = "0 5 - 20/Nov/2025:08:00:00 +0000 starting pvefw logger"
GARBAGE = "this is not a firewall line"


def fill(cluster: ModuleRunner) -> None:
    """pve1: the host and guests 100 (qemu) and 200 (lxc); pve2: guest 101."""
    control = cluster.control
    control.add_log(
        "pve1",
        lines=[LOGGER_START],
        entries=[
            {"time": at(9), "src": "203.0.113.7", "dport": 22},  # host, policy DROP
            {"time": at(9, 5), "src": "203.0.113.7", "dport": 8006, "action": "REJECT", "policy": False},
        ],
    )
    control.add_log("pve1", lines=[HOST_ICMP, GUEST_V4, GUEST_V6, GARBAGE])
    control.add_log(
        "pve1",
        entries=[
            {"vmid": 200, "time": at(9, 30), "src": "192.0.2.50", "dport": 443, "action": "ACCEPT", "policy": False, "chain": "veth200i0-IN"},
            {"vmid": 200, "time": at(9, 31), "src": "192.0.2.200", "dst": "198.51.100.1", "dport": 53, "proto": "udp", "chain": "veth200i0-OUT"},
        ],
    )
    control.add_log("pve2", entries=[{"vmid": 101, "time": at(11), "src": "203.0.113.8", "dport": 22}])


def logs_read(result: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(log["node"], log["vmid"]) for log in result["logs"]]


# -- which logs ----------------------------------------------------------------------------------


def test_every_node_log_by_default_parsed_into_fields(cluster: ModuleRunner) -> None:
    fill(cluster)
    seq = cluster.seq()
    result = cluster.ok(MODULE)
    assert result["changed"] is False and cluster.writes_since(seq) == []
    assert logs_read(result) == [("pve1", None), ("pve2", None), ("pve3", None)]
    assert [log["total"] for log in result["logs"]] == [9, 1, 0]  # pve3's "no content" is no line
    assert result["total_read"] == 10
    entries = result["entries"]
    assert [(entry["node"], entry["vmid"], entry["n"]) for entry in entries] == [
        ("pve1", None, 2),
        ("pve1", None, 3),
        ("pve1", None, 4),
        ("pve1", 100, 5),
        ("pve1", 100, 6),
        ("pve1", 200, 8),
        ("pve1", 200, 9),
        ("pve2", 101, 1),
    ]
    bridged = entries[3]
    assert bridged == {
        "node": "pve1",
        "n": 5,
        "vmid": 100,
        "level": "info",
        "chain": "tap100i0-IN",
        "timestamp": at(9),
        "time": "2025-11-20T10:00:00+01:00",
        "prefix": "policy DROP:",
        "action": "DROP",
        "policy": True,
        "direction": "in",
        "iface_in": "fwbr100i0",
        "iface_out": "fwbr100i0",
        "physin": "fwln100o0",
        "physout": "tap100i0",
        "mac": "bc:24:11:00:01:00:52:54:00:12:34:56:08:00",
        "src": "203.0.113.7",
        "dst": "192.0.2.100",
        "proto": "tcp",
        "sport": 51234,
        "dport": 22,
        "icmp_type": None,
        "icmp_code": None,
        "flags": ["DF", "SYN"],
        "raw": GUEST_V4,
    }
    v6, icmp = entries[4], entries[2]
    assert (v6["src"], v6["dst"], v6["action"], v6["policy"], v6["level"], v6["dport"]) == ("2001:db8::7", "2001:db8:100::1", "REJECT", False, "warning", 3389)
    assert (icmp["proto"], icmp["sport"], icmp["dport"], icmp["icmp_type"], icmp["icmp_code"], icmp["iface_out"]) == ("icmp", None, None, 8, 0, None)
    assert entries[6]["direction"] == "out" and entries[6]["proto"] == "udp"


def test_guest_logs_alone_with_vmids(cluster: ModuleRunner) -> None:
    fill(cluster)
    seq = cluster.seq()
    result = cluster.ok(MODULE, vmids=[200, 101])
    assert logs_read(result) == [("pve1", 200), ("pve2", 101)]
    assert [(entry["node"], entry["vmid"]) for entry in result["entries"]] == [("pve1", 200), ("pve1", 200), ("pve2", 101)]
    # one look-up of the guests, one request per log
    paths = [entry["path"] for entry in cluster.requests_since(seq)]
    assert paths == ["/cluster/resources", "/nodes/pve1/lxc/200/firewall/log", "/nodes/pve2/qemu/101/firewall/log"]


def test_a_guest_on_a_node_read_anyway_is_not_read_twice(cluster: ModuleRunner) -> None:
    fill(cluster)
    result = cluster.ok(MODULE, nodes=["pve1"], vmids=[100, 101])
    assert logs_read(result) == [("pve1", None), ("pve2", 101)]
    assert [entry["vmid"] for entry in result["entries"]].count(100) == 2


def test_a_read_only_token_reads_the_logs(cluster: ModuleRunner) -> None:
    fill(cluster)
    result = cluster.ok(MODULE, vmids=[100], api_token_id=READ_ONLY_TOKEN.full_id, api_token_secret=READ_ONLY_TOKEN.secret)
    assert [entry["raw"] for entry in result["entries"]] == [GUEST_V4, GUEST_V6]


def test_check_mode_reads_the_same(cluster: ModuleRunner) -> None:
    fill(cluster)
    seq = cluster.seq()
    assert cluster.run(MODULE, check=True, nodes=["pve2"]) == cluster.run(MODULE, nodes=["pve2"])
    assert cluster.writes_since(seq) == []


# -- paging ---------------------------------------------------------------------------------------


def _numbered(cluster: ModuleRunner, count: int) -> None:
    cluster.control.add_log("pve1", entries=[{"time": at(8, minute), "dport": 1000 + minute} for minute in range(count)])


def _log_requests(cluster: ModuleRunner, seq: int) -> int:
    return sum(1 for entry in cluster.requests_since(seq) if entry["path"].endswith("/firewall/log"))


def test_start_and_limit_go_to_the_api_in_one_request(cluster: ModuleRunner) -> None:
    _numbered(cluster, 6)
    seq = cluster.seq()
    result = cluster.ok(MODULE, nodes=["pve1"], start=1, limit=3)
    assert [entry["dport"] for entry in result["entries"]] == [1001, 1002, 1003]
    assert result["logs"] == [{"node": "pve1", "vmid": None, "total": 6, "start": 1, "read": 3}]
    assert _log_requests(cluster, seq) == 1
    assert len(cluster.ok(MODULE, nodes=["pve1"], limit=0)["entries"]) == 6


def test_tail_reads_the_newest_lines(cluster: ModuleRunner) -> None:
    _numbered(cluster, 6)
    seq = cluster.seq()
    result = cluster.ok(MODULE, nodes=["pve1"], tail=True, limit=2)
    assert [entry["dport"] for entry in result["entries"]] == [1004, 1005]
    assert result["logs"] == [{"node": "pve1", "vmid": None, "total": 6, "start": 4, "read": 2}]
    assert _log_requests(cluster, seq) == 2  # the log is longer than the first read
    seq = cluster.seq()
    skipped = cluster.ok(MODULE, nodes=["pve1"], tail=True, start=1, limit=10)
    assert [entry["dport"] for entry in skipped["entries"]] == [1000, 1001, 1002, 1003, 1004]
    assert _log_requests(cluster, seq) == 1  # it fits: one request
    everything = cluster.ok(MODULE, nodes=["pve1"], tail=True, start=2, limit=0)
    assert [entry["dport"] for entry in everything["entries"]] == [1000, 1001, 1002, 1003]


def test_the_time_window_goes_to_the_api(cluster: ModuleRunner) -> None:
    fill(cluster)
    result = cluster.ok(MODULE, nodes=["pve1"], since=at(9, 5), until="2025-11-20T09:30:00Z")
    assert result["logs"][0]["total"] == 4  # PVE counts only the lines in the window
    assert [entry["timestamp"] for entry in result["entries"]] == [at(9, 5), at(9, 10), at(9, 5), at(9, 30)]
    assert result["unparsed"] == []  # the garbage line has no time: PVE leaves it out of a window
    exact = cluster.ok(MODULE, nodes=["pve1"], since="2025-11-20T10:05:00+01:00", until=str(at(9, 5)))
    assert [(entry["vmid"], entry["timestamp"]) for entry in exact["entries"]] == [(None, at(9, 5)), (100, at(9, 5))]


# -- filters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"action": ["DROP"]}, [(None, 22), (100, 22), (200, 53), (101, 22)]),
        ({"action": ["REJECT", "ACCEPT"]}, [(None, 8006), (None, None), (100, 3389), (200, 443)]),
        ({"vmid": [0]}, [(None, 22), (None, 8006), (None, None)]),
        ({"vmid": [100, 101]}, [(100, 22), (100, 3389), (101, 22)]),
        ({"source": ["203.0.113.0/24"]}, [(None, 22), (None, 8006), (100, 22), (101, 22)]),
        ({"source": ["2001:db8::/32"]}, [(100, 3389)]),
        ({"source": ["203.0.113.8"]}, [(101, 22)]),
        ({"dport": ["ssh"]}, [(None, 22), (100, 22), (101, 22)]),
        ({"dport": ["400:600", "3389"]}, [(100, 3389), (200, 443)]),
        ({"dport": ["22,53"]}, [(None, 22), (100, 22), (200, 53), (101, 22)]),
        ({"direction": ["out"]}, [(200, 53)]),
        ({"action": ["DROP"], "source": ["203.0.113.0/24"], "vmid": [101]}, [(101, 22)]),
    ],
)
def test_filters(cluster: ModuleRunner, filters: dict[str, Any], expected: list[tuple[Any, Any]]) -> None:
    fill(cluster)
    result = cluster.ok(MODULE, **filters)
    assert [(entry["vmid"], entry["dport"]) for entry in result["entries"]] == expected
    assert result["summary"]["total"] == len(expected)
    assert result["unparsed_count"] == 1  # never filtered away
    assert result["total_read"] == 10


def test_summary(cluster: ModuleRunner) -> None:
    fill(cluster)
    summary = cluster.ok(MODULE, summary_top=2, return_entries=False)["summary"]
    assert summary == {
        "total": 8,
        "by_action": {"ACCEPT": 2, "DROP": 4, "REJECT": 2},
        "top_sources": [{"source": "203.0.113.7", "count": 3}, {"source": "192.0.2.200", "count": 1}],
        "top_blocked_ports": [{"proto": "tcp", "dport": 22, "count": 3}, {"proto": "tcp", "dport": 3389, "count": 1}],
        "per_guest": {"100": {"total": 2, "blocked": 2}, "101": {"total": 1, "blocked": 1}, "200": {"total": 2, "blocked": 1}},
        "per_node": {"pve1": {"total": 7, "blocked": 5}, "pve2": {"total": 1, "blocked": 1}},
    }
    everything = cluster.ok(MODULE, summary_top=0)
    assert "entries" in everything and len(everything["summary"]["top_sources"]) == 6


def test_lines_it_cannot_parse_are_returned_and_counted(cluster: ModuleRunner) -> None:
    cluster.control.add_log(
        "pve1",
        lines=[
            LOGGER_START,
            GARBAGE,
            "0 6 PVEFW-HOST-IN 31/Feb/2025:10:00:00 +0000 DROP: IN=vmbr0 SRC=192.0.2.9",
            "0 6 PVEFW-HOST-IN 20/Nov/2025:10:00:00 +0000 DROP: cut short",
            "",
            "0 3 - 20/Nov/2025:10:00:01 +0000 skipped 12 log entries (queue full)",
        ],
    )
    result = cluster.ok(MODULE, nodes=["pve1"], action=["DROP"])
    assert result["entries"] == [] and result["total_read"] == 6
    assert result["unparsed_count"] == 4
    assert [(line["node"], line["vmid"], line["n"], line["line"]) for line in result["unparsed"]] == [
        ("pve1", None, 2, GARBAGE),
        ("pve1", None, 3, "0 6 PVEFW-HOST-IN 31/Feb/2025:10:00:00 +0000 DROP: IN=vmbr0 SRC=192.0.2.9"),
        ("pve1", None, 4, "0 6 PVEFW-HOST-IN 20/Nov/2025:10:00:00 +0000 DROP: cut short"),
        ("pve1", None, 5, ""),
    ]
    assert "unreadable time" in result["unparsed"][1]["reason"]
    assert [(message["level"], message["text"]) for message in result["messages"]] == [
        ("notice", "starting pvefw logger"),
        ("err", "skipped 12 log entries (queue full)"),
    ]


def test_a_connection_the_lockout_simulation_dropped(cluster: ModuleRunner) -> None:
    """The emulator logs every connection it refuses, as pvefw-logger would."""
    api = cluster.api()
    api.post("/nodes/pve2/firewall/rules", type="in", action="DROP", proto="tcp", dport="8006", enable=1)
    api.put("/nodes/pve2/firewall/options", log_level_in="warning")
    api.put("/cluster/firewall/options", enable=1)
    host, port, _ssh = cluster.pve.node_host("pve2")
    assert probe(host, port, timeout=0.5) == "timeout"
    result = cluster.ok(MODULE, nodes=["pve2"], action=["DROP"])
    assert result["unparsed_count"] == 0
    [entry] = result["entries"]
    assert (entry["vmid"], entry["chain"], entry["direction"], entry["action"], entry["policy"]) == (None, "PVEFW-HOST-IN", "in", "DROP", False)
    assert (entry["level"], entry["proto"], entry["dport"], entry["flags"]) == ("warning", "tcp", 8006, ["DF", "SYN"])
    assert entry["dst"] == cluster.pve.emulator.ctx.topology.nodes["pve2"].address


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        ({"nodes": ["pve1", "pve9"]}, "nodes", "pve9"),
        ({"vmids": [100, 999]}, "vmids", 999),
        ({"since": "yesterday"}, "since", "yesterday"),
        ({"until": "2025-13-01T00:00:00"}, "until", "2025-13-01T00:00:00"),
        ({"since": -5}, "since", -5),
        ({"since": at(10), "until": at(9)}, "until", at(9)),
        ({"source": ["192.0.2.300"]}, "source", "192.0.2.300"),
        ({"dport": ["70000"]}, "dport", "70000"),
        ({"vmid": [-1]}, "vmid", -1),
        ({"limit": -1}, "limit", -1),
        ({"summary_top": -3}, "summary_top", -3),
    ],
)
def test_bad_input_fails_naming_the_field_and_value(cluster: ModuleRunner, args: dict[str, Any], field: str, value: Any) -> None:
    result = cluster.fails(MODULE, **args)
    assert [(error["field"], error["value"]) for error in result["errors"]] == [(field, value)]
    assert field in result["msg"] and str(value) in result["msg"]


def test_bad_filters_fail_together_before_any_request(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    result = cluster.fails(MODULE, limit=-1, since="soon", source=["nowhere"], dport=["22", "x-y"])
    assert [error["location"] for error in result["errors"]] == ["limit", "source[0]", "dport[1]", "since"]
    assert cluster.requests_since(seq) == []


def test_an_unknown_choice_is_refused_by_ansible(cluster: ModuleRunner) -> None:
    result = cluster.fails(MODULE, action=["drop"])
    assert "action" in result["msg"] and "drop" in result["msg"]


# -- examples -------------------------------------------------------------------------------------


def test_examples_run(cluster: ModuleRunner, tmp_path: Path) -> None:
    cluster.control.add_log(
        "pve1",
        entries=[
            {"src": "203.0.113.7", "dport": 22},  # logged now: within the last hour
            {"vmid": 100, "time": at(9), "src": "203.0.113.7", "dport": 22},
            {"vmid": 200, "time": at(9), "src": "2001:db8::7", "dport": 3389, "chain": "veth200i0-IN"},
        ],
    )
    blocked, _shown, logins, knocks, _checked = run_examples(cluster, MODULE, tmp_path)
    assert [(entry["vmid"], entry["dport"]) for entry in blocked["entries"]] == [(None, 22)]
    assert [(entry["vmid"], entry["dport"]) for entry in logins["entries"]] == [(100, 22), (200, 3389)]
    assert knocks["summary"]["top_sources"] == [{"source": "203.0.113.7", "count": 2}, {"source": "2001:db8::7", "count": 1}]
    assert "entries" not in knocks
