"""Plans for an ordered rule list that never take away a rule that stays, and never let a new
rule that may deny act from a place it is only passing through.

The planner finds the fewest writes; for that it may rewrite (or delete) a wanted rule and
add it again later. Until then the rule is missing from the list PVE compiles. Here such a
plan is replaced by one that changes only rules that go, adds the missing ones, then moves.

PVE inserts every new rule at position 0 (PVE::API2::Firewall::Rules create_rule ``unshift``s
it and ignores ``pos``); a plan that moves rules after writing them has the new rules above the
ones they should follow until the moves are done, and PVE may compile the list in between. A
new DROP or REJECT rule, or a jump to a security group, above the ACCEPT rules it belongs below
can cut the operator off for that moment. Such a rule is written disabled, moved, and enabled
at its place: one write more. A disabled rule takes no part in the rule set (PVE::Firewall
ruleset_generate_vm_rules, enable_host_firewall and generate_group_rules skip it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from .._compiler.api_mapping import ApiCall, rule_call
from .._model.list_operations import CreateItem, DeleteItem, ListOperation, MoveItem, UpdateItem, apply_list_operation
from .._model.objects import Rule
from .planner import plan_ordered


def _rewrites_a_staying_rule(current: Sequence[Rule], plan: Sequence[ListOperation[Rule]], wanted: Counter[Rule]) -> bool:
    """Whether ``plan`` rewrites or deletes a copy of a rule that ``wanted`` still needs."""
    have = Counter(current)
    for op in plan:
        if isinstance(op, (UpdateItem, DeleteItem)):
            gone = op.before if isinstance(op, UpdateItem) else op.item
            if have[gone] <= wanted[gone]:
                return True
            have[gone] -= 1
        if isinstance(op, (UpdateItem, CreateItem)):
            have[op.after if isinstance(op, UpdateItem) else op.item] += 1
    return False


def _content_ops(items: list[Rule], desired: Sequence[Rule]) -> list[ListOperation[Rule]]:
    """Writes that give ``items`` the rules of ``desired`` in some order, touching only rules
    that go: each is rewritten into a missing rule or deleted; rules still missing are POSTed."""
    surplus = Counter(items) - Counter(desired)
    missing = list((Counter(desired) - Counter(items)).elements())
    first: dict[Rule, int] = {}
    for index, rule in enumerate(desired):
        first.setdefault(rule, index)
    missing.sort(key=first.__getitem__)
    going = []
    for pos in range(len(items) - 1, -1, -1):  # the last copies of a rule go
        if surplus[items[pos]] > 0:
            surplus[items[pos]] -= 1
            going.append(pos)
    going.sort()
    rewritten, deleted = going[: len(missing)], going[len(missing) :]
    ops: list[ListOperation[Rule]] = [UpdateItem(pos, items[pos], missing.pop(0)) for pos in rewritten]
    ops += [DeleteItem(pos, items[pos]) for pos in reversed(deleted)]  # bottom up: positions hold
    ops += [CreateItem(item) for item in reversed(missing)]  # each POST goes on top
    for op in ops:
        apply_list_operation(items, op)
    return ops


def _order_ops(items: list[Rule], desired: Sequence[Rule]) -> list[ListOperation[Rule]]:
    """Moves alone that put the rules of ``items`` in the order of ``desired``."""
    ops: list[ListOperation[Rule]] = []
    for target, want in enumerate(desired):
        if items[target] != want:
            pos = items.index(want, target + 1)
            ops.append(MoveItem(pos, target, want))  # moving up, PVE places it at moveto
            apply_list_operation(items, ops[-1])
    return ops


def _may_deny(rule: Rule) -> bool:
    """Whether an enabled ``rule`` may drop or reject traffic (a group may hold such rules)."""
    return rule.enable and (rule.type.lower() == "group" or rule.action.upper() in ("DROP", "REJECT"))


def plan_rules(current: Sequence[Rule], desired: Sequence[Rule]) -> tuple[ListOperation[Rule], ...]:
    """A plan that keeps the rules that stay (``keeping_plan``) and, when it moves rules, writes
    the new rules that may deny disabled, moves them, then enables them where they belong."""
    current, desired = tuple(current), tuple(desired)
    plan = keeping_plan(current, desired)
    if not any(isinstance(op, MoveItem) for op in plan):
        return plan
    written = Counter(op.item if isinstance(op, CreateItem) else op.after for op in plan if isinstance(op, (CreateItem, UpdateItem)))
    staged = Counter({rule: count for rule, count in written.items() if _may_deny(rule)})
    if not staged:
        return plan
    quiet = []
    for rule in desired:
        if staged[rule] > 0:
            staged[rule] -= 1
            quiet.append(replace(rule, enable=False))
        else:
            quiet.append(rule)
    enabled = tuple(UpdateItem(pos, rule, wanted) for pos, (rule, wanted) in enumerate(zip(quiet, desired)) if rule != wanted)
    return (*keeping_plan(current, tuple(quiet)), *enabled)


def keeping_plan(current: Sequence[Rule], desired: Sequence[Rule]) -> tuple[ListOperation[Rule], ...]:
    """The planner's plan, unless it takes away (rewrites or deletes) a rule that stays.

    For fewer writes the planner may rewrite (or delete) a wanted rule and add it again later.
    Until then the rule is missing: a failed write leaves it out, PVE may compile the list
    without it, and a concurrent writer that kept it (``merged``) finds it gone and adds it
    again, a duplicate. Such plans are replaced by one that first changes only rules that go
    (rewritten into missing ones, or deleted), POSTs the rules still missing, then moves.
    """
    current, desired = tuple(current), tuple(desired)
    wanted = Counter(desired)
    plan = plan_ordered(current, desired)
    if not _rewrites_a_staying_rule(current, plan, wanted):
        return plan
    items = list(current)
    ops = _content_ops(items, desired)
    order = plan_ordered(tuple(items), desired)
    if _rewrites_a_staying_rule(items, order, wanted):
        order = tuple(_order_ops(list(items), desired))
    return (*ops, *order)


def planned_rule_calls(path: str, current: Sequence[Rule], desired: Sequence[Rule]) -> tuple[ApiCall, ...]:
    return tuple(rule_call(path, op) for op in plan_rules(current, desired))
