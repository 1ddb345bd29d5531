"""firewall_options against the emulator: every level, check and diff mode, reset, bad input,
and the lockout guard with PVE's auto-revert on a cluster whose nodes really lock out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_examples

from ansible_collections.pve.firewall.plugins.module_utils._api.service import FirewallApi
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import DEFAULT_TOPOLOGY, topology_from_data

# (scope arguments, options to set, a changed value, a key to reset, the API path)
LEVELS = [
    pytest.param(
        {"level": "cluster"},
        {"ebtables": False, "log_ratelimit": "enable=1,rate=5/second"},
        {"ebtables": True},
        "log_ratelimit",
        "/cluster/firewall/options",
        id="cluster",
    ),
    pytest.param(
        {"level": "node", "node": "pve2"},
        {"log_level_in": "info", "nf_conntrack_max": 300000},
        {"log_level_in": "warning"},
        "nf_conntrack_max",
        "/nodes/pve2/firewall/options",
        id="node",
    ),
    pytest.param(
        {"level": "vm", "vmid": 101},
        {"enable": True, "dhcp": False, "policy_in": "DROP"},
        {"policy_in": "REJECT"},
        "dhcp",
        "/nodes/pve2/qemu/101/firewall/options",
        id="vm",
    ),
    pytest.param(
        {"level": "ct", "vmid": 200, "node": "pve1"},
        {"enable": 1, "macfilter": 0, "log_level_out": "debug"},
        {"macfilter": 1},
        "log_level_out",
        "/nodes/pve1/lxc/200/firewall/options",
        id="ct",
    ),
    pytest.param(
        {"level": "vnet", "vnet": "vnet1"},
        {"enable": True, "policy_forward": "DROP"},
        {"policy_forward": "ACCEPT"},
        "policy_forward",
        "/cluster/sdn/vnets/vnet1/firewall/options",
        id="vnet",
    ),
]


@pytest.mark.parametrize(("scope", "options", "change", "reset", "path"), LEVELS)
def test_life_cycle_at_every_level(
    cluster: ModuleRunner, scope: dict[str, Any], options: dict[str, Any], change: dict[str, Any], reset: str, path: str
) -> None:
    api = cluster.api()
    # check mode: the PUT is planned, nothing is written
    seq = cluster.seq()
    planned = cluster.run("firewall_options", check=True, diff=True, options=options, **scope)
    assert planned["changed"] and len(planned["commands"]) == 1 and planned["commands"][0].startswith(f"PUT {path} ")
    assert planned["diff"]["before"] == "" and "[OPTIONS]" in planned["diff"]["after"]
    assert cluster.writes_since(seq) == []
    assert {key: value for key, value in api.get(path).items() if key != "digest"} == {}

    created = cluster.ok("firewall_options", diff=True, options=options, **scope)
    assert created["changed"] and created["before"] == {}
    stored = api.get(path)
    assert set(stored) - {"digest"} == set(options)
    assert created["diff"]["after"].startswith("[OPTIONS]\n")

    seq = cluster.seq()
    again = cluster.ok("firewall_options", options=options, **scope)
    assert not again["changed"] and again["commands"] == []
    assert cluster.writes_since(seq) == []

    # only the changed key is written; the others stay
    seq = cluster.seq()
    changed = cluster.ok("firewall_options", options=change, **scope)
    assert changed["changed"]
    key, value = next(iter(change.items()))
    assert changed["commands"] == [f"PUT {path} {key}={int(value) if isinstance(value, bool) else value}"]
    assert len(cluster.writes_since(seq)) == 1
    assert set(api.get(path)) - {"digest"} == set(options)

    # reset removes the key (PVE's delete), and is idempotent
    removed = cluster.ok("firewall_options", reset=[reset], **scope)
    assert removed["commands"] == [f"PUT {path} delete={reset}"]
    assert reset not in api.get(path)
    seq = cluster.seq()
    assert not cluster.ok("firewall_options", reset=[reset], **scope)["changed"]
    assert cluster.writes_since(seq) == []


@pytest.mark.parametrize(("scope", "options", "change", "reset", "path"), LEVELS)
def test_exact_resets_every_key_options_does_not_list(
    cluster: ModuleRunner, scope: dict[str, Any], options: dict[str, Any], change: dict[str, Any], reset: str, path: str
) -> None:
    api = cluster.api()
    cluster.ok("firewall_options", options=options, **scope)
    key, value = next(iter(change.items()))
    dropped = sorted(set(options) - set(change))
    command = f"PUT {path} {key}={int(value) if isinstance(value, bool) else value} delete={','.join(dropped)}"

    # check mode: one PUT planned that sets the key and deletes the others; the diff shows it
    seq = cluster.seq()
    planned = cluster.run("firewall_options", check=True, diff=True, options=change, exact=True, **scope)
    assert planned["changed"] and planned["commands"] == [command]
    assert set(planned["before"]) == set(options) and set(planned["after"]) == {key}
    assert all(f"{name}:" in planned["diff"]["before"] and f"{name}:" not in planned["diff"]["after"] for name in dropped)
    assert cluster.writes_since(seq) == []

    applied = cluster.ok("firewall_options", options=change, exact=True, **scope)
    assert applied["commands"] == [command] and set(applied["after"]) == {key}
    assert set(api.get(path)) - {"digest"} == {key}
    seq = cluster.seq()
    assert not cluster.ok("firewall_options", options=change, exact=True, **scope)["changed"]
    assert cluster.writes_since(seq) == []

    # nothing listed: every key back to PVE's default
    emptied = cluster.ok("firewall_options", exact=True, **scope)
    assert emptied["commands"] == [f"PUT {path} delete={key}"] and emptied["after"] == {}
    assert set(api.get(path)) - {"digest"} == set()


def test_only_given_keys_are_managed(cluster: ModuleRunner) -> None:
    api = cluster.api()
    api.put("/nodes/pve1/firewall/options", tcpflags=1, log_level_in="info")
    result = cluster.ok("firewall_options", level="node", node="pve1", options={"nosmurfs": False})
    assert result["after"] == {"tcpflags": True, "log_level_in": "info", "nosmurfs": False}
    assert result["commands"] == ["PUT /nodes/pve1/firewall/options nosmurfs=0"]


def test_a_guest_is_found_on_its_node(cluster: ModuleRunner) -> None:
    result = cluster.ok("firewall_options", level="vm", vmid=102, options={"enable": True})
    assert result["commands"] == ["PUT /nodes/pve3/qemu/102/firewall/options enable=1"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param({"level": "cluster", "options": {"dhcp": True}}, ["options", "dhcp", "no such option 'dhcp'"], id="key-of-another-level"),
        pytest.param({"level": "cluster", "options": {"policy_in": "ALLOW"}}, ["policy_in", "ALLOW", "enumeration"], id="bad-policy"),
        pytest.param({"level": "node", "node": "pve1", "options": {"nf_conntrack_max": 100}}, ["nf_conntrack_max", "100", "minimum"], id="below-minimum"),
        pytest.param({"level": "node", "node": "pve1", "options": {"nf_conntrack_helpers": "ftp,bogus"}}, ["nf_conntrack_helpers", "bogus"], id="bad-helper"),
        pytest.param({"level": "cluster", "options": {"log_ratelimit": "rate=fast"}}, ["log_ratelimit", "rate=fast"], id="bad-ratelimit"),
        pytest.param({"level": "vm", "vmid": 100, "options": {"enable": "maybe"}}, ["enable", "maybe"], id="bad-boolean"),
        pytest.param({"level": "vm", "vmid": 100, "reset": ["policy_forward"]}, ["reset", "policy_forward", "no such option"], id="reset-unknown"),
        pytest.param({"level": "vm", "vmid": 100, "options": {"dhcp": True}, "reset": ["dhcp"]}, ["reset", "dhcp", "both set and reset"], id="set-and-reset"),
        pytest.param({"level": "vm", "vmid": 999, "options": {"enable": True}}, ["999", "no such guest"], id="unknown-guest"),
        pytest.param({"level": "ct", "vmid": 100, "options": {"enable": True}}, ["vmid 100", "level: vm"], id="vm-as-ct"),
        pytest.param({"level": "node", "node": "pve9", "options": {"enable": True}}, ["pve9"], id="unknown-node"),
        pytest.param({"level": "vnet", "vnet": "nope", "options": {"enable": True}}, ["invalid vnet"], id="unknown-vnet"),
        pytest.param({"level": "node", "options": {"enable": True}}, ["level node needs node"], id="node-missing"),
        pytest.param({"level": "cluster", "vmid": 100, "options": {"enable": 1}}, ["vmid cannot be used with level: cluster"], id="vmid-at-cluster"),
        pytest.param({"level": "vm", "vmid": 100, "exact": True, "reset": ["dhcp"]}, ["reset", "exact resets every key"], id="exact-and-reset"),
        pytest.param({"level": "cluster", "exact": True, "arm_auto_revert": True}, ["arm_auto_revert", "cannot be combined with exact"], id="exact-and-arm"),
    ],
)
def test_bad_input_fails_naming_it_and_writes_nothing(cluster: ModuleRunner, args: dict[str, Any], expected: list[str]) -> None:
    seq = cluster.seq()
    result = cluster.run("firewall_options", **args)
    assert result.get("failed"), result
    for text in expected:
        assert text in result["msg"], (text, result["msg"])
    assert cluster.writes_since(seq) == []


def test_examples_run_against_the_emulator(cluster: ModuleRunner, tmp_path: Path) -> None:
    results = run_examples(cluster, "firewall_options", tmp_path)
    assert results[0]["lockout"]["ok"]
    assert cluster.api().get("/cluster/firewall/options")["enable"] == 1  # confirmed after the auto-revert probe
    assert "log_level_in" not in cluster.api().get("/nodes/pve1/qemu/100/firewall/options")


# --------------------------------------------------------------------------------------------
# Lockout guard: nodes whose local network does not hold the client, so a DROP policy locks
# it out for real (new connections time out) until PVE's auto-revert.


@pytest.fixture
def guarded(make_pve_emulator: Callable[..., RunningEmulator]) -> ModuleRunner:
    nodes = [{"name": node["name"], "local_network": "192.0.2.0/24"} for node in DEFAULT_TOPOLOGY["nodes"]]
    running = make_pve_emulator(topology=topology_from_data({**DEFAULT_TOPOLOGY, "nodes": nodes}), tls=True, judging=True)
    return ModuleRunner(running)


def _reach(runner: ModuleRunner) -> str:
    """What a new HTTPS connection to pve1's API gets: 'open' or 'timeout' (dropped)."""
    client = runner.pve.api(timeout=0.5)
    try:
        client.get("/version")
        return "open"
    except TimeoutError:
        return "timeout"
    finally:
        client.close()


def test_a_policy_that_cuts_off_the_operator_is_refused_with_a_fix(guarded: ModuleRunner) -> None:
    seq = guarded.seq()
    result = guarded.run("firewall_options", level="cluster", options={"enable": True, "policy_in": "DROP"})
    assert result.get("failed") and result["msg"].startswith("refused: lockout check: 0 of 6 accesses kept")
    assert "set allow_lockout" in result["msg"]
    lost = result["lockout"]["accesses"]
    assert {access["status"] for access in lost} == {"lost"} and {access["port"] for access in lost} == {8006, 22}
    assert "ipset management" in lost[0]["fix"] or "add a rule" in lost[0]["fix"]
    assert guarded.writes_since(seq) == []
    paths = [entry["path"] for entry in guarded.requests_since(seq)]
    assert paths.count("/cluster/status") == 1  # node addresses and the serving node from one read
    assert not [path for path in paths if "/sdn/vnets/" in path]  # vnet rules filter forwarded traffic only
    assert _reach(guarded) == "open"


def test_check_mode_reports_the_lockout_too(guarded: ModuleRunner) -> None:
    result = guarded.run("firewall_options", check=True, level="cluster", options={"enable": 1, "policy_in": "DROP"})
    assert result.get("failed") and result["lockout"]["ok"] is False


def test_with_an_accept_rule_the_firewall_is_enabled_through_the_auto_revert(guarded: ModuleRunner) -> None:
    guarded.ok("firewall_rule", rules=[{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22,8006", "source": "127.0.0.1"}])
    result = guarded.ok("firewall_options", level="cluster", options={"enable": True, "policy_in": "DROP"})
    assert result["lockout"]["ok"]
    assert result["commands"] == ["PUT /cluster/firewall/options enable=2 policy_in=DROP", "PUT /cluster/firewall/options enable=1"]
    assert guarded.api().get("/cluster/firewall/options")["enable"] == 1
    guarded.control.advance_clock(120)  # confirmed: no revert
    assert guarded.api().get("/cluster/firewall/options")["enable"] == 1
    assert _reach(guarded) == "open"


def test_a_failed_probe_leaves_the_revert_to_pve(guarded: ModuleRunner) -> None:
    result = guarded.run("firewall_options", level="cluster", options={"enable": True, "policy_in": "DROP"}, allow_lockout=True, api_timeout=2)
    assert result.get("failed") and "auto-revert" in result["msg"] and result["changed"]
    assert _reach(guarded) == "timeout"
    guarded.control.advance_clock(61)  # PVE's 60 s revert
    assert _reach(guarded) == "open"
    assert guarded.api().get("/cluster/firewall/options")["enable"] == 0


def test_exact_is_guarded_on_the_keys_it_resets(guarded: ModuleRunner) -> None:
    """With exact, a key left out is deleted: the datacenter's policy_in then falls back to
    PVE's default DROP, and the guard judges that end state, not the keys given."""
    admin = guarded.api()
    admin.put("/cluster/firewall/options", enable=1, policy_in="ACCEPT", log_ratelimit="enable=1,rate=5/second")
    seq = guarded.seq()
    assert not guarded.ok("firewall_options", level="cluster", options={"enable": True})["changed"]  # merged: policy_in stays
    refused = guarded.run("firewall_options", level="cluster", options={"enable": True}, exact=True)
    assert refused.get("failed") and refused["msg"].startswith("refused: lockout check: 0 of 6 accesses kept"), refused
    assert guarded.writes_since(seq) == []
    kept = guarded.ok("firewall_options", level="cluster", options={"enable": True, "policy_in": "ACCEPT"}, exact=True)
    assert kept["commands"] == ["PUT /cluster/firewall/options delete=log_ratelimit"] and "lockout" not in kept  # no access key changes
    off = guarded.ok("firewall_options", level="cluster", options={"policy_in": "ACCEPT"}, exact=True)
    assert off["lockout"]["ok"] and off["after"] == {"policy_in": "ACCEPT"}  # enable left out: the firewall goes off
    assert _reach(guarded) == "open"


def test_host_enable_is_guarded_and_lockout_clients_are_honoured(guarded: ModuleRunner) -> None:
    admin = guarded.api()
    admin.post("/cluster/firewall/rules", type="in", action="ACCEPT", source="127.0.0.1", enable=1)
    admin.put("/cluster/firewall/options", enable=1, policy_in="DROP")
    ok = guarded.run("firewall_options", check=True, level="node", node="pve1", options={"enable": False})
    assert ok["lockout"]["ok"] and ok["changed"]
    other = guarded.run(
        "firewall_options", check=True, level="node", node="pve1", options={"enable": False}, lockout_clients=["127.0.0.9"], lockout_ports=[8006]
    )
    assert other.get("failed") and {access["client"] for access in other["lockout"]["accesses"]} == {"127.0.0.9"}


def test_a_concurrent_edit_is_kept_and_the_change_planned_on_top(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PUT carries the digest of the read it was planned from: another writer that gets in
    between makes PVE refuse it, and the module reads again and plans on top of their edit."""
    api = cluster.api()
    path = "/nodes/pve1/qemu/100/firewall/options"
    original = FirewallApi.read_options
    reads: list[int] = []

    def read_then_someone_edits(self: FirewallApi, scope: Any) -> Any:
        snapshot = original(self, scope)
        if not reads:
            api.put(path, log_level_in="info", policy_in="REJECT")  # after the module's read, before its write
        reads.append(1)
        return snapshot

    monkeypatch.setattr(FirewallApi, "read_options", read_then_someone_edits)
    seq = cluster.seq()
    result = cluster.ok("firewall_options", level="vm", vmid=100, options={"enable": True, "policy_in": "DROP"})
    assert [(entry["method"], entry["status"]) for entry in cluster.writes_since(seq)] == [("PUT", 200), ("PUT", 500), ("PUT", 200)]
    stored = {key: value for key, value in api.get(path).items() if key != "digest"}
    assert stored == {"enable": 1, "policy_in": "DROP", "log_level_in": "info"}  # theirs kept, ours on top
    assert result["after"] == {"enable": True, "policy_in": "DROP", "log_level_in": "info"}
    assert result["commands"] == [f"PUT {path} enable=1 policy_in=DROP"]


def test_exact_also_resets_a_key_a_concurrent_writer_adds(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The keys to reset are planned from each read: after the digest conflict the key the other
    writer added is reset too, so the options end exactly as given (and as the guard judged)."""
    api = cluster.api()
    path = "/nodes/pve1/qemu/100/firewall/options"
    api.put(path, enable=1, log_level_in="info")
    original = FirewallApi.read_options
    reads: list[int] = []

    def read_then_someone_edits(self: FirewallApi, scope: Any) -> Any:
        snapshot = original(self, scope)
        if not reads:
            api.put(path, policy_in="REJECT")
        reads.append(1)
        return snapshot

    monkeypatch.setattr(FirewallApi, "read_options", read_then_someone_edits)
    seq = cluster.seq()
    result = cluster.ok("firewall_options", level="vm", vmid=100, options={"enable": True}, exact=True)
    assert [(entry["method"], entry["status"]) for entry in cluster.writes_since(seq)] == [("PUT", 200), ("PUT", 500), ("PUT", 200)]
    assert {key: value for key, value in api.get(path).items() if key != "digest"} == {"enable": 1}
    assert result["commands"] == [f"PUT {path} delete=log_level_in,policy_in"]
