"""alias against the TLS emulator: one alias at the datacenter and at guests.

Aliases are seeded and inspected through the raw API (``cluster.api()``), so what the module
writes is judged by what PVE holds; writes are counted from the emulator's request log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SET_LEVELS, ModuleRunner, methods, run_examples

from ansible_collections.pve.firewall.plugins.module_utils._api.service import FirewallApi

MODULE = "alias"

LEVELS = SET_LEVELS
ALL_LEVELS = pytest.mark.parametrize("level", list(LEVELS))


def scope(level: str) -> dict[str, Any]:
    return dict(LEVELS[level][0])


def base(level: str) -> str:
    return LEVELS[level][1]


def aliases(cluster: ModuleRunner, level: str) -> list[tuple[str, str, str | None]]:
    """(name, cidr, comment) of every alias at the level, as PVE holds them."""
    return [(item["name"], item["cidr"], item.get("comment")) for item in cluster.api().get(f"{base(level)}/aliases")]


# --------------------------------------------------------------------------------------------
# The whole life of an alias


@ALL_LEVELS
def test_create_change_delete(cluster: ModuleRunner, level: str) -> None:
    path = f"{base(level)}/aliases"
    args = {**scope(level), "name": "monitoring", "cidr": "192.0.2.10/32", "comment": "prometheus"}

    # check mode: the call, nothing written
    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, diff=True, **args)
    assert planned["changed"] is True
    assert planned["commands"] == [f"POST {path} name=monitoring cidr=192.0.2.10 comment=prometheus"]
    assert planned["before"] is None
    assert planned["after"] == {"name": "monitoring", "cidr": "192.0.2.10", "comment": "prometheus"}
    assert cluster.writes_since(seq) == []
    assert aliases(cluster, level) == []

    # create, with diff
    created = cluster.ok(MODULE, diff=True, **args)
    assert created["changed"] is True
    assert created["commands"] == planned["commands"]
    assert created["diff"] == {"before": "", "after": "[ALIASES]\n\nmonitoring 192.0.2.10 # prometheus\n\n"}
    assert aliases(cluster, level) == [("monitoring", "192.0.2.10", "prometheus")]

    # rerun, also spelled /32-less: nothing to do
    unchanged = cluster.unchanged(MODULE, diff=True, **args)
    assert unchanged["before"] == unchanged["after"] == created["after"]
    cluster.unchanged(MODULE, **{**args, "cidr": "192.0.2.10"})

    # change the address: one PUT that keeps the comment
    moved = {**scope(level), "name": "monitoring", "cidr": "192.0.2.20"}
    seq = cluster.seq()
    check = cluster.ok(MODULE, check=True, **moved)
    assert cluster.writes_since(seq) == []
    changed = cluster.ok(MODULE, diff=True, **moved)
    assert changed["commands"] == check["commands"] == [f"PUT {path}/monitoring cidr=192.0.2.20 comment=prometheus"]
    assert methods(cluster.writes_since(seq)) == ["PUT"]
    assert changed["diff"] == {
        "before": "[ALIASES]\n\nmonitoring 192.0.2.10 # prometheus\n\n",
        "after": "[ALIASES]\n\nmonitoring 192.0.2.20 # prometheus\n\n",
    }
    assert aliases(cluster, level) == [("monitoring", "192.0.2.20", "prometheus")]
    cluster.unchanged(MODULE, **moved)

    # change the comment, then remove it
    commented = cluster.ok(MODULE, **moved, comment="grafana too")
    assert commented["commands"] == [f"PUT {path}/monitoring cidr=192.0.2.20 comment='grafana too'"]
    cleared = cluster.ok(MODULE, **moved, comment="")
    assert cleared["commands"] == [f"PUT {path}/monitoring cidr=192.0.2.20 comment=''"]
    assert cleared["after"] == {"name": "monitoring", "cidr": "192.0.2.20"}
    assert aliases(cluster, level) == [("monitoring", "192.0.2.20", None)]

    # IPv6, host bits kept as PVE keeps them
    six = cluster.ok(MODULE, **scope(level), name="monitoring", cidr="2001:DB8::10/64")
    assert six["commands"] == [f"PUT {path}/monitoring cidr=2001:db8::10/64 comment=''"]
    cluster.unchanged(MODULE, **scope(level), name="monitoring", cidr="2001:db8:0::10/64")

    # delete: check mode, then for real, then a rerun
    seq = cluster.seq()
    planned = cluster.ok(MODULE, check=True, diff=True, **scope(level), name="monitoring", state="absent")
    assert planned["commands"] == [f"DELETE {path}/monitoring"]
    assert planned["after"] is None and planned["diff"]["after"] == ""
    assert cluster.writes_since(seq) == []
    deleted = cluster.ok(MODULE, diff=True, **scope(level), name="monitoring", state="absent")
    assert deleted["changed"] is True
    assert deleted["before"] == {"name": "monitoring", "cidr": "2001:db8::10/64"}
    assert deleted["diff"] == {"before": "[ALIASES]\n\nmonitoring 2001:db8::10/64\n\n", "after": ""}
    assert aliases(cluster, level) == []
    gone = cluster.unchanged(MODULE, **scope(level), name="monitoring", state="absent")
    assert gone["before"] is None and gone["after"] is None


@ALL_LEVELS
def test_other_aliases_are_left_alone(cluster: ModuleRunner, level: str) -> None:
    api = cluster.api()
    api.post(f"{base(level)}/aliases", name="alpha", cidr="10.0.0.1")
    api.post(f"{base(level)}/aliases", name="omega", cidr="10.0.0.2")
    cluster.ok(MODULE, **scope(level), name="middle", cidr="10.0.0.3")
    cluster.ok(MODULE, **scope(level), name="middle", state="absent")
    assert aliases(cluster, level) == [("alpha", "10.0.0.1", None), ("omega", "10.0.0.2", None)]


@ALL_LEVELS
def test_names_are_case_insensitive(cluster: ModuleRunner, level: str) -> None:
    path = f"{base(level)}/aliases"
    created = cluster.ok(MODULE, **scope(level), name="WebProxy", cidr="10.0.0.8")
    assert created["commands"] == [f"POST {path} name=WebProxy cidr=10.0.0.8"]
    assert aliases(cluster, level) == [("WebProxy", "10.0.0.8", None)]
    # Another spelling is the same alias, and it keeps the spelling it was created with.
    same = cluster.unchanged(MODULE, **scope(level), name="webproxy", cidr="10.0.0.8")
    assert same["after"]["name"] == "WebProxy"
    changed = cluster.ok(MODULE, **scope(level), name="WEBPROXY", cidr="10.0.0.9")
    assert changed["commands"] == [f"PUT {path}/WebProxy cidr=10.0.0.9 comment=''"]
    assert aliases(cluster, level) == [("WebProxy", "10.0.0.9", None)]
    deleted = cluster.ok(MODULE, **scope(level), name="webPROXY", state="absent")
    assert deleted["commands"] == [f"DELETE {path}/WebProxy"]
    assert aliases(cluster, level) == []


# --------------------------------------------------------------------------------------------
# Refused deletes


def test_refused_delete_of_a_datacenter_alias_in_use(cluster: ModuleRunner) -> None:
    api = cluster.api()
    cluster.ok(MODULE, name="Office", cidr="198.51.100.0/24")
    api.post("/cluster/firewall/groups", group="webgrp")
    api.post("/cluster/firewall/ipset", name="admins")
    api.post("/nodes/pve1/qemu/100/firewall/ipset", name="local")
    uses = [
        ("/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "office"}, "cluster rules[0] (source 'office')"),
        ("/cluster/firewall/groups/webgrp", {"type": "in", "action": "ACCEPT", "source": "dc/office"}, "security group 'webgrp' rules[0] (source 'dc/office')"),
        ("/nodes/pve3/firewall/rules", {"type": "out", "action": "ACCEPT", "dest": "OFFICE"}, "node pve3 rules[0] (dest 'office')"),
        ("/nodes/pve1/lxc/200/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "office"}, "ct 200 rules[0] (source 'office')"),
        ("/cluster/sdn/vnets/vnet2/firewall/rules", {"type": "forward", "action": "ACCEPT", "dest": "office"}, "vnet vnet2 rules[0] (dest 'office')"),
    ]
    entries = [
        ("/cluster/firewall/ipset/admins", {"cidr": "office"}, "cluster ipset 'admins' entry 'office'"),
        ("/nodes/pve1/qemu/100/firewall/ipset/local", {"cidr": "dc/office", "nomatch": 1}, "vm 100 ipset 'local' entry '!dc/office'"),
    ]
    for path, params, _where in uses:
        api.post(path, enable=1, **params)
    for path, params, _where in entries:
        api.post(path, **params)
    expected = sorted(where for _path, _params, where in uses + entries)
    for check in (True, False):
        result = cluster.fails(MODULE, check=check, name="office", state="absent")
        assert "alias 'Office' of cluster is still used by 7 rules or ipset entries" in result["msg"]
        assert sorted(result["used_by"]) == expected
    assert aliases(cluster, "cluster") == [("Office", "198.51.100.0/24", None)]
    # Once every use is gone, the alias goes.
    for path, _params, _where in uses:
        api.delete(f"{path}/0")
    api.delete("/cluster/firewall/ipset/admins/office")
    api.delete("/nodes/pve1/qemu/100/firewall/ipset/local/dc/office")
    cluster.ok(MODULE, name="office", state="absent")
    assert aliases(cluster, "cluster") == []


def test_a_guest_with_its_own_alias_does_not_hold_the_datacenter_alias(cluster: ModuleRunner) -> None:
    api = cluster.api()
    cluster.ok(MODULE, name="db", cidr="192.0.2.5")
    cluster.ok(MODULE, level="vm", vmid=101, name="db", cidr="10.0.0.5")
    # At VM 101, 'db' and 'guest/db' are the VM's own alias
    api.post("/nodes/pve2/qemu/101/firewall/rules", type="in", action="ACCEPT", source="db", enable=1)
    api.post("/nodes/pve2/qemu/101/firewall/rules", type="in", action="ACCEPT", source="guest/db", enable=1)
    result = cluster.fails(MODULE, level="vm", vmid=101, name="db", state="absent")
    assert result["used_by"] == ["vm 101 rules[0] (source 'guest/db')", "vm 101 rules[1] (source 'db')"]
    deleted = cluster.ok(MODULE, name="db", state="absent")
    assert deleted["changed"] is True


@pytest.mark.parametrize("level", ["vm", "ct"])
def test_refused_delete_of_a_guest_alias_in_use(cluster: ModuleRunner, level: str) -> None:
    api = cluster.api()
    cluster.ok(MODULE, **scope(level), name="backend", cidr="10.0.0.10")
    api.post(f"{base(level)}/ipset", name="pool")
    api.post(f"{base(level)}/ipset/pool", cidr="guest/backend")
    api.post(f"{base(level)}/rules", type="out", action="ACCEPT", dest="backend", enable=1)
    result = cluster.fails(MODULE, **scope(level), name="backend", state="absent")
    label = f"{level} {scope(level)['vmid']}"
    assert result["msg"].startswith(f"alias 'backend' of {label} is still used by 2 rules or ipset entries: ")
    assert sorted(result["used_by"]) == sorted([f"{label} rules[0] (dest 'backend')", f"{label} ipset 'pool' entry 'guest/backend'"])
    assert aliases(cluster, level) == [("backend", "10.0.0.10", None)]


# --------------------------------------------------------------------------------------------
# Bad input: a message naming field and value, nothing written

BAD_INPUTS = [
    pytest.param({"cidr": "10.0.0.300"}, "alias: cidr='10.0.0.300': value does not look like a valid IP address or CIDR network", id="bad-cidr"),
    pytest.param({"cidr": "10.0.0.0/33"}, "alias: cidr='10.0.0.0/33': value does not look like a valid IP address or CIDR network", id="bad-prefix"),
    pytest.param({"cidr": "+admins"}, "alias: cidr='+admins': value does not look like a valid IP address or CIDR network", id="ipset-as-cidr"),
    pytest.param({"name": "9lives"}, "alias: name='9lives': invalid alias name '9lives'", id="bad-name"),
    pytest.param({"name": "a"}, "alias: name='a': invalid alias name 'a'", id="short-name"),
    pytest.param({"name": "x" * 65}, "alias: name='" + "x" * 65 + "': alias name too long", id="long-name"),
    pytest.param({"comment": "a\nb"}, "alias: comment='a\\nb': comment cannot contain line breaks", id="comment-newline"),
    pytest.param({"cidr": None}, "state is present but all of the following are missing: cidr", id="missing-cidr"),
]


@ALL_LEVELS
@pytest.mark.parametrize(("args", "message"), BAD_INPUTS)
def test_bad_input_fails_naming_field_and_value(cluster: ModuleRunner, level: str, args: dict[str, Any], message: str) -> None:
    full = {**scope(level), "name": "web", "cidr": "10.0.0.1", **args}
    result = cluster.fails(MODULE, **{key: value for key, value in full.items() if value is not None})
    assert message in result["msg"]
    assert aliases(cluster, level) == []


def test_bad_name_and_cidr_together(cluster: ModuleRunner) -> None:
    result = cluster.fails(MODULE, name="1x", cidr="nowhere")
    assert result["msg"].startswith("2 validation errors")
    assert [(error["field"], error["value"]) for error in result["errors"]] == [("name", "1x"), ("cidr", "nowhere")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"level": "node", "node": "pve1"}, "level: 'node' is not supported here (supported: cluster, vm, ct)"),
        ({"level": "vnet", "vnet": "vnet1"}, "level: 'vnet' is not supported here (supported: cluster, vm, ct)"),
        ({"level": "ct", "vmid": 100}, "vmid 100 is a qemu guest: use level: vm"),
        ({"level": "ct", "vmid": 999}, "vmid 999: no such guest"),
    ],
)
def test_bad_scope(cluster: ModuleRunner, args: dict[str, Any], message: str) -> None:
    result = cluster.fails(MODULE, name="web", cidr="10.0.0.1", **args)
    assert message in result["msg"]


# --------------------------------------------------------------------------------------------
# Concurrent writers


def test_a_concurrent_change_is_detected_by_the_digest(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PUT carries the digest of the list read before it: another writer that gets in
    between makes PVE refuse it, and the module reads again and plans anew."""
    cluster.ok(MODULE, name="web", cidr="10.0.0.1")
    original = FirewallApi.read_aliases
    reads: list[int] = []

    def read_then_another_writer(api: FirewallApi, where: Any) -> Any:
        snapshot = original(api, where)
        if not reads:
            cluster.api().post("/cluster/firewall/aliases", name="other", cidr="10.9.9.9")
        reads.append(1)
        return snapshot

    monkeypatch.setattr(FirewallApi, "read_aliases", read_then_another_writer)
    seq = cluster.seq()
    result = cluster.ok(MODULE, name="web", cidr="10.0.0.2")
    assert [(entry["method"], entry["status"]) for entry in cluster.writes_since(seq)] == [("POST", 200), ("PUT", 500), ("PUT", 200)]
    assert result["commands"] == ["PUT /cluster/firewall/aliases/web cidr=10.0.0.2 comment=''"]
    assert aliases(cluster, "cluster") == [("other", "10.9.9.9", None), ("web", "10.0.0.2", None)]


# --------------------------------------------------------------------------------------------
# Documentation


def test_examples_run(cluster: ModuleRunner, tmp_path: Path) -> None:
    results = run_examples(cluster, MODULE, tmp_path)
    assert [result["changed"] for result in results] == [True, True, True, True]
    assert aliases(cluster, "cluster") == [("monitoring", "192.0.2.20", "prometheus")]
    assert aliases(cluster, "ct") == []
