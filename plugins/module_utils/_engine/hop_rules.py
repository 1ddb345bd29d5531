"""User rules within a hop: one rule list run in PVE's order, the first matching rule
deciding, a GROUP rule running its security group; each decision and each rule PVE ignores
recorded on the trail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .._compiler.fw_format import rule_text
from .._model.objects import Level, Rule
from .hop_context import HopContext
from .matchers import CompiledRule, PacketView, RuleContext, RuleIndex, iface_matches
from .std_chains import REJECT, Decision, reject
from .verdict_trail import Hop, Trail
from .verdict_types import Step


@dataclass(frozen=True)
class RuleFlavour:
    """What differs between the backends when a rule list runs: the sets the rules match
    (``nft``: as proxmox-firewall builds them), the name of a security group's chain and what
    a REJECT rule does to the packet."""

    nft: bool = False
    group_chain: str = "GROUP-{name}-{direction}"
    reject: Callable[[PacketView], Decision] = reject


IPTABLES = RuleFlavour()


def run_rules(
    context: HopContext,
    index: RuleIndex,
    hop: Hop,
    level: str,
    view: PacketView,
    trail: Trail,
    *,
    vmid: int | None = None,
    group: str | None = None,
    reference: Step | None = None,
    flavour: RuleFlavour = IPTABLES,
) -> str | None:
    """One rule list in order: the first matching rule decides; a group rule runs its group
    and decides if the group does. Rules PVE ignores are noted up to the decision."""
    start = len(trail.steps)
    decided, position = None, None
    for entry in index.candidates(view):
        rule = entry.rule
        if rule.type == "group":
            if rule.iface is not None and not iface_matches(rule.iface, hop.iface):
                continue
            line = rule_text(rule)
            jump = Step(
                hop.label,
                hop.chain,
                "rule",
                "-",
                f"{level} rule pos {entry.position}: {line}{_comment(rule)}",
                level=level,
                position=entry.position,
                rule=line,
                comment=rule.comment,
                node=hop.node,
                vmid=vmid,
            )
            decided = _run_group(context, rule.action, jump, hop, view, trail, flavour)
        elif entry.matches(view, hop.iface):
            decided = _rule_decision(entry, hop, level, view, trail, vmid, group, reference, flavour)
        if decided is not None:
            position = entry.position
            break
    notes = [
        Step(
            hop.label,
            hop.chain,
            "note",
            "-",
            f"{f'group {group}' if group else level} rule pos {skipped.position} ignored by PVE ({skipped.reason}): {rule_text(skipped.rule)}",
            level=level,
            position=skipped.position,
            rule=rule_text(skipped.rule),
            group=group,
            node=hop.node,
            vmid=vmid,
        )
        for skipped in index.skipped
        if not skipped.reason.startswith(("disabled", "IPv")) and (position is None or skipped.position < position)
    ]
    trail.steps[start:start] = notes
    for skipped in index.skipped:
        if "SDN" in skipped.reason:
            trail.warn(f"{level} rule pos {skipped.position} ({rule_text(skipped.rule)}) was left out: {skipped.reason}")
    return decided


def _run_group(context: HopContext, name: str, reference: Step, hop: Hop, view: PacketView, trail: Trail, flavour: RuleFlavour) -> str | None:
    """A security group: the first matching rule decides; no match falls through."""
    group = next((item for item in context.config.cluster.groups if item.name == name), None)
    direction = hop.direction.lower() if flavour.nft else hop.direction.upper()
    group_hop = Hop(hop.label, flavour.group_chain.format(name=name, direction=direction), hop.node, None, hop.direction)
    if group is None:
        trail.note(group_hop, f"security group '{name}' does not exist: the jump is a no-op", group=name)
        return None
    refs = RuleContext(Level.GROUP, context.refs(None))
    index = context.rule_index(("group", name), group.rules, refs, view, hop.direction, f"group {name}", nft=flavour.nft)
    return run_rules(context, index, group_hop, "group", view, trail, group=name, reference=reference, flavour=flavour)


def _rule_decision(
    entry: CompiledRule,
    hop: Hop,
    level: str,
    view: PacketView,
    trail: Trail,
    vmid: int | None,
    group: str | None,
    reference: Step | None,
    flavour: RuleFlavour,
) -> str:
    """A matching rule decides: its action (REJECT as the backend turns it) on the trail."""
    rule = entry.rule
    line = rule_text(rule, in_group=group is not None)
    where = f"group {group} rule pos {entry.position} (via {reference.detail})" if group and reference else f"{level} rule pos {entry.position}"
    action = rule.action
    detail = f"{where}: {line}{_comment(rule)}"
    if action == REJECT:
        action, why = flavour.reject(view)
        if action != REJECT:
            detail += f" ({why})"
    trail.add(
        Step(
            hop.label,
            hop.chain,
            "rule",
            action,
            detail,
            level=level,
            position=entry.position,
            rule=line,
            comment=rule.comment,
            group=group,
            node=hop.node,
            vmid=vmid if vmid is not None else (reference.vmid if reference else None),
            group_reference=reference,
        )
    )
    return action


def _comment(rule: Rule) -> str:
    return f" # {rule.comment}" if rule.comment else ""
