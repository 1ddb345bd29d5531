"""The lockout guard on every write path: rules, security groups, IP sets and aliases.

The emulator judges each new connection with its lockout judge, and its nodes' local network
does not hold the controller (127.0.0.1), so PVE's built-in management exception does not save
it: a change that drops the admin's access really cuts new connections off. Each case sets up
one access path with the API directly, turns the datacenter firewall on with a DROP input
policy, and then asks a module for a change that would cut that path: the module must refuse
before its first write, and a new connection must still get through.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ModuleRunner

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import DEFAULT_TOPOLOGY, topology_from_data

ADMIN = "127.0.0.1"  # the controller, as the emulator's nodes see it
API_8006 = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006"}
SSH_22 = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22"}


@pytest.fixture
def guarded(make_pve_emulator: Callable[..., RunningEmulator]) -> ModuleRunner:
    nodes = [{"name": node["name"], "local_network": "192.0.2.0/24"} for node in DEFAULT_TOPOLOGY["nodes"]]
    running = make_pve_emulator(topology=topology_from_data({**DEFAULT_TOPOLOGY, "nodes": nodes}), tls=True, judging=True)
    return ModuleRunner(running)


def reach(runner: ModuleRunner, port: str = "api", node: str = "pve1") -> str:
    """What a new connection to ``node``'s API (HTTPS) or SSH port gets: 'open' or 'timeout'."""
    host, api_port, ssh_port = runner.pve.node_host(node)
    target = api_port if port == "api" else ssh_port
    assert target, f"the emulator has no {port} listener"
    try:
        with socket.create_connection((host, int(target)), timeout=0.5, source_address=(ADMIN, 0)) as sock:
            if port == "api":
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                with context.wrap_socket(sock) as tls:
                    tls.sendall(b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    return "open" if tls.recv(12).startswith(b"HTTP/1.1") else "closed"
            return "open" if sock.recv(4).startswith(b"SSH") else "closed"
    except TimeoutError:
        return "timeout"


def open_cluster(
    runner: ModuleRunner,
    rules: list[dict[str, Any]],
    *,
    ipsets: dict[str, list[str]] | None = None,
    aliases: dict[str, str] | None = None,
    groups: dict[str, list[dict[str, Any]]] | None = None,
    host_rules: list[dict[str, Any]] | None = None,
) -> None:
    """The datacenter firewall on, input DROP, and the admin let in by ``rules`` (and what they use)."""
    api = runner.api()
    for name, entries in (ipsets or {}).items():
        api.post("/cluster/firewall/ipset", name=name)
        for cidr in entries:
            api.post(f"/cluster/firewall/ipset/{name}", cidr=cidr)
    for name, cidr in (aliases or {}).items():
        api.post("/cluster/firewall/aliases", name=name, cidr=cidr)
    for name, group_rules in (groups or {}).items():
        api.post("/cluster/firewall/groups", group=name)
        for item in reversed(group_rules):  # each POST goes on top
            api.post(f"/cluster/firewall/groups/{name}", enable=1, **item)
    for item in reversed(rules):
        api.post("/cluster/firewall/rules", enable=1, **item)
    for item in reversed(host_rules or []):
        api.post("/nodes/pve1/firewall/rules", enable=1, **item)
    api.put("/cluster/firewall/options", enable=1, policy_in="DROP")
    assert reach(runner) == "open" and reach(runner, "ssh") == "open"


def assert_refused(runner: ModuleRunner, module: str, **args: Any) -> dict[str, Any]:
    seq = runner.seq()
    result = runner.run(module, **args)
    assert result.get("failed"), result
    assert result["msg"].startswith("refused: lockout check:"), result["msg"]
    assert "set allow_lockout" in result["msg"]
    assert result["lockout"]["ok"] is False and any(access["status"] == "lost" for access in result["lockout"]["accesses"])
    assert runner.writes_since(seq) == []
    assert reach(runner) == "open" and reach(runner, "ssh") == "open"
    return result


ADMIN_RULES = [{**API_8006, "source": ADMIN}, {**SSH_22, "source": ADMIN}]


# -- firewall_rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({"state": "merged", "rules": [{"type": "in", "action": "DROP", "proto": "tcp", "dport": "8006"}]}, id="drop-8006-on-top"),
        pytest.param({"state": "merged", "rules": [{"type": "in", "action": "REJECT", "proto": "tcp", "dport": "22"}]}, id="reject-22-on-top"),
        pytest.param({"state": "overridden", "rules": []}, id="overridden-empty"),
        pytest.param({"state": "deleted", "rules": [{**API_8006, "source": ADMIN}]}, id="deleted-admin-rule"),
        pytest.param({"state": "merged", "rules": [{**API_8006, "source": ADMIN, "enable": False}, {**SSH_22, "source": ADMIN}]}, id="disabled"),
    ],
)
def test_datacenter_rules_that_cut_the_admin_off_are_refused(guarded: ModuleRunner, args: dict[str, Any]) -> None:
    open_cluster(guarded, ADMIN_RULES)
    assert_refused(guarded, "firewall_rule", level="cluster", **args)


def test_a_node_rule_list_that_cuts_the_admin_off_is_refused(guarded: ModuleRunner) -> None:
    open_cluster(guarded, ADMIN_RULES)
    result = assert_refused(guarded, "firewall_rule", level="node", node="pve1", state="overridden", rules=[{"type": "in", "action": "DROP"}])
    assert {access["node"] for access in result["lockout"]["accesses"] if access["status"] == "lost"} == {"pve1"}


def test_a_harmless_rule_change_passes_and_reports_the_check(guarded: ModuleRunner) -> None:
    open_cluster(guarded, ADMIN_RULES)
    result = guarded.ok("firewall_rule", level="cluster", state="merged", rules=[{"type": "in", "action": "ACCEPT", "macro": "Ping"}])
    assert result["changed"] and result["lockout"]["ok"] is True
    assert reach(guarded) == "open"


def test_allow_lockout_applies_the_change_and_new_connections_are_cut(guarded: ModuleRunner) -> None:
    open_cluster(guarded, ADMIN_RULES)
    result = guarded.run("firewall_rule", level="cluster", state="overridden", rules=[], allow_lockout=True, api_timeout=2)
    assert result["changed"] and result["lockout"]["ok"] is False
    assert reach(guarded) == "timeout" and reach(guarded, "ssh") == "timeout"


def test_guest_rules_cannot_lock_a_node_and_are_not_analysed(guarded: ModuleRunner) -> None:
    open_cluster(guarded, ADMIN_RULES)
    seq = guarded.seq()
    result = guarded.ok("firewall_rule", level="vm", vmid=100, state="overridden", rules=[{"type": "in", "action": "DROP"}])
    assert "lockout" not in result
    assert "/cluster/status" not in [entry["path"] for entry in guarded.requests_since(seq)]


def test_nothing_is_analysed_while_the_datacenter_firewall_is_off(guarded: ModuleRunner) -> None:
    seq = guarded.seq()
    result = guarded.ok("firewall_rule", level="cluster", state="overridden", rules=[{"type": "in", "action": "DROP", "proto": "tcp", "dport": "8006"}])
    assert "lockout" not in result
    paths = [entry["path"] for entry in guarded.requests_since(seq)]
    assert paths.count("/cluster/firewall/options") == 1 and "/cluster/status" not in paths


def test_a_drop_rule_added_below_the_admin_rules_is_moved_into_place_disabled(guarded: ModuleRunner) -> None:
    """PVE puts a new rule on top; a DROP rule there would cut the admin off until moved below
    the admin rules, and PVE may compile the list in between: it goes in disabled, is moved,
    then enabled."""
    open_cluster(guarded, ADMIN_RULES)
    drop_all = {"type": "in", "action": "DROP"}
    result = guarded.ok("firewall_rule", state="overridden", rules=[*ADMIN_RULES, drop_all])
    commands = result["commands"]
    assert len(commands) == 3, commands
    assert commands[0].startswith("POST /cluster/firewall/rules") and "enable=0" in commands[0], commands
    assert commands[1] == "PUT /cluster/firewall/rules/0 moveto=3", commands
    assert commands[2] == "PUT /cluster/firewall/rules/2 enable=1", commands
    rules = guarded.api().get("/cluster/firewall/rules")
    assert [(rule["action"], rule.get("enable")) for rule in rules] == [("ACCEPT", 1), ("ACCEPT", 1), ("DROP", 1)]
    assert reach(guarded) == "open" and reach(guarded, "ssh") == "open"
    guarded.unchanged("firewall_rule", state="overridden", rules=[*ADMIN_RULES, drop_all])


# -- security_group ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({"state": "overridden", "rules": []}, id="overridden-empty"),
        pytest.param({"state": "merged", "rules": [{"type": "in", "action": "REJECT", "proto": "tcp", "dport": "22"}]}, id="reject-first"),
        pytest.param({"state": "deleted", "rules": [{**SSH_22, "source": ADMIN}]}, id="deleted-admin-rule"),
    ],
)
def test_a_group_the_datacenter_jumps_to_is_guarded(guarded: ModuleRunner, args: dict[str, Any]) -> None:
    open_cluster(guarded, [{"type": "group", "action": "admin"}], groups={"admin": ADMIN_RULES})
    assert_refused(guarded, "security_group", name="admin", **args)


def test_a_group_a_node_jumps_to_is_guarded(guarded: ModuleRunner) -> None:
    open_cluster(guarded, [], groups={"admin": ADMIN_RULES}, host_rules=[{"type": "group", "action": "admin"}])
    assert_refused(guarded, "security_group", name="admin", state="overridden", rules=[])


# -- ipset -------------------------------------------------------------------------------------


def test_removing_the_admin_from_a_set_the_admin_rules_use_is_refused(guarded: ModuleRunner) -> None:
    open_cluster(guarded, [{**API_8006, "source": "+admins"}, {**SSH_22, "source": "+admins"}], ipsets={"admins": [ADMIN, "192.0.2.9"]})
    assert_refused(guarded, "ipset", level="cluster", name="admins", entries=["192.0.2.9"])


def test_removing_the_admin_from_management_is_refused(guarded: ModuleRunner) -> None:
    open_cluster(guarded, [], ipsets={"management": [ADMIN]})
    assert_refused(guarded, "ipset", level="cluster", name="management", entries=["192.0.2.9"])
    assert_refused(guarded, "ipset", level="cluster", name="management", state="absent")


def test_putting_the_admin_on_the_blacklist_is_refused(guarded: ModuleRunner) -> None:
    open_cluster(guarded, ADMIN_RULES)
    assert_refused(guarded, "ipset", level="cluster", name="blacklist", entries=[ADMIN])


def test_adding_an_unrelated_address_to_management_passes(guarded: ModuleRunner) -> None:
    open_cluster(guarded, [], ipsets={"management": [ADMIN]})
    result = guarded.ok("ipset", level="cluster", name="management", entries=["192.0.2.7"], purge=False)
    assert result["lockout"]["ok"] is True


# -- alias -------------------------------------------------------------------------------------


def test_repointing_the_alias_the_admin_rules_use_is_refused(guarded: ModuleRunner) -> None:
    open_cluster(guarded, [{**API_8006, "source": "admin"}, {**SSH_22, "source": "admin"}], aliases={"admin": ADMIN})
    assert_refused(guarded, "alias", level="cluster", name="admin", cidr="192.0.2.9")


# -- the options of the guard ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param({"lockout_clients": ["not-an-ip"]}, "lockout_clients='not-an-ip': not an IP address", id="client"),
        pytest.param({"lockout_ports": [70000]}, "lockout_ports=70000: not a TCP port", id="port"),
        pytest.param({"lockout_ports": [0]}, "lockout_ports=0: not a TCP port", id="port-zero"),
    ],
)
@pytest.mark.parametrize("module", ["firewall_rule", "security_group", "ipset", "alias", "firewall_options"])
def test_bad_guard_options_fail_before_any_request(guarded: ModuleRunner, module: str, args: dict[str, Any], expected: str) -> None:
    own = {
        "firewall_rule": {"level": "cluster", "rules": []},
        "security_group": {"name": "web"},
        "ipset": {"level": "cluster", "name": "web"},
        "alias": {"level": "cluster", "name": "web", "cidr": "192.0.2.1"},
        "firewall_options": {"level": "cluster", "options": {"enable": True}},
    }[module]
    seq = guarded.seq()
    result = guarded.run(module, **own, **args)
    assert result.get("failed") and expected in result["msg"], result["msg"]
    assert guarded.requests_since(seq) == []


# -- the stages of a rollout -------------------------------------------------------------------

# The end state keeps the admin (the rules take over from the group). The group only loses
# ACCEPT rules, so it is written after the datacenter rules and the admin is kept all the way.
HANDOVER_TREE = {"cluster": {"groups": [{"name": "admin", "rules": []}], "rules": [*ADMIN_RULES, {"type": "group", "action": "admin"}]}}
# The same, but the group also gains an ACCEPT rule: it may widen, so it goes before the rules
# that jump to it, and on the way the admin is cut off.
OTHER_ADMIN = {**API_8006, "source": "192.0.2.77"}
REPLACED_TREE = {"cluster": {"groups": [{"name": "admin", "rules": [OTHER_ADMIN]}], "rules": [*ADMIN_RULES, {"type": "group", "action": "admin"}]}}


def test_the_preflight_judges_every_stage_of_a_rollout(guarded: ModuleRunner) -> None:
    open_cluster(guarded, [{"type": "group", "action": "admin"}], groups={"admin": ADMIN_RULES})
    end_only = guarded.ok("firewall_simulate", source="live", changes=REPLACED_TREE, lockout_check={"fail_on_lockout": True})
    assert end_only["lockout"]["ok"] and "stages" not in end_only["lockout"]
    staged = guarded.run("firewall_simulate", source="live", changes=REPLACED_TREE, lockout_check={"fail_on_lockout": True, "stages": True})
    assert staged.get("failed") and "after the stage 'datacenter security group admin'" in staged["msg"], staged["msg"]
    assert [(stage["stage"], stage["ok"]) for stage in staged["lockout"]["stages"]] == [("datacenter security group admin", False), ("datacenter rules", True)]
    handover = guarded.ok("firewall_simulate", source="live", changes=HANDOVER_TREE, lockout_check={"fail_on_lockout": True, "stages": True})
    assert [(stage["stage"], stage["ok"]) for stage in handover["lockout"]["stages"]] == [("datacenter rules", True), ("datacenter security group admin", True)]


def test_firewall_tree_on_its_own_refuses_a_tree_that_cuts_the_admin_off_on_the_way(guarded: ModuleRunner) -> None:
    """Without the role's preflight: the end state keeps the admin, the step that writes the
    group first does not; refused before any write, naming that step."""
    open_cluster(guarded, [{"type": "group", "action": "admin"}], groups={"admin": ADMIN_RULES})
    seq = guarded.seq()
    result = guarded.run("firewall_tree", tree=REPLACED_TREE)
    assert result.get("failed"), result
    assert "on the way, after the step 'datacenter security group admin'" in result["msg"], result["msg"]
    assert result["lockout"]["step"] == "datacenter security group admin" and result["lockout"]["ok"] is False
    assert guarded.writes_since(seq) == []
    assert reach(guarded) == "open" and reach(guarded, "ssh") == "open"


def test_a_group_the_change_only_narrows_is_written_after_the_rules_that_take_over(guarded: ModuleRunner) -> None:
    """In one call and in the role's calls (groups, then the datacenter rules) alike."""
    for calls in ([None], [["sets", "groups"], ["cluster_rules"]]):
        guarded.pve.emulator.reset()
        open_cluster(guarded, [{"type": "group", "action": "admin"}], groups={"admin": ADMIN_RULES})
        seq = guarded.seq()
        for stages in calls:
            result = guarded.ok("firewall_tree", tree=HANDOVER_TREE, **({"stages": stages} if stages else {}))
            # the groups stage leaves the narrowed group to the datacenter rules' stage
            assert result["changed"] is (stages != ["sets", "groups"]), result
            assert not result["changed"] or result["lockout"]["ok"] is True, result
        writes = guarded.writes_since(seq)
        rules = [index for index, entry in enumerate(writes) if entry["path"].startswith("/cluster/firewall/rules")]
        group = [index for index, entry in enumerate(writes) if entry["path"].startswith("/cluster/firewall/groups/admin")]
        assert rules and len(group) == 2 and max(rules) < min(group), (calls, writes)
        assert reach(guarded) == "open" and reach(guarded, "ssh") == "open"
        guarded.unchanged("firewall_tree", tree=HANDOVER_TREE)


# A set that holds the admin and that no rule uses yet becomes a deny list: its dropped entries
# (the admin) must leave before the DROP rule that names it is written. Added first and removed
# last (the order of a set that rules accept), the DROP rule would meet the admin in the set.
DENY_TREE = {
    "cluster": {
        "ipsets": [{"name": "bad", "entries": ["192.0.2.99"]}],
        "rules": [{"type": "in", "action": "DROP", "source": "+bad"}, *ADMIN_RULES],
    }
}


def test_a_set_that_rules_only_deny_loses_its_dropped_entries_before_its_drop_rule_is_written(guarded: ModuleRunner) -> None:
    open_cluster(guarded, ADMIN_RULES, ipsets={"bad": [ADMIN, "192.0.2.50"]})
    staged = guarded.ok("firewall_simulate", source="live", changes=DENY_TREE, lockout_check={"fail_on_lockout": True, "stages": True})
    labels = [stage["stage"] for stage in staged["lockout"]["stages"]]
    assert labels == ["datacenter IP set bad dropped entries removed", "datacenter IP set bad", "datacenter rules"]
    seq = guarded.seq()
    result = guarded.ok("firewall_tree", tree=DENY_TREE)
    assert result["files"]["cluster"]["parts"] == ["prune_entries bad", "ipset bad", "rules"]
    assert result["lockout"]["ok"] is True and result["lockout"]["steps_judged"] == 3
    writes = guarded.writes_since(seq)
    drops = [index for index, entry in enumerate(writes) if entry["method"] == "DELETE" and entry["path"].startswith("/cluster/firewall/ipset/bad/")]
    rules = [index for index, entry in enumerate(writes) if entry["path"].startswith("/cluster/firewall/rules")]
    assert len(drops) == 2 and rules and max(drops) < min(rules), writes
    assert reach(guarded) == "open" and reach(guarded, "ssh") == "open"
    guarded.unchanged("firewall_tree", tree=DENY_TREE)


# -- nodes on the nftables backend -------------------------------------------------------------
# The judge and the guard evaluate a node with host option nftables: 1 as proxmox-firewall
# filters it (docs/nftables.md): the management ipset is accepted before the rules, and
# protection_synflood drops new TCP connections left over by default-in.


def test_a_node_rule_list_that_cuts_the_admin_off_an_nftables_node_is_refused(guarded: ModuleRunner) -> None:
    guarded.api().put("/nodes/pve1/firewall/options", nftables=1)
    open_cluster(guarded, ADMIN_RULES)
    result = assert_refused(guarded, "firewall_rule", level="node", node="pve1", state="overridden", rules=[{"type": "in", "action": "DROP"}])
    lost = [access for access in result["lockout"]["accesses"] if access["status"] == "lost"]
    assert {access["node"] for access in lost} == {"pve1"} and all("nftables" in access["fix"] for access in lost)


def test_switching_a_node_to_nftables_is_refused_when_it_cuts_the_admin_off(guarded: ModuleRunner) -> None:
    guarded.api().put("/nodes/pve1/firewall/options", protection_synflood=1)
    open_cluster(guarded, ADMIN_RULES)
    result = assert_refused(guarded, "firewall_options", level="node", node="pve1", options={"nftables": True})
    lost = [access for access in result["lockout"]["accesses"] if access["status"] == "lost"]
    assert {access["node"] for access in lost} == {"pve1"} and all("protection_synflood" in access["fix"] for access in lost)


def test_switching_a_node_back_to_iptables_is_refused_when_it_cuts_the_admin_off(guarded: ModuleRunner) -> None:
    guarded.api().put("/nodes/pve1/firewall/options", nftables=1)
    # Rules before management on iptables: the DROP rules cut the admin off; on nftables the
    # management ipset is accepted first and the admin keeps pve1.
    drops = [{"type": "in", "action": "DROP", "proto": "tcp", "dport": "8006"}, {"type": "in", "action": "DROP", "proto": "tcp", "dport": "22"}]
    open_cluster(guarded, [], ipsets={"management": [ADMIN]}, host_rules=drops)
    result = assert_refused(guarded, "firewall_options", level="node", node="pve1", options={"nftables": False})
    assert {access["node"] for access in result["lockout"]["accesses"] if access["status"] == "lost"} == {"pve1"}


def test_a_harmless_switch_to_nftables_passes(guarded: ModuleRunner) -> None:
    open_cluster(guarded, ADMIN_RULES)
    result = guarded.ok("firewall_options", level="node", node="pve1", options={"nftables": True})
    assert result["changed"] and result["lockout"]["ok"] is True
    assert reach(guarded) == "open" and reach(guarded, "ssh") == "open"


def test_a_rule_that_names_an_sdn_set_is_judged_with_that_set(guarded: ModuleRunner) -> None:
    # The guard reads the SDN configuration when a host or datacenter rule names +sdn/: without
    # it the engine leaves the rule out and would pass a DROP of the admin's own network.
    open_cluster(guarded, [API_8006, SSH_22])
    drop = [{"type": "in", "action": "DROP", "proto": "tcp", "dport": "8006", "source": "+sdn/vnet1-all"}]
    in_vnet = assert_refused(guarded, "firewall_rule", level="cluster", state="merged", rules=drop, lockout_clients=["10.10.0.5"])
    assert [access["client"] for access in in_vnet["lockout"]["accesses"] if access["status"] == "lost"] != []
    outside = guarded.ok("firewall_rule", level="cluster", state="merged", rules=drop, lockout_clients=["192.0.2.200"])
    assert outside["changed"] and outside["lockout"]["ok"] is True
