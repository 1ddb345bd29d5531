"""ipset against the TLS emulator: the set and its entries at the datacenter and at guests.

Sets are seeded and inspected through the raw API (``cluster.api()``), so what the module
writes is judged by what PVE holds; writes are counted from the emulator's request log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SET_LEVELS, ModuleRunner, any_overlap, methods, overlaps, run_examples, with_4_and_1_connections

from ansible_collections.pve.firewall.plugins.module_utils._api.service import FirewallApi

MODULE = "ipset"

LEVELS = SET_LEVELS
ALL_LEVELS = pytest.mark.parametrize("level", list(LEVELS))


def scope(level: str) -> dict[str, Any]:
    return dict(LEVELS[level][0])


def base(level: str) -> str:
    return LEVELS[level][1]


def sets(cluster: ModuleRunner, level: str) -> dict[str, str | None]:
    """name -> comment of every set at the level."""
    return {item["name"]: item.get("comment") for item in cluster.api().get(f"{base(level)}/ipset")}


def entries(cluster: ModuleRunner, level: str, name: str) -> list[str]:
    """The set's entries as PVE holds them: '!cidr # comment' style strings, in PVE's order."""
    out = []
    for item in cluster.api().get(f"{base(level)}/ipset/{name}"):
        text = ("!" if item.get("nomatch") else "") + item["cidr"]
        out.append(text + (f" # {item['comment']}" if item.get("comment") else ""))
    return out


# --------------------------------------------------------------------------------------------
# The whole life of a set


@ALL_LEVELS
def test_create_change_delete(cluster: ModuleRunner, level: str) -> None:
    path = f"{base(level)}/ipset"
    args = {
        **scope(level),
        "name": "web",
        "comment": "web servers",
        "entries": ["192.0.2.7/24", "198.51.100.1/32", {"cidr": "2001:db8::1/64", "comment": "v6"}],
    }

    # check mode: the calls, nothing written
    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, diff=True, **args)
    assert planned["changed"] is True
    assert planned["commands"] == [
        f"POST {path} name=web comment='web servers'",
        f"POST {path}/web cidr=192.0.2.0/24",
        f"POST {path}/web cidr=198.51.100.1",
        f"POST {path}/web cidr=2001:db8::/64 comment=v6",
    ]
    assert planned["before"] is None
    assert planned["diff"]["before"] == ""
    assert cluster.writes_since(seq) == []
    assert "web" not in sets(cluster, level)

    # create, with diff
    created = cluster.ok(MODULE, diff=True, **args)
    assert created["changed"] is True
    assert created["commands"] == planned["commands"]
    assert created["before"] is None
    assert created["after"] == {
        "name": "web",
        "comment": "web servers",
        "entries": ["192.0.2.0/24", "198.51.100.1", {"cidr": "2001:db8::/64", "comment": "v6"}],
    }
    assert created["diff"] == {"before": "", "after": "[IPSET web] # web servers\n\n192.0.2.0/24\n198.51.100.1\n2001:db8::/64 # v6\n\n"}
    assert sets(cluster, level) == {"web": "web servers"}
    assert entries(cluster, level, "web") == ["192.0.2.0/24", "198.51.100.1", "2001:db8::/64 # v6"]

    # rerun: nothing to do, nothing written
    unchanged = cluster.unchanged(MODULE, diff=True, **args)
    assert unchanged["before"] == unchanged["after"] == created["after"]
    assert unchanged["diff"]["before"] == unchanged["diff"]["after"]

    # change: one entry removed, one added, one turned nomatch, comment changed
    changed_args = {
        **scope(level),
        "name": "web",
        "comment": "frontends",
        "entries": ["!192.0.2.0/24", {"cidr": "2001:db8::/64", "comment": "v6"}, "203.0.113.9"],
    }
    seq = cluster.seq()
    check = cluster.ok(MODULE, check=True, **changed_args)
    assert cluster.writes_since(seq) == []
    changed = cluster.ok(MODULE, diff=True, **changed_args)
    assert changed["changed"] is True
    assert (
        changed["commands"]
        == check["commands"]
        == [
            f"POST {path} name=web rename=web comment=frontends",
            f"DELETE {path}/web/198.51.100.1",
            f"PUT {path}/web/192.0.2.0/24 nomatch=1 comment=''",
            f"POST {path}/web cidr=203.0.113.9",
        ]
    )
    assert methods(cluster.writes_since(seq)) == ["POST", "DELETE", "PUT", "POST"]
    assert changed["diff"] == {
        "before": "[IPSET web] # web servers\n\n192.0.2.0/24\n198.51.100.1\n2001:db8::/64 # v6\n\n",
        "after": "[IPSET web] # frontends\n\n!192.0.2.0/24\n2001:db8::/64 # v6\n203.0.113.9\n\n",
    }
    assert sets(cluster, level) == {"web": "frontends"}
    assert entries(cluster, level, "web") == ["!192.0.2.0/24", "2001:db8::/64 # v6", "203.0.113.9"]
    cluster.unchanged(MODULE, **changed_args)

    # an entry's comment changes, and nomatch goes away again
    seq = cluster.seq()
    again = cluster.ok(MODULE, **{**changed_args, "entries": ["192.0.2.0/24", {"cidr": "2001:db8::/64", "comment": "ipv6"}, "203.0.113.9"]})
    assert again["commands"] == [f"PUT {path}/web/192.0.2.0/24 nomatch=0 comment=''", f"PUT {path}/web/2001%3Adb8%3A%3A/64 nomatch=0 comment=ipv6"]
    assert len(cluster.writes_since(seq)) == 2
    assert entries(cluster, level, "web") == ["192.0.2.0/24", "2001:db8::/64 # ipv6", "203.0.113.9"]

    # delete: check mode, then for real, then a rerun
    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, diff=True, **scope(level), name="web", state="absent")
    assert planned["changed"] is True
    assert planned["commands"] == [f"DELETE {path}/web force=1"]
    assert planned["after"] is None and planned["diff"]["after"] == ""
    assert cluster.writes_since(seq) == []
    deleted = cluster.ok(MODULE, diff=True, **scope(level), name="web", state="absent")
    assert deleted["changed"] is True
    assert deleted["before"]["entries"] == ["192.0.2.0/24", {"cidr": "2001:db8::/64", "comment": "ipv6"}, "203.0.113.9"]
    assert deleted["diff"]["before"].startswith("[IPSET web] # frontends") and deleted["diff"]["after"] == ""
    assert sets(cluster, level) == {}
    gone = cluster.unchanged(MODULE, diff=True, **scope(level), name="web", state="absent")
    assert gone["before"] is None and gone["after"] is None


@ALL_LEVELS
def test_empty_set_and_entries_left_alone(cluster: ModuleRunner, level: str) -> None:
    path = f"{base(level)}/ipset"
    created = cluster.ok(MODULE, **scope(level), name="empty")
    assert created["commands"] == [f"POST {path} name=empty"]
    assert created["after"] == {"name": "empty", "entries": []}
    cluster.unchanged(MODULE, **scope(level), name="empty")
    # Without entries the module manages the set and its comment only.
    cluster.api().post(f"{path}/empty", cidr="10.1.0.0/16")
    result = cluster.ok(MODULE, **scope(level), name="empty", comment="later")
    assert result["commands"] == [f"POST {path} name=empty rename=empty comment=later"]
    assert result["after"] == {"name": "empty", "comment": "later", "entries": ["10.1.0.0/16"]}
    # No comment given: the comment stays; an empty one removes it.
    cluster.unchanged(MODULE, **scope(level), name="empty", entries=["10.1.0.0/16"])
    cleared = cluster.ok(MODULE, **scope(level), name="empty", comment="")
    assert cleared["commands"] == [f"POST {path} name=empty rename=empty comment=''"]
    assert sets(cluster, level) == {"empty": None}
    # entries: [] with purge empties the set.
    emptied = cluster.ok(MODULE, **scope(level), name="empty", entries=[])
    assert emptied["commands"] == [f"DELETE {path}/empty/10.1.0.0/16"]
    assert entries(cluster, level, "empty") == []


@ALL_LEVELS
def test_purge_false_adds_and_updates_only(cluster: ModuleRunner, level: str) -> None:
    path = f"{base(level)}/ipset"
    cluster.ok(MODULE, **scope(level), name="mixed", entries=["10.0.0.0/8", "192.0.2.1"])
    args = {**scope(level), "name": "mixed", "purge": False, "entries": ["198.51.100.0/24", {"cidr": "192.0.2.1", "comment": "gw"}]}
    seq = cluster.seq()
    check = cluster.ok(MODULE, check=True, **args)
    assert cluster.writes_since(seq) == []
    result = cluster.ok(MODULE, **args)
    assert result["commands"] == check["commands"] == [f"PUT {path}/mixed/192.0.2.1 nomatch=0 comment=gw", f"POST {path}/mixed cidr=198.51.100.0/24"]
    assert result["after"]["entries"] == ["10.0.0.0/8", {"cidr": "192.0.2.1", "comment": "gw"}, "198.51.100.0/24"]
    assert entries(cluster, level, "mixed") == ["10.0.0.0/8", "192.0.2.1 # gw", "198.51.100.0/24"]
    cluster.unchanged(MODULE, **args)
    # purge (the default) then removes what is not listed
    purged = cluster.ok(MODULE, **{**args, "purge": True})
    assert purged["commands"] == [f"DELETE {path}/mixed/10.0.0.0/8"]


@ALL_LEVELS
def test_aggregate_merges_plain_entries(cluster: ModuleRunner, level: str) -> None:
    listed = [
        "10.0.0.0/25",
        "10.0.0.128/25",  # with the one above: 10.0.0.0/24
        "10.0.1.0/24",  # and with that: 10.0.0.0/23
        "10.0.0.77",  # inside: gone
        "172.16.0.0/12",
        "!172.16.5.0/24",  # nomatch: kept as listed
        "172.16.5.0/25",  # inside the nomatch network: kept, it wins over the nomatch entry there
        "172.16.5.128/25",
        {"cidr": "192.0.2.0/24", "comment": "office"},  # commented: kept
        "192.0.2.0/25",  # not merged into the commented entry
        "2001:db8::/33",
        "2001:db8:8000::/33",  # with the one above: 2001:db8::/32
    ]
    args = {**scope(level), "name": "feed", "aggregate": True, "entries": listed}
    result = cluster.ok(MODULE, diff=True, **args)
    merged = [
        "10.0.0.0/23",
        "172.16.0.0/12",
        "!172.16.5.0/24",
        "172.16.5.0/25",
        "172.16.5.128/25",
        {"cidr": "192.0.2.0/24", "comment": "office"},
        "192.0.2.0/25",
        "2001:db8::/32",
    ]
    assert result["after"]["entries"] == merged
    assert len(result["commands"]) == 1 + len(merged)
    assert entries(cluster, level, "feed") == [
        "10.0.0.0/23",
        "172.16.0.0/12",
        "!172.16.5.0/24",
        "172.16.5.0/25",
        "172.16.5.128/25",
        "192.0.2.0/24 # office",
        "192.0.2.0/25",
        "2001:db8::/32",
    ]
    cluster.unchanged(MODULE, **args)
    # Without aggregate the same list is written as listed (and 10.0.0.77 is its own entry).
    plain = cluster.ok(MODULE, check=True, **{**args, "aggregate": False})
    assert f"POST {base(level)}/ipset/feed cidr=10.0.0.77" in plain["commands"]


@ALL_LEVELS
def test_mixed_case_names_are_lowercased(cluster: ModuleRunner, level: str) -> None:
    path = f"{base(level)}/ipset"
    created = cluster.ok(MODULE, **scope(level), name="WebSet", entries=["192.0.2.1"])
    assert created["commands"] == [f"POST {path} name=webset", f"POST {path}/webset cidr=192.0.2.1"]
    assert created["after"]["name"] == "webset"
    assert sets(cluster, level) == {"webset": None}
    cluster.unchanged(MODULE, **scope(level), name="WEBSET", entries=["192.0.2.1"])
    cluster.unchanged(MODULE, **scope(level), name="webset", entries=["192.0.2.1"])
    deleted = cluster.ok(MODULE, **scope(level), name="WebSet", state="absent")
    assert deleted["commands"] == [f"DELETE {path}/webset force=1"]
    assert sets(cluster, level) == {}


@ALL_LEVELS
def test_alias_entries(cluster: ModuleRunner, level: str) -> None:
    api = cluster.api()
    api.post("/cluster/firewall/aliases", name="Office", cidr="198.51.100.0/24")
    if level != "cluster":
        api.post(f"{base(level)}/aliases", name="db", cidr="10.0.0.5")
    listed = ["OFFICE", "dc/office"] + (["db", "!guest/db"] if level != "cluster" else [])
    result = cluster.ok(MODULE, **scope(level), name="named", entries=listed)
    expected = ["office", "dc/office"] + (["db", "!guest/db"] if level != "cluster" else [])
    assert sorted(result["commands"][1:]) == sorted(
        f"POST {base(level)}/ipset/named cidr={cidr.lstrip('!')}" + (" nomatch=1" if cidr.startswith("!") else "") for cidr in expected
    )
    cluster.unchanged(MODULE, **scope(level), name="named", entries=listed)
    # an alias entry counts as its name: it is never merged
    cluster.unchanged(MODULE, **scope(level), name="named", entries=listed, aggregate=True)


def test_guest_alias_is_not_found_at_the_datacenter(cluster: ModuleRunner) -> None:
    cluster.api().post("/nodes/pve1/qemu/100/firewall/aliases", name="db", cidr="10.0.0.5")
    result = cluster.fails(MODULE, name="named", entries=["db"])
    assert "entries[0]: cidr='db': no such alias 'db'" in result["msg"]
    result = cluster.fails(MODULE, name="named", entries=["guest/db"])
    assert "entries[0]: cidr='guest/db': no such alias 'db'" in result["msg"]


# --------------------------------------------------------------------------------------------
# Refused deletes


def test_refused_delete_of_a_datacenter_set_in_use(cluster: ModuleRunner) -> None:
    api = cluster.api()
    cluster.ok(MODULE, name="admins", entries=["192.0.2.0/24"])
    uses = [
        ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "+admins"}, "cluster rules[0] (source '+admins')"),
        ("/nodes/pve2/firewall/rules", {"type": "in", "action": "ACCEPT", "dest": "+dc/admins"}, "node pve2 rules[0] (dest '+dc/admins')"),
        ("/nodes/pve1/qemu/100/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "+admins"}, "vm 100 rules[0] (source '+admins')"),
        ("/nodes/pve1/lxc/200/firewall/rules", {"type": "out", "action": "DROP", "dest": "+dc/admins"}, "ct 200 rules[0] (dest '+dc/admins')"),
        ("/cluster/sdn/vnets/vnet1/firewall/rules", {"type": "forward", "action": "ACCEPT", "source": "+admins"}, "vnet vnet1 rules[0] (source '+admins')"),
    ]
    api.post("/cluster/firewall/groups", group="webgrp")
    uses.append(
        ("/cluster/firewall/groups/webgrp", {"type": "in", "action": "ACCEPT", "source": "+admins"}, "security group 'webgrp' rules[0] (source '+admins')")
    )
    for path, params, _where in uses:
        api.post(path, enable=1, **params)
    for check in (True, False):
        seq = cluster.seq()
        result = cluster.run(MODULE, check=check, name="admins", state="absent")
        assert result.get("failed") is True
        assert cluster.writes_since(seq) == []
        assert "ipset 'admins' of cluster is still used by 6 rules" in result["msg"]
        assert sorted(result["used_by"]) == sorted(where for _path, _params, where in uses)
    assert "admins" in sets(cluster, "cluster")
    # Once every use is gone, the set goes.
    for path, _params, _where in uses:
        api.delete(f"{path}/0")
    cluster.ok(MODULE, name="admins", state="absent")
    assert sets(cluster, "cluster") == {}


def test_guest_rules_with_their_own_set_do_not_hold_the_datacenter_set(cluster: ModuleRunner) -> None:
    api = cluster.api()
    cluster.ok(MODULE, name="web", entries=["192.0.2.1"])
    cluster.ok(MODULE, level="vm", vmid=100, name="web", entries=["10.0.0.1"])
    # '+web' at VM 100 means the VM's own set, '+guest/web' too
    api.post("/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", source="+web", enable=1)
    api.post("/nodes/pve1/qemu/100/firewall/rules", type="in", action="ACCEPT", source="+guest/web", enable=1)
    result = cluster.fails(MODULE, level="vm", vmid=100, name="web", state="absent")
    assert result["used_by"] == ["vm 100 rules[0] (source '+guest/web')", "vm 100 rules[1] (source '+web')"]
    deleted = cluster.ok(MODULE, name="web", state="absent")
    assert deleted["changed"] is True
    assert sets(cluster, "cluster") == {}


@pytest.mark.parametrize("level", ["vm", "ct"])
def test_refused_delete_of_a_guest_set_in_use(cluster: ModuleRunner, level: str) -> None:
    cluster.ok(MODULE, **scope(level), name="backends", entries=["10.0.0.10"])
    cluster.api().post(f"{base(level)}/rules", type="out", action="ACCEPT", dest="+backends", enable=1)
    # the datacenter's set of the same name and its rules do not hold the guest's set
    cluster.ok(MODULE, name="backends", entries=["192.0.2.10"])
    cluster.api().post("/cluster/firewall/rules", type="in", action="ACCEPT", source="+backends", enable=1)
    cluster.api().post(f"{base(level)}/rules", type="out", action="ACCEPT", dest="+dc/backends", enable=1)
    result = cluster.fails(MODULE, **scope(level), name="backends", state="absent")
    label = f"{level} {scope(level)['vmid']}"
    assert result["msg"].startswith(f"ipset 'backends' of {label} is still used by 1 rule: {label} rules[1] (dest '+backends')")
    assert "backends" in sets(cluster, level)


# --------------------------------------------------------------------------------------------
# Bad input: a message naming field and value, nothing written


BAD_INPUTS = [
    pytest.param({"entries": ["10.0.0.300"]}, "entries[0]: cidr='10.0.0.300': value does not look like a valid IP address or CIDR network", id="bad-cidr"),
    pytest.param({"entries": ["10.0.0.1", "10.0.0.0/0"]}, "entries[1]: cidr='10.0.0.0/0': a zero prefix is not allowed in ipset entries", id="zero-prefix"),
    pytest.param({"entries": ["::/0"]}, "entries[0]: cidr='::/0': a zero prefix is not allowed in ipset entries", id="zero-prefix-v6"),
    pytest.param({"name": "1web"}, "ipset: name='1web': invalid ipset name '1web'", id="bad-name"),
    pytest.param({"name": "w" * 65}, "ipset: name='" + "w" * 65 + "': ipset name too long", id="long-name"),
    pytest.param({"entries": ["nosuchalias"]}, "entries[0]: cidr='nosuchalias': no such alias 'nosuchalias'", id="unknown-alias"),
    pytest.param({"entries": [{"cidr": "10.0.0.1", "nomath": True}]}, "entries[0]: nomath=True: unknown ipset entry key 'nomath'", id="unknown-key"),
    pytest.param({"entries": [{"comment": "x"}]}, "entries[0]: cidr=None: missing property", id="missing-cidr"),
    pytest.param({"entries": [{"cidr": "10.0.0.1", "nomatch": "maybe"}]}, "entries[0]: nomatch='maybe': nomatch must be a boolean", id="bad-nomatch"),
    pytest.param({"entries": ["10.0.0.1", "10.0.0.1/32"]}, "entries[1]: cidr='10.0.0.1/32': duplicate ipset entry for '10.0.0.1'", id="duplicate"),
    pytest.param({"entries": [17]}, "entries[0]: ipset entry=17: a ipset entry must be a mapping", id="not-an-entry"),
    pytest.param({"comment": "two\nlines"}, "ipset: comment='two\\nlines': comment cannot contain line breaks", id="comment-newline"),
]


@ALL_LEVELS
@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_fails_naming_field_and_value(cluster: ModuleRunner, level: str, args: dict[str, Any], message: str) -> None:
    result = cluster.fails(MODULE, **{**scope(level), "name": "web", **args})
    assert message in result["msg"]
    assert sets(cluster, level) == {}


def test_every_problem_is_reported_at_once(cluster: ModuleRunner) -> None:
    cluster.ok(MODULE, name="keep", entries=["192.0.2.1"])
    result = cluster.fails(MODULE, name="keep", entries=["10.0.0.1", "bad/8", "10.0.0.0/0", {"cidr": "10.0.0.2", "x": 1}])
    assert result["msg"].startswith("3 validation errors")
    assert [(error["location"], error["field"], error["value"]) for error in result["errors"]] == [
        ("entries[3]", "x", 1),
        ("entries[1]", "cidr", "bad/8"),
        ("entries[2]", "cidr", "10.0.0.0/0"),
    ]
    assert entries(cluster, "cluster", "keep") == ["192.0.2.1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"level": "node", "node": "pve1"}, "level: 'node' is not supported here (supported: cluster, vm, ct)"),
        ({"level": "vnet", "vnet": "vnet1"}, "level: 'vnet' is not supported here (supported: cluster, vm, ct)"),
        ({"level": "vm", "vmid": 200}, "vmid 200 is a lxc guest: use level: ct"),
        ({"level": "vm", "vmid": 999}, "vmid 999: no such guest"),
        ({"level": "cluster", "vmid": 100}, "vmid cannot be used with level: cluster"),
    ],
)
def test_bad_scope(cluster: ModuleRunner, args: dict[str, Any], message: str) -> None:
    result = cluster.fails(MODULE, name="web", entries=["10.0.0.1"], **args)
    assert message in result["msg"]


# --------------------------------------------------------------------------------------------
# Large sets: one read, only the difference written


def _one_percent_changed(addresses: list[str]) -> list[Any]:
    """1% of a set changed: 0.4% dropped, 0.4% new, 0.2% turned nomatch."""
    count = len(addresses)
    dropped, flipped = count * 4 // 1000, count * 2 // 1000
    wanted: list[Any] = addresses[dropped:]
    wanted[:flipped] = ["!" + address for address in wanted[:flipped]]
    return wanted + [f"172.16.{index >> 8}.{index & 255}" for index in range(dropped)]


def _seed(cluster: ModuleRunner, count: int) -> list[str]:
    addresses = [f"10.{index >> 16}.{(index >> 8) & 255}.{index & 255}" for index in range(count)]
    cluster.control.write_file("firewall/cluster.fw", "[IPSET big]\n\n" + "\n".join(addresses) + "\n")
    assert len(cluster.api().get("/cluster/firewall/ipset/big")) == count
    return addresses


def test_a_50000_entry_set_plans_only_the_difference(cluster: ModuleRunner) -> None:
    """Planned in check mode: carrying out 500 writes on a 50,000-line file costs the emulator
    (like PVE) a whole-file rewrite per write, minutes that prove nothing more than the
    5,000-entry run below."""
    wanted = _one_percent_changed(_seed(cluster, 50_000))
    seq = cluster.seq()
    result = cluster.ok(MODULE, check=True, name="big", entries=wanted)
    assert cluster.writes_since(seq) == []
    assert len(result["commands"]) == 500
    assert methods_of(result["commands"]) == {"DELETE": 200, "PUT": 100, "POST": 200}
    reads = [entry for entry in cluster.requests_since(seq) if entry["method"] == "GET" and entry["path"].endswith("/ipset/big")]
    assert len(reads) == 1  # one read of the entries, none per entry


def test_a_large_set_writes_only_the_difference(cluster: ModuleRunner) -> None:
    count = 5_000
    wanted = _one_percent_changed(_seed(cluster, count))
    seq = cluster.seq()
    result = cluster.ok(MODULE, name="big", entries=wanted)
    writes = cluster.writes_since(seq)
    assert len(writes) == len(result["commands"]) == 50
    assert methods(writes).count("DELETE") == 20
    assert methods(writes).count("PUT") == 10
    assert methods(writes).count("POST") == 20
    stored = cluster.api().get("/cluster/firewall/ipset/big")
    assert len(stored) == count
    assert sum(1 for item in stored if item.get("nomatch")) == 10
    cluster.unchanged(MODULE, name="big", entries=wanted)


def methods_of(commands: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for command in commands:
        method = command.split(" ", 1)[0]
        found[method] = found.get(method, 0) + 1
    return found


# --------------------------------------------------------------------------------------------
# Writes that fail half-way


def test_a_failed_write_reports_what_was_done_and_a_rerun_converges(cluster: ModuleRunner) -> None:
    args = {"name": "web", "entries": ["192.0.2.1", "192.0.2.2", "192.0.2.3"], "parallel": 1}
    cluster.control.arm_fault(action="error", nth=3, on="write", status=500, message="disk full")
    result = cluster.run(MODULE, **args)
    assert result.get("failed") is True
    assert "disk full" in result["msg"] and "after 2 successful writes" in result["msg"]
    assert result["commands"] == ["POST /cluster/firewall/ipset name=web", "POST /cluster/firewall/ipset/web cidr=192.0.2.1"]
    rerun = cluster.ok(MODULE, **args)
    assert rerun["commands"] == ["POST /cluster/firewall/ipset/web cidr=192.0.2.2", "POST /cluster/firewall/ipset/web cidr=192.0.2.3"]
    cluster.unchanged(MODULE, **args)


def test_a_failed_write_among_parallel_ones_names_every_write_made_and_a_rerun_converges(cluster: ModuleRunner) -> None:
    wanted = [f"192.0.2.{index}" for index in range(1, 13)]
    cluster.ok(MODULE, name="web", entries=[])
    cluster.control.arm_fault(action="error", nth=4, on="write", status=500, message="disk full")
    result = cluster.run(MODULE, name="web", entries=wanted, parallel=4)
    assert result.get("failed") is True and "disk full" in result["msg"]
    made = sorted(command.rsplit("cidr=", 1)[1] for command in result["commands"])
    assert f"after {len(made)} successful writes" in result["msg"]
    assert made == sorted(entries(cluster, "cluster", "web"))  # exactly the entries PVE holds
    rerun = cluster.ok(MODULE, name="web", entries=wanted, parallel=4)
    assert len(rerun["commands"]) == len(wanted) - len(made)
    assert sorted(entries(cluster, "cluster", "web")) == sorted(wanted)
    cluster.unchanged(MODULE, name="web", entries=wanted)


def test_entry_writes_go_over_parallel_connections_after_the_first(cluster: ModuleRunner) -> None:
    """The first write carries the digest of the read, alone; the others overlap their round
    trips over the connections of ``parallel``; with 1 connection nothing overlaps."""
    cluster.ok(MODULE, name="web", entries=["192.0.2.1"])
    wanted = {4: [f"198.51.100.{index}" for index in range(1, 9)], 1: [f"203.0.113.{index}" for index in range(1, 9)]}
    results, logs = with_4_and_1_connections(cluster, lambda parallel: cluster.ok(MODULE, name="web", entries=wanted[parallel], parallel=parallel))
    writes = {parallel: [entry for entry in logged if entry["method"] != "GET"] for parallel, logged in logs.items()}
    assert len(writes[4]) == len(results[4]["commands"]) == 9 and len(writes[1]) == 16
    head, *rest = writes[4]
    assert head["method"] == "DELETE" and not any(overlaps(head, other) for other in rest)
    assert any_overlap(rest)
    assert not any_overlap(writes[1])
    assert sorted(entries(cluster, "cluster", "web")) == sorted(wanted[1])


@pytest.mark.parametrize("parallel", [0, 17])
def test_a_number_of_connections_out_of_range_is_refused_before_any_request(cluster: ModuleRunner, parallel: int) -> None:
    seq = cluster.seq()
    result = cluster.fails(MODULE, name="web", entries=["192.0.2.1"], parallel=parallel)
    assert f"parallel={parallel}: not a number of connections this module opens" in result["msg"]
    assert cluster.requests_since(seq) == []


def test_a_concurrent_change_is_detected_by_the_digest(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first entry write carries the digest of the entry list read before it: another
    writer that gets in between makes PVE refuse it, and the module reads again and plans anew."""
    cluster.ok(MODULE, name="web", entries=["192.0.2.1", "192.0.2.2"])
    original = FirewallApi.read_entries
    reads: list[int] = []

    def read_then_another_writer(api: FirewallApi, where: Any, name: str) -> Any:
        snapshot = original(api, where, name)
        if not reads:
            cluster.api().post("/cluster/firewall/ipset/web", cidr="192.0.2.3")
        reads.append(1)
        return snapshot

    monkeypatch.setattr(FirewallApi, "read_entries", read_then_another_writer)
    seq = cluster.seq()
    result = cluster.ok(MODULE, name="web", entries=["192.0.2.1"])
    writes = [(entry["method"], entry["status"]) for entry in cluster.writes_since(seq)]
    assert writes == [("POST", 200), ("DELETE", 500), ("DELETE", 200), ("DELETE", 200)]
    assert result["commands"] == ["DELETE /cluster/firewall/ipset/web/192.0.2.2", "DELETE /cluster/firewall/ipset/web/192.0.2.3"]
    assert entries(cluster, "cluster", "web") == ["192.0.2.1"]


# --------------------------------------------------------------------------------------------
# Documentation


def test_examples_run(cluster: ModuleRunner, tmp_path: Path) -> None:
    results = run_examples(cluster, MODULE, tmp_path)
    assert [result["changed"] for result in results] == [True, True, True, True, True]
    assert results[2]["after"]["entries"] == ["198.51.100.0/24", "203.0.113.0/24"]
    assert sets(cluster, "cluster") == {"admins": "admin networks"}
    assert entries(cluster, "vm", "backends") == ["10.0.0.10", "10.0.0.11"]


# -- long sets: the delta instead of before and after -----------------------------------------


def test_a_set_of_more_than_500_entries_returns_its_delta_alone(cluster: ModuleRunner) -> None:
    addresses = _seed(cluster, 501)
    rerun = cluster.unchanged(MODULE, name="big", entries=addresses)
    assert "before" not in rerun and "after" not in rerun
    assert rerun["delta"] == {"added": [], "removed": [], "kept_count": 501, "before_count": 501, "after_count": 501}
    wanted = [*addresses[1:], {"cidr": "172.16.0.1", "comment": "new"}]
    changed = cluster.ok(MODULE, check=True, name="big", entries=wanted)
    assert "before" not in changed and "after" not in changed
    assert changed["delta"] == {
        "added": [{"cidr": "172.16.0.1", "comment": "new"}],
        "removed": [addresses[0]],
        "kept_count": 500,
        "before_count": 501,
        "after_count": 501,
    }


def test_a_set_of_500_entries_returns_before_and_after(cluster: ModuleRunner) -> None:
    addresses = _seed(cluster, 500)
    rerun = cluster.unchanged(MODULE, name="big", entries=addresses)
    assert sorted(rerun["before"]["entries"]) == sorted(rerun["after"]["entries"]) == sorted(addresses)
    assert rerun["delta"] == {"added": [], "removed": [], "kept_count": 500, "before_count": 500, "after_count": 500}


def test_return_full_and_diff_mode_return_a_long_set_whole(cluster: ModuleRunner) -> None:
    addresses = _seed(cluster, 501)
    full = cluster.unchanged(MODULE, name="big", entries=addresses, return_full=True)
    shown = cluster.unchanged(MODULE, diff=True, name="big", entries=addresses)
    for result in (full, shown):
        assert len(result["before"]["entries"]) == len(result["after"]["entries"]) == 501
    assert shown["diff"]["before"] == shown["diff"]["after"] and shown["diff"]["after"].count("\n10.") == 501


def test_a_new_set_has_no_count_before_and_a_deleted_one_none_after(cluster: ModuleRunner) -> None:
    created = cluster.ok(MODULE, name="web", entries=["192.0.2.0/24"])
    assert created["before"] is None
    assert created["delta"] == {"added": ["192.0.2.0/24"], "removed": [], "kept_count": 0, "before_count": None, "after_count": 1}
    deleted = cluster.ok(MODULE, name="web", state="absent")
    assert deleted["after"] is None
    assert deleted["delta"] == {"added": [], "removed": ["192.0.2.0/24"], "kept_count": 0, "before_count": 1, "after_count": None}
