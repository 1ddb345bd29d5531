"""Every quirk of the reference's checklist (section 7), over HTTP against the emulator."""

from __future__ import annotations

import pytest
from emulator_helpers import MODIFIED, RULES, assert_failure, assert_param_error, comments, post_labelled

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, ControlClient

EMPTY_DIGEST = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
GUEST = "/nodes/pve1/qemu/100/firewall"
VNET = "/cluster/sdn/vnets/vnet1/firewall"


# 1 -------------------------------------------------------------------------------------------
def test_01_post_inserts_at_zero_ignores_pos_and_digest_and_stores_disabled(api: ApiClient) -> None:
    post_labelled(api, "a", "b")
    api.post(RULES, type="in", action="DROP", comment="new", pos=5, digest="0" * 40)
    rules = api.get(RULES)
    assert [rule["comment"] for rule in rules] == ["new", "a", "b"]
    assert rules[0]["enable"] == 0 and rules[1]["enable"] == 1
    api.post(RULES, type="in", action="DROP", comment="on", enable=1)
    assert api.get(f"{RULES}/0")["enable"] == 1


# 2 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pos", "moveto", "expected"),
    [(0, 2, "BACD"), (0, 3, "BCAD"), (0, 4, "BCDA"), (0, 9, "BCDA"), (3, 0, "DABC"), (3, 1, "ADBC"), (1, 2, "ABCD"), (2, 2, "ABCD")],
)
def test_02_moveto_inserts_before_the_element_at_that_index(api: ApiClient, pos: int, moveto: int, expected: str) -> None:
    post_labelled(api, *"ABCD")
    api.put(f"{RULES}/{pos}", moveto=moveto)
    assert "".join(comments(api)) == expected


def test_02_with_moveto_every_other_field_is_ignored(api: ApiClient) -> None:
    post_labelled(api, "A", "B")
    api.put(f"{RULES}/0", moveto=2, comment="changed", action="DROP", enable=0)
    rules = api.get(RULES)
    assert [rule["comment"] for rule in rules] == ["B", "A"]
    assert rules[1]["action"] == "ACCEPT" and rules[1]["enable"] == 1


# 3 -------------------------------------------------------------------------------------------
def test_03_positions_and_digest_change_with_every_mutation(api: ApiClient) -> None:
    post_labelled(api, "A", "B", "C")
    digests = {api.get(RULES)[0]["digest"]}
    api.delete(f"{RULES}/0")
    assert [(rule["pos"], rule["comment"]) for rule in api.get(RULES)] == [(0, "B"), (1, "C")]
    digests.add(api.get(RULES)[0]["digest"])
    api.post(RULES, type="out", action="ACCEPT", comment="Z")
    assert [(rule["pos"], rule["comment"]) for rule in api.get(RULES)] == [(0, "Z"), (1, "B"), (2, "C")]
    digests.add(api.get(RULES)[0]["digest"])
    api.put(f"{RULES}/2", moveto=0)
    assert comments(api) == ["C", "Z", "B"]
    digests.add(api.get(RULES)[0]["digest"])
    assert len(digests) == 4
    assert len({rule["digest"] for rule in api.get(RULES)}) == 1  # one list digest, copied into every entry


# 4 -------------------------------------------------------------------------------------------
def test_04_a_stale_digest_is_a_500_not_a_409(api: ApiClient) -> None:
    post_labelled(api, "A", "B")
    stale = api.get(RULES)[0]["digest"]
    api.put(f"{RULES}/1", comment="B2", digest=stale)  # matches: accepted
    for method, path, params in (
        ("PUT", f"{RULES}/0", {"comment": "x", "digest": stale}),
        ("DELETE", f"{RULES}/0", {"digest": stale}),
        ("PUT", "/cluster/firewall/options", {"enable": 0, "digest": stale}),
    ):
        assert_failure(api.call(method, path, params), MODIFIED.strip())
    assert comments(api) == ["A", "B2"]
    api.put(f"{RULES}/0", comment="A2")  # no digest: no check
    api.put(f"{RULES}/0", comment="A3", digest="")  # empty digest: no check either
    assert comments(api) == ["A3", "B2"]


def test_04_options_digest_is_pves_object_digest(api: ApiClient) -> None:
    assert api.get("/cluster/firewall/options") == {"digest": EMPTY_DIGEST}
    api.put("/nodes/pve1/firewall/options", enable=1, log_level_in="info")
    api.put("/cluster/firewall/options", policy_in="REJECT")
    # {enable:1, log_level_in:info, policy_in:REJECT} hashes to 562a850a... (reference 1.0)
    api.put(f"{GUEST}/options", enable=1, log_level_in="info", policy_in="REJECT")
    assert api.get(f"{GUEST}/options")["digest"].startswith("562a850a")


# 5 -------------------------------------------------------------------------------------------
def test_05_ipset_names_are_lowercased_on_read(api: ApiClient) -> None:
    api.post("/cluster/firewall/ipset", name="MySet")
    assert [item["name"] for item in api.get("/cluster/firewall/ipset")] == ["myset"]
    assert_failure(api.call("GET", "/cluster/firewall/ipset/MySet"), "no such IPSet 'MySet'")
    assert_param_error(api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "source": "+MySet"}), "source", "no such ipset 'MySet'")
    api.post(RULES, type="in", action="ACCEPT", source="+myset")


def test_05_group_names_are_lowercased_on_read(api: ApiClient) -> None:
    api.post("/cluster/firewall/groups", group="WebSrv")
    assert [item["group"] for item in api.get("/cluster/firewall/groups")] == ["websrv"]
    assert_failure(api.call("GET", "/cluster/firewall/groups/WebSrv"), "no such security group 'WebSrv'")
    assert_failure(api.call("POST", "/cluster/firewall/groups/WebSrv", {"type": "in", "action": "ACCEPT"}), "no such security group 'WebSrv'")
    assert api.get("/cluster/firewall/groups/websrv") == []


def test_05_alias_names_are_case_insensitive_but_keep_their_case(api: ApiClient) -> None:
    api.post("/cluster/firewall/aliases", name="WebHost", cidr="192.0.2.1")
    assert api.get("/cluster/firewall/aliases/WEBHOST")["name"] == "WebHost"
    assert_param_error(api.call("POST", "/cluster/firewall/aliases", {"name": "webhost", "cidr": "192.0.2.2"}), "name", "alias 'webhost' already exists")


# 6 -------------------------------------------------------------------------------------------
def test_06_ipset_and_alias_renames_do_not_follow_references(api: ApiClient) -> None:
    api.post("/cluster/firewall/ipset", name="oldset")
    api.post("/cluster/firewall/aliases", name="oldalias", cidr="192.0.2.1")
    api.post(RULES, type="in", action="ACCEPT", source="+oldset", dest="oldalias", enable=1)
    api.post("/cluster/firewall/ipset", name="newset", rename="oldset")
    api.put("/cluster/firewall/aliases/oldalias", rename="newalias", cidr="192.0.2.1")
    rule = api.get(f"{RULES}/0")
    assert (rule["source"], rule["dest"]) == ("+oldset", "oldalias")
    assert rule["errors"] == {"source": "no such ipset 'oldset'", "dest": "no such alias 'oldalias'"}


def test_06_group_rename_follows_host_guest_and_cluster_rules_but_not_vnet_rules(api: ApiClient, control: ControlClient) -> None:
    api.post("/cluster/firewall/groups", group="web", comment="kept")
    api.post("/cluster/firewall/groups/web", type="in", action="ACCEPT", macro="HTTP", enable=1)
    for path in (RULES, "/nodes/pve2/firewall/rules", f"{GUEST}/rules", "/nodes/pve1/lxc/200/firewall/rules", f"{VNET}/rules"):
        api.post(path, type="group", action="web", enable=1)
    control.write_file("firewall/101.fw", "[RULES]\n\nIN  ACCEPT -p tcp  -dport 80\nIN BOGUS LINE WITH -unknown flag\n")
    api.post("/cluster/firewall/groups", group="frontend", rename="web")
    assert [group["group"] for group in api.get("/cluster/firewall/groups")] == ["frontend"]
    assert api.get("/cluster/firewall/groups")[0]["comment"] == "kept"
    for path in (RULES, "/nodes/pve2/firewall/rules", f"{GUEST}/rules", "/nodes/pve1/lxc/200/firewall/rules"):
        assert api.get(path)[0]["action"] == "frontend", path
    assert api.get(f"{VNET}/rules")[0]["action"] == "web"
    # every guest file is re-written, referenced or not: normalised, the bad line dropped
    assert control.read_file("firewall/101.fw") == "[RULES]\n\nIN ACCEPT -p tcp -dport 80\n\n"


# 7 -------------------------------------------------------------------------------------------
def test_07_put_ipset_entry_replaces_nomatch_and_comment(api: ApiClient) -> None:
    api.post("/cluster/firewall/ipset", name="s1")
    api.post("/cluster/firewall/ipset/s1", cidr="10.0.0.0/8", nomatch=1, comment="keep me?")
    api.put("/cluster/firewall/ipset/s1/10.0.0.0/8", comment="only this")
    assert api.get("/cluster/firewall/ipset/s1/10.0.0.0/8") == {
        "cidr": "10.0.0.0/8",
        "comment": "only this",
        "digest": api.get("/cluster/firewall/ipset/s1")[0]["digest"],
    }
    api.put("/cluster/firewall/ipset/s1/10.0.0.0/8", nomatch=1)
    entry = api.get("/cluster/firewall/ipset/s1/10.0.0.0/8")
    assert entry["nomatch"] == 1 and "comment" not in entry


def test_07_put_alias_requires_cidr_and_replaces_the_comment(api: ApiClient) -> None:
    api.post("/cluster/firewall/aliases", name="db", cidr="192.0.2.5", comment="primary")
    assert_param_error(api.call("PUT", "/cluster/firewall/aliases/db", {"comment": "x"}), "cidr", "property is missing and it is not optional")
    api.put("/cluster/firewall/aliases/db", cidr="192.0.2.6")
    assert api.get("/cluster/firewall/aliases/db") == {"name": "db", "cidr": "192.0.2.6", "ipversion": 4}


def test_07_deleting_a_missing_entry_or_alias_succeeds(api: ApiClient) -> None:
    api.post("/cluster/firewall/ipset", name="s1")
    assert api.call("DELETE", "/cluster/firewall/ipset/s1/192.0.2.99").status == 200
    assert api.call("DELETE", "/cluster/firewall/aliases/nosuchalias").status == 200
    assert_failure(api.call("DELETE", "/cluster/firewall/ipset/nosuchset/192.0.2.99"), "no such IPSet 'nosuchset'")


# 8 -------------------------------------------------------------------------------------------
def test_08_ipset_entries_are_normalised_and_written_sorted(api: ApiClient, control: ControlClient) -> None:
    api.post("/cluster/firewall/ipset", name="s1")
    for cidr in ("192.168.1.155/24", "10.0.0.1/32", "2001:db8::1/128", "172.16.0.0/12"):
        api.post("/cluster/firewall/ipset/s1", cidr=cidr)
    assert [entry["cidr"] for entry in api.get("/cluster/firewall/ipset/s1")] == ["10.0.0.1", "172.16.0.0/12", "192.168.1.0/24", "2001:db8::1"]
    assert_param_error(api.call("GET", "/cluster/firewall/ipset/s1/10.0.0.1/32"), "cidr", "no such IP/Network")
    assert api.get("/cluster/firewall/ipset/s1/10.0.0.1")["cidr"] == "10.0.0.1"
    assert_param_error(api.call("POST", "/cluster/firewall/ipset/s1", {"cidr": "192.168.1.7/24"}), "cidr", "address '192.168.1.0/24' already exists")
    assert_param_error(api.call("POST", "/cluster/firewall/ipset/s1", {"cidr": "0.0.0.0/0"}), "cidr", "a zero prefix is not allowed in ipset entries")
    assert control.read_file("firewall/cluster.fw") == "[IPSET s1]\n\n10.0.0.1\n172.16.0.0/12\n192.168.1.0/24\n2001:db8::1\n\n"


# 9 -------------------------------------------------------------------------------------------
def test_09_options_get_shows_only_keys_set_in_the_file(api: ApiClient) -> None:
    for path in ("/cluster/firewall/options", "/nodes/pve1/firewall/options", f"{GUEST}/options", f"{VNET}/options"):
        assert api.get(path) == {"digest": EMPTY_DIGEST}, path
    api.put(f"{GUEST}/options", dhcp=0, enable=1)
    assert set(api.get(f"{GUEST}/options")) == {"dhcp", "enable", "digest"}
    api.put(f"{GUEST}/options", delete="dhcp")
    assert set(api.get(f"{GUEST}/options")) == {"enable", "digest"}
    assert_param_error(api.call("PUT", f"{GUEST}/options", {"delete": "policy_forward"}), "delete", "no such option 'policy_forward'")


# 10 ------------------------------------------------------------------------------------------
def test_10_writes_drop_unparseable_lines_and_a_zero_port(api: ApiClient, control: ControlClient) -> None:
    control.write_file(
        "nodes/pve1/host.fw",
        "[OPTIONS]\nenable: 1\nbogus_option: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 0\nthis is not a rule at all -x\nOUT ACCEPT -p udp -sport 0 -dport 53\n",
    )
    rules = api.get("/nodes/pve1/firewall/rules")
    assert [rule.get("dport") for rule in rules] == ["0", "53"] and rules[1]["sport"] == "0"
    api.put("/nodes/pve1/firewall/options", log_level_in="info")
    assert (
        control.read_file("nodes/pve1/host.fw") == "[OPTIONS]\n\nenable: 1\nlog_level_in: info\n\n[RULES]\n\nIN ACCEPT -p tcp\nOUT ACCEPT -p udp -dport 53\n\n"
    )
    rules = api.get("/nodes/pve1/firewall/rules")
    assert "dport" not in rules[0] and "sport" not in rules[1]
    assert set(api.get("/nodes/pve1/firewall/options")) == {"enable", "log_level_in", "digest"}  # compare as a set: order is PVE's hash order


# 11 ------------------------------------------------------------------------------------------
def test_11_cluster_enable_above_one_is_a_timestamp_that_reverts_after_60s(api: ApiClient, control: ControlClient) -> None:
    now = control.status()["clock"]["now"]
    api.put("/cluster/firewall/options", enable=2)
    stamp = api.get("/cluster/firewall/options")["enable"]
    assert abs(stamp - now) < 5
    control.advance_clock(59)
    assert api.get("/cluster/firewall/options")["enable"] == stamp
    control.advance_clock(2)
    assert api.get("/cluster/firewall/options")["enable"] == 0
    api.put("/cluster/firewall/options", policy_in="DROP")  # a write now persists the 0
    assert "enable: 0" in (control.read_file("firewall/cluster.fw") or "")
    api.put("/cluster/firewall/options", enable=1)
    control.advance_clock(3600)
    assert api.get("/cluster/firewall/options")["enable"] == 1


def test_11_other_levels_coerce_enable_to_a_boolean(api: ApiClient) -> None:
    assert_param_error(api.call("PUT", "/nodes/pve1/firewall/options", {"enable": 2}), "enable", "type check ('boolean') failed - got '2'")
    api.put(f"{VNET}/options", enable=1)
    assert api.get(f"{VNET}/options")["enable"] == 1


# 12 ------------------------------------------------------------------------------------------
def test_12_the_api_reports_only_the_first_error(api: ApiClient) -> None:
    response = api.call("POST", RULES, {"type": "in", "action": "accept", "iface": "vmbr0", "dport": "22", "source": "+nosuchset"})
    assert_param_error(response, "action", "unknown action 'accept'")


def test_12_the_file_parser_keeps_invalid_rules_with_all_their_errors(api: ApiClient, control: ControlClient) -> None:
    control.write_file("firewall/cluster.fw", "[RULES]\n\nIN drop -dport 22 -source +nosuchset\nIN ACCEPT -p tcp -dport 22\n")
    rules = api.get(RULES)
    assert rules[0]["errors"] == {
        "action": "unknown action 'drop'",
        "proto": "missing property - 'dport' requires this property",
        "source": "no such ipset 'nosuchset'",
    }
    assert "errors" not in rules[1]
    api.put(f"{RULES}/1", comment="touched")  # a write keeps the invalid rule as it was
    assert control.read_file("firewall/cluster.fw") == "[RULES]\n\nIN drop -source +nosuchset -dport 22\nIN ACCEPT -p tcp -dport 22 # touched\n\n"


# 13 ------------------------------------------------------------------------------------------
def test_13_forward_rules_are_accepted_where_pve_takes_them_and_stay_inert(api: ApiClient, control: ControlClient) -> None:
    for path in (RULES, "/nodes/pve1/firewall/rules", f"{VNET}/rules"):
        api.post(path, type="forward", action="DROP", proto="tcp", dport="8006", enable=1)
    assert_param_error(api.call("POST", f"{GUEST}/rules", {"type": "forward", "action": "DROP"}), "type", "invalid rule type 'forward' for rule_env 'vm'")
    assert_param_error(api.call("POST", RULES, {"type": "forward", "action": "REJECT"}), "action", "cannot define REJECT rules on forward chain")
    api.put("/cluster/firewall/options", enable=1, policy_in="ACCEPT")
    assert control.judge("198.51.100.7", "pve1", 8006)["action"] == "ACCEPT"  # the iptables backend ignores forward rules


# 14 ------------------------------------------------------------------------------------------
def test_14_macros_cannot_take_other_protocols_or_ports(api: ApiClient) -> None:
    assert_param_error(
        api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "macro": "SSH", "dport": "2222"}),
        "proto",
        "missing property - 'dport' requires this property",
    )
    assert_param_error(
        api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "macro": "SSH", "proto": "tcp", "dport": "2222"}),
        "dport",
        "parameter 'dport' already define in macro (value = '22')",
    )
    api.post(RULES, type="in", action="ACCEPT", macro="ssh", proto="tcp", dport="22", enable=1)
    assert api.get(f"{RULES}/0")["macro"] == "SSH"
    assert_param_error(api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "macro": "NoSuchMacro"}), "macro", "unknown macro 'NoSuchMacro'")


# 15 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("dport", "1:2,3:4,5:6,7:8,9:10,11:12,13:14,15,16", "invalid format - too many entries in port list (> 15 numbers)\n"),
        ("source", "10.0.0.1-10.0.0.5,10.0.0.9", "invalid format - you can't use a range in a list\n"),
        ("source", "10.0.0.1,2001:db8::1", "invalid format - detected mixed ipv4/ipv6 addresses in address list '10.0.0.1,2001:db8::1'\n"),
        # Net::IP shows the address in binary (measured against PVE's code with Debian's
        # libnet-ip-perl 1.26)
        ("dest", "10.0.0.1/24", "invalid format - invalid IP address: Invalid prefix 00001010000000000000000000000001/24\n"),
        ("dest", "10.0.0.0/33", "invalid format - invalid IP address: Prefix length 33 is longer than IP address (32)\n"),
        ("source", "1.2.3.9-1.2.3.4", "invalid format - invalid IP address: Begin address is greater than End address 1.2.3.9 - 1.2.3.4\n"),
        ("source", "1.2.3.4-fe80::1", "invalid format - invalid IP address: Not a valid IPv4 address fe80::1\n"),
        ("source", "10.0.0.256", "invalid format - invalid IP address: Invalid quad in IP address 10.0.0.256 - 256\n"),
        ("source", "1::2::3", "invalid format - invalid IP address: Invalid address 1::2::3 (More than one :: pattern)\n"),
        ("source", "10.0.0.1,,10.0.0.2", "invalid format - invalid IP address: Invalid chars in IP \n"),
        ("source", "10.0.0.1,", "invalid format - extraneous commas in list\n"),
    ],
)
def test_15_port_and_address_list_limits(api: ApiClient, field: str, value: str, message: str) -> None:
    assert_param_error(api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "proto": "tcp", field: value}), field, message)


def test_15_fifteen_numbers_are_fine(api: ApiClient) -> None:
    api.post(RULES, type="in", action="ACCEPT", proto="tcp", dport="1:2,3:4,5:6,7:8,9:10,11:12,13:14,15", enable=1)
    assert api.get(f"{RULES}/0")["dport"] == "1:2,3:4,5:6,7:8,9:10,11:12,13:14,15"


# reference 2.2 item 5 and 3.4 ------------------------------------------------------------------
def test_api_verifies_references_without_their_scope(api: ApiClient) -> None:
    # '+guest/x' on a host rule passes PVE's verify when any level has x; only compile skips it
    api.post("/cluster/firewall/ipset", name="onlydc")
    api.post("/nodes/pve1/firewall/rules", type="in", action="DROP", source="+guest/onlydc", enable=1)
    assert api.get("/nodes/pve1/firewall/rules")[0]["source"] == "+guest/onlydc"
    assert_param_error(
        api.call("POST", "/nodes/pve1/firewall/rules", {"type": "in", "action": "DROP", "source": "+guest/nosuch"}),
        "source",
        "no such ipset 'nosuch'",
    )


def test_writer_keeps_values_as_given(api: ApiClient, control: ControlClient) -> None:
    api.post("/nodes/pve1/firewall/rules", type="in", action="ACCEPT", source="FE80:0000:0000:0000:0202:B3FF:FE1E:8329", log="nolog", enable=1)
    assert control.read_file("nodes/pve1/host.fw") == "[RULES]\n\nIN ACCEPT -source FE80:0000:0000:0000:0202:B3FF:FE1E:8329 -log nolog\n\n"


# issue 15: what PVE refuses or cannot store as given, answered as PVE does ------------------
# (the handlers check these on their own, not with the compiler's parsers: tests/emulator/handlers/common.py)
V4_HOST_BITS = "00001010000000000000000000000001"  # 10.0.0.1 as Net::IP prints it in "Invalid prefix"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("source", "fe80::1%eth0", "invalid format - invalid IP address: Invalid IP address fe80::1%eth0\n"),
        ("dest", "2001:db8::1,fe80::1%2", "invalid format - invalid IP address: Invalid IP address fe80::1%2\n"),
    ],
)
def test_rule_addresses_net_ip_does_not_read(api: ApiClient, field: str, value: str, message: str) -> None:
    assert_param_error(api.call("POST", RULES, {"type": "in", "action": "ACCEPT", field: value}), field, message)
    api.post(RULES, type="in", action="ACCEPT", enable=1)
    assert_param_error(api.call("PUT", f"{RULES}/0", {field: value}), field, message)


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("fe80::1%eth0", "value does not look like a valid IP address or CIDR network"),
        ("10.0.0.1/0", f"Invalid prefix {V4_HOST_BITS}/0"),
        ("fd00::/0", "Invalid prefix 1111110100000000" + "0" * 112 + "/0"),
    ],
)
def test_alias_and_ipset_values_pve_refuses(api: ApiClient, cidr: str, message: str) -> None:
    """FW pve_verify_ip_or_cidr: FW clean_cidr clears host bits under any prefix but one written '0'."""
    api.post("/cluster/firewall/ipset", name="office")
    expected = f"invalid format - {message}\n"
    assert_param_error(api.call("POST", "/cluster/firewall/aliases", {"name": "bad", "cidr": cidr}), "cidr", expected)
    assert_param_error(api.call("POST", "/cluster/firewall/ipset/office", {"cidr": cidr}), "cidr", expected)
    api.post("/cluster/firewall/aliases", name="good", cidr="10.0.0.1")
    assert_param_error(api.call("PUT", "/cluster/firewall/aliases/good", {"cidr": cidr}), "cidr", expected)


def test_a_zero_prefix_written_00_is_taken_and_stored_as_given(api: ApiClient, control: ControlClient) -> None:
    api.post("/cluster/firewall/aliases", name="everything", cidr="10.0.0.1/00")
    api.post("/cluster/firewall/aliases", name="world", cidr="0.0.0.0/0")
    assert [(item["name"], item["cidr"]) for item in api.get("/cluster/firewall/aliases")] == [("everything", "10.0.0.1/00"), ("world", "0.0.0.0/0")]
    assert "everything 10.0.0.1/00\n" in (control.read_file("firewall/cluster.fw") or "")
    api.post("/cluster/firewall/ipset", name="office")
    # an ipset takes no zero prefix at all (IPSet.pm create_ip), however written
    assert_param_error(api.call("POST", "/cluster/firewall/ipset/office", {"cidr": "10.0.0.1/00"}), "cidr", "a zero prefix is not allowed in ipset entries")


def test_sdn_references_must_name_a_set(api: ApiClient) -> None:
    """FW verify_rule: '+sdn/x' needs a set x somewhere; SDN makes 4 per vnet, subnets or not."""
    assert_param_error(api.call("POST", RULES, {"type": "in", "action": "DROP", "source": "+sdn/nosuch"}), "source", "no such ipset 'nosuch'")
    assert_param_error(api.call("POST", RULES, {"type": "in", "action": "DROP", "dest": "+sdn/vnet9-all"}), "dest", "no such ipset 'vnet9-all'")
    for name in ("vnet1-all", "vnet1-no-gateway", "vnet2-dhcp", "vnet2-gateway"):
        api.post(RULES, type="in", action="DROP", source=f"+sdn/{name}", enable=1)
    # the scope is ignored at verify time: a datacenter set passes as '+sdn/' (and compiles to nothing)
    api.post("/cluster/firewall/ipset", name="onlydc")
    api.post(RULES, type="in", action="DROP", source="+sdn/onlydc", enable=1)
    assert [rule["source"] for rule in api.get(RULES)][:1] == ["+sdn/onlydc"]


def test_a_group_rule_keeps_neither_macro_nor_match_fields(api: ApiClient, control: ControlClient) -> None:
    """FW verify_rule takes them, FW format_rules writes 'GROUP SSH(web)' or drops them."""
    api.post("/cluster/firewall/groups", group="web")
    api.post(RULES, type="group", action="web", proto="tcp", dport="22", source="10.0.0.0/8", log="info", enable=1)
    assert api.get(RULES)[0] == {"type": "group", "action": "web", "enable": 1, "pos": 0, "digest": api.get(RULES)[0]["digest"]}
    api.post(RULES, type="group", action="web", macro="SSH", enable=1)
    assert "GROUP SSH(web)\n" in (control.read_file("firewall/cluster.fw") or "")
    stored = api.get(RULES)[0]
    assert stored["action"] == "SSH(web)" and "macro" not in stored and set(stored["errors"]) == {"action"}


def test_empty_conntrack_helpers_are_stored_and_then_lost(api: ApiClient, control: ControlClient) -> None:
    """The API stores '' (Host.pm set_options); parse_hostfw_option wants a value and drops the line."""
    api.put("/nodes/pve1/firewall/options", nf_conntrack_helpers="")
    assert "nf_conntrack_helpers:" in (control.read_file("nodes/pve1/host.fw") or "")
    assert "nf_conntrack_helpers" not in api.get("/nodes/pve1/firewall/options")


# Readings measured against pve-firewall's own parser -------------------------------------------
def test_read_as_pve_reads_a_bare_hash_comment_and_empty_log_levels(api: ApiClient, control: ControlClient) -> None:
    # FW parse_fw_rule keeps the comment its pattern took, '' for a bare '#', and GET returns
    # every defined field; parse_hostfw_option keeps an empty log level as ''
    control.write_file("nodes/pve1/host.fw", "[OPTIONS]\nlog_level_in:\nnf_conntrack_helpers: SIP,ftp\n[RULES]\nIN ACCEPT -p tcp -dport 22 #\n")
    assert api.get("/nodes/pve1/firewall/rules")[0]["comment"] == ""
    options = api.get("/nodes/pve1/firewall/options")
    assert (options["log_level_in"], options["nf_conntrack_helpers"]) == ("", "sip,ftp")


def test_a_helper_list_with_a_trailing_comma_is_refused(api: ApiClient) -> None:
    # FW pve_fw_verify_conntrack_helper, the format of the host option
    response = api.call("PUT", "/nodes/pve1/firewall/options", {"nf_conntrack_helpers": "ftp,"})
    assert_param_error(response, "nf_conntrack_helpers", "invalid format - extraneous commas in list\n")


@pytest.mark.parametrize("dport", ["22 ", "\u0662\u0662", " 22"])
def test_ports_are_read_as_written_in_ascii_digits(api: ApiClient, dport: str) -> None:
    # FW parse_port_name_number_or_range: no trimming, [0-9]+ on the bytes
    response = api.call("POST", "/nodes/pve1/firewall/rules", {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": dport, "enable": 1})
    assert_param_error(response, "dport", f"invalid format - invalid port '{dport}'\n")


@pytest.mark.parametrize(
    ("params", "stored"),
    [
        # verify_rule finds 'guest/al1' anywhere, but takes its family with the scope: none at a node
        ({"proto": "icmpv6", "source": "fd00::/64", "dest": "guest/al1"}, "IN ACCEPT -source fd00::/64 -dest guest/al1 -p icmpv6"),
        # the API takes an ICMP port list; only the ruleset compiler fails on it
        ({"proto": "icmp", "dport": "80,443"}, "IN ACCEPT -p icmp -dport 80,443"),
        # Net::IP reads a leading zero
        ({"source": "010.0.0.1"}, "IN ACCEPT -source 010.0.0.1"),
    ],
)
def test_rules_pve_stores_though_the_collection_refuses_them(api: ApiClient, control: ControlClient, params: dict[str, str], stored: str) -> None:
    api.post("/cluster/firewall/aliases", name="al1", cidr="10.0.0.0/8")
    api.post("/nodes/pve1/firewall/rules", type="in", action="ACCEPT", enable=1, **params)
    assert control.read_file("nodes/pve1/host.fw") == f"[RULES]\n\n{stored}\n\n"
