"""A guest's ``nic_firewall`` in a tree: one flag for all NICs, or the flag per NIC key (the
shape firewall_info returns with ``include: nics``, so that a snapshot restores each NIC)."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Guest, Inventory, Nic, Node
from ansible_collections.pve.firewall.plugins.module_utils._plan.tree import Tree, apply_nic_flags, nic_flag_changes, tree_from_user, unknown_objects

INVENTORY = Inventory(
    {"pve1": Node("pve1", "192.0.2.11")},
    {
        100: Guest(100, "qemu", "pve1", (Nic("net0", "vmbr0", "BC:24:11:00:64:00", firewall=True), Nic("net1", "vmbr1", "BC:24:11:00:64:01"))),
        200: Guest(200, "lxc", "pve1", (Nic("net0", "vmbr0", "BC:24:11:00:C8:00"),)),
        300: Guest(300, "qemu", "pve1"),  # no network device
    },
)


def flags(inventory: Inventory, vmid: int) -> dict[str, bool]:
    return {nic.name: nic.firewall for nic in inventory.guests[vmid].nics}


def parsed(guests: dict[str, Any]) -> Tree:
    tree, errors = tree_from_user({"guests": guests})
    assert errors == []
    return tree


def test_a_mapping_sets_each_nic_it_names_and_leaves_the_others() -> None:
    tree = parsed({"100": {"nic_firewall": {"net1": True}}, "200": {"nic_firewall": {"net0": False}}})
    assert tree.nic_firewall == {100: {"net1": True}, 200: {"net0": False}}
    after = apply_nic_flags(INVENTORY, tree)
    assert flags(after, 100) == {"net0": True, "net1": True}  # net0 not named: kept on
    assert flags(after, 200) == {"net0": False}
    assert nic_flag_changes(INVENTORY, tree) == [100]  # 200's net0 is off already


def test_the_mapping_firewall_info_returns_changes_nothing() -> None:
    tree = parsed({"100": {"nic_firewall": {"net0": True, "net1": False}}, "200": {"nic_firewall": {"net0": False}}, "300": {"nic_firewall": {}}})
    assert nic_flag_changes(INVENTORY, tree) == []
    assert apply_nic_flags(INVENTORY, tree) == INVENTORY


def test_a_mapping_restores_flags_exactly_in_both_directions() -> None:
    changed = apply_nic_flags(INVENTORY, parsed({"100": {"nic_firewall": {"net0": False, "net1": True}}}))
    assert flags(changed, 100) == {"net0": False, "net1": True}
    snapshot = parsed({"100": {"nic_firewall": {"net0": True, "net1": False}}})
    assert nic_flag_changes(changed, snapshot) == [100]
    assert apply_nic_flags(changed, snapshot) == INVENTORY


def test_a_boolean_still_means_every_nic() -> None:
    tree = parsed({"100": {"nic_firewall": True}, "300": {"nic_firewall": True}})
    after = apply_nic_flags(INVENTORY, tree)
    assert flags(after, 100) == {"net0": True, "net1": True}
    assert nic_flag_changes(INVENTORY, tree) == [100]  # 300 has no NIC to change


@pytest.mark.parametrize(
    ("value", "location", "field", "message"),
    [
        pytest.param("yes", "tree.guests.100", "nic_firewall", "nic_firewall must be a boolean or a mapping", id="string"),
        pytest.param({"eth0": True}, "tree.guests.100.nic_firewall", "eth0", "'eth0' is not a network device key", id="bad-key"),
        pytest.param({"net0": "on"}, "tree.guests.100.nic_firewall", "net0", "must be a boolean", id="bad-flag"),
    ],
)
def test_a_bad_value_is_named_by_its_place_in_the_tree(value: object, location: str, field: str, message: str) -> None:
    tree, errors = tree_from_user({"guests": {"100": {"nic_firewall": value, "options": {"enable": True}}}})
    assert [(error.location, error.field) for error in errors] == [(location, field)]
    assert message in errors[0].message
    assert tree.nic_firewall == {} and 100 in tree.guests  # the rest of the guest is still read


def test_a_nic_the_guest_does_not_have_is_an_error_naming_it() -> None:
    tree = parsed({"100": {"nic_firewall": {"net0": True, "net7": False}}, "300": {"nic_firewall": {"net0": True}}})
    errors = unknown_objects(tree, INVENTORY, (), "changes")
    assert [str(error) for error in errors] == [
        "changes.guests.100.nic_firewall: net7=False: guest 100 has no network device net7 (accepted: net0, net1)",
        "changes.guests.300.nic_firewall: net0=True: guest 300 has no network device net0 (accepted: none)",
    ]


def test_an_unknown_guest_is_named_once() -> None:
    errors = unknown_objects(parsed({"999": {"nic_firewall": {"net0": True}}}), INVENTORY, ())
    assert [error.location for error in errors] == ["tree.guests.999"]
