"""security_group against the TLS emulator: every state, rename with references, refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_examples

MODULE = "security_group"
GROUPS = "/cluster/firewall/groups"
WEB_RULES = [
    {"type": "in", "action": "ACCEPT", "macro": "HTTPS"},
    {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8080", "comment": "alt"},
]


def group_rules(cluster: ModuleRunner, name: str) -> list[dict[str, Any]]:
    return list(cluster.api().get(f"{GROUPS}/{name}"))


def group_list(cluster: ModuleRunner) -> dict[str, Any]:
    return {item["group"]: item.get("comment") for item in cluster.api().get(GROUPS)}


def make_web(cluster: ModuleRunner, **extra: Any) -> dict[str, Any]:
    return cluster.ok(MODULE, name="web", comment="web servers", rules=WEB_RULES, **extra)


def assert_unchanged(cluster: ModuleRunner, **args: Any) -> dict[str, Any]:
    seq = cluster.seq()
    result = cluster.ok(MODULE, **args)
    assert result["changed"] is False, result["commands"]
    assert result["commands"] == []
    assert cluster.writes_since(seq) == []
    return result


def assert_refused(cluster: ModuleRunner, *texts: str, **args: Any) -> dict[str, Any]:
    seq = cluster.seq()
    result = cluster.run(MODULE, **args)
    assert result.get("failed"), result
    for text in texts:
        assert text in result["msg"], result["msg"]
    assert cluster.writes_since(seq) == []
    return result


# ---------------------------------------------------------------------------------------------
# create, rerun, check and diff mode


def test_create_with_rules_then_rerun_unchanged(cluster: ModuleRunner) -> None:
    result = make_web(cluster)
    assert result["changed"] is True
    assert result["before"] is None
    assert result["after"] == {"name": "web", "comment": "web servers", "rules": WEB_RULES}
    assert result["commands"][0] == "POST /cluster/firewall/groups group=web comment='web servers'"
    assert group_list(cluster) == {"web": "web servers"}
    rules = group_rules(cluster, "web")
    assert [(rule.get("macro"), rule.get("dport"), rule["enable"]) for rule in rules] == [("HTTPS", None, 1), (None, "8080", 1)]
    assert_unchanged(cluster, name="web", comment="web servers", rules=WEB_RULES)
    # merged without comment or rules leaves both alone
    assert_unchanged(cluster, name="web")


def test_check_mode_writes_nothing_and_lists_commands(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    result = cluster.ok(MODULE, check=True, name="web", comment="web servers", rules=WEB_RULES)
    assert result["changed"] is True
    assert cluster.writes_since(seq) == []
    assert result["commands"] == [
        "POST /cluster/firewall/groups group=web comment='web servers'",
        "POST /cluster/firewall/groups/web type=in action=ACCEPT enable=1 proto=tcp dport=8080 comment=alt",
        "POST /cluster/firewall/groups/web type=in action=ACCEPT enable=1 macro=HTTPS",
    ]
    assert result["after"]["rules"] == WEB_RULES
    assert group_list(cluster) == {}
    # the real run makes exactly the planned calls
    assert make_web(cluster)["commands"] == result["commands"]


def test_check_mode_on_existing_group(cluster: ModuleRunner) -> None:
    make_web(cluster)
    seq = cluster.seq()
    result = cluster.ok(MODULE, check=True, name="web", comment="new", state="overridden", rules=WEB_RULES[:1])
    assert result["changed"] is True
    assert result["commands"] == [
        "POST /cluster/firewall/groups group=web rename=web comment=new",
        "DELETE /cluster/firewall/groups/web/1",
    ]
    assert cluster.writes_since(seq) == []
    assert len(group_rules(cluster, "web")) == 2


def test_diff_mode_shows_the_group_section(cluster: ModuleRunner) -> None:
    result = cluster.ok(MODULE, diff=True, name="web", comment="web servers", rules=WEB_RULES)
    assert result["diff"] == {
        "before": "",
        "after": "[group web] # web servers\n\nIN HTTPS(ACCEPT)\nIN ACCEPT -p tcp -dport 8080 # alt\n\n",
    }
    result = cluster.ok(MODULE, diff=True, name="web", state="deleted", rules=[WEB_RULES[0]])
    assert result["diff"]["before"] == "[group web] # web servers\n\nIN HTTPS(ACCEPT)\nIN ACCEPT -p tcp -dport 8080 # alt\n\n"
    assert result["diff"]["after"] == "[group web] # web servers\n\nIN ACCEPT -p tcp -dport 8080 # alt\n\n"
    result = cluster.ok(MODULE, diff=True, name="web", state="absent")
    assert result["diff"] == {"before": "[group web] # web servers\n\nIN ACCEPT -p tcp -dport 8080 # alt\n\n", "after": ""}


# ---------------------------------------------------------------------------------------------
# comment and rule states


def test_change_comment(cluster: ModuleRunner) -> None:
    make_web(cluster)
    result = cluster.ok(MODULE, name="web", comment="public web")
    assert result["changed"] is True
    assert result["commands"] == ["POST /cluster/firewall/groups group=web rename=web comment='public web'"]
    assert group_list(cluster) == {"web": "public web"}
    assert len(group_rules(cluster, "web")) == 2
    assert_unchanged(cluster, name="web", comment="public web")
    # an empty comment clears it
    cluster.ok(MODULE, name="web", comment="")
    assert group_list(cluster) == {"web": None}
    assert_unchanged(cluster, name="web", comment="")


def test_merged_adds_and_updates_keeps_others(cluster: ModuleRunner) -> None:
    make_web(cluster)
    ssh = {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24"}
    # a new rule after HTTPS, and the 8080 rule disabled with a new comment
    result = cluster.ok(
        MODULE, name="web", rules=[WEB_RULES[0], ssh, {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8080", "enable": False, "comment": "off"}]
    )
    assert result["changed"] is True
    assert result["after"]["rules"] == [
        WEB_RULES[0],
        ssh,
        {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8080", "enable": False, "comment": "off"},
    ]
    assert result["after"]["comment"] == "web servers"
    # merged of one listed rule leaves the others
    result = cluster.ok(MODULE, name="web", rules=[{"type": "out", "action": "DROP", "proto": "udp", "dport": "53"}])
    assert [rule["type"] for rule in result["after"]["rules"]] == ["out", "in", "in", "in"]
    assert_unchanged(cluster, name="web", rules=[{"type": "out", "action": "DROP", "proto": "udp", "dport": "53"}])


def test_overridden_makes_the_group_exact(cluster: ModuleRunner) -> None:
    make_web(cluster)
    wanted = [{"type": "out", "action": "ACCEPT", "macro": "DNS"}, WEB_RULES[0]]
    result = cluster.ok(MODULE, name="web", state="overridden", rules=wanted)
    assert result["changed"] is True
    # overridden without comment clears it
    assert result["after"] == {"name": "web", "rules": wanted}
    assert group_list(cluster) == {"web": None}
    assert [(rule["type"], rule.get("macro")) for rule in group_rules(cluster, "web")] == [("out", "DNS"), ("in", "HTTPS")]
    assert_unchanged(cluster, name="web", state="overridden", rules=wanted)
    # overridden with no rules empties the group
    cluster.ok(MODULE, name="web", state="overridden", comment="empty")
    assert group_rules(cluster, "web") == []
    assert group_list(cluster) == {"web": "empty"}


def test_deleted_removes_listed_or_all_and_keeps_the_group(cluster: ModuleRunner) -> None:
    make_web(cluster)
    # enable, log and comment do not matter for which rule is meant
    result = cluster.ok(MODULE, name="web", state="deleted", rules=[{**WEB_RULES[1], "comment": "other", "log": "info"}])
    assert result["changed"] is True
    assert result["after"] == {"name": "web", "comment": "web servers", "rules": [WEB_RULES[0]]}
    assert_unchanged(cluster, name="web", state="deleted", rules=[WEB_RULES[1]])
    result = cluster.ok(MODULE, name="web", state="deleted")
    assert result["changed"] is True
    assert group_rules(cluster, "web") == []
    assert group_list(cluster) == {"web": "web servers"}
    assert_unchanged(cluster, name="web", state="deleted")
    # a group that does not exist has no rules to delete
    result = assert_unchanged(cluster, name="nothere", state="deleted")
    assert result["before"] is None and result["after"] is None


def test_mixed_case_name_is_lowercased(cluster: ModuleRunner) -> None:
    result = cluster.ok(MODULE, name="WebSrv", rules=WEB_RULES[:1])
    assert result["after"]["name"] == "websrv"
    assert group_list(cluster) == {"websrv": None}
    assert_unchanged(cluster, name="WEBSRV", rules=WEB_RULES[:1])
    assert_unchanged(cluster, name="websrv", rules=WEB_RULES[:1])


# ---------------------------------------------------------------------------------------------
# rename


def reference_everywhere(cluster: ModuleRunner, group: str) -> None:
    """GROUP rules at the datacenter, a node, a VM, a CT and both vnets."""
    api = cluster.api()
    api.post("/cluster/firewall/rules", type="group", action=group, enable=1)
    api.post("/nodes/pve1/firewall/rules", type="group", action=group, enable=1)
    api.post("/nodes/pve1/qemu/100/firewall/rules", type="group", action=group, iface="net0", enable=1)
    api.post("/nodes/pve1/lxc/200/firewall/rules", type="group", action=group, enable=1)
    api.post("/cluster/sdn/vnets/vnet1/firewall/rules", type="forward", action="ACCEPT", enable=1)
    cluster.ok("firewall_rule", level="vnet", vnet="vnet1", state="merged", rules=[{"type": "group", "action": group}])
    cluster.ok("firewall_rule", level="vnet", vnet="vnet2", rules=[{"type": "group", "action": group, "comment": "v2"}])


def group_actions(cluster: ModuleRunner, path: str) -> list[str]:
    return [rule["action"] for rule in cluster.api().get(path) if rule["type"] == "group"]


REFERENCING = (
    "/cluster/firewall/rules",
    "/nodes/pve1/firewall/rules",
    "/nodes/pve1/qemu/100/firewall/rules",
    "/nodes/pve1/lxc/200/firewall/rules",
    "/cluster/sdn/vnets/vnet1/firewall/rules",
    "/cluster/sdn/vnets/vnet2/firewall/rules",
)


def test_rename_moves_references_vnets_included(cluster: ModuleRunner) -> None:
    make_web(cluster)
    reference_everywhere(cluster, "web")
    # check mode plans the rename and the vnet rule updates, writes nothing
    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, name="web-public", rename="web")
    assert cluster.writes_since(seq) == []
    assert planned["commands"] == [
        "POST /cluster/firewall/groups group=web-public rename=web",
        "PUT /cluster/sdn/vnets/vnet1/firewall/rules/0 action=web-public",
        "PUT /cluster/sdn/vnets/vnet2/firewall/rules/0 action=web-public",
    ]
    result = cluster.ok(MODULE, diff=True, name="web-public", rename="web")
    assert result["changed"] is True
    assert result["commands"] == planned["commands"]
    assert result["before"]["name"] == "web" and result["after"]["name"] == "web-public"
    assert result["after"]["comment"] == "web servers" and result["after"]["rules"] == WEB_RULES
    assert result["diff"]["before"].startswith("[group web] # web servers\n")
    assert result["diff"]["after"].startswith("[group web-public] # web servers\n")
    assert "# vnet vnet1\n[RULES]\n\nGROUP web-public\n" in result["diff"]["after"]
    assert group_list(cluster) == {"web-public": "web servers"}
    for path in REFERENCING:
        assert group_actions(cluster, path) == ["web-public"], path
    # the forward rule of vnet1 is untouched, the comment of vnet2's rule kept
    assert [rule["type"] for rule in cluster.api().get("/cluster/sdn/vnets/vnet1/firewall/rules")] == ["group", "forward"]
    assert cluster.api().get("/cluster/sdn/vnets/vnet2/firewall/rules")[0]["comment"] == "v2"
    # already renamed: nothing to do
    assert_unchanged(cluster, name="web-public", rename="web")


def test_rename_rewrites_vnet_rules_left_behind(cluster: ModuleRunner) -> None:
    """A rename done elsewhere (GUI, PVE's API) leaves vnet rules on the old name; a rerun fixes them."""
    make_web(cluster)
    cluster.ok("firewall_rule", level="vnet", vnet="vnet2", rules=[{"type": "group", "action": "web"}])
    cluster.api().post(GROUPS, group="www", rename="web")
    assert group_actions(cluster, "/cluster/sdn/vnets/vnet2/firewall/rules") == ["web"]
    result = cluster.ok(MODULE, name="www", rename="web")
    assert result["commands"] == ["PUT /cluster/sdn/vnets/vnet2/firewall/rules/0 action=www"]
    assert group_actions(cluster, "/cluster/sdn/vnets/vnet2/firewall/rules") == ["www"]
    assert_unchanged(cluster, name="www", rename="web")


def test_rename_with_comment_and_rules_in_one_run(cluster: ModuleRunner) -> None:
    make_web(cluster)
    result = cluster.ok(MODULE, name="www", rename="web", comment="renamed", state="overridden", rules=WEB_RULES[:1])
    assert result["commands"][:1] == ["POST /cluster/firewall/groups group=www rename=web comment=renamed"]
    assert group_list(cluster) == {"www": "renamed"}
    assert len(group_rules(cluster, "www")) == 1
    assert_unchanged(cluster, name="www", rename="web", comment="renamed", state="overridden", rules=WEB_RULES[:1])


def test_rename_check_mode_plans_rules_on_the_new_name(cluster: ModuleRunner) -> None:
    make_web(cluster)
    seq = cluster.seq()
    result = cluster.ok(MODULE, check=True, name="www", rename="web", state="overridden", comment="web servers", rules=WEB_RULES[1:])
    assert result["commands"] == ["POST /cluster/firewall/groups group=www rename=web", "DELETE /cluster/firewall/groups/www/0"]
    assert result["after"] == {"name": "www", "comment": "web servers", "rules": WEB_RULES[1:]}
    assert cluster.writes_since(seq) == []
    assert cluster.ok(MODULE, name="www", rename="web", state="overridden", comment="web servers", rules=WEB_RULES[1:])["commands"] == result["commands"]


def test_rename_interrupted_before_the_vnet_rules_converges(cluster: ModuleRunner) -> None:
    make_web(cluster)
    cluster.ok("firewall_rule", level="vnet", vnet="vnet1", rules=[{"type": "group", "action": "web"}])
    cluster.control.arm_fault(action="error", nth=1, on="write", path="/sdn/vnets/")
    result = cluster.run(MODULE, name="www", rename="web")
    assert result.get("failed")
    assert "injected fault" in result["msg"] and "after 1 successful write" in result["msg"]
    assert result["commands"] == ["POST /cluster/firewall/groups group=www rename=web"]
    assert group_actions(cluster, "/cluster/sdn/vnets/vnet1/firewall/rules") == ["web"]
    result = cluster.ok(MODULE, name="www", rename="web")
    assert result["commands"] == ["PUT /cluster/sdn/vnets/vnet1/firewall/rules/0 action=www"]
    assert_unchanged(cluster, name="www", rename="web")


def test_create_interrupted_reports_the_writes_made(cluster: ModuleRunner) -> None:
    cluster.control.arm_fault(action="error", nth=2, on="write")
    result = cluster.run(MODULE, name="web", comment="web servers", rules=WEB_RULES)
    assert result.get("failed")
    assert "after 1 successful write" in result["msg"]
    assert result["commands"] == ["POST /cluster/firewall/groups group=web comment='web servers'"]
    assert group_rules(cluster, "web") == []
    assert len(make_web(cluster)["commands"]) == 2
    assert_unchanged(cluster, name="web", comment="web servers", rules=WEB_RULES)


def test_rename_refusals(cluster: ModuleRunner) -> None:
    make_web(cluster)
    cluster.ok(MODULE, name="www")
    assert_refused(cluster, "rename='web'", "both exist", name="www", rename="web")
    assert_refused(cluster, "rename='gone'", "'gone' does not exist", name="other", rename="gone")
    assert_refused(cluster, "rename='web'", "state=absent", name="www", rename="web", state="absent")


# ---------------------------------------------------------------------------------------------
# absent


def test_absent_refused_while_referenced_then_removed(cluster: ModuleRunner) -> None:
    make_web(cluster)
    reference_everywhere(cluster, "web")
    result = assert_refused(cluster, "security group 'web' is still used by 6 rules", "nothing was written", name="web", state="absent")
    assert result["references"] == [
        "cluster rules[0]",
        "node pve1 rules[0]",
        "vm 100 rules[0]",
        "ct 200 rules[0]",
        "vnet vnet1 rules[0]",
        "vnet vnet2 rules[0]",
    ]
    assert_refused(cluster, "vnet vnet2 rules[0]", check=True, name="web", state="absent")
    assert group_list(cluster) == {"web": "web servers"}
    # remove the references one by one: the refusal follows
    for level, extra in (("cluster", {}), ("node", {"node": "pve1"}), ("vm", {"vmid": 100}), ("ct", {"vmid": 200}), ("vnet", {"vnet": "vnet1"})):
        cluster.ok(
            "firewall_rule", level=level, state="deleted", rules=[{"type": "group", "action": "web", **({"iface": "net0"} if level == "vm" else {})}], **extra
        )
    result = assert_refused(cluster, "used by 1 rule:", name="web", state="absent")
    assert result["references"] == ["vnet vnet2 rules[0]"]
    cluster.ok("firewall_rule", level="vnet", vnet="vnet2", state="deleted")
    # check mode plans deleting the rules, then the group
    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, name="web", state="absent")
    assert planned["changed"] is True
    assert cluster.writes_since(seq) == []
    assert planned["commands"] == [
        "DELETE /cluster/firewall/groups/web/1",
        "DELETE /cluster/firewall/groups/web/0",
        "DELETE /cluster/firewall/groups/web",
    ]
    result = cluster.ok(MODULE, name="web", state="absent")
    assert result["changed"] is True
    assert result["commands"] == planned["commands"]
    assert result["before"]["name"] == "web" and result["after"] is None
    assert group_list(cluster) == {}
    result = assert_unchanged(cluster, name="web", state="absent")
    assert result["before"] is None


def test_absent_of_empty_group_and_disabled_reference(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, name="empty")
    cluster.api().post("/nodes/pve3/firewall/rules", type="group", action="empty", enable=0)
    result = assert_refused(cluster, "node pve3 rules[0]", name="empty", state="absent")
    assert result["references"] == ["node pve3 rules[0]"]
    cluster.api().delete("/nodes/pve3/firewall/rules/0")
    result = cluster.ok(MODULE, name="empty", state="absent")
    assert result["commands"] == ["DELETE /cluster/firewall/groups/empty"]


# ---------------------------------------------------------------------------------------------
# gathered, rendered, parsed


def test_gathered_feeds_back_unchanged(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, name="ipset-user", rules=[{"type": "in", "action": "ACCEPT", "source": "192.0.2.0/24", "log": "info", "enable": False}])
    make_web(cluster)
    gathered = cluster.ok(MODULE, state="gathered")
    assert gathered["changed"] is False
    assert gathered["gathered"] == [
        {"name": "ipset-user", "rules": [{"type": "in", "action": "ACCEPT", "source": "192.0.2.0/24", "log": "info", "enable": False}]},
        {"name": "web", "comment": "web servers", "rules": WEB_RULES},
    ]
    for group in gathered["gathered"]:
        assert_unchanged(cluster, state="overridden", **group)
        assert_unchanged(cluster, state="merged", **group)
    one = cluster.ok(MODULE, state="gathered", name="web")
    assert one["gathered"] == [gathered["gathered"][1]]
    assert cluster.ok(MODULE, state="gathered", name="nothere")["gathered"] == []


def test_rendered_and_parsed_round_trip(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    rules = [*WEB_RULES, {"type": "out", "action": "DROP", "proto": "icmp", "icmp_type": "echo-request", "log": "warning", "enable": False}]
    rendered = cluster.ok(MODULE, connection=False, state="rendered", name="web", comment="web servers", rules=rules)
    assert rendered["changed"] is False
    assert rendered["rendered"] == (
        "[group web] # web servers\n\nIN HTTPS(ACCEPT)\nIN ACCEPT -p tcp -dport 8080 # alt\n|OUT DROP -p icmp -log warning -icmp-type echo-request\n\n"
    )
    assert rendered["commands"][0] == "POST /cluster/firewall/groups group=web comment='web servers'"
    assert len(rendered["commands"]) == 4
    parsed = cluster.ok(MODULE, connection=False, state="parsed", running_config=rendered["rendered"])
    assert parsed["parsed"] == [{"name": "web", "comment": "web servers", "rules": rules}]
    # rule lines alone with a name, and a whole cluster.fw with other sections
    alone = cluster.ok(MODULE, connection=False, state="parsed", name="Web", running_config="IN HTTPS(ACCEPT)\n")
    assert alone["parsed"] == [{"name": "web", "rules": [WEB_RULES[0]]}]
    whole = "[OPTIONS]\nenable: 1\n\n[RULES]\nGROUP web\n\n[group a1]\nIN SSH(ACCEPT)\n\n[group B2] # two\nOUT DROP\n"
    assert cluster.ok(MODULE, connection=False, state="parsed", running_config=whole)["parsed"] == [
        {"name": "a1", "rules": [{"type": "in", "action": "ACCEPT", "macro": "SSH"}]},
        {"name": "b2", "comment": "two", "rules": [{"type": "out", "action": "DROP"}]},
    ]
    assert cluster.writes_since(seq) == []
    # what was rendered is what the module then creates
    created = cluster.ok(MODULE, name="web", comment="web servers", rules=rules)
    assert created["commands"] == rendered["commands"]
    assert cluster.ok(MODULE, state="gathered", name="web")["gathered"] == parsed["parsed"]


@pytest.mark.parametrize(
    ("args", "texts"),
    [
        ({"running_config": "[group web]\nIN HTTPS(ACCEPT)\nIN ACCEPT -i net0\n"}, ["running_config line 3", "parameter -i not allowed"]),
        ({"name": "web", "running_config": "IN HTTPS(ACCEPT)\nGROUP other\n"}, ["running_config line 2", "invalid rule type 'group'"]),
        ({"running_config": "[group web]\nIN ACCEPT -p tcp -dport 99999\n"}, ["running_config line 2", "dport='99999'"]),
        ({"running_config": "[group web]\nTHIS IS NOT A RULE\n"}, ["running_config line 2"]),
        ({"running_config": "[group 9bad]\nIN SSH(ACCEPT)\n"}, ["running_config line 1", "group='9bad'"]),
    ],
)
def test_parsed_refuses_lines_pve_would_refuse(cluster: ModuleRunner, args: dict[str, Any], texts: list[str]) -> None:
    result = cluster.run(MODULE, connection=False, state="parsed", **args)
    assert result.get("failed"), result
    for text in texts:
        assert text in result["msg"], result["msg"]


# ---------------------------------------------------------------------------------------------
# bad input: field and value named, nothing written


@pytest.mark.parametrize(
    ("args", "texts"),
    [
        ({"name": "a" * 19}, ["name='aaaaaaaaaaaaaaaaaaa'", "security group name too long"]),
        ({"name": "web servers"}, ["name='web servers'", "invalid security group name"]),
        ({"name": "9web"}, ["name='9web'", "invalid security group name"]),
        ({"name": "web", "rename": "old.name"}, ["rename='old.name'", "invalid security group name"]),
        (
            {"name": "web", "rules": [{"type": "in", "action": "ACCEPT", "iface": "net0"}]},
            ["rules[0]", "parameter -i not allowed", "no iface in security groups"],
        ),
        ({"name": "web", "rules": [{"type": "group", "action": "other"}]}, ["rules[0]: type='group'", "invalid rule type 'group'"]),
        (
            {"name": "web", "rules": [WEB_RULES[0], {"type": "in", "action": "ACCEPT", "macro": "NoSuchMacro"}]},
            ["rules[1]: macro='NoSuchMacro'", "unknown macro"],
        ),
        ({"name": "web", "rules": [{"type": "in", "action": "ACCEPT", "source": "+missing"}]}, ["rules[0]: source='+missing'", "no such ipset 'missing'"]),
        ({"name": "web", "rules": [{"type": "in", "action": "ACCEPT", "dest": "nosuchalias"}]}, ["rules[0]: dest='nosuchalias'", "no such alias"]),
        ({"name": "web", "comment": "two\nlines"}, ["comment='two\\nlines'", "line breaks"]),
        ({"state": "absent"}, ["state is absent but all of the following are missing: name"]),
    ],
)
def test_bad_input_fails_naming_field_and_value(cluster: ModuleRunner, args: dict[str, Any], texts: list[str]) -> None:
    make_web(cluster)
    before = cluster.ok(MODULE, state="gathered")["gathered"]
    assert_refused(cluster, *texts, **args)
    assert_refused(cluster, *texts, check=True, **args)
    assert cluster.ok(MODULE, state="gathered")["gathered"] == before


def test_bad_rules_reported_together_for_an_existing_group_under_rename(cluster: ModuleRunner) -> None:
    """References are checked after the rename is resolved, before its write."""
    make_web(cluster)
    cluster.api().post("/cluster/firewall/ipset", name="admins")
    ok_rule = {"type": "in", "action": "ACCEPT", "source": "+admins"}
    assert_refused(cluster, "rules[1]: source='+nope'", name="www", rename="web", rules=[ok_rule, {"type": "in", "action": "ACCEPT", "source": "+nope"}])
    assert group_list(cluster) == {"web": "web servers"}
    cluster.ok(MODULE, name="www", rename="web", rules=[ok_rule])
    assert group_rules(cluster, "www")[0]["source"] == "+admins"


# ---------------------------------------------------------------------------------------------
# documented examples


def test_examples_run(cluster: ModuleRunner, tmp_path: Path) -> None:
    results = run_examples(cluster, MODULE, tmp_path)
    assert results[0]["changed"] is True
    assert [group["name"] for group in results[4]["gathered"]] == ["web-public"]
    assert results[5]["rendered"].startswith("[group dns]")
    assert results[6]["parsed"] == [
        {"name": "dns", "comment": "resolvers", "rules": [{"type": "in", "action": "ACCEPT", "macro": "DNS", "source": "192.0.2.0/24"}]}
    ]
    assert results[7]["changed"] is True
    assert group_list(cluster) == {}


# ---------------------------------------------------------------------------------------------
# long groups: the delta instead of before and after


def seed_group(cluster: ModuleRunner, count: int) -> list[dict[str, Any]]:
    """A group of ``count`` rules, written as cluster.fw (no request per rule)."""
    lines = "".join(f"IN ACCEPT -p tcp -dport {1000 + n}\n" for n in range(count))
    cluster.control.write_file("firewall/cluster.fw", f"[group big] # many\n\n{lines}")
    assert len(group_rules(cluster, "big")) == count
    return [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(1000 + n)} for n in range(count)]


def test_a_group_of_more_than_500_rules_returns_its_delta_alone(cluster: ModuleRunner) -> None:
    rules = seed_group(cluster, 501)
    rerun = assert_unchanged(cluster, name="big", rules=rules[:2])
    assert "before" not in rerun and "after" not in rerun
    assert rerun["delta"] == {"added": [], "removed": [], "kept_count": 501, "before_count": 501, "after_count": 501}
    removed = cluster.ok(MODULE, check=True, name="big", state="deleted", rules=rules[:1])
    assert "before" not in removed and "after" not in removed
    assert removed["delta"] == {"added": [], "removed": [rules[0]], "kept_count": 500, "before_count": 501, "after_count": 500}


def test_a_group_of_500_rules_returns_before_and_after(cluster: ModuleRunner) -> None:
    rules = seed_group(cluster, 500)
    rerun = assert_unchanged(cluster, name="big", rules=rules[:2])
    assert rerun["before"] == rerun["after"] == {"name": "big", "comment": "many", "rules": rules}
    assert rerun["delta"]["kept_count"] == 500


def test_return_full_and_diff_mode_return_a_long_group_whole(cluster: ModuleRunner) -> None:
    rules = seed_group(cluster, 501)
    full = assert_unchanged(cluster, name="big", rules=rules[:2], return_full=True)
    shown = assert_unchanged(cluster, name="big", rules=rules[:2], diff=True)
    for result in (full, shown):
        assert result["before"] == result["after"] == {"name": "big", "comment": "many", "rules": rules}


def test_removing_a_long_group_lists_its_rules_as_removed(cluster: ModuleRunner) -> None:
    rules = seed_group(cluster, 501)
    gone = cluster.ok(MODULE, check=True, name="big", state="absent")
    assert "before" not in gone and "after" not in gone
    assert gone["delta"] == {"added": [], "removed": rules, "kept_count": 0, "before_count": 501, "after_count": None}
