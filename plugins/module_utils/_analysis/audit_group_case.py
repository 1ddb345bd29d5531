"""The check of GROUP rules whose name matches a security group in another case only.

PVE stores security groups under lowercased names (PVE::Firewall generic_fw_config_parser
lowercases the ``[group NAME]`` header) but looks a GROUP rule's group up by the name as the
rule spells it (ruleset_add_group_rule, generate_group_rules). ``GROUP WebGrp`` therefore jumps
to an empty chain although ``[group webgrp]`` exists: the rule does nothing on the cluster,
while every case-insensitive reading would call it valid.
"""

from __future__ import annotations

from collections.abc import Iterator

from .audit_context import AuditContext
from .audit_findings import Issue


def group_case_mismatch(context: AuditContext) -> Iterator[Issue]:
    names = {group.name for group in context.config.cluster.groups}
    by_lower = {name.lower(): name for name in names}
    for rules in context.audited_lists():
        for position, rule in enumerate(rules.rules):
            if rule.type != "group" or not rule.enable or rule.action in names:
                continue
            stored = by_lower.get(rule.action.lower())
            if stored is None:
                continue  # no group in any case: missing-reference reports it
            yield Issue(
                rules.at(position),
                f"{rules.where(position)}: GROUP '{rule.action}' is not the security group '{stored}': PVE looks groups up "
                "by the exact name, so the rule jumps to an empty chain and does nothing",
                f"write the name as the group is stored: action: {stored} ({rules.fix_module})",
            )
