"""forward-inert: forward rules and vnet firewalls on a cluster whose nodes all run the
iptables backend, which ignores them (proxmox-firewall builds chains from them, pve-firewall
does not; reference 7.13)."""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.pve.firewall.plugins.module_utils._analysis.audit import CHECKS, AuditFacts, AuditObject, AuditScope, AuditSettings, audit
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import parse_fw
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind

CLUSTER = (
    "[OPTIONS]\nenable: 1\n\n[RULES]\n\nIN ACCEPT -p tcp -dport 22\nFORWARD ACCEPT -p tcp -dport 80\n|FORWARD DROP -p tcp -dport 81\n"
    "\n[group fwd]\n\nFORWARD DROP -p tcp -dport 82\n"
)
VNET = "[OPTIONS]\nenable: 1\npolicy_forward: DROP\n\n[RULES]\n\nFORWARD ACCEPT -p tcp -dport 22\n"


def _config(pve2_host: str = "[OPTIONS]\nnftables: 0\n", vnet: str | None = VNET):
    hosts = {"pve1": "[RULES]\n\nFORWARD DROP -p udp -dport 53\n", "pve2": pve2_host}
    config = config_from_texts(CLUSTER, hosts).config
    if vnet is not None:
        config = replace(config, vnets={"vnet1": parse_fw(vnet, FileKind.VNET).file})
    return config


def _found(config, facts=None, scope=None):
    return [finding for finding in audit(config, facts, scope, AuditSettings()) if finding.check == "forward-inert"]


def test_every_forward_rule_and_the_vnet_are_reported_when_no_node_runs_nftables():
    found = _found(_config())
    assert [finding.target for finding in found] == [
        AuditObject("cluster", position=1),
        AuditObject("cluster", group="fwd", position=0),
        AuditObject("node", node="pve1", position=0),
        AuditObject("vnet", vnet="vnet1"),
    ]
    assert all(finding.severity == "medium" for finding in found)
    assert "every node (pve1, pve2) runs the iptables backend" in found[0].message
    assert "vnet vnet1: its firewall (enable: 1, 1 active rule) has no effect" in found[3].message
    assert "nftables: 1" in found[0].fix


def test_one_nftables_node_makes_them_act():
    assert _found(_config("[OPTIONS]\nnftables: 1\n")) == []


def test_a_node_whose_host_options_are_not_known_leaves_the_check_silent():
    facts = AuditFacts(node_names=("pve1", "pve2", "pve3"))
    assert _found(_config(), facts) == []


def test_a_vnet_firewall_without_enable_or_rules_is_not_reported():
    found = _found(_config(vnet="[OPTIONS]\npolicy_forward: DROP\n"))
    assert [finding.target.level for finding in found] == ["cluster", "cluster", "node"]


def test_the_scope_limits_the_findings():
    found = _found(_config(), scope=AuditScope(frozenset({"vnet"})))
    assert [finding.target for finding in found] == [AuditObject("vnet", vnet="vnet1")]


def test_the_check_is_registered():
    assert CHECKS["forward-inert"].severity == "medium"
