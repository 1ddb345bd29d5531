"""The test knobs: request log, latency, fault plan, clock, state files and reset."""

from __future__ import annotations

import http.client
import time

import pytest
from emulator_helpers import RULES

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, ControlClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator


def test_the_request_log_counts_and_lists_requests(api: ApiClient, control: ControlClient) -> None:
    control.reset_requests()
    api.get(RULES)
    api.post(RULES, type="in", action="ACCEPT")
    api.call("GET", f"{RULES}/7")
    log = control.requests()
    assert log["count"] == 3
    assert log["counts"]["read"] == 2 and log["counts"]["write"] == 1 and log["counts"]["status_500"] == 1
    assert [(entry["method"], entry["path"], entry["status"]) for entry in log["requests"]] == [
        ("GET", RULES, 200),
        ("POST", RULES, 200),
        ("GET", f"{RULES}/7", 500),
    ]
    assert control.requests(since=log["last_seq"])["requests"] == []
    control.reset_requests()
    assert control.requests()["count"] == 0


def test_injected_latency_delays_every_api_request(api: ApiClient, control: ControlClient) -> None:
    api.get("/version")  # a kept-alive connection: the request's own round trip only
    control.settings(latency=0.25)
    started = time.monotonic()
    api.get("/version")
    assert time.monotonic() - started >= 0.25
    control.settings(latency=0)


def test_a_new_connection_pays_its_handshakes_round_trips(pve: RunningEmulator, api: ApiClient, control: ControlClient) -> None:
    handshakes = 2 if pve.ca else 1  # TCP's, and TLS's
    control.settings(latency=0.2)
    try:
        api.close()
        started = time.monotonic()
        api.get("/version")
        assert time.monotonic() - started >= 0.2 * (handshakes + 1)
    finally:
        control.settings(latency=0)


def test_the_nth_write_fails_with_500_and_is_not_applied(api: ApiClient, control: ControlClient) -> None:
    control.arm_fault(action="error", nth=2, message="injected: disk full")
    api.get(RULES)  # reads do not count
    api.post(RULES, type="in", action="ACCEPT", comment="first")
    response = api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "comment": "second"})
    assert (response.status, response.reason, response.message) == (500, "injected: disk full", "injected: disk full\n")
    api.post(RULES, type="in", action="ACCEPT", comment="third")
    assert [rule["comment"] for rule in api.get(RULES)] == ["third", "first"]


def test_a_reset_fault_cuts_the_connection_without_answer(api: ApiClient, control: ControlClient) -> None:
    control.arm_fault(action="reset")
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        api.post(RULES, type="in", action="ACCEPT")
    assert api.get(RULES) == []  # the next request (on a new connection) is served


def test_a_stall_fault_makes_a_client_time_out(pve: RunningEmulator, control: ControlClient) -> None:
    control.arm_fault(action="stall", on="read", seconds=1.0)
    impatient = pve.api(timeout=0.3)
    with pytest.raises(TimeoutError):
        impatient.get(RULES)
    assert pve.api().get(RULES) == []


def test_a_request_stalled_across_a_reset_is_dropped(pve: RunningEmulator, control: ControlClient) -> None:
    # a late write from one test must not land in (or show in the log of) the next test's cluster
    control.arm_fault(action="stall", on="write", seconds=1.0)
    impatient = pve.api(timeout=0.3)
    with pytest.raises(TimeoutError):
        impatient.post(RULES, type="in", action="ACCEPT", comment="late")
    control.reset()
    seq = control.requests()["last_seq"]
    time.sleep(1.5)  # past the stall
    assert pve.api().get(RULES) == []
    assert [entry["method"] for entry in control.requests(since=seq)["requests"]] == ["GET"]


def test_faults_can_be_listed_and_cleared(control: ControlClient) -> None:
    control.arm_fault(action="error", nth=3)
    pending = control.arm_fault(action="stall", on="any", seconds=0.1)
    assert [(fault["action"], fault["nth"], fault["on"]) for fault in pending] == [("error", 3, "write"), ("stall", 1, "any")]
    control.clear_faults()
    assert control.faults() == []


def test_the_clock_advances_and_resets(control: ControlClient) -> None:
    before = control.status()["clock"]["now"]
    after = control.advance_clock(3600)
    assert after["offset"] == 3600 and after["now"] - before >= 3600
    control.reset_clock()
    assert control.status()["clock"]["offset"] == 0


def test_state_files_can_be_read_and_hand_edited(api: ApiClient, control: ControlClient) -> None:
    api.post("/nodes/pve2/firewall/rules", type="in", action="ACCEPT", macro="SSH", enable=1)
    assert control.files() == ["nodes/pve2/host.fw"]
    assert control.read_file("nodes/pve2/host.fw") == "[RULES]\n\nIN SSH(ACCEPT)\n\n"
    control.write_file("firewall/100.fw", "[options]\nenable: 1\n[rules]\n  in   accept -p tcp -dport 443  # web\n")
    assert api.get("/nodes/pve1/qemu/100/firewall/options")["enable"] == 1
    rule = api.get("/nodes/pve1/qemu/100/firewall/rules/0")
    assert (rule["type"], rule["action"], rule["comment"], rule["errors"]) == ("in", "accept", "web", {"action": "unknown action 'accept'"})


def test_reset_empties_the_cluster(pve: RunningEmulator, api: ApiClient, control: ControlClient) -> None:
    api.post(RULES, type="in", action="ACCEPT")
    control.add_log("pve1", entries=[{}])
    control.advance_clock(10)
    control.reset()
    assert control.files() == [] and api.get(RULES) == []
    assert api.get("/nodes/pve1/firewall/log") == [{"n": 1, "t": "no content"}]
    assert control.status()["clock"]["offset"] == 0
