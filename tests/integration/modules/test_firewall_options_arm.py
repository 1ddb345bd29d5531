"""firewall_options ``arm_auto_revert``: the datacenter firewall on with PVE's 60-second
auto-revert, left unconfirmed so that a rollout can verify access before it confirms."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import ModuleRunner, methods

MODULE = "firewall_options"


def cluster_enable(runner: ModuleRunner) -> int:
    return int(runner.api().get("/cluster/firewall/options").get("enable", 0))


def test_arming_stores_a_timestamp_that_expires_unless_confirmed(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    armed = cluster.ok(MODULE, level="cluster", arm_auto_revert=True)
    assert armed["changed"] is True and methods(cluster.writes_since(seq)) == ["PUT"]
    assert cluster.writes_since(seq)[0]["path"] == "/cluster/firewall/options"
    stamp = cluster_enable(cluster)
    assert stamp > 1  # PVE stored the time, not the value
    rearmed = cluster.ok(MODULE, level="cluster", arm_auto_revert=True)
    assert rearmed["changed"] is True  # every run writes a fresh timestamp
    cluster.control.advance_clock(61)
    assert cluster_enable(cluster) == 0  # reverted by itself
    cluster.ok(MODULE, level="cluster", arm_auto_revert=True)
    confirmed = cluster.ok(MODULE, level="cluster", options={"enable": True}, auto_revert=False)
    assert confirmed["changed"] is True and confirmed["before"]["enable"] > 1 and confirmed["after"]["enable"] == 1
    cluster.control.advance_clock(61)
    assert cluster_enable(cluster) == 1  # confirmed: stays on
    cluster.control.reset_clock()


def test_arming_in_check_mode_writes_nothing(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    result = cluster.ok(MODULE, check=True, level="cluster", arm_auto_revert=True, options={"policy_in": "DROP"})
    assert result["changed"] is True
    assert len(result["commands"]) == 1 and "enable=2" in result["commands"][0] and "policy_in=DROP" in result["commands"][0], result["commands"]
    assert cluster.writes_since(seq) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"level": "node", "node": "pve1"}, "only valid at level cluster (level is node)"),
        ({"level": "cluster", "options": {"enable": True}}, "cannot be combined with enable"),
        ({"level": "cluster", "reset": ["enable"]}, "cannot be combined with enable"),
    ],
)
def test_bad_arming_fails_before_any_write(cluster: ModuleRunner, args: dict[str, Any], expected: str) -> None:
    result = cluster.fails(MODULE, arm_auto_revert=True, **args)
    assert "arm_auto_revert" in result["msg"] and expected in result["msg"]
