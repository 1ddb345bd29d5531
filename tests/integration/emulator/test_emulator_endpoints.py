"""Endpoint semantics beyond the checklist: groups, ipsets, aliases, rules, refs, macros,
logs, and the endpoints around the firewall tree (reference 1.2-1.7)."""

from __future__ import annotations

import calendar
from collections.abc import Callable

import pytest
from emulator_helpers import RULES, assert_failure, assert_param_error, comments, post_labelled

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, ControlClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import topology_from_data

GROUPS = "/cluster/firewall/groups"
SETS = "/cluster/firewall/ipset"
ALIASES = "/cluster/firewall/aliases"
GUEST = "/nodes/pve1/qemu/100/firewall"
CT = "/nodes/pve1/lxc/200/firewall"


# -- rules --------------------------------------------------------------------------------------


def test_rules_carry_ipversion_and_the_list_digest(api: ApiClient) -> None:
    api.post(RULES, type="in", action="ACCEPT", source="2001:db8::/64", proto="tcp", dport="443", enable=1)
    api.post(RULES, type="in", action="ACCEPT", proto="icmp", **{"icmp-type": "echo-request"})
    api.post(RULES, type="out", action="DROP", dest="198.51.100.0/24", log="info")
    rules = api.get(RULES)
    assert [rule.get("ipversion") for rule in rules] == [4, 4, 6]
    assert rules[2] == {
        "type": "in",
        "action": "ACCEPT",
        "enable": 1,
        "source": "2001:db8::/64",
        "proto": "tcp",
        "dport": "443",
        "ipversion": 6,
        "pos": 2,
        "digest": rules[0]["digest"],
    }


def test_rule_positions_out_of_range_fail(api: ApiClient) -> None:
    post_labelled(api, "A")
    for method in ("GET", "PUT", "DELETE"):
        assert_failure(api.call(method, f"{RULES}/1"), "no rule at position 1")


def test_delete_names_must_be_rule_properties(api: ApiClient) -> None:
    post_labelled(api, "A")
    assert_param_error(api.call("PUT", f"{RULES}/0", {"delete": "bogus"}), "delete", "no such property ('bogus')")
    assert_param_error(api.call("PUT", f"{RULES}/0", {"delete": "action"}), "delete", "unable to delete required property 'action'")
    api.put(f"{RULES}/0", delete="comment,dport proto")
    assert api.get(f"{RULES}/0") == {"type": "in", "action": "ACCEPT", "enable": 1, "pos": 0, "digest": api.get(RULES)[0]["digest"]}


def test_delete_enable_makes_the_rule_enabled(api: ApiClient) -> None:
    api.post(RULES, type="in", action="ACCEPT")
    assert api.get(f"{RULES}/0")["enable"] == 0
    api.put(f"{RULES}/0", delete="enable")
    assert api.get(f"{RULES}/0")["enable"] == 1


def test_updates_are_verified_after_merging(api: ApiClient) -> None:
    api.post(RULES, type="in", action="ACCEPT", proto="tcp", dport="22", enable=1)
    assert_param_error(api.call("PUT", f"{RULES}/0", {"delete": "proto"}), "proto", "missing property - 'dport' requires this property")
    api.put(f"{RULES}/0", proto="udp", dport="53", source="", comment="-")
    rule = api.get(f"{RULES}/0")
    assert (rule["proto"], rule["dport"], "source" in rule, "comment" in rule) == ("udp", "53", False, False)


def test_guest_rules_take_only_net_interfaces_and_no_forward(api: ApiClient) -> None:
    assert_param_error(
        api.call("POST", f"{GUEST}/rules", {"type": "in", "action": "ACCEPT", "iface": "eth0"}),
        "iface",
        r"value does not match the regex pattern 'net\d+'",
    )
    api.post(f"{CT}/rules", type="out", action="ACCEPT", iface="net0", enable=1)
    assert api.get(f"{CT}/rules")[0]["iface"] == "net0"


def test_an_alias_of_the_other_family_after_a_literal_is_a_500(api: ApiClient, control: ControlClient) -> None:
    api.post(ALIASES, name="v6host", cidr="2001:db8::5")
    assert_failure(
        api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "source": "10.0.0.1", "dest": "v6host"}),
        "detected mixed ipv4/ipv6 addresses in rule",
    )
    assert_param_error(
        api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "source": "v6host", "dest": "10.0.0.1"}),
        "dest",
        "detected mixed ipv4/ipv6 addresses in rule",
    )
    text = control.read_file("firewall/cluster.fw") or ""
    control.write_file("firewall/cluster.fw", text + "[RULES]\n\nIN ACCEPT -source 10.0.0.1 -dest v6host\nIN ACCEPT -p tcp\n")
    assert [rule.get("proto") for rule in api.get(RULES)] == ["tcp"]  # PVE's parser drops that line


def test_group_rules_cannot_nest_groups_or_name_interfaces(api: ApiClient) -> None:
    api.post(GROUPS, group="inner")
    assert_param_error(api.call("POST", f"{GROUPS}/inner", {"type": "group", "action": "other"}), "type", "invalid rule type 'group' for rule_env 'group'")
    api.post(f"{GROUPS}/inner", type="out", action="ACCEPT", proto="udp", dport="53", enable=1)
    api.put(f"{GROUPS}/inner/0", comment="dns")
    assert comments(api, f"{GROUPS}/inner") == ["dns"]
    api.delete(f"{GROUPS}/inner/0")
    assert api.get(f"{GROUPS}/inner") == []


# -- groups -------------------------------------------------------------------------------------


def test_group_create_rename_and_delete_errors(api: ApiClient) -> None:
    api.post(GROUPS, group="web", comment="first")
    assert_param_error(api.call("POST", GROUPS, {"group": "web"}), "group", "Security group 'web' already exists")
    api.post(GROUPS, group="db")
    assert_param_error(api.call("POST", GROUPS, {"group": "db", "rename": "web"}), "group", "Security group 'db' does already exist")
    assert_param_error(api.call("POST", GROUPS, {"group": "x1", "rename": "nosuch"}), "group", "Security group 'nosuch' does not exist")
    stale = api.get(GROUPS)[0]["digest"]
    api.post(GROUPS, group="web", rename="web", comment="second")
    assert [group.get("comment") for group in api.get(GROUPS)] == [None, "second"]
    assert_failure(
        api.call("POST", GROUPS, {"group": "web2", "rename": "web", "digest": stale}),
        "detected modified configuration - file changed by other user? Try again.",
    )
    api.post(f"{GROUPS}/db", type="in", action="ACCEPT")
    assert_failure(api.call("DELETE", f"{GROUPS}/db"), "Security group 'db' is not empty")
    assert_failure(api.call("DELETE", f"{GROUPS}/nosuch"), "no such security group 'nosuch'")
    api.delete(f"{GROUPS}/web")
    assert [group["group"] for group in api.get(GROUPS)] == ["db"]


# -- ipsets -------------------------------------------------------------------------------------


def test_ipset_create_rename_and_delete(api: ApiClient) -> None:
    api.post(SETS, name="a1", comment="one")
    assert_param_error(api.call("POST", SETS, {"name": "a1"}), "name", "IPSet 'a1' already exists")
    api.post(SETS, name="b1")
    assert_param_error(api.call("POST", SETS, {"name": "b1", "rename": "a1"}), "name", "IPSet 'b1' does already exist")
    assert_param_error(api.call("POST", SETS, {"name": "c1", "rename": "zz"}), "name", "IPSet 'zz' does not exist")
    api.post(f"{SETS}/a1", cidr="10.1.0.0/16")
    api.post(SETS, name="c1", rename="a1")
    assert [(item["name"], item.get("comment")) for item in api.get(SETS)] == [("b1", None), ("c1", "one")]
    assert [entry["cidr"] for entry in api.get(f"{SETS}/c1")] == ["10.1.0.0/16"]
    assert_failure(api.call("DELETE", f"{SETS}/c1"), "IPSet 'c1' is not empty")
    api.delete(f"{SETS}/c1", force=1)
    api.delete(f"{SETS}/b1")
    assert api.get(SETS) == []


def test_ipset_entries_may_name_aliases_of_their_scope(api: ApiClient) -> None:
    api.post(ALIASES, name="dchost", cidr="192.0.2.1")
    api.post(f"{GUEST}/aliases", name="mine", cidr="192.0.2.2")
    api.post(f"{GUEST}/ipset", name="s1")
    for cidr in ("dchost", "dc/dchost", "mine", "guest/mine"):
        api.post(f"{GUEST}/ipset/s1", cidr=cidr)
    assert_failure(api.call("POST", f"{GUEST}/ipset/s1", {"cidr": "dc/mine"}), "no such alias 'mine'")
    api.post(SETS, name="s1")
    assert_failure(api.call("POST", f"{SETS}/s1", {"cidr": "mine"}), "no such alias 'mine'")


def test_invalid_ipset_entries_from_a_file_are_kept_with_errors(api: ApiClient, control: ControlClient) -> None:
    control.write_file("firewall/cluster.fw", "[IPSET s1]\n\n10.0.0.1/32\n10.0.0.1\nghost\n0.0.0.0/0 # all\n!192.0.2.0/24\n")
    entries = api.get(f"{SETS}/s1")
    assert [(entry["cidr"], entry.get("errors"), entry.get("nomatch")) for entry in entries] == [
        ("10.0.0.1", None, None),
        ("10.0.0.1", {"cidr": "duplicate ipset entry for '10.0.0.1'"}, None),
        ("ghost", {"cidr": "no such alias 'ghost'"}, None),
        ("0.0.0.0/0", {"cidr": "a zero prefix is not allowed in ipset entries"}, None),
        ("192.0.2.0/24", None, 1),
    ]


def test_guest_ipsets_are_separate_from_the_cluster_ones(api: ApiClient) -> None:
    api.post(f"{GUEST}/ipset", name="ipfilter-net0")
    api.post(f"{GUEST}/ipset/ipfilter-net0", cidr="10.0.0.100")
    assert api.get(SETS) == [] and api.get(f"{CT}/ipset") == []
    api.post(f"{GUEST}/rules", type="out", action="ACCEPT", source="+guest/ipfilter-net0", enable=1)
    assert_param_error(api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "source": "+ipfilter-net0"}), "source", "no such ipset 'ipfilter-net0'")


# -- aliases ------------------------------------------------------------------------------------


def test_alias_rename_and_errors(api: ApiClient) -> None:
    api.post(ALIASES, name="one", cidr="10.0.0.1/24", comment="host bits kept")
    api.post(ALIASES, name="two", cidr="2001:db8::1/128")
    assert [(alias["name"], alias["cidr"], alias["ipversion"]) for alias in api.get(ALIASES)] == [
        ("one", "10.0.0.1/24", 4),
        ("two", "2001:db8::1", 6),
    ]
    assert_param_error(api.call("PUT", f"{ALIASES}/one", {"cidr": "10.0.0.1", "rename": "TWO"}), "name", "alias 'TWO' already exists")
    assert_param_error(api.call("PUT", f"{ALIASES}/nosuch", {"cidr": "10.0.0.1"}), "name", "no such alias")
    assert_param_error(api.call("GET", f"{ALIASES}/nosuch"), "name", "no such alias")
    api.put(f"{ALIASES}/one", cidr="10.0.0.9", rename="uno")
    assert [alias["name"] for alias in api.get(ALIASES)] == ["two", "uno"]


# -- options ------------------------------------------------------------------------------------


def test_options_of_every_level(api: ApiClient, control: ControlClient) -> None:
    api.put("/cluster/firewall/options", enable=1, policy_in="DROP", policy_out="ACCEPT", ebtables=0, log_ratelimit="enable=1,rate=5/minute")
    api.put("/nodes/pve1/firewall/options", nf_conntrack_helpers="sip,ftp", nf_conntrack_max=327680, nosmurfs=0, nftables=0)
    api.put(f"{CT}/options", ipfilter=1, macfilter=0, policy_out="DROP", log_level_out="debug")
    api.put("/cluster/sdn/vnets/vnet2/firewall/options", policy_forward="DROP", log_level_forward="info")
    cluster = api.get("/cluster/firewall/options")
    assert {key: cluster[key] for key in cluster if key != "digest"} == {
        "enable": 1,
        "policy_in": "DROP",
        "policy_out": "ACCEPT",
        "ebtables": 0,
        "log_ratelimit": "enable=1,burst=5,rate=5/minute",
    }
    host = api.get("/nodes/pve1/firewall/options")
    assert (host["nf_conntrack_helpers"], host["nf_conntrack_max"], host["nosmurfs"]) == ("ftp,sip", 327680, 0)
    assert api.get(f"{CT}/options")["log_level_out"] == "debug"
    assert control.read_file("sdn/firewall/vnet2.fw") == "[OPTIONS]\n\nlog_level_forward: info\npolicy_forward: DROP\n\n"
    assert_param_error(
        api.call("PUT", "/nodes/pve1/firewall/options", {"nf_conntrack_tcp_timeout_syn_recv": 61}),
        "nf_conntrack_tcp_timeout_syn_recv",
        "value must have a maximum value of 60",
    )
    assert_param_error(
        api.call("PUT", "/cluster/firewall/options", {"policy_forward": "REJECT"}),
        "policy_forward",
        "value 'REJECT' does not have a value in the enumeration 'ACCEPT, DROP'",
    )


# -- refs, macros, logs ----------------------------------------------------------------------------


def test_refs_list_sdn_then_dc_at_the_cluster_and_dc_sdn_guest_at_a_guest(api: ApiClient) -> None:
    api.post(ALIASES, name="DcHost", cidr="192.0.2.1", comment="dc alias")
    api.post(SETS, name="dcset")
    api.post(f"{GUEST}/ipset", name="gset", comment="guest set")
    assert [(ref["scope"], ref["type"], ref["name"], ref["ref"]) for ref in api.get("/cluster/firewall/refs")] == [
        # four sets a vnet, with subnets (vnet1) or without (vnet2), by bare name
        # (proxmox-ve-config SdnConfig::ipsets; pve-rs PVE::RS::Firewall::SDN; collect_refs)
        *[("sdn", "ipset", f"{vnet}-{kind}", f"+{vnet}-{kind}") for vnet in ("vnet1", "vnet2") for kind in ("all", "gateway", "no-gateway", "dhcp")],
        ("dc", "alias", "dchost", "dchost"),  # collect_refs lists the parser's lowercase keys
        ("dc", "ipset", "dcset", "+dcset"),
    ]
    guest = api.get(f"{GUEST}/refs", type="ipset")
    assert [(ref["scope"], ref["name"]) for ref in guest] == [
        ("dc", "dcset"),
        *[("sdn", f"{vnet}-{kind}") for vnet in ("vnet1", "vnet2") for kind in ("all", "gateway", "no-gateway", "dhcp")],
        ("guest", "gset"),
    ]
    assert guest[-1]["comment"] == "guest set"
    assert [ref["name"] for ref in api.get(f"{GUEST}/refs", type="alias")] == ["dchost"]


def test_macros_list_all_86_with_descriptions(api: ApiClient) -> None:
    macros = {item["macro"]: item["descr"] for item in api.get("/cluster/firewall/macros")}
    assert len(macros) == 86
    assert macros["SSH"] == "Secure shell traffic" and "NeighborDiscovery" in macros


def _at(day: int, hour: int) -> float:
    return float(calendar.timegm((2025, 11, day, hour, 0, 0)))


def test_logs_filter_page_and_select_by_time(api: ApiClient, control: ControlClient) -> None:
    entries = [{"vmid": vmid, "time": _at(20, hour), "dport": 1000 + hour} for hour, vmid in enumerate([0, 100, 0, 100, 101, 100])]
    control.add_log("pve1", entries=entries)
    host = api.call("GET", "/nodes/pve1/firewall/log")
    assert host.body["total"] == 6 and [line["n"] for line in host.data] == [1, 2, 3, 4, 5, 6]
    assert host.data[0]["t"].startswith("0 6 PVEFW-HOST-IN 20/Nov/2025:00:00:00 +0000 policy DROP: IN=vmbr0 ")
    guest = api.call("GET", f"{GUEST}/log", {"start": 1, "limit": 1})
    assert guest.body["total"] == 3 and [line["n"] for line in guest.data] == [2]
    assert "DPT=1003 " in guest.data[0]["t"]
    assert len(api.get("/nodes/pve1/firewall/log", limit=0)) == 6
    timed = api.get("/nodes/pve1/firewall/log", since=int(_at(20, 2)), until=int(_at(20, 4)))
    assert [line["t"].split(" ")[0] for line in timed] == ["0", "100", "101"]
    assert api.call("GET", "/nodes/pve2/firewall/log").body == {"data": [{"n": 1, "t": "no content"}], "total": 1}
    assert api.get(f"{CT}/log") == [{"n": 1, "t": "no content"}]


def test_log_time_bounds_follow_perl_truth(api: ApiClient, control: ControlClient) -> None:
    """dump_fw_logfile: a bound of 0 is no bound, no `until` means no upper bound (not "now"),
    and a line without a readable time counts as time 0."""
    control.add_log("pve1", lines=["0 5 - garbage"], entries=[{"time": _at(20, 1)}, {"time": _at(22, 1)}])
    control.add_log("pve1", entries=[{"time": 4102444800.0}])  # 2100, after the emulator's clock

    def stamps(**bounds: int) -> list[str]:
        return [line["t"].split(" ")[3] if line["t"].count(" ") > 4 else line["t"] for line in api.get("/nodes/pve1/firewall/log", **bounds)]

    assert stamps(since=int(_at(21, 0))) == ["22/Nov/2025:01:00:00", "01/Jan/2100:00:00:00"]
    assert stamps(until=int(_at(21, 0))) == ["0 5 - garbage", "20/Nov/2025:01:00:00"]
    assert len(stamps(since=0, until=0)) == 4


# -- around the firewall ---------------------------------------------------------------------------


def test_nodes_resources_guests_and_configs(api: ApiClient) -> None:
    assert [node["node"] for node in api.get("/nodes")] == ["pve1", "pve2", "pve3"]
    guests = api.get("/cluster/resources", type="vm")
    assert [(guest["id"], guest["node"]) for guest in guests] == [
        ("qemu/100", "pve1"),
        ("qemu/101", "pve2"),
        ("qemu/102", "pve3"),
        ("lxc/200", "pve1"),
        ("lxc/201", "pve2"),
    ]
    assert {item["type"] for item in api.get("/cluster/resources")} == {"qemu", "lxc", "node", "sdn"}
    assert [guest["vmid"] for guest in api.get("/nodes/pve2/qemu")] == [101]
    assert [guest["vmid"] for guest in api.get("/nodes/pve2/lxc")] == [201]
    assert api.get("/nodes/pve2/lxc/201/config")["net0"].endswith(",firewall=0")
    assert api.get("/nodes/pve1/qemu/100/config")["net1"].startswith("virtio=BC:24:11:00:64:01,bridge=vmbr1")
    assert [vnet["vnet"] for vnet in api.get("/cluster/sdn/vnets")] == ["vnet1", "vnet2"]


def test_cluster_status_lists_the_nodes_and_marks_the_answering_one(pve: RunningEmulator) -> None:
    addresses = {entry["node"]: entry["host"] for entry in pve.nodes}
    for answering in ("pve1", "pve3"):
        status = pve.api(answering).get("/cluster/status")
        assert status[0] == {"type": "cluster", "id": "cluster", "name": "emulated", "nodes": 3, "quorate": 1, "version": 3}
        assert status[1:] == [
            {
                "type": "node",
                "id": f"node/{name}",
                "name": name,
                "ip": addresses[name],
                "local": int(name == answering),
                "nodeid": index,
                "online": 1,
                "level": "",
            }
            for index, name in enumerate(("pve1", "pve2", "pve3"), start=1)
        ]


def test_node_network_has_the_bridge_with_the_node_address(pve: RunningEmulator, make_pve_emulator: Callable[..., RunningEmulator]) -> None:
    address = pve.node_host("pve2")[0]
    interfaces = pve.api().get("/nodes/pve2/network")
    bridge = next(item for item in interfaces if item["iface"] == "vmbr0")
    assert {key: bridge[key] for key in ("type", "active", "address", "netmask", "cidr", "families", "method")} == {
        "type": "bridge",
        "active": 1,
        "address": address,
        "netmask": "255.0.0.0",  # the default local network 127.0.0.0/8
        "cidr": f"{address}/8",
        "families": ["inet"],
        "method": "static",
    }
    assert isinstance(bridge["priority"], int)
    assert [item["iface"] for item in interfaces] == ["eno1", "vmbr0"] and "cidr" not in interfaces[0]
    # the prefix follows the topology's local network
    nodes = [{"name": "pve1", "local_network": "127.0.0.0/16"}, {"name": "pve2", "local_network": "127.0.0.0/30"}]
    other = make_pve_emulator(topology=topology_from_data({"nodes": nodes}))
    second = other.api().get("/nodes/pve2/network")[1]
    assert (second["netmask"], second["cidr"]) == ("255.255.255.252", f"{other.node_host('pve2')[0]}/30")
    assert other.api().get("/nodes/pve1/network")[1]["netmask"] == "255.255.0.0"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/nodes/pve7/network", "hostname lookup 'pve7' failed - failed to get address info for: pve7: Name or service not known"),
        ("/nodes/pve7/firewall/rules", "hostname lookup 'pve7' failed - failed to get address info for: pve7: Name or service not known"),
        ("/nodes/pve2/qemu/100/firewall/rules", "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist"),
        ("/nodes/pve1/lxc/100/firewall/options", "Configuration file 'nodes/pve1/lxc/100.conf' does not exist"),
        ("/cluster/sdn/vnets/nonet/firewall/rules", "invalid vnet specified"),
    ],
)
def test_unknown_nodes_guests_and_vnets(api: ApiClient, path: str, message: str) -> None:
    assert_failure(api.call("GET", path), message)


def test_unknown_paths_and_methods_are_not_implemented(api: ApiClient) -> None:
    for method, path in (("GET", "/cluster/firewall/nosuch"), ("DELETE", RULES), ("PUT", "/version")):
        response = api.call(method, path)
        assert (response.status, response.reason) == (501, f"Method '{method} {path}' not implemented")


def test_directory_indexes(api: ApiClient) -> None:
    assert [item["name"] for item in api.get("/cluster/firewall")] == ["aliases", "rules", "options", "groups", "ipset", "macros", "refs"]
    assert [item["name"] for item in api.get("/nodes/pve3/firewall")] == ["rules", "options", "log"]
    assert [item["name"] for item in api.get(f"{CT}")] == ["rules", "aliases", "ipset", "refs", "options"]
    assert [item["name"] for item in api.get("/cluster/sdn/vnets/vnet2/firewall")] == ["rules", "options"]
