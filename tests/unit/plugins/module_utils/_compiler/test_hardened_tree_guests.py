"""The hardened tree's own checks: every vmid a guest_groups entry names must be a guest."""

from __future__ import annotations

from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.hardened_tree import HardenedSettings, build_hardened_tree

CLUSTER: dict[str, Any] = {
    "nodes": {"pve1": {}},
    "guests": {"100": {"vmid": 100, "tags": ["web"]}, "200": {"vmid": 200, "tags": []}},
}
LIBRARY = {"web": {"rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTP"}]}, "ssh": {"rules": []}}


def settings(*guest_groups: dict[str, Any]) -> HardenedSettings:
    return HardenedSettings(admin_networks=["192.0.2.0/24"], group_library=LIBRARY, guest_groups=guest_groups)


def test_known_vmids_and_tags_build_the_tree() -> None:
    tree = build_hardened_tree(CLUSTER, settings({"groups": ["web"], "vmids": [200]}, {"groups": ["ssh"], "tags": ["web"]}))
    assert sorted(tree["guests"]) == ["100", "200"]


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (({"groups": ["web"], "vmids": [100, 4242]},), "guest_groups entry 1 names vmid 4242, which is not a guest of the cluster"),
        (({"groups": ["web"], "tags": ["web"]}, {"groups": ["ssh"], "vmids": [999]}), "guest_groups entry 2 names vmid 999"),
        (({"groups": ["web"], "vmids": ["100"]},), "vmid '100', which is not a guest of the cluster (write it as a number)"),
    ],
)
def test_a_vmid_the_cluster_does_not_have_is_refused_by_name(entries: tuple[dict[str, Any], ...], expected: str) -> None:
    with pytest.raises(ValueError, match="guest_groups entry") as raised:
        build_hardened_tree(CLUSTER, settings(*entries))
    assert expected in str(raised.value)
    assert "its guests: 100, 200" in str(raised.value)


def test_every_unknown_vmid_is_named_at_once() -> None:
    with pytest.raises(ValueError) as raised:
        build_hardened_tree(CLUSTER, settings({"groups": ["web"], "vmids": [1, 100, 2]}, {"groups": ["ssh"], "vmids": [3]}))
    assert all(f"vmid {vmid}" in str(raised.value) for vmid in (1, 2, 3))
