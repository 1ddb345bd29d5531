"""Findings over a whole firewall configuration: guests PVE does not filter, rules that can
never match, references that do not resolve, objects nobody uses, and rules a macro or an
IP set would say in fewer lines.

The backend of the ``firewall_audit`` module, without Ansible imports: :func:`audit` takes a
``ClusterConfig`` and the :class:`AuditFacts` of the cluster (guests with their NICs, the
nodes' interface names, the SDN IP sets) and returns frozen :class:`Finding` values, each with
a stable check code, a severity, the object, a message and a concrete fix.

Rules are judged the way pve-firewall compiles them (``_matchers``): macros expanded, IP sets
and aliases resolved as the compiler resolves them, disabled rules and rules with errors
absent. A rule is reported as shadowed only when that is proven: in every IP family, every
packet it can match is matched by an earlier enabled rule of the same list (or by a rule of a
security group that list jumps to), and that rule decides the packet. Pairs that cannot be
compared exactly (a set PVE fills itself, such as ``management``) are never reported.

The checks of unused objects look for references everywhere: the configuration given must
then hold every file of the cluster (the module reads them all when the cluster level is
audited).

This module holds the table of checks and runs it; the parts live beside it:
``audit_findings`` (what is reported), ``audit_context`` (what the checks read),
``audit_coverage`` (what rules match), and the checks by subject in ``audit_guest_checks``,
``audit_node_checks``, ``audit_reference_checks``, ``audit_group_case``, ``audit_forward_checks``,
``audit_rule_checks`` and ``audit_rewrite_checks``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .._model.objects import ClusterConfig
from .audit_context import AuditContext, AuditFacts, AuditScope
from .audit_findings import LEVELS, SEVERITIES, AuditObject, Finding, Issue, at_or_above, counts, severity_rank, summary_lines
from .audit_forward_checks import forward_inert
from .audit_group_case import group_case_mismatch
from .audit_guest_checks import guest_firewall_off, guest_policy_accept, guest_unfiltered, nic_flag_off, nic_missing, too_many_rules
from .audit_node_checks import iface_missing, no_management_access
from .audit_reference_checks import missing_reference, unused_alias, unused_group, unused_ipset
from .audit_rewrite_checks import ipset_candidate, macro_available
from .audit_rule_checks import rule_duplicate, rule_shadowed

__all__ = [
    "CHECKS",
    "DEFAULT_MAX_RULES_PER_GUEST",
    "LEVELS",
    "SEVERITIES",
    "AuditFacts",
    "AuditObject",
    "AuditScope",
    "AuditSettings",
    "Check",
    "Finding",
    "at_or_above",
    "audit",
    "counts",
    "severity_rank",
    "summary_lines",
]

DEFAULT_MAX_RULES_PER_GUEST = 20


@dataclass(frozen=True)
class Check:
    """One check: its code, how severe its findings are, what it finds, and the function that
    finds it."""

    code: str
    severity: str
    description: str
    run: Callable[[AuditContext], Iterable[Issue]]

    def findings(self, context: AuditContext) -> Iterable[Finding]:
        return (Finding(self.code, self.severity, issue.target, issue.message, issue.fix) for issue in self.run(context))


# Most severe first; the order also orders findings of one object and severity.
CHECKS: Mapping[str, Check] = MappingProxyType(
    {
        check.code: check
        for check in (
            Check("guest-unfiltered", "critical", "a guest has rules but one of the three switches is off, so PVE does not filter it", guest_unfiltered),
            Check(
                "no-management-access",
                "high",
                "policy_in DROP/REJECT with no management ipset entries and no rule accepting 8006 or 22",
                no_management_access,
            ),
            Check("missing-reference", "high", "a rule or ipset entry names an ipset, alias or security group that does not exist", missing_reference),
            Check(
                "group-case-mismatch",
                "high",
                "a GROUP rule names a security group in another case: PVE looks groups up by the exact name, so it jumps to nothing",
                group_case_mismatch,
            ),
            Check("rule-shadowed", "medium", "an earlier rule of the same list already decides every packet the rule could match", rule_shadowed),
            Check("iface-missing", "medium", "a datacenter or host rule is bound to an interface a node does not have", iface_missing),
            Check(
                "forward-inert",
                "medium",
                "a forward rule or a vnet firewall has no effect: every node runs the iptables backend (host option nftables: 0)",
                forward_inert,
            ),
            Check("nic-missing", "medium", "a guest rule is bound to a NIC the guest does not have", nic_missing),
            Check("guest-firewall-off", "medium", "the datacenter firewall is on but the own firewall of a guest without rules is off", guest_firewall_off),
            Check("nic-flag-off", "medium", "the datacenter firewall is on but a NIC of a guest without rules lacks firewall=1", nic_flag_off),
            Check("guest-policy-accept", "medium", "a guest with its firewall on accepts all inbound traffic its rules do not decide", guest_policy_accept),
            Check("rule-duplicate", "low", "a rule repeats an earlier rule of the same list (comments aside)", rule_duplicate),
            Check("too-many-rules", "low", "a guest has more active rules than the threshold", too_many_rules),
            Check("unused-ipset", "low", "an IP set no rule refers to", unused_ipset),
            Check("unused-alias", "low", "an alias no rule or IP set entry refers to", unused_alias),
            Check("unused-group", "low", "a security group no rule uses", unused_group),
            Check("macro-available", "info", "raw port rules that one macro rule expresses", macro_available),
            Check("ipset-candidate", "info", "consecutive rules differing only in source (or dest) that one IP set would collapse", ipset_candidate),
        )
    }
)


@dataclass(frozen=True)
class AuditSettings:
    checks: frozenset[str] = frozenset(CHECKS)
    max_rules_per_guest: int = DEFAULT_MAX_RULES_PER_GUEST


def audit(
    config: ClusterConfig,
    facts: AuditFacts | None = None,
    scope: AuditScope | None = None,
    settings: AuditSettings | None = None,
) -> tuple[Finding, ...]:
    """Every finding of the wanted checks on the objects in ``scope``, most severe first
    (within a severity: datacenter, groups, nodes, guests, vnets, in list order)."""
    facts = facts or AuditFacts()
    scope = scope or AuditScope()
    settings = settings or AuditSettings()
    unknown = sorted(settings.checks - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown checks: {', '.join(unknown)}")
    context = AuditContext(config, facts, scope, settings.max_rules_per_guest)
    found = [finding for check in CHECKS.values() if check.code in settings.checks for finding in check.findings(context)]
    return tuple(sorted((finding for finding in found if scope.covers(finding.target)), key=_order))


_LEVEL_ORDER = {"cluster": 0, "node": 1, "vm": 2, "ct": 2, "vnet": 3}
_CHECK_ORDER = {code: index for index, code in enumerate(CHECKS)}


def _order(finding: Finding) -> tuple[object, ...]:
    """Most severe first; then the datacenter, its groups, the nodes, the guests by id, the
    vnets, each in list order."""
    target = finding.target
    return (
        -severity_rank(finding.severity),
        _LEVEL_ORDER.get(target.level, len(_LEVEL_ORDER)),
        target.group or "",
        target.node if target.level == "node" else "",
        target.vmid or 0,
        target.vnet or "",
        -1 if target.position is None else target.position,
        _CHECK_ORDER[finding.check],
        target.ipset or target.alias or target.nic or "",
        -1 if target.entry is None else target.entry,
    )
