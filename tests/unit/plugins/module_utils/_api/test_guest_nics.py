"""The firewall flag of a NIC line: only the ``firewall`` part changes, the rest keeps its bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._api.guest_nics import (
    NicLine,
    diff_text,
    nic_call,
    planned_lines,
    pve_printed,
    set_firewall,
    unknown_nics,
)
from ansible_collections.pve.firewall.plugins.module_utils._api.service import Scope
from ansible_collections.pve.firewall.plugins.module_utils._compiler.api_mapping import ApiCall

REALISTIC = "virtio=BC:24:11:00:64:00,bridge=vmbr0,firewall=1,tag=10,rate=12.5,queues=4"


@pytest.mark.parametrize(
    ("line", "on", "off"),
    [
        (REALISTIC, REALISTIC, "virtio=BC:24:11:00:64:00,bridge=vmbr0,tag=10,rate=12.5,queues=4"),
        (
            "virtio=BC:24:11:00:64:00,bridge=vmbr0,rate=10,queues=4",
            "virtio=BC:24:11:00:64:00,bridge=vmbr0,rate=10,queues=4,firewall=1",
            "virtio=BC:24:11:00:64:00,bridge=vmbr0,rate=10,queues=4",
        ),
        (
            "virtio=BC:24:11:00:64:00,firewall=0,bridge=vmbr0",
            "virtio=BC:24:11:00:64:00,firewall=1,bridge=vmbr0",
            "virtio=BC:24:11:00:64:00,firewall=0,bridge=vmbr0",
        ),
        (
            "name=eth0,bridge=vmbr0,firewall=yes,hwaddr=BC:24:11:00:C8:00,ip=dhcp,type=veth",
            "name=eth0,bridge=vmbr0,firewall=yes,hwaddr=BC:24:11:00:C8:00,ip=dhcp,type=veth",
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:C8:00,ip=dhcp,type=veth",
        ),
        ("name=eth0,firewall=off", "name=eth0,firewall=1", "name=eth0,firewall=off"),
        ("e1000,bridge=vmbr1", "e1000,bridge=vmbr1,firewall=1", "e1000,bridge=vmbr1"),
    ],
)
def test_the_flag_is_set_in_place_or_appended_and_removed(line: str, on: str, off: str) -> None:
    assert set_firewall(line, True) == on
    assert set_firewall(line, False) == off
    assert NicLine.parse(on).firewall and not NicLine.parse(off).firewall
    assert set_firewall(on, True) == on and set_firewall(off, False) == off  # idempotent


PART = st.from_regex(r"[a-z_]{1,8}=[A-Za-z0-9:./;-]{1,12}|[a-z0-9]{1,8}", fullmatch=True).filter(lambda part: not part.startswith("firewall="))


@given(st.lists(PART, min_size=1, max_size=8), st.integers(min_value=0, max_value=8), st.sampled_from(["1", "0", "yes", "off"]))
def test_everything_but_the_flag_keeps_its_bytes(parts: list[str], where: int, flag: str) -> None:
    others = list(parts)
    line = ",".join([*others[:where], f"firewall={flag}", *others[where:]])
    for enabled in (True, False):
        changed = NicLine.parse(set_firewall(line, enabled)).parts
        assert [part for part in changed if not part.startswith("firewall=")] == others
        assert NicLine.parse(",".join(changed)).firewall is enabled
    assert set_firewall(",".join(others), False) == ",".join(others)


def test_only_the_named_nics_are_planned_and_one_put_carries_the_changed_ones() -> None:
    lines = {"net0": "virtio=BC:24:11:00:64:00,bridge=vmbr0", "net1": "virtio=BC:24:11:00:64:01,bridge=vmbr1,firewall=1", "net2": "e1000,bridge=vmbr2"}
    after = planned_lines(lines, True, ["net0", "net1"])
    assert after == {**lines, "net0": lines["net0"] + ",firewall=1"}
    scope = Scope("vm", "pve1", 100)
    assert nic_call(scope, lines, after) == ApiCall("PUT", "/nodes/pve1/qemu/100/config", {"net0": lines["net0"] + ",firewall=1"})
    assert nic_call(scope, after, after) is None
    assert planned_lines(lines, False) == {**lines, "net1": "virtio=BC:24:11:00:64:01,bridge=vmbr1"}
    assert unknown_nics(lines, ["net0", "net7", "net9"]) == ["net7", "net9"]


def test_paths_and_diff_text() -> None:
    assert Scope("ct", "pve2", 201).config_path == "/nodes/pve2/lxc/201/config"
    with pytest.raises(ValueError, match="no guest config"):
        assert not Scope("node", "pve1").config_path
    assert diff_text({"net0": "name=eth0,firewall=1"}, "/nodes/pve2/lxc/201/config") == "# /nodes/pve2/lxc/201/config\nnet0: name=eth0,firewall=1\n"
    assert diff_text({}, "/x") == ""
    assert str(ApiCall("PUT", "/nodes/pve1/qemu/100/config", {"net0": REALISTIC})) == f"PUT /nodes/pve1/qemu/100/config net0={REALISTIC}"


@pytest.mark.parametrize(
    ("guest_type", "given", "stored"),
    [
        (
            "qemu",
            "virtio=BC:24:11:00:64:02,bridge=vmbr2,tag=10,rate=12.5,queues=4,firewall=1",
            "virtio=BC:24:11:00:64:02,bridge=vmbr2,firewall=1,queues=4,rate=12.5,tag=10",
        ),
        ("qemu", "bridge=vmbr0,model=e1000,macaddr=BC:24:11:00:64:00,firewall=on", "e1000=BC:24:11:00:64:00,bridge=vmbr0,firewall=1"),
        ("qemu", "virtio,bridge=vmbr0,firewall=1", "virtio,bridge=vmbr0,firewall=1"),  # PVE picks a random MAC: not predicted
        (
            "lxc",
            "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:C8:00,ip=10.0.0.200/24,firewall=1",
            "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:00:C8:00,ip=10.0.0.200/24,type=veth",
        ),
    ],
)
def test_a_line_is_predicted_as_pve_prints_it(guest_type: str, given: str, stored: str) -> None:
    assert pve_printed(given, guest_type) == stored


def test_only_lines_whose_flag_changes_are_reprinted() -> None:
    lines = {"net0": "virtio=BC:24:11:00:64:00,tag=10,bridge=vmbr0", "net1": "virtio=BC:24:11:00:64:01,tag=10,firewall=1"}
    assert planned_lines(lines, True) == {"net0": "virtio=BC:24:11:00:64:00,bridge=vmbr0,firewall=1,tag=10", "net1": lines["net1"]}
