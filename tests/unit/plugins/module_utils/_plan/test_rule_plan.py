"""Rule list plans: a new rule that may deny never acts from a place it only passes through."""

from __future__ import annotations

import random

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._model.list_operations import CreateItem, MoveItem, UpdateItem, apply_list_operation
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Rule
from ansible_collections.pve.firewall.plugins.module_utils._plan.rule_plan import plan_rules

ADMIN = Rule("in", "ACCEPT", source="192.0.2.5", proto="tcp", dport="8006")
SSH = Rule("in", "ACCEPT", macro="SSH")
DROP_ALL = Rule("in", "DROP")
REJECT_WEB = Rule("in", "REJECT", proto="tcp", dport="80")
JUMP = Rule("group", "blocklist")
PING = Rule("in", "ACCEPT", macro="Ping")


def states(current: list[Rule], plan: tuple) -> list[list[Rule]]:  # type: ignore[type-arg]
    """Every list the plan passes through, the end included."""
    items, seen = list(current), []
    for op in plan:
        apply_list_operation(items, op)
        seen.append(list(items))
    return seen


def denying_above_admin(items: list[Rule]) -> bool:
    """An enabled rule that may deny stands above the admin rule."""
    for rule in items:
        if rule == ADMIN:
            return False
        if rule.enable and (rule.type == "group" or rule.action in ("DROP", "REJECT")):
            return True
    return False


@pytest.mark.parametrize("new", [DROP_ALL, REJECT_WEB, JUMP])
def test_a_denying_rule_added_below_the_admin_rule_is_moved_disabled_then_enabled(new: Rule) -> None:
    current = [ADMIN, SSH]
    desired = [ADMIN, SSH, new]
    plan = plan_rules(current, desired)
    assert [type(op) for op in plan] == [CreateItem, MoveItem, UpdateItem]
    assert isinstance(plan[0], CreateItem) and plan[0].item.enable is False
    assert states(current, plan)[-1] == desired
    assert not any(denying_above_admin(items) for items in states(current, plan))


def test_an_accept_rule_or_a_plan_without_moves_is_written_as_before() -> None:
    assert [type(op) for op in plan_rules([ADMIN, SSH], [ADMIN, PING, SSH])] == [CreateItem, MoveItem]
    # the new DROP goes on top where it belongs: no move, no staging
    plan = plan_rules([ADMIN], [DROP_ALL, ADMIN])
    assert plan == (CreateItem(DROP_ALL),)


def test_a_rule_enabled_in_place_or_a_disabled_copy_costs_no_extra_write() -> None:
    disabled = Rule("in", "DROP", enable=False)
    plan = plan_rules([ADMIN, disabled], [ADMIN, DROP_ALL])
    assert [type(op) for op in plan] == [UpdateItem]


def test_random_plans_reach_the_list_and_never_put_a_new_denying_rule_above_the_admin() -> None:
    pool = [SSH, DROP_ALL, REJECT_WEB, JUMP, PING, Rule("out", "DROP", dport="25", proto="tcp")]
    generator = random.Random(7)
    for _case in range(400):
        current = [ADMIN, *generator.sample(pool, generator.randint(0, 3))]
        generator.shuffle(current)
        desired = [ADMIN, *generator.sample(pool, generator.randint(0, 4))]
        generator.shuffle(desired)
        plan = plan_rules(current, desired)
        passed = states(current, plan)
        assert (passed[-1] if passed else current) == desired, (current, desired, plan)
        if not denying_above_admin(current) and not denying_above_admin(desired):
            assert not any(denying_above_admin(items) for items in passed), (current, desired, plan)
