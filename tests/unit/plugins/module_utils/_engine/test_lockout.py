"""Lockout analysis: which node and port the operator keeps, what decides, and the fix."""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts
from ansible_collections.pve.firewall.plugins.module_utils._engine import test_suite_env as env
from ansible_collections.pve.firewall.plugins.module_utils._engine.lockout import (
    KEPT,
    LOST,
    UNKNOWN,
    Access,
    LockoutReport,
    OperatorView,
    analyse_lockout,
)
from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import Environment, Verdict
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Inventory, Node

TWO_NODES = Inventory(
    {
        "pve1": Node("pve1", "192.0.2.11", "192.0.2.0/24"),
        "pve2": Node("pve2", "192.0.2.12", "192.0.2.0/24"),
    }
)


def report(cluster: str, hosts: dict[str, str] | None = None, clients: tuple[str, ...] = ("198.51.100.5",), **view: object) -> LockoutReport:
    config = config_from_texts(cluster, hosts, inventory=TWO_NODES).config
    return analyse_lockout(config, Environment(TWO_NODES), OperatorView(clients, **view))  # type: ignore[arg-type]


def only(accesses: tuple[Access, ...], node: str, port: int) -> Access:
    return next(access for access in accesses if access.node == node and access.port == port)


def test_disabled_firewall_keeps_everything():
    result = report("[OPTIONS]\nenable: 0\n")
    assert result.ok and len(result.accesses) == 4  # 2 nodes x 2 default ports
    assert {access.status for access in result.accesses} == {KEPT}
    assert result.summary() == "lockout check: 4 of 4 accesses kept."


def test_drop_policy_without_management_loses_access_and_suggests_the_management_ipset():
    result = report("[OPTIONS]\nenable: 1\n")
    assert not result.ok and len(result.lost) == 4
    access = only(result.lost, "pve1", 8006)
    assert access.decided_by.kind == "policy"  # type: ignore[union-attr]
    assert access.fix is not None and access.fix.startswith("add 198.51.100.5 to ipset management")
    assert "set policy_in to ACCEPT" in access.fix


def test_management_ipset_keeps_access():
    result = report("[OPTIONS]\nenable: 1\n[IPSET management]\n198.51.100.0/24\n")
    assert result.ok
    assert "management" in only(result.accesses, "pve2", 22).reason


def test_user_drop_rule_beats_management_and_is_named():
    cluster = (
        "[OPTIONS]\nenable: 1\n[IPSET management]\n198.51.100.0/24\n[RULES]\n"
        "IN ACCEPT -p tcp -dport 443\nIN ACCEPT -p tcp -dport 80\nIN ACCEPT -p tcp -dport 25\nIN DROP -p tcp -dport 22\n"
    )
    result = report(cluster)
    assert [access.port for access in result.lost] == [22, 22]
    assert only(result.accesses, "pve1", 8006).status == KEPT
    fix = only(result.lost, "pve1", 22).fix
    assert fix == "rule 3 (IN DROP -p tcp -dport 22) at cluster level drops it; move it below an ACCEPT for 198.51.100.5 or delete it"


def test_host_rule_affects_only_its_node():
    result = report("[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n", {"pve2": "[RULES]\nIN REJECT -p tcp -dport 8006 -source 198.51.100.0/24\n"})
    assert [(access.node, access.port) for access in result.lost] == [("pve2", 8006)]
    lost = result.lost[0]
    assert lost.verdict.action == "REJECT"
    assert lost.fix is not None and "at host level of node pve2 rejects it" in lost.fix


def test_group_rule_is_named_with_its_reference():
    cluster = "[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n[RULES]\nGROUP lockdown\n[group lockdown]\nIN DROP -p tcp -dport 22\n"
    fix = only(report(cluster).lost, "pve1", 22).fix
    assert fix is not None and "security group 'lockdown'" in fix and "cluster rule 0 (GROUP lockdown)" in fix


def test_blacklisted_client():
    result = report("[OPTIONS]\nenable: 1\npolicy_in: ACCEPT\n[IPSET blacklist]\n198.51.100.0/24\n")
    assert not result.ok
    assert result.lost[0].fix == "remove the entry covering 198.51.100.5 from the cluster ipset blacklist"


def test_non_management_port_fix_is_a_rule():
    result = report("[OPTIONS]\nenable: 1\n[IPSET management]\n198.51.100.0/24\n", ports=(8006,), extra_ports=(8443,))
    assert [access.port for access in result.lost] == [8443, 8443]
    fix = result.lost[0].fix
    assert fix is not None and "IN ACCEPT -source 198.51.100.5 -p tcp -dport 8443" in fix and "management" not in fix


def test_node_addresses_and_clients_of_both_families():
    view = {"node_addresses": {"pve1": "2001:db8::11"}}
    result = report("[OPTIONS]\nenable: 1\n[IPSET management]\n2001:db8:ff::/48\n", clients=("2001:db8:ff::5", "198.51.100.5"), **view)
    by_node = {(access.node, access.client) for access in result.accesses}
    assert by_node == {("pve1", "2001:db8:ff::5"), ("pve2", "198.51.100.5")}
    assert only(result.accesses, "pve1", 22).status == KEPT
    assert only(result.accesses, "pve2", 22).status == LOST


def test_nftables_node_gets_a_real_answer():
    result = report("[OPTIONS]\nenable: 1\n[RULES]\nIN DROP -p tcp -dport 22\nIN ACCEPT -p tcp\n", {"pve1": "[OPTIONS]\nnftables: 1\n"})
    assert not result.unknown
    assert only(result.accesses, "pve1", 8006).status == KEPT
    lost = only(result.accesses, "pve1", 22)
    assert lost.status == LOST and lost.decided_by.chain == "inet proxmox-firewall cluster-in"  # type: ignore[union-attr]
    assert lost.fix is not None and "ipset management" in lost.fix and "nftables" in lost.fix


@pytest.mark.parametrize(("before", "after"), [("0", "1"), ("1", "0")])
def test_switching_the_backend_is_analysed_as_a_change(before: str, after: str):
    """A management host behind a DROP rule for 22: lost on iptables (rules first), kept on
    nftables (management first); the switch flips the answer both ways."""
    cluster = "[OPTIONS]\nenable: 1\n[IPSET management]\n198.51.100.0/24\n[RULES]\nIN DROP -p tcp -dport 22\n"
    status = {value: only(report(cluster, {"pve1": f"[OPTIONS]\nnftables: {value}\n"}).accesses, "pve1", 22).status for value in (before, after)}
    assert status == {"0": LOST, "1": KEPT}


def test_unevaluated_paths_stay_unknown_and_not_ok():
    access = Access("pve1", "192.0.2.11", "198.51.100.5", 22, UNKNOWN, Verdict("UNEVALUATED", ()))
    result = LockoutReport((access,))
    assert not result.ok and result.unknown == (access,)


def test_summary_lists_each_loss_with_its_fix():
    text = report("[OPTIONS]\nenable: 1\n").summary()
    assert text.startswith("lockout check: 0 of 4 accesses kept; the change would cut off:")
    assert text.count("LOST:") == 4 and text.count("fix: add 198.51.100.5 to ipset management") == 4


def test_upstream_environment_local_network_keeps_access():
    config = config_from_texts("[OPTIONS]\nenable: 1\n").config
    result = analyse_lockout(config, env.environment(), OperatorView(("172.16.1.99",)))
    assert result.ok


def test_invalid_views():
    with pytest.raises(ValueError, match="at least one client"):
        OperatorView(())
    with pytest.raises(ValueError, match="same IP family"):
        report("[OPTIONS]\nenable: 1\n", clients=("2001:db8::5",))
