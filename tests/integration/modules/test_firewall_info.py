"""firewall_info against the TLS emulator: every part of every level, the filters, and the
round trip (what it returns, fed back to the modules that take it, changes nothing).

The configuration is hand-written as ``.fw`` files in the emulator's state directory, so the
module reads what PVE's parser makes of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, any_overlap, run_examples, with_4_and_1_connections

MODULE = "firewall_info"

CLUSTER_FW = """\
[OPTIONS]
enable: 1
policy_in: DROP

[ALIASES]
gateway 192.0.2.1 # router
admin_net 198.51.100.0/24

[IPSET management] # admins
192.0.2.0/24
!192.0.2.128/25
198.51.100.7 # laptop

[IPSET empty]

[RULES]
IN SSH(ACCEPT) -source +management # admin ssh
IN ACCEPT -source admin_net -p tcp -dport 8006
|IN ACCEPT -p icmp -icmp-type echo-request
GROUP web

[group web] # web servers
IN HTTPS(ACCEPT)
IN HTTP(ACCEPT) -log info
"""

HOST_FW = """\
[OPTIONS]
enable: 1
log_level_in: info
tcpflags: 1

[RULES]
IN ACCEPT -source +management -p tcp -dport 8006 # gui
OUT ACCEPT -p udp -dport 123
"""

VM_FW = """\
[OPTIONS]
enable: 1
policy_in: DROP
dhcp: 0

[ALIASES]
db 10.0.0.5

[IPSET ipfilter-net0]
10.0.0.100

[RULES]
IN HTTPS(ACCEPT) -i net0
OUT ACCEPT -dest db -p tcp -dport 5432 # database
GROUP web -i net0
"""

CT_FW = """\
[OPTIONS]
enable: 1

[RULES]
IN SSH(ACCEPT) -source +management
"""

VNET_FW = """\
[OPTIONS]
enable: 1
policy_forward: DROP

[RULES]
FORWARD DNS(ACCEPT)
"""

FILES = {
    "firewall/cluster.fw": CLUSTER_FW,
    "nodes/pve1/host.fw": HOST_FW,
    "firewall/100.fw": VM_FW,
    "firewall/200.fw": CT_FW,
    "sdn/firewall/vnet1.fw": VNET_FW,
}

CLUSTER_RULES = [
    {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+management", "comment": "admin ssh"},
    {"type": "in", "action": "ACCEPT", "source": "admin_net", "proto": "tcp", "dport": "8006"},
    {"type": "in", "action": "ACCEPT", "proto": "icmp", "icmp_type": "echo-request", "enable": False},
    {"type": "group", "action": "web"},
]
GROUPS = [
    {
        "name": "web",
        "comment": "web servers",
        "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}, {"type": "in", "action": "ACCEPT", "macro": "HTTP", "log": "info"}],
    }
]
CLUSTER_IPSETS = [
    {"name": "empty", "entries": []},
    {"name": "management", "comment": "admins", "entries": ["192.0.2.0/24", "!192.0.2.128/25", {"cidr": "198.51.100.7", "comment": "laptop"}]},
]
CLUSTER_ALIASES = [{"name": "admin_net", "cidr": "198.51.100.0/24"}, {"name": "gateway", "cidr": "192.0.2.1", "comment": "router"}]
DC_REFS = [
    {"type": "alias", "name": "admin_net", "ref": "admin_net", "scope": "dc"},
    {"type": "alias", "name": "gateway", "ref": "gateway", "scope": "dc", "comment": "router"},
    {"type": "ipset", "name": "empty", "ref": "+empty", "scope": "dc"},
    {"type": "ipset", "name": "management", "ref": "+management", "scope": "dc", "comment": "admins"},
]
# four sets a vnet, subnets or not, named bare with proxmox-ve-config's comments (SdnConfig::ipsets)
SDN_SET_COMMENTS = {
    "all": "All subnets of VNet {}",
    "gateway": "All gateways of VNet {}",
    "no-gateway": "All subnets of VNet {}, excluding gateways",
    "dhcp": "DHCP ranges of VNet {}",
}
SDN_REFS = sorted(
    (
        {"type": "ipset", "name": f"{vnet}-{kind}", "ref": f"+{vnet}-{kind}", "scope": "sdn", "comment": comment.format(vnet)}
        for vnet in ("vnet1", "vnet2")
        for kind, comment in SDN_SET_COMMENTS.items()
    ),
    key=lambda ref: ref["name"],  # firewall_info sorts refs by scope, type and name
)

CLUSTER = {
    "options": {"enable": 1, "policy_in": "DROP"},
    "rules": CLUSTER_RULES,
    "groups": GROUPS,
    "ipsets": CLUSTER_IPSETS,
    "aliases": CLUSTER_ALIASES,
    "refs": DC_REFS + SDN_REFS,
}
PVE1 = {
    "options": {"enable": True, "log_level_in": "info", "tcpflags": True},
    "rules": [
        {"type": "in", "action": "ACCEPT", "source": "+management", "proto": "tcp", "dport": "8006", "comment": "gui"},
        {"type": "out", "action": "ACCEPT", "proto": "udp", "dport": "123"},
    ],
}
EMPTY_NODE = {"options": {}, "rules": []}
VM100 = {
    "vmid": 100,
    "type": "qemu",
    "level": "vm",
    "node": "pve1",
    "name": "web1",
    "tags": ["web"],
    "options": {"enable": True, "policy_in": "DROP", "dhcp": False},
    "rules": [
        {"type": "in", "action": "ACCEPT", "macro": "HTTPS", "iface": "net0"},
        {"type": "out", "action": "ACCEPT", "dest": "db", "proto": "tcp", "dport": "5432", "comment": "database"},
        {"type": "group", "action": "web", "iface": "net0"},
    ],
    "ipsets": [{"name": "ipfilter-net0", "entries": ["10.0.0.100"]}],
    "aliases": [{"name": "db", "cidr": "10.0.0.5"}],
    # a guest sees the datacenter's, the SDN's and its own (PVE's order: dc, sdn, guest)
    "refs": DC_REFS
    + [
        {"type": "alias", "name": "db", "ref": "db", "scope": "guest"},
        {"type": "ipset", "name": "ipfilter-net0", "ref": "+ipfilter-net0", "scope": "guest"},
    ]
    + SDN_REFS,
}
CT200 = {
    "vmid": 200,
    "type": "lxc",
    "level": "ct",
    "node": "pve1",
    "name": "dns1",
    "tags": ["infra"],
    "options": {"enable": True},
    "rules": [{"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "+management"}],
    "ipsets": [],
    "aliases": [],
    "refs": DC_REFS + SDN_REFS,
}
VNET1 = {"options": {"enable": True, "policy_forward": "DROP"}, "rules": [{"type": "forward", "action": "ACCEPT", "macro": "DNS"}]}
GUEST_HEADS = {
    "101": {"vmid": 101, "type": "qemu", "level": "vm", "node": "pve2", "name": "web2", "tags": ["web"]},
    "102": {"vmid": 102, "type": "qemu", "level": "vm", "node": "pve3", "name": "db1", "tags": ["db"]},
    "201": {"vmid": 201, "type": "lxc", "level": "ct", "node": "pve2", "name": "proxy1", "tags": ["infra", "web"]},
}

GUEST_HEADS_100 = {key: VM100[key] for key in ("vmid", "type", "level", "node", "name", "tags")}
GUESTS = [(100, "qemu", "pve1"), (101, "qemu", "pve2"), (102, "qemu", "pve3"), (200, "lxc", "pve1"), (201, "lxc", "pve2")]

# Where each level's rules and options live, for the round trips.
SCOPES: dict[str, tuple[dict[str, Any], str]] = {
    "cluster": ({"level": "cluster"}, "/cluster/firewall"),
    "node": ({"level": "node", "node": "pve1"}, "/nodes/pve1/firewall"),
    "vm": ({"level": "vm", "vmid": 100}, "/nodes/pve1/qemu/100/firewall"),
    "ct": ({"level": "ct", "vmid": 200}, "/nodes/pve1/lxc/200/firewall"),
    "vnet": ({"level": "vnet", "vnet": "vnet1"}, "/cluster/sdn/vnets/vnet1/firewall"),
}


def setup_files(cluster: ModuleRunner) -> None:
    for relpath, text in FILES.items():
        cluster.control.write_file(relpath, text)


def info(cluster: ModuleRunner, **args: Any) -> dict[str, Any]:
    """A run that must succeed, report no change and write nothing."""
    seq = cluster.seq()
    result = cluster.ok(MODULE, **args)
    assert result["changed"] is False
    assert cluster.writes_since(seq) == []
    result.pop("invocation", None)
    return result


def part_of(result: dict[str, Any], level: str) -> dict[str, Any]:
    """The gathered firewall of the SCOPES entry of ``level``."""
    if level == "cluster":
        return result["cluster"]
    if level == "node":
        return result["nodes"]["pve1"]
    if level == "vnet":
        return result["vnets"]["vnet1"]
    return result["guests"][str(SCOPES[level][0]["vmid"])]


# --------------------------------------------------------------------------------------------
# what it returns


def test_everything_by_default(cluster: ModuleRunner) -> None:
    setup_files(cluster)
    result = info(cluster)
    assert set(result) == {"changed", "cluster", "nodes", "guests", "vnets"}  # no macros by default
    assert result["cluster"] == CLUSTER
    assert result["nodes"] == {"pve1": PVE1, "pve2": EMPTY_NODE, "pve3": EMPTY_NODE}
    assert list(result["guests"]) == ["100", "101", "102", "200", "201"]
    assert result["guests"]["100"] == VM100
    assert result["guests"]["200"] == CT200
    for vmid, head in GUEST_HEADS.items():
        assert result["guests"][vmid] == {**head, "options": {}, "rules": [], "ipsets": [], "aliases": [], "refs": DC_REFS + SDN_REFS}
    assert result["vnets"] == {"vnet1": VNET1, "vnet2": EMPTY_NODE}


def test_an_empty_cluster_gives_every_part_empty(cluster: ModuleRunner) -> None:
    result = info(cluster, levels=["cluster", "node", "vnet"])
    assert result["cluster"] == {"options": {}, "rules": [], "groups": [], "ipsets": [], "aliases": [], "refs": SDN_REFS}
    assert result["nodes"] == {name: EMPTY_NODE for name in ("pve1", "pve2", "pve3")}
    assert result["vnets"] == {"vnet1": EMPTY_NODE, "vnet2": EMPTY_NODE}


def test_check_mode_returns_the_same(cluster: ModuleRunner) -> None:
    setup_files(cluster)
    seq = cluster.seq()
    checked = cluster.ok(MODULE, check=True, diff=True)
    checked.pop("invocation", None)
    assert cluster.writes_since(seq) == []
    assert checked["changed"] is False and "diff" not in checked
    assert checked == info(cluster)


def test_macros_only_when_included(cluster: ModuleRunner) -> None:
    result = info(cluster, levels=[], include=["macros"])
    assert set(result) == {"changed", "macros"}
    macros = result["macros"]
    assert len(macros) == 86
    assert [item["macro"] for item in macros] == sorted(item["macro"] for item in macros)
    assert all(set(item) == {"macro", "descr"} for item in macros)
    assert {"macro": "SSH", "descr": "Secure shell traffic"} in macros


# --------------------------------------------------------------------------------------------
# filters


def test_levels_choose_the_firewalls(cluster: ModuleRunner) -> None:
    setup_files(cluster)
    assert info(cluster, levels=["cluster"]) == {"changed": False, "cluster": CLUSTER}
    only_nodes = info(cluster, levels=["node"])
    assert set(only_nodes) == {"changed", "nodes"} and only_nodes["nodes"]["pve1"] == PVE1
    vms = info(cluster, levels=["vm"])
    assert set(vms) == {"changed", "guests"} and list(vms["guests"]) == ["100", "101", "102"]
    cts = info(cluster, levels=["ct"])
    assert list(cts["guests"]) == ["200", "201"] and cts["guests"]["200"] == CT200
    assert info(cluster, levels=["vnet"]) == {"changed": False, "vnets": {"vnet1": VNET1, "vnet2": EMPTY_NODE}}


def test_nodes_vmids_and_vnets_limit_their_level(cluster: ModuleRunner) -> None:
    setup_files(cluster)
    result = info(cluster, nodes=["pve1", "pve3"], vmids=[200, 100], vnets=["vnet1"])
    assert result["nodes"] == {"pve1": PVE1, "pve3": EMPTY_NODE}
    assert result["guests"] == {"100": VM100, "200": CT200}
    assert result["vnets"] == {"vnet1": VNET1}
    assert result["cluster"] == CLUSTER  # not limited by any of them
    # vmids limit the vm and ct levels; a container is not read when ct is not chosen
    assert info(cluster, levels=["vm"], vmids=[100, 200])["guests"] == {"100": VM100}


def test_include_chooses_the_parts_and_saves_the_requests(cluster: ModuleRunner) -> None:
    setup_files(cluster)
    seq = cluster.seq()
    result = info(cluster, include=["rules"])
    assert result["cluster"] == {"rules": CLUSTER_RULES}
    assert result["nodes"]["pve1"] == {"rules": PVE1["rules"]}
    assert result["guests"]["100"] == {"vmid": 100, "type": "qemu", "level": "vm", "node": "pve1", "name": "web1", "tags": ["web"], "rules": VM100["rules"]}
    assert result["vnets"]["vnet1"] == {"rules": VNET1["rules"]}
    paths = [entry["path"] for entry in cluster.requests_since(seq)]
    assert not [path for path in paths if path.endswith(("/options", "/ipset", "/aliases", "/refs", "/groups"))]

    result = info(cluster, levels=["cluster", "vm"], vmids=[100], include=["ipsets", "aliases", "groups", "options"])
    assert result["cluster"] == {key: CLUSTER[key] for key in ("options", "groups", "ipsets", "aliases")}
    assert result["guests"]["100"] == {**{key: VM100[key] for key in ("vmid", "type", "level", "node", "name", "tags", "options", "ipsets", "aliases")}}
    refs = info(cluster, levels=["vm"], vmids=[100], include=["refs"])
    assert refs["guests"]["100"]["refs"] == VM100["refs"]


def test_nics_give_each_guest_the_firewall_flag_of_every_nic(cluster: ModuleRunner) -> None:
    """Not by default (one config read per guest); with include nics, as a tree takes them."""
    setup_files(cluster)
    seq = cluster.seq()
    assert all("nic_firewall" not in guest for guest in info(cluster)["guests"].values())
    assert not [entry for entry in cluster.requests_since(seq) if entry["path"].endswith("/config")]

    cluster.api().put("/nodes/pve1/qemu/100/config", net1="virtio=BC:24:11:00:64:01,bridge=vmbr1")  # net1's flag off
    seq = cluster.seq()
    result = info(cluster, levels=["vm", "ct"], include=["nics"])
    flags = {vmid: guest["nic_firewall"] for vmid, guest in result["guests"].items()}
    assert flags == {"100": {"net0": True, "net1": False}, "101": {"net0": True}, "102": {"net0": True}, "200": {"net0": True}, "201": {"net0": False}}
    assert result["guests"]["100"] == {**GUEST_HEADS_100, "nic_firewall": {"net0": True, "net1": False}}  # no other part read
    configs = [entry["path"] for entry in cluster.requests_since(seq) if entry["path"].endswith("/config")]
    assert sorted(configs) == sorted(f"/nodes/{node}/{kind}/{vmid}/config" for vmid, kind, node in GUESTS)
    assert not [entry for entry in cluster.requests_since(seq) if "/firewall/" in entry["path"]]

    both = info(cluster, levels=["vm"], vmids=[100], include=["options", "nics"])["guests"]["100"]
    assert both["options"] == VM100["options"] and both["nic_firewall"] == {"net0": True, "net1": False}
    assert set(info(cluster, levels=["cluster", "node"], include=["nics", "options"])["cluster"]) == {"options"}  # only guests have NICs


@pytest.mark.parametrize(
    ("args", "field", "value"),
    [
        ({"nodes": ["pve1", "pve9"]}, "nodes", "pve9"),
        ({"vmids": [999]}, "vmids", 999),
        ({"vnets": ["nonet"]}, "vnets", "nonet"),
    ],
)
def test_unknown_names_fail_clearly(cluster: ModuleRunner, args: dict[str, Any], field: str, value: Any) -> None:
    seq = cluster.seq()
    result = cluster.run(MODULE, **args)
    assert result["failed"] is True
    assert field in result["msg"] and repr(value) in result["msg"] and "no such" in result["msg"]
    assert [(error["field"], error["value"]) for error in result["errors"]] == [(field, value)]
    assert cluster.writes_since(seq) == []


def test_bad_choices_fail(cluster: ModuleRunner) -> None:
    result = cluster.run(MODULE, levels=["cluster", "datacenter"])
    assert result["failed"] is True and "datacenter" in result["msg"]
    result = cluster.run(MODULE, include=["logs"])
    assert result["failed"] is True and "logs" in result["msg"]


def test_firewalls_are_read_at_the_same_time_and_give_what_one_connection_reads(cluster: ModuleRunner) -> None:
    setup_files(cluster)
    results, logs = with_4_and_1_connections(cluster, lambda parallel: info(cluster, parallel=parallel, include=["options", "rules", "nics"]))
    assert results[4] == results[1]
    assert sorted(entry["path"] for entry in logs[4]) == sorted(entry["path"] for entry in logs[1])
    firewalls = [entry for entry in logs[4] if "/firewall/" in entry["path"]]
    assert any_overlap(firewalls)
    assert not any_overlap(logs[1])


@pytest.mark.parametrize("parallel", [0, 17])
def test_a_parallel_out_of_range_fails_before_any_request(cluster: ModuleRunner, parallel: int) -> None:
    seq = cluster.seq()
    result = cluster.run(MODULE, parallel=parallel)
    assert result["failed"] is True and "parallel" in result["msg"] and "1 to 16" in result["msg"], result["msg"]
    assert cluster.requests_since(seq) == []


# --------------------------------------------------------------------------------------------
# round trips: the output is the input of the other modules


@pytest.mark.parametrize("level", list(SCOPES))
def test_rules_round_trip_through_firewall_rule(cluster: ModuleRunner, level: str) -> None:
    setup_files(cluster)
    gathered = part_of(info(cluster), level)["rules"]
    assert gathered
    seq = cluster.seq()
    result = cluster.ok("firewall_rule", **SCOPES[level][0], state="overridden", rules=gathered)
    assert result["changed"] is False and result["commands"] == []
    assert cluster.writes_since(seq) == []


def test_group_rules_round_trip_through_firewall_rule_shape(cluster: ModuleRunner) -> None:
    """Group rules take the same shape: rendered offline they give the group's lines back."""
    setup_files(cluster)
    rules = info(cluster, levels=["cluster"], include=["groups"])["cluster"]["groups"][0]["rules"]
    rendered = cluster.ok("firewall_rule", level="cluster", state="rendered", rules=rules)["rendered"]
    assert rendered.split("\n", 1)[1].strip().splitlines() == ["IN HTTPS(ACCEPT)", "IN HTTP(ACCEPT) -log info"]


def _api_value(value: Any) -> Any:
    return int(value) if isinstance(value, bool) else value


@pytest.mark.parametrize("level", list(SCOPES))
def test_options_round_trip_through_a_raw_put(cluster: ModuleRunner, level: str) -> None:
    """Gathered options PUT back as they are leave the level's options and the whole output equal."""
    setup_files(cluster)
    before = info(cluster)
    options = part_of(before, level)["options"]
    assert options
    cluster.api().put(SCOPES[level][1] + "/options", **{key: _api_value(value) for key, value in options.items()})
    after = info(cluster)
    assert part_of(after, level)["options"] == options
    assert after == before


@pytest.mark.parametrize("level", list(SCOPES))
def test_options_round_trip_through_firewall_options(cluster: ModuleRunner, level: str) -> None:
    setup_files(cluster)
    options = part_of(info(cluster), level)["options"]
    seq = cluster.seq()
    result = cluster.ok("firewall_options", **SCOPES[level][0], options=options)
    assert result["changed"] is False
    assert cluster.writes_since(seq) == []


def test_groups_round_trip_through_security_group(cluster: ModuleRunner) -> None:
    setup_files(cluster)
    seq = cluster.seq()
    for group in info(cluster, levels=["cluster"])["cluster"]["groups"]:
        result = cluster.ok("security_group", state="overridden", **group)
        assert result["changed"] is False
    assert cluster.writes_since(seq) == []


@pytest.mark.parametrize("level", ["cluster", "vm"])
def test_ipsets_round_trip_through_ipset(cluster: ModuleRunner, level: str) -> None:
    setup_files(cluster)
    seq = cluster.seq()
    for ipset in part_of(info(cluster), level)["ipsets"]:
        result = cluster.ok("ipset", **SCOPES[level][0], **ipset)
        assert result["changed"] is False
    assert cluster.writes_since(seq) == []


@pytest.mark.parametrize("level", ["cluster", "vm"])
def test_aliases_round_trip_through_alias(cluster: ModuleRunner, level: str) -> None:
    setup_files(cluster)
    seq = cluster.seq()
    for alias in part_of(info(cluster), level)["aliases"]:
        result = cluster.ok("alias", **SCOPES[level][0], **alias)
        assert result["changed"] is False
    assert cluster.writes_since(seq) == []


# --------------------------------------------------------------------------------------------
# examples


def test_examples_run_with_the_environment_only(cluster: ModuleRunner, tmp_path: Path) -> None:
    setup = [
        {
            "name": "a datacenter rule for the round trip to keep",
            "pve.firewall.firewall_rule": {"level": "cluster", "rules": [{"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24"}]},
        }
    ]
    results = run_examples(cluster, MODULE, tmp_path, setup=setup)
    everything, some, round_trip, flags, known = results
    assert everything["cluster"]["rules"] == [{"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24"}]
    assert set(everything["guests"]) == {"100", "101", "102", "200", "201"}
    assert set(some) >= {"nodes", "guests"} and list(some["nodes"]) == ["pve1"] and list(some["guests"]) == ["100", "200"]
    assert set(some["nodes"]["pve1"]) == {"options", "rules"}
    assert round_trip["changed"] is False
    assert flags["guests"]["100"]["nic_firewall"] == {"net0": True, "net1": True} and flags["guests"]["201"]["nic_firewall"] == {"net0": False}
    assert "nic_firewall" not in everything["guests"]["100"]
    assert len(known["macros"]) == 86


def test_an_armed_auto_revert_reads_as_on_with_its_time_apart(cluster: ModuleRunner) -> None:
    # PVE stores the time of the write for an enable above 1 (FW API2 Cluster set_options)
    cluster.api().put("/cluster/firewall/options", enable=2)
    stored = cluster.api().get("/cluster/firewall/options")["enable"]
    read = cluster.ok(MODULE, levels=["cluster"], include=["options"])["cluster"]
    assert stored > 1 and read["options"]["enable"] == 1 and read["auto_revert_armed_at"] == stored
    # fed straight back in, the options confirm the firewall on (enable 1 replaces the time)
    assert cluster.ok("firewall_options", level="cluster", options=read["options"], allow_lockout=True)["changed"] is True
    assert cluster.api().get("/cluster/firewall/options")["enable"] == 1
    assert "auto_revert_armed_at" not in cluster.ok(MODULE, levels=["cluster"], include=["options"])["cluster"]
