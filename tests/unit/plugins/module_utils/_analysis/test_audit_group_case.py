"""group-case-mismatch: a GROUP rule whose name matches a security group in another case only.

PVE lowercases ``[group NAME]`` headers but looks GROUP rules up by the name as written
(PVE::Firewall ruleset_add_group_rule), so such a rule jumps to an empty chain."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._analysis.audit import CHECKS, AuditObject, AuditSettings, audit
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_dir import config_from_texts

CLUSTER = "[OPTIONS]\nenable: 1\n\n[RULES]\n\nGROUP WebGrp\nGROUP webgrp\n|GROUP WEBGRP\nGROUP Other\n\n[group webgrp]\n\nIN ACCEPT -p tcp -dport 443\n"


def _found(cluster: str, guests: dict[int, str] | None = None):
    config = config_from_texts(cluster, guests=guests).config
    return [finding for finding in audit(config, settings=AuditSettings()) if finding.check == "group-case-mismatch"]


def test_a_group_named_in_another_case_is_reported_as_a_dead_jump():
    found = _found(CLUSTER)
    # the exact name, the disabled rule and a group that exists in no case are not reported here
    assert [finding.target for finding in found] == [AuditObject("cluster", position=0)]
    assert found[0].severity == "high"
    assert "GROUP 'WebGrp' is not the security group 'webgrp'" in found[0].message
    assert "action: webgrp" in found[0].fix


def test_guest_rules_are_checked_too():
    found = _found(CLUSTER, {100: "[RULES]\nGROUP WEBGRP -i net0\n"})
    assert [(finding.target.level, finding.target.vmid, finding.target.position) for finding in found] == [("cluster", None, 0), ("vm", 100, 0)]


def test_the_check_is_registered_next_to_missing_reference():
    codes = list(CHECKS)
    assert codes.index("group-case-mismatch") == codes.index("missing-reference") + 1
    # missing-reference does not report the case mismatch: without this check it goes unseen
    config = config_from_texts(CLUSTER).config
    missing = [finding for finding in audit(config) if finding.check == "missing-reference"]
    assert [finding.target.position for finding in missing] == [3]


def test_a_group_only_named_in_another_case_is_unused():
    # the jump goes nowhere, so nothing uses the group: unused-group says so as well
    config = config_from_texts("[RULES]\n\nGROUP WebGrp\n\n[group webgrp]\n\nIN ACCEPT -p tcp -dport 443\n").config
    unused = [finding.target.group for finding in audit(config, settings=AuditSettings()) if finding.check == "unused-group"]
    assert unused == ["webgrp"]
