"""firewall_rule against the TLS emulator: every state at every level, auth and TLS, secrets.

Rules are seeded and inspected through the raw API (``cluster.api()``), so what the module
writes is judged by what PVE holds, and writes are counted from the emulator's request log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_examples

from ansible_collections.pve.firewall.tests.emulator.fixtures import PASSWORD, TOKEN, USER

MODULE = "firewall_rule"

# level -> (scope options, the rule types used there, the rules path the module must write)
LEVELS: dict[str, tuple[dict[str, Any], tuple[str, str], str]] = {
    "cluster": ({"level": "cluster"}, ("in", "out"), "/cluster/firewall/rules"),
    "node": ({"level": "node", "node": "pve1"}, ("in", "out"), "/nodes/pve1/firewall/rules"),
    "vm": ({"level": "vm", "vmid": 100}, ("in", "out"), "/nodes/pve1/qemu/100/firewall/rules"),
    "ct": ({"level": "ct", "vmid": 200}, ("in", "out"), "/nodes/pve1/lxc/200/firewall/rules"),
    # vnet rules take only types forward and group
    "vnet": ({"level": "vnet", "vnet": "vnet1"}, ("forward", "forward"), "/cluster/sdn/vnets/vnet1/firewall/rules"),
}
ALL_LEVELS = pytest.mark.parametrize("level", list(LEVELS))


def scope(level: str) -> dict[str, Any]:
    return dict(LEVELS[level][0])


def path_of(level: str) -> str:
    return LEVELS[level][2]


def rule(level: str, n: int, **extra: Any) -> dict[str, Any]:
    """A distinct plain rule (told apart by its port), of the level's first or second type."""
    kind = LEVELS[level][1][n % 2]
    return {"type": kind, "action": "ACCEPT", "proto": "tcp", "dport": str(1000 + n), **extra}


def api_params(user_rule: dict[str, Any]) -> dict[str, Any]:
    params = {("icmp-type" if key == "icmp_type" else key): value for key, value in user_rule.items()}
    params["enable"] = int(params.get("enable", True))
    return params


def seed(cluster: ModuleRunner, level: str, rules: list[dict[str, Any]]) -> None:
    """Put ``rules`` in place through the raw API (POST inserts at the top: add them last first)."""
    api = cluster.api()
    for item in reversed(rules):
        api.post(path_of(level), **api_params(item))


def ports(cluster: ModuleRunner, level: str) -> list[int]:
    """The rule list as the ports that tell the rules apart, in PVE's order."""
    return [int(item["dport"]) - 1000 for item in cluster.api().get(path_of(level))]


def stored(cluster: ModuleRunner, level: str) -> list[dict[str, Any]]:
    return list(cluster.api().get(path_of(level)))


def methods(writes: list[dict[str, Any]]) -> list[str]:
    return [entry["method"] for entry in writes]


def run_unchanged(cluster: ModuleRunner, **args: Any) -> dict[str, Any]:
    """A rerun that must change nothing and write nothing."""
    seq = cluster.seq()
    result = cluster.ok(MODULE, **args)
    assert result["changed"] is False
    assert result["commands"] == []
    assert cluster.writes_since(seq) == []
    return result


# --------------------------------------------------------------------------------------------
# merged


@ALL_LEVELS
def test_merged_create_check_diff_and_rerun(cluster: ModuleRunner, level: str) -> None:
    wanted = [rule(level, 1, comment="first"), rule(level, 2, log="info"), rule(level, 3)]
    args = {**scope(level), "state": "merged", "rules": wanted}

    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, diff=True, **args)
    assert planned["changed"] is True
    assert len(planned["commands"]) >= 3
    assert all(command.startswith(("POST " + path_of(level), "PUT " + path_of(level))) for command in planned["commands"])
    assert sum(command.startswith("POST ") for command in planned["commands"]) == 3
    assert cluster.writes_since(seq) == []
    assert ports(cluster, level) == []
    assert planned["diff"]["before"] == ""
    assert "-dport 1001 # first" in planned["diff"]["after"]

    seq = cluster.seq()
    done = cluster.ok(MODULE, diff=True, **args)
    assert done["changed"] is True
    assert done["commands"] == planned["commands"]
    assert len(cluster.writes_since(seq)) == len(done["commands"])
    assert ports(cluster, level) == [1, 2, 3]
    assert done["before"] == []
    assert done["after"] == wanted
    assert done["diff"] == planned["diff"]
    after = done["diff"]["after"].splitlines()
    assert after[0] == "[RULES]"
    lines = [line for line in after[1:] if line]
    assert len(lines) == 3
    assert lines[0].startswith(LEVELS[level][1][1].upper() + " ACCEPT -p tcp -dport 1001")
    assert "-dport 1002" in lines[1] and "-log info" in lines[1]
    assert "-dport 1003" in lines[2]

    again = run_unchanged(cluster, diff=True, **args)
    assert again["diff"]["before"] == again["diff"]["after"] == done["diff"]["after"]
    checked = run_unchanged(cluster, check=True, **args)
    assert checked["after"] == wanted


@ALL_LEVELS
def test_merged_changes_comment_enable_and_log_in_place(cluster: ModuleRunner, level: str) -> None:
    seed(cluster, level, [rule(level, 1), rule(level, 2, comment="old"), rule(level, 3)])
    changed = rule(level, 2, comment="new", enable=False, log="warning")
    args = {**scope(level), "rules": [changed]}

    seq = cluster.seq()
    result = cluster.ok(MODULE, diff=True, **args)
    assert result["changed"] is True
    writes = cluster.writes_since(seq)
    assert [(entry["method"], entry["path"]) for entry in writes] == [("PUT", path_of(level) + "/1")]
    assert len(result["commands"]) == 1 and result["commands"][0].startswith(f"PUT {path_of(level)}/1 ")
    assert ports(cluster, level) == [1, 2, 3]
    middle = stored(cluster, level)[1]
    assert (middle["comment"], middle["enable"], middle["log"]) == ("new", 0, "warning")
    assert "# old" in result["diff"]["before"] and "# new" in result["diff"]["after"]
    assert "|" in result["diff"]["after"]  # a disabled rule starts with '|'
    run_unchanged(cluster, **args)

    # Listed without comment and log, enabled: the attributes are applied as listed.
    plain = rule(level, 2)
    seq = cluster.seq()
    result = cluster.ok(MODULE, **{**scope(level), "rules": [plain]})
    assert result["changed"] is True
    assert methods(cluster.writes_since(seq)) == ["PUT"]
    middle = stored(cluster, level)[1]
    assert middle.get("comment") is None and middle.get("log") in (None, "nolog") and middle["enable"] == 1
    assert ports(cluster, level) == [1, 2, 3]
    run_unchanged(cluster, **{**scope(level), "rules": [plain]})


@ALL_LEVELS
def test_merged_order_unlisted_rules_and_insert_positions(cluster: ModuleRunner, level: str) -> None:
    a, x, b, y = (rule(level, n) for n in (1, 2, 3, 4))
    seed(cluster, level, [a, x, b, y])

    # b then a: a moves right after b; x and y are not listed and stay where they are.
    seq = cluster.seq()
    result = cluster.ok(MODULE, **scope(level), rules=[b, a])
    assert result["changed"] is True
    assert ports(cluster, level) == [2, 3, 1, 4]
    assert methods(cluster.writes_since(seq)) == ["PUT"]
    assert "moveto=" in result["commands"][0]
    run_unchanged(cluster, **scope(level), rules=[b, a])

    # A new rule goes right after the previous listed one: POST (at the top) and a move.
    new = rule(level, 5)
    seq = cluster.seq()
    cluster.ok(MODULE, **scope(level), rules=[b, new])
    assert ports(cluster, level) == [2, 3, 5, 1, 4]
    assert methods(cluster.writes_since(seq)) == ["POST", "PUT"]

    # A new first listed rule goes to the top: the POST alone.
    top = rule(level, 6)
    seq = cluster.seq()
    cluster.ok(MODULE, **scope(level), rules=[top, x])
    assert ports(cluster, level) == [6, 2, 3, 5, 1, 4]
    assert methods(cluster.writes_since(seq)) == ["POST"]
    run_unchanged(cluster, **scope(level), rules=[top, x, b, new])


# --------------------------------------------------------------------------------------------
# overridden


@ALL_LEVELS
def test_overridden_makes_the_list_exact(cluster: ModuleRunner, level: str) -> None:
    seed(cluster, level, [rule(level, n) for n in (1, 2, 3, 4)])
    wanted = [rule(level, 3), rule(level, 7, comment="new"), rule(level, 1)]
    args = {**scope(level), "state": "overridden", "rules": wanted}

    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, diff=True, **args)
    assert planned["changed"] is True and planned["commands"]
    assert cluster.writes_since(seq) == []
    assert ports(cluster, level) == [1, 2, 3, 4]
    assert "-dport 1002" in planned["diff"]["before"] and "-dport 1002" not in planned["diff"]["after"]

    result = cluster.ok(MODULE, **args)
    assert result["changed"] is True
    assert ports(cluster, level) == [3, 7, 1]
    assert result["after"] == wanted
    run_unchanged(cluster, **args)

    # An empty list empties the rules.
    cluster.ok(MODULE, **scope(level), state="overridden", rules=[])
    assert ports(cluster, level) == []


@ALL_LEVELS
def test_overridden_mid_list_insert_costs_a_post_and_a_move(cluster: ModuleRunner, level: str) -> None:
    twenty = [rule(level, n) for n in range(20)]
    seed(cluster, level, twenty)
    wanted = twenty[:10] + [rule(level, 50)] + twenty[10:]

    seq = cluster.seq()
    result = cluster.ok(MODULE, **scope(level), state="overridden", rules=wanted)
    writes = cluster.writes_since(seq)
    assert [(entry["method"], entry["path"]) for entry in writes] == [("POST", path_of(level)), ("PUT", path_of(level) + "/0")]
    # moving down, PVE places the rule before the rule at index moveto, so one more
    assert result["commands"][1] == f"PUT {path_of(level)}/0 moveto=11"
    assert ports(cluster, level) == [*range(10), 50, *range(10, 20)]
    run_unchanged(cluster, **scope(level), state="overridden", rules=wanted)


# --------------------------------------------------------------------------------------------
# deleted


@ALL_LEVELS
def test_deleted_listed_then_all(cluster: ModuleRunner, level: str) -> None:
    seed(cluster, level, [rule(level, 1), rule(level, 2, comment="keep me?"), rule(level, 3)])
    # The same rule whatever its comment, log and enable say.
    args = {**scope(level), "state": "deleted", "rules": [rule(level, 2, enable=False, log="info")]}

    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, diff=True, **args)
    assert planned["changed"] is True
    assert planned["commands"] == [f"DELETE {path_of(level)}/1"]
    assert cluster.writes_since(seq) == []
    assert "keep me?" in planned["diff"]["before"] and "keep me?" not in planned["diff"]["after"]

    cluster.ok(MODULE, **args)
    assert ports(cluster, level) == [1, 3]
    run_unchanged(cluster, **args)

    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, **scope(level), state="deleted")
    assert len(planned["commands"]) == 2 and all(command.startswith("DELETE ") for command in planned["commands"])
    assert cluster.writes_since(seq) == []
    result = cluster.ok(MODULE, **scope(level), state="deleted", rules=[])
    assert result["changed"] is True and result["after"] == []
    assert ports(cluster, level) == []
    run_unchanged(cluster, **scope(level), state="deleted")


# --------------------------------------------------------------------------------------------
# gathered, rendered, parsed


def varied_rules(level: str) -> list[dict[str, Any]]:
    """Rules using most keys, as the raw API stores them (shapes the module must read back)."""
    kind = LEVELS[level][1][0]
    rules: list[dict[str, Any]] = [
        {"type": kind, "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24", "comment": "admin ssh"},
        {"type": kind, "action": "DROP", "proto": "tcp", "dport": "80,443", "log": "info", "enable": False},
        {"type": kind, "action": "ACCEPT", "proto": "icmp", "icmp_type": "echo-request"},
        {"type": kind, "action": "ACCEPT", "proto": "udp", "sport": "53", "dest": "198.51.100.0/24"},
        {"type": kind, "action": "ACCEPT", "source": "+dc/admins", "dest": "dc/gateway"},
        {"type": kind, "action": "ACCEPT", "proto": "tcp", "dport": "8000:8100", "source": "10.0.0.1-10.0.0.9"},
        {"type": "group", "action": "webgroup", "comment": "jump"},
    ]
    if level in ("cluster", "node"):
        rules.append({"type": "forward", "action": "DROP", "iface": "vmbr0", "proto": "tcp", "dport": "25"})
    if level in ("vm", "ct"):
        rules.append({"type": "out", "action": "REJECT", "iface": "net0", "proto": "tcp", "dport": "25"})
    return rules


def seed_references(cluster: ModuleRunner) -> None:
    api = cluster.api()
    api.post("/cluster/firewall/ipset", name="admins")
    api.post("/cluster/firewall/ipset/admins", cidr="192.0.2.10")
    api.post("/cluster/firewall/aliases", name="gateway", cidr="10.0.0.1")
    api.post("/cluster/firewall/groups", group="webgroup")


@ALL_LEVELS
def test_gathered_output_feeds_back_unchanged(cluster: ModuleRunner, level: str) -> None:
    seed_references(cluster)
    rules = varied_rules(level)
    seed(cluster, level, rules)

    seq = cluster.seq()
    gathered = cluster.ok(MODULE, **scope(level), state="gathered")
    assert gathered["changed"] is False and gathered["commands"] == []
    assert cluster.writes_since(seq) == []
    assert len(gathered["gathered"]) == len(rules)
    assert gathered["gathered"][0]["macro"] == "SSH" and gathered["gathered"][0]["comment"] == "admin ssh"
    assert gathered["gathered"][1]["enable"] is False
    assert gathered["gathered"][2]["icmp_type"] == "echo-request"

    for state in ("overridden", "merged"):
        result = run_unchanged(cluster, diff=True, **scope(level), state=state, rules=gathered["gathered"])
        assert result["before"] == result["after"] == gathered["gathered"]


def test_rendered_works_offline(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    rules = [
        {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24", "comment": "admin"},
        {"type": "in", "action": "DROP", "proto": "tcp", "dport": "3306", "log": "info", "enable": False},
    ]
    result = cluster.ok(MODULE, connection=False, level="cluster", state="rendered", rules=rules)
    assert result["changed"] is False
    assert result["rendered"] == "[RULES]\n\nIN SSH(ACCEPT) -source 192.0.2.0/24 # admin\n|IN DROP -p tcp -dport 3306 -log info\n\n"
    assert [command.split(" ")[:2] for command in result["commands"]] == [["POST", "/cluster/firewall/rules"]] * 2
    assert cluster.requests_since(seq) == []

    # A guest's node is not looked up offline: the path shows a placeholder.
    guest = cluster.ok(MODULE, connection=False, level="vm", vmid=100, state="rendered", rules=rules[:1])
    assert guest["commands"][0].startswith("POST /nodes/{node}/qemu/100/firewall/rules ")
    # Offline input is still checked (a vm has no forward chain).
    bad = cluster.run(MODULE, connection=False, level="vm", vmid=100, state="rendered", rules=[{"type": "forward", "action": "ACCEPT"}])
    assert bad["failed"] and "forward" in bad["msg"] and "type" in bad["msg"]
    # The planned calls name the guest and the vnet: they must be given.
    for level, needed in (("vm", "vmid"), ("ct", "vmid"), ("vnet", "vnet"), ("node", "node")):
        missing = cluster.run(MODULE, connection=False, level=level, state="rendered", rules=[rule(level, 1)])
        assert missing["failed"] and missing["msg"] == f"level {level} needs {needed}"
    assert cluster.requests_since(seq) == []


def test_parsed_works_offline(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    text = "[RULES]\nIN SSH(ACCEPT) -source 192.0.2.0/24 # admin\n|IN ACCEPT -p tcp -dport 8006 -log info\nOUT ACCEPT -p icmp -icmp-type echo-request\n"
    result = cluster.ok(MODULE, connection=False, level="node", state="parsed", running_config=text)
    assert result["changed"] is False
    assert result["parsed"] == [
        {"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24", "comment": "admin"},
        {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "log": "info", "enable": False},
        {"type": "out", "action": "ACCEPT", "proto": "icmp", "icmp_type": "echo-request"},
    ]
    # Rule lines without a section header are read as [RULES].
    bare = cluster.ok(MODULE, connection=False, level="node", state="parsed", running_config=text.split("\n", 1)[1])
    assert bare["parsed"] == result["parsed"]
    # parsed output renders back to the same rules
    rendered = cluster.ok(MODULE, connection=False, level="node", node="pve1", state="rendered", rules=result["parsed"])
    assert [line for line in rendered["rendered"].splitlines()[1:] if line] == text.splitlines()[1:]
    # A line PVE would refuse fails, naming the line of the text as given.
    bad = cluster.run(MODULE, connection=False, level="vm", state="parsed", running_config="IN ACCEPT\nFORWARD ACCEPT\nIN FOO -p tcp\n")
    assert bad["failed"] is True
    assert "running_config line 2: type='forward'" in bad["msg"]
    assert "running_config line 3: action='FOO': unknown action 'FOO'" in bad["msg"]
    assert cluster.requests_since(seq) == []


# --------------------------------------------------------------------------------------------
# guests: the node is looked up


def test_guest_node_is_looked_up_when_omitted(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    cluster.ok(MODULE, level="vm", vmid=101, rules=[rule("vm", 1)])
    cluster.ok(MODULE, level="ct", vmid=201, rules=[rule("ct", 1)])
    written = {entry["path"] for entry in cluster.writes_since(seq)}
    assert written == {"/nodes/pve2/qemu/101/firewall/rules", "/nodes/pve2/lxc/201/firewall/rules"}
    assert any(entry["path"] == "/cluster/resources" for entry in cluster.requests_since(seq))
    # The node given explicitly is used as given (no lookup).
    seq = cluster.seq()
    run_unchanged(cluster, level="vm", vmid=101, node="pve2", rules=[rule("vm", 1)])
    assert all(entry["path"] != "/cluster/resources" for entry in cluster.requests_since(seq))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"level": "vm", "vmid": 999}, ["vmid 999", "no such guest"]),
        ({"level": "ct", "vmid": 999}, ["vmid 999", "no such guest"]),
        ({"level": "ct", "vmid": 100}, ["vmid 100", "qemu", "level: vm"]),
        ({"level": "vm", "vmid": 200}, ["vmid 200", "lxc", "level: ct"]),
        ({"level": "vm", "vmid": 100, "node": "pve2"}, ["pve2", "100", "does not exist"]),
    ],
    ids=["vm-unknown", "ct-unknown", "ct-for-qemu", "vm-for-lxc", "wrong-node"],
)
def test_guest_lookup_failures_are_clear(cluster: ModuleRunner, args: dict[str, Any], expected: list[str]) -> None:
    seq = cluster.seq()
    result = cluster.run(MODULE, **args, rules=[rule("vm", 1)])
    assert result.get("failed") is True
    for text in expected:
        assert text in result["msg"]
    assert cluster.writes_since(seq) == []


# --------------------------------------------------------------------------------------------
# connection: auth, TLS, secrets


def without_connection(cluster: ModuleRunner, **extra: Any) -> dict[str, Any]:
    connection = cluster.connection
    return {"api_host": connection["api_host"], "api_port": connection["api_port"], **extra}


def assert_no_secret(result: dict[str, Any]) -> None:
    text = json.dumps(result)
    assert TOKEN.secret not in text
    assert PASSWORD not in text
    # Ansible masks a no_log value it finds in the output: a mask means it was about to leak.
    assert "********" not in text


def test_password_auth_writes_with_the_csrf_token(cluster: ModuleRunner) -> None:
    args = without_connection(cluster, ca_path=cluster.pve.ca, api_user=USER, api_password=PASSWORD)
    result = cluster.run(MODULE, connection=False, diff=True, **args, rules=[rule("cluster", 1), rule("cluster", 2)])
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert ports(cluster, "cluster") == [1, 2]
    assert_no_secret(result)
    assert any(entry["path"] == "/access/ticket" for entry in cluster.requests_since(0))
    again = cluster.run(MODULE, connection=False, **args, state="overridden", rules=[rule("cluster", 2)])
    assert again["changed"] is True and ports(cluster, "cluster") == [2]
    assert_no_secret(again)


def test_wrong_password_fails_clearly(cluster: ModuleRunner) -> None:
    args = without_connection(cluster, ca_path=cluster.pve.ca, api_user=USER, api_password="not-the-password-42")
    result = cluster.run(MODULE, connection=False, **args, rules=[rule("cluster", 1)])
    assert result["failed"] is True
    assert "login as root@pam failed" in result["msg"]
    assert "not-the-password-42" not in json.dumps(result) and "********" not in result["msg"]


def test_wrong_token_fails_without_showing_the_secret(cluster: ModuleRunner) -> None:
    secret = "5ecre7-d0e5-n0t-ex15t-0000000000"
    args = without_connection(cluster, ca_path=cluster.pve.ca, api_token_id=TOKEN.full_id, api_token_secret=secret)
    seq = cluster.seq()
    result = cluster.run(MODULE, connection=False, **args, rules=[rule("cluster", 1)])
    assert result["failed"] is True
    assert "401" in result["msg"]
    assert "/cluster/firewall/rules" in result["msg"]
    text = json.dumps(result)
    assert secret not in text and "********" not in text and TOKEN.secret not in text
    assert cluster.writes_since(seq) == []


def test_missing_credentials_fail_before_connecting(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    result = cluster.run(MODULE, connection=False, **without_connection(cluster), rules=[rule("cluster", 1)])
    assert result["failed"] is True and "api_token_id" in result["msg"] and "api_password" in result["msg"]
    half = cluster.run(MODULE, connection=False, **without_connection(cluster, api_token_secret="x-secret-x"), rules=[rule("cluster", 1)])
    assert half["failed"] is True and "api_token_id and api_token_secret go together" in half["msg"]
    assert cluster.requests_since(seq) == []


def test_certificates_are_checked_by_default(cluster: ModuleRunner) -> None:
    args = without_connection(cluster, api_token_id=TOKEN.full_id, api_token_secret=TOKEN.secret)
    seq = cluster.seq()
    result = cluster.run(MODULE, connection=False, **args, rules=[rule("cluster", 1)])
    assert result["failed"] is True
    assert "TLS error" in result["msg"] and "ca_path" in result["msg"]
    assert_no_secret(result)
    assert cluster.requests_since(seq) == []
    # Explicitly off, the same connection works.
    insecure = cluster.run(MODULE, connection=False, **args, validate_certs=False, rules=[rule("cluster", 1)])
    assert not insecure.get("failed"), insecure.get("msg")
    assert ports(cluster, "cluster") == [1]


def test_secrets_never_in_results(cluster: ModuleRunner) -> None:
    seed_references(cluster)
    results = [
        cluster.run(MODULE, check=True, diff=True, rules=[rule("cluster", 1)]),
        cluster.run(MODULE, diff=True, rules=[rule("cluster", 1, comment=f"x{TOKEN.secret[:4]}")]),
        cluster.run(MODULE, state="gathered"),
        cluster.run(MODULE, rules=[{"type": "in", "action": "ACCEPT", "source": "+missing"}]),
        cluster.run(MODULE, level="vm", vmid=999),
        cluster.run(MODULE, level="node", node="nope"),
    ]
    for result in results:
        assert_no_secret(result)
        assert result["invocation"]["module_args"]["api_token_secret"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


# --------------------------------------------------------------------------------------------
# the PROXMOX_* environment: the EXAMPLES through ansible-playbook, the password in-process


def test_examples_run_with_the_environment_only(cluster: ModuleRunner, tmp_path: Path) -> None:
    results = run_examples(cluster, MODULE, tmp_path)
    created, web_vm, removed, gathered, preview, parsed = results
    assert created["changed"] is True and len(created["after"]) == 3
    assert web_vm["changed"] is True and [item.get("macro") for item in web_vm["after"]] == ["HTTPS", "HTTP", None]
    assert removed["changed"] is True and len(removed["after"]) == 2
    assert gathered["gathered"] == []
    assert preview["rendered"].startswith("[RULES]")
    assert parsed["parsed"][0]["macro"] == "SSH"
    assert [item["comment"] for item in cluster.api().get("/cluster/firewall/rules")] == ["admin ssh", "admin gui"]
    assert len(cluster.api().get("/nodes/pve1/qemu/100/firewall/rules")) == 3


def test_password_from_the_environment(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallbacks are read by the module itself, so an in-process run shows them too."""
    env = {key: value for key, value in cluster.env.items() if "TOKEN" not in key}
    env.update({"PROXMOX_USER": USER, "PROXMOX_PASSWORD": PASSWORD})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = cluster.run(MODULE, connection=False, diff=True, level="ct", vmid=200, state="overridden", rules=[rule("ct", 1)])
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert ports(cluster, "ct") == [1]
    assert_no_secret(result)
    assert result["invocation"]["module_args"]["api_user"] == USER


def test_sdn_sets_are_checked_against_the_ones_pve_lists(cluster: ModuleRunner) -> None:
    # every vnet has its four sets, subnets or not (proxmox-ve-config SdnConfig::ipsets)
    wanted = [{"type": "in", "action": "ACCEPT", "source": "+sdn/vnet1-all"}, {"type": "in", "action": "DROP", "source": "+sdn/vnet1-dhcp"}]
    args = {"level": "cluster", "state": "merged", "rules": wanted}
    assert cluster.ok(MODULE, **args)["changed"] is True
    assert [item.get("source") for item in cluster.api().get("/cluster/firewall/rules")] == ["+sdn/vnet1-all", "+sdn/vnet1-dhcp"]
    run_unchanged(cluster, **args)
    seq = cluster.seq()
    refused = cluster.fails(MODULE, level="cluster", state="merged", rules=[{"type": "in", "action": "ACCEPT", "source": "+sdn/vnet9-gateway"}])
    assert "no such ipset 'vnet9-gateway'" in refused["msg"]
    assert cluster.writes_since(seq) == []


# -- long lists: the delta instead of before and after --------------------------------------


def seed_file(cluster: ModuleRunner, count: int) -> list[dict[str, Any]]:
    """A datacenter list of ``count`` rules, written as cluster.fw (no request per rule)."""
    cluster.control.write_file("firewall/cluster.fw", "[RULES]\n\n" + "".join(f"IN ACCEPT -p tcp -dport {1000 + n}\n" for n in range(count)))
    rules = [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(1000 + n)} for n in range(count)]
    assert len(cluster.api().get("/cluster/firewall/rules")) == count
    return rules


def test_a_list_of_more_than_500_rules_returns_its_delta_alone(cluster: ModuleRunner) -> None:
    rules = seed_file(cluster, 501)
    rerun = run_unchanged(cluster, level="cluster", state="overridden", rules=rules)
    assert "before" not in rerun and "after" not in rerun
    assert rerun["delta"] == {"added": [], "removed": [], "kept_count": 501, "before_count": 501, "after_count": 501}
    new = {"type": "in", "action": "DROP", "proto": "udp", "dport": "53", "comment": "new"}
    changed = cluster.ok(MODULE, check=True, level="cluster", state="overridden", rules=[new, *rules[1:]])
    assert "before" not in changed and "after" not in changed
    assert changed["delta"] == {"added": [new], "removed": [rules[0]], "kept_count": 500, "before_count": 501, "after_count": 501}


def test_a_list_of_500_rules_returns_before_and_after(cluster: ModuleRunner) -> None:
    rules = seed_file(cluster, 500)
    rerun = run_unchanged(cluster, level="cluster", state="merged", rules=rules[:1])
    assert rerun["before"] == rerun["after"] == rules
    assert rerun["delta"] == {"added": [], "removed": [], "kept_count": 500, "before_count": 500, "after_count": 500}


def test_return_full_and_diff_mode_return_a_long_list_whole(cluster: ModuleRunner) -> None:
    rules = seed_file(cluster, 501)
    full = run_unchanged(cluster, level="cluster", state="merged", rules=rules[:1], return_full=True)
    shown = run_unchanged(cluster, diff=True, level="cluster", state="merged", rules=rules[:1])
    for result in (full, shown):
        assert result["before"] == result["after"] == rules
    assert shown["diff"]["after"].count("\nIN ACCEPT") == 501
