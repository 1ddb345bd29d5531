"""firewall_tree against the emulator: a whole tree converged in one run, in the safe order,
files written in parallel, check and diff mode, failures a rerun converges from, and every
refusal before the first write."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from conftest import ModuleRunner, any_overlap, overlaps

from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import DEFAULT_TOPOLOGY, topology_from_data

MODULE = "firewall_tree"
ADMIN = "127.0.0.1"  # the test client's address
INFO_PARTS = ["options", "rules", "groups", "ipsets", "aliases"]


def tree() -> dict[str, Any]:
    """A tree that touches every kind of file and every part, with references across files."""
    return {
        "cluster": {
            "options": {"enable": 1, "policy_in": "DROP"},
            "aliases": [{"name": "admin", "cidr": ADMIN}, {"name": "backup", "cidr": "198.51.100.7"}],
            "ipsets": [
                {"name": "management", "entries": ["admin"]},
                {"name": "web", "comment": "front ends", "entries": [f"192.0.2.{host}" for host in range(1, 13)]},
            ],
            "groups": [{"name": "webserver", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS", "source": "+web"}]}],
            "rules": [
                {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": "+management"},
                {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+management"},
                {"type": "group", "action": "webserver"},
            ],
        },
        "nodes": {
            "pve1": {"options": {"enable": 1, "log_level_in": "info"}, "rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}]},
            "pve2": {"rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}]},
        },
        "guests": {
            "100": {
                "options": {"enable": 1},
                "aliases": [{"name": "db", "cidr": "10.0.0.5"}],
                "ipsets": [{"name": "clients", "entries": ["10.0.0.0/24", "db"]}],
                "rules": [{"type": "group", "action": "webserver"}, {"type": "in", "action": "ACCEPT", "source": "+clients", "dport": "5432", "proto": "tcp"}],
                "nic_firewall": {"net1": False},
            },
            "200": {"options": {"enable": 1}, "rules": [{"type": "in", "action": "ACCEPT", "source": "backup", "macro": "SSH"}]},
        },
        "vnets": {"vnet1": {"options": {"enable": 1}, "rules": [{"type": "forward", "action": "ACCEPT", "source": "+web"}]}},
    }


def gathered(runner: ModuleRunner) -> dict[str, Any]:
    info = runner.ok("firewall_info", include=INFO_PARTS)
    return {key: info[key] for key in ("cluster", "nodes", "guests", "vnets")}


def file_of(path: str) -> str:
    """The firewall a request writes: cluster, node pveN, guest N (config or firewall), vnet X."""
    parts = path.strip("/").split("/")
    if parts[0] == "cluster" and parts[1] == "firewall":
        return "cluster"
    if parts[0] == "cluster" and parts[1] == "sdn":
        return f"vnet {parts[3]}"
    if parts[2] in ("qemu", "lxc"):
        return f"guest {parts[3]}" + (" config" if parts[4] == "config" else "")
    return f"node {parts[1]}"


def test_converges_from_empty_to_what_firewall_info_reads_and_a_rerun_writes_nothing(cluster: ModuleRunner) -> None:
    wanted = tree()
    result = cluster.ok(MODULE, tree=wanted)
    assert result["changed"] is True
    assert set(result["files"]) == {"cluster", "node pve1", "node pve2", "vm 100", "ct 200", "vnet vnet1"}
    assert result["nics"] == [100]
    now = gathered(cluster)
    # applying what was read back changes nothing: the tree and the cluster agree
    cluster.unchanged(MODULE, tree=now)
    cluster.unchanged(MODULE, tree=wanted)
    assert [item["name"] for item in now["cluster"]["ipsets"]] == ["management", "web"]
    assert (now["guests"]["100"]["rules"][0]["type"], now["guests"]["100"]["rules"][0]["action"]) == ("group", "webserver")
    config = cluster.api().get("/nodes/pve1/qemu/100/config")
    assert "firewall=1" in config["net0"] and "firewall=1" not in config["net1"]


def test_check_mode_writes_nothing_and_plans_the_calls_of_the_real_run(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    planned = cluster.run(MODULE, check=True, tree=tree())
    assert not planned.get("failed"), planned.get("msg")
    assert planned["changed"] is True and cluster.writes_since(seq) == []
    done = cluster.ok(MODULE, tree=tree())
    assert done["commands"] == planned["commands"]
    writes = cluster.writes_since(seq)
    # the same writes, in the order of the plan (files written at once finish in any order)
    assert sorted(f"{entry['method']} {entry['path']}" for entry in writes) == sorted(" ".join(command.split()[:2]) for command in done["commands"])
    # the datacenter firewall goes on through the auto-revert: a timestamp, then the confirmation
    assert done["commands"][-2:] == ["PUT /cluster/firewall/options enable=2", "PUT /cluster/firewall/options enable=1"]


def test_diff_shows_each_changed_file_as_fw_text(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, tree=tree())
    changed = copy.deepcopy(tree())
    changed["guests"]["200"]["rules"].append({"type": "in", "action": "DROP", "macro": "Telnet"})
    result = cluster.run(MODULE, check=True, diff=True, tree=changed)
    # a DROP rule added at the end: PVE inserts at the top, so it goes in disabled, moves, and
    # is enabled in its place (three calls)
    assert result["files"] == {"ct 200": {"path": "/etc/pve/firewall/200.fw", "parts": ["rules"], "commands": 3}}
    assert len(result["commands"]) == 3 and "enable=0" in result["commands"][0] and result["commands"][2].endswith("enable=1"), result["commands"]
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before.startswith("# /etc/pve/firewall/200.fw\n") and after.startswith("# /etc/pve/firewall/200.fw\n")
    assert "Telnet(DROP)" in after and "Telnet" not in before
    assert "[RULES]" in before


def test_writes_follow_the_safe_order(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    cluster.ok(MODULE, tree=tree(), parallel=4)
    writes = cluster.writes_since(seq)

    def first(predicate: Callable[[dict[str, Any]], bool]) -> int:
        return min(index for index, entry in enumerate(writes) if predicate(entry))

    def last(predicate: Callable[[dict[str, Any]], bool]) -> int:
        return max(index for index, entry in enumerate(writes) if predicate(entry))

    def sets(entry: dict[str, Any]) -> bool:
        return "/ipset" in entry["path"] or "/aliases" in entry["path"]

    def groups(entry: dict[str, Any]) -> bool:
        return "/firewall/groups" in entry["path"]

    def own_files(entry: dict[str, Any]) -> bool:
        return file_of(entry["path"]) != "cluster" and not sets(entry)

    def cluster_rules(entry: dict[str, Any]) -> bool:
        return entry["path"].startswith("/cluster/firewall/rules")

    def cluster_options(entry: dict[str, Any]) -> bool:
        return entry["path"] == "/cluster/firewall/options"

    assert last(sets) < first(groups) < last(groups) < first(own_files)
    assert last(own_files) < first(cluster_rules) <= last(cluster_rules) < first(cluster_options)
    # the datacenter's enable is the very last write: its options without it come first
    options = [entry for entry in writes if cluster_options(entry)]
    assert len(options) >= 2 and options[-1] is writes[-1] or options[-1] == writes[-1]


def test_files_are_written_at_the_same_time_and_one_file_never_twice_at_once(cluster: ModuleRunner) -> None:
    cluster.control.settings(latency=0.05)
    seq = cluster.seq()
    result = cluster.ok(MODULE, tree=tree(), parallel=4)
    writes = cluster.writes_since(seq)
    cluster.control.settings(latency=0)
    assert result["most_at_once"] > 1
    pairs = [(a, b) for index, a in enumerate(writes) for b in writes[index + 1 :] if overlaps(a, b)]
    # writes of different files overlapped ...
    assert any(file_of(a["path"]) != file_of(b["path"]) for a, b in pairs)
    # ... and of one file only when both were order-free entries of one IP set or aliases
    for a, b in pairs:
        if file_of(a["path"]) == file_of(b["path"]):
            assert sets(a) and sets(b), (a, b)


def sets(entry: dict[str, Any]) -> bool:
    return "/ipset" in entry["path"] or "/aliases" in entry["path"]


def test_one_connection_writes_one_step_after_the_other(cluster: ModuleRunner) -> None:
    cluster.control.settings(latency=0.02)
    seq = cluster.seq()
    result = cluster.ok(MODULE, tree=tree(), parallel=1)
    writes = cluster.writes_since(seq)
    cluster.control.settings(latency=0)
    assert result["most_at_once"] == 1
    assert not any_overlap(writes)


def test_the_gather_reads_different_files_at_the_same_time(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, tree=tree())
    cluster.control.settings(latency=0.05)
    seq = cluster.seq()
    cluster.unchanged(MODULE, tree=tree(), parallel=4)
    reads = cluster.requests_since(seq)
    cluster.control.settings(latency=0)
    assert reads and all(entry["method"] == "GET" for entry in reads)
    # reads of different files overlapped (the files of a whole cluster, read at once)
    files = [entry for entry in reads if "/firewall/" in entry["path"]]
    assert any(file_of(a["path"]) != file_of(b["path"]) and overlaps(a, b) for index, a in enumerate(files) for b in files[index + 1 :])
    seq = cluster.seq()
    cluster.unchanged(MODULE, tree=tree(), parallel=1)
    alone = cluster.requests_since(seq)
    assert len(alone) == len(reads)  # the same reads, one after the other
    assert not any_overlap(alone)


def read_files(runner: ModuleRunner, seq: int) -> set[str]:
    """The guest configs and firewalls, node and vnet firewalls the run read since ``seq``."""
    return {
        file_of(entry["path"])
        for entry in runner.requests_since(seq)
        if entry["method"] == "GET" and ("/firewall" in entry["path"] or entry["path"].endswith("/config"))
    }


def test_a_tree_of_rules_and_options_reads_the_datacenter_the_nodes_and_what_it_names(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, tree=tree())
    seq = cluster.seq()
    rules_only = {
        "cluster": {"rules": tree()["cluster"]["rules"], "options": {"policy_out": "ACCEPT"}},
        "guests": {"200": {"rules": [{"type": "in", "action": "ACCEPT", "macro": "DNS"}]}},
        "vnets": {"vnet1": {"options": {"enable": 1}}},
    }
    result = cluster.ok(MODULE, tree=rules_only)
    assert sorted(result["files"]) == ["cluster", "ct 200"]
    assert read_files(cluster, seq) == {"cluster", "node pve1", "node pve2", "node pve3", "guest 200 config", "guest 200", "vnet vnet1"}
    assert cluster.unchanged(MODULE, tree=rules_only)["files"] == {}
    # a guest or vnet the cluster lacks is still named, with every one it has
    missing = cluster.fails(MODULE, tree={"guests": {"999": {"options": {"enable": 1}}}, "vnets": {"nope": {"options": {"enable": 1}}}})
    accepted = {error["location"]: error["accepted"] for error in missing["errors"]}
    assert accepted == {"tree.guests.999": "100, 101, 102, 200, 201", "tree.vnets.nope": "vnet1, vnet2"}, missing["errors"]


def test_a_tree_that_lists_datacenter_objects_or_prunes_reads_every_file(cluster: ModuleRunner) -> None:
    """A datacenter alias, IP set or group may be named by the rules of any file, and so may
    an object prune removes."""
    cluster.ok(MODULE, tree=tree())
    every = {"guest 100", "guest 101", "guest 102", "guest 200", "guest 201"}
    for cluster_part, prune, reads in (
        ({"aliases": tree()["cluster"]["aliases"]}, False, every),
        ({"groups": tree()["cluster"]["groups"]}, False, every),
        ({"rules": tree()["cluster"]["rules"]}, True, every),
        ({"ipsets": tree()["cluster"]["ipsets"]}, False, every),
        ({"options": {"policy_out": "ACCEPT"}}, False, set()),
    ):
        seq = cluster.seq()
        run = cluster.run(MODULE, tree={"cluster": cluster_part}, prune=prune, check=True)
        assert not run.get("failed"), run
        guests = {name for name in read_files(cluster, seq) if name.startswith("guest ") and not name.endswith(" config")}
        assert guests == reads, cluster_part
    # and a guest rule that an alias change would break (an IPv6 source, an IPv4 dest) is found
    cluster.ok(MODULE, tree={"guests": {"200": {"rules": [{"type": "in", "action": "ACCEPT", "source": "backup", "dest": "10.0.0.200"}]}}})
    broken = cluster.fails(MODULE, tree={"cluster": {"aliases": [{"name": "backup", "cidr": "2001:db8::7"}]}})
    assert [error["location"] for error in broken["errors"]] == ["ct 200 rules[0]"], broken["errors"]


def test_a_failed_read_of_the_gather_fails_the_task_before_any_write(cluster: ModuleRunner) -> None:
    cluster.control.arm_fault(action="error", nth=1, on="read", status=500, message="injected read failure", path="/nodes/pve1/qemu/100/firewall/rules")
    seq = cluster.seq()
    failed = cluster.run(MODULE, tree=tree(), parallel=4)
    assert failed["failed"] is True and "injected read failure" in failed["msg"], failed
    assert cluster.writes_since(seq) == []


def test_a_large_ip_set_is_spread_over_idle_connections(cluster: ModuleRunner) -> None:
    cluster.control.settings(latency=0.02)
    entries = [f"10.{index // 250}.{index % 250}.1" for index in range(60)]
    seq = cluster.seq()
    cluster.ok(MODULE, tree={"cluster": {"ipsets": [{"name": "big", "entries": entries}]}}, parallel=4)
    writes = cluster.writes_since(seq)
    cluster.control.settings(latency=0)
    posts = [entry for entry in writes if entry["path"] == "/cluster/firewall/ipset/big"]
    assert len(posts) == 60
    assert any_overlap(posts)
    assert len(cluster.api().get("/cluster/firewall/ipset/big")) == 60
    cluster.unchanged(MODULE, tree={"cluster": {"ipsets": [{"name": "big", "entries": entries}]}})


def test_a_failure_stops_new_writes_names_the_file_and_the_rerun_converges(cluster: ModuleRunner) -> None:
    cluster.control.arm_fault(action="error", nth=1, on="write", status=500, message="injected", path="/nodes/pve2/firewall/rules")
    seq = cluster.seq()
    failed = cluster.run(MODULE, tree=tree())
    assert failed.get("failed") is True
    assert "node pve2 (/etc/pve/nodes/pve2/host.fw), rules" in failed["msg"] and "injected" in failed["msg"]
    assert failed["failed_steps"][0]["file"] == "node pve2"
    written = cluster.writes_since(seq)
    # nothing of the datacenter's rules or options was written after the failure
    assert not any(entry["path"].startswith("/cluster/firewall/rules") or entry["path"] == "/cluster/firewall/options" for entry in written)
    assert "cluster cluster_rules" in failed["not_started"] or any("cluster" in step for step in failed["not_started"])
    assert len(failed["commands"]) == len([entry for entry in written if entry["status"] == 200])
    cluster.ok(MODULE, tree=tree())
    cluster.unchanged(MODULE, tree=tree())


def test_a_bad_tree_fails_naming_every_field_before_any_write(cluster: ModuleRunner) -> None:
    shape = tree()
    shape["nodes"]["pve1"]["options"]["log_level_in"] = "loud"
    shape["vnets"]["vnet1"]["options"]["enable"] = "sometimes"
    result = cluster.fails(MODULE, tree=shape)
    assert {error["location"] for error in result["errors"]} == {"tree.nodes.pve1.options", "tree.vnets.vnet1.options"}
    assert any(error["field"] == "log_level_in" and error["value"] == "loud" for error in result["errors"])
    # against the cluster: every problem of the whole tree at once, by its place in the tree
    bad = tree()
    bad["guests"]["100"]["rules"][1]["dport"] = "70000"
    bad["guests"]["999"] = {"options": {"enable": 1}}
    bad["guests"]["100"]["ipsets"][0]["entries"].append("10.0.0.0/33")
    result = cluster.fails(MODULE, tree=bad)
    located = {(error["location"], error["field"]) for error in result["errors"]}
    assert ("tree.guests.999", "guests") in located
    assert ("tree.guests.100 rules[1]", "dport") in located
    assert any(location.startswith("tree.guests.100") and "ipset" in location for location, _field in located), located


def test_a_rule_naming_a_missing_ip_set_is_refused_before_any_write(cluster: ModuleRunner) -> None:
    result = cluster.fails(MODULE, tree={"nodes": {"pve1": {"rules": [{"type": "in", "action": "ACCEPT", "source": "+nosuch"}]}}})
    assert "nosuch" in result["msg"]


def test_a_file_over_the_pmxcfs_limit_is_refused_before_any_write(cluster: ModuleRunner) -> None:
    # 70,000 IPv6 entries: about 1.5 MB of .fw text
    entries = [f"2001:db8:{index // 65536:x}:{index % 65536:x}::1" for index in range(1, 70_001)]
    result = cluster.fails(MODULE, tree={"cluster": {"ipsets": [{"name": "huge", "entries": entries}]}})
    assert result["errors"][0]["location"] == "tree.cluster" and result["errors"][0]["field"] == "size"


@pytest.fixture
def guarded(make_pve_emulator: Callable[..., RunningEmulator]) -> ModuleRunner:
    """Nodes whose local network does not hold the client: a DROP policy really cuts it off."""
    nodes = [{"name": node["name"], "local_network": "192.0.2.0/24"} for node in DEFAULT_TOPOLOGY["nodes"]]
    return ModuleRunner(make_pve_emulator(topology=topology_from_data({**DEFAULT_TOPOLOGY, "nodes": nodes}), tls=True))


def test_a_change_that_locks_this_controller_out_is_refused_unless_allowed(guarded: ModuleRunner) -> None:
    cut_off = {"cluster": {"options": {"enable": 1, "policy_in": "DROP"}, "rules": [{"type": "in", "action": "ACCEPT", "macro": "Ping"}]}}
    refused = guarded.fails(MODULE, tree=cut_off)
    assert "refused" in refused["msg"] and refused["lockout"]["ok"] is False
    kept = tree()
    kept["guests"] = {}
    result = guarded.ok(MODULE, tree=kept)
    assert result["lockout"]["ok"] is True


def test_stages_apply_parts_of_the_tree(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    result = cluster.ok(MODULE, tree=tree(), stages=["sets"])
    assert result["stages"] == ["sets"]
    paths = {entry["path"] for entry in cluster.writes_since(seq)}
    assert all("/ipset" in path or "/aliases" in path for path in paths)
    cluster.ok(MODULE, tree=tree(), stages=["groups", "guests", "nodes", "vnets", "cluster_rules", "cluster_options"])
    assert "enable" not in cluster.api().get("/cluster/firewall/options")
    cluster.ok(MODULE, tree=tree(), stages=["enable"])
    assert cluster.api().get("/cluster/firewall/options")["enable"] == 1
    cluster.unchanged(MODULE, tree=tree())


def test_prune_removes_unlisted_objects_last(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, tree=tree())
    smaller = tree()
    smaller["cluster"]["groups"] = []
    smaller["cluster"]["rules"] = smaller["cluster"]["rules"][:2]
    smaller["guests"]["100"]["rules"] = smaller["guests"]["100"]["rules"][1:]
    smaller["cluster"]["ipsets"] = smaller["cluster"]["ipsets"][:1]
    smaller["vnets"] = {}
    still_used = cluster.fails(MODULE, tree=smaller, prune=True)
    assert "web" in still_used["msg"]
    smaller["vnets"] = {"vnet1": {"rules": []}}
    seq = cluster.seq()
    cluster.ok(MODULE, tree=smaller, prune=True)
    writes = cluster.writes_since(seq)
    deletes = [
        index
        for index, entry in enumerate(writes)
        if entry["method"] == "DELETE" and entry["path"] in ("/cluster/firewall/groups/webserver", "/cluster/firewall/ipset/web")
    ]
    assert len(deletes) == 2 and deletes[-1] == len(writes) - 1
    assert [item["name"] for item in cluster.api().get("/cluster/firewall/ipset")] == ["management"]
    cluster.unchanged(MODULE, tree=smaller, prune=True)


def admin_set_tree(entries: list[str], ports: str) -> dict[str, Any]:
    """The datacenter's admins set and a rule that lets its members in on ``ports``."""
    rule = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": ports, "source": "+admins"}
    return {"cluster": {"ipsets": [{"name": "admins", "entries": entries}], "rules": [rule]}}


def admins(runner: ModuleRunner) -> list[str]:
    return [entry["cidr"] for entry in runner.api().get("/cluster/firewall/ipset/admins")]


def test_a_changed_ip_set_gains_its_new_entries_before_the_rules_and_loses_the_dropped_ones_after(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, tree=admin_set_tree(["192.0.2.0/24", "203.0.113.1"], "8006"))
    moved = admin_set_tree(["198.51.100.0/24", "203.0.113.1"], "8006,22")
    planned = cluster.run(MODULE, check=True, diff=True, tree=moved)
    assert planned["files"]["cluster"]["parts"] == ["ipset admins", "rules", "prune_entries admins"]
    assert "192.0.2.0/24" in planned["diff"]["before"] and "192.0.2.0/24" not in planned["diff"]["after"]
    seq = cluster.seq()
    done = cluster.ok(MODULE, tree=moved)  # prune off: the tree still says the set is exactly its list
    assert done["commands"] == planned["commands"]
    writes = cluster.writes_since(seq)
    adds = [index for index, entry in enumerate(writes) if entry["method"] == "POST" and entry["path"] == "/cluster/firewall/ipset/admins"]
    rules = [index for index, entry in enumerate(writes) if entry["path"].startswith("/cluster/firewall/rules")]
    drops = [index for index, entry in enumerate(writes) if entry["method"] == "DELETE" and entry["path"].startswith("/cluster/firewall/ipset/admins/")]
    assert len(adds) == 1 and rules and len(drops) == 1, writes
    assert max(adds) < min(rules) and max(rules) < min(drops), writes
    assert admins(cluster) == ["198.51.100.0/24", "203.0.113.1"]
    cluster.unchanged(MODULE, tree=moved)


def test_stages_without_prune_keep_the_dropped_entries_for_the_last_call(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, tree=admin_set_tree(["192.0.2.0/24"], "8006"))
    moved = admin_set_tree(["198.51.100.0/24"], "8006,22")
    cluster.ok(MODULE, tree=moved, stages=["sets", "groups", "guests", "nodes", "vnets", "cluster_rules", "cluster_options", "enable"])
    assert admins(cluster) == ["192.0.2.0/24", "198.51.100.0/24"]  # old and new until the prune stage
    seq = cluster.seq()
    pruned = cluster.ok(MODULE, tree=moved, stages=["prune"])
    assert pruned["files"]["cluster"]["parts"] == ["prune_entries admins"]
    assert [entry["method"] for entry in cluster.writes_since(seq)] == ["DELETE"]
    assert admins(cluster) == ["198.51.100.0/24"]
    cluster.unchanged(MODULE, tree=moved)
