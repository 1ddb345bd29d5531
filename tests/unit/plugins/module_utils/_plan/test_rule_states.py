"""The rule list states: merged keeps each listed rule once, deleted, overridden."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Rule
from ansible_collections.pve.firewall.plugins.module_utils._plan.rule_states import deleted, match_key, merged, target_list


def rule(port: int, **extra: object) -> Rule:
    return Rule("in", "ACCEPT", proto="tcp", dport=str(port), **extra)  # type: ignore[arg-type]


def ports(rules: tuple[Rule, ...]) -> list[int]:
    return [int(item.dport or 0) for item in rules]


# --------------------------------------------------------------------------------------------
# merged


def test_merged_adds_missing_rules_after_the_previous_listed_one_and_the_first_on_top() -> None:
    current = (rule(1), rule(2), rule(3))
    assert ports(merged(current, [rule(10), rule(2), rule(20)])) == [10, 1, 2, 20, 3]


def test_merged_updates_the_same_rule_in_place() -> None:
    current = (rule(1), rule(2, comment="old"), rule(3))
    assert merged(current, [rule(2, comment="new", enable=False)]) == (rule(1), rule(2, comment="new", enable=False), rule(3))


def test_merged_keeps_a_listed_rule_once_when_a_late_write_added_a_copy_on_top() -> None:
    """A POST that timed out landed after the rerun had added the rule again: the copy that is
    in its listed place stays, the one on top goes."""
    listed = [rule(n) for n in range(7)]
    current = (rule(3), *listed, rule(50))
    assert merged(current, listed) == (*listed, rule(50))


def test_merged_removes_copies_that_differ_only_in_the_rules_attributes() -> None:
    current = (rule(1, enable=False, comment="old copy"), rule(2), rule(1, log="info"))
    assert merged(current, [rule(2), rule(1, comment="wanted")]) == (rule(2), rule(1, comment="wanted"))


def test_merged_keeps_as_many_copies_as_listed() -> None:
    current = (rule(1), rule(1), rule(1), rule(2))
    assert ports(merged(current, [rule(1), rule(2), rule(1)])) == [1, 2, 1]


def test_merged_leaves_copies_of_rules_that_are_not_listed() -> None:
    current = (rule(5), rule(1), rule(5), rule(1))
    assert ports(merged(current, [rule(1)])) == [5, 1, 5]


def test_merged_with_nothing_listed_changes_nothing() -> None:
    current = (rule(1), rule(1), rule(2))
    assert merged(current, []) == current


rules = st.builds(rule, st.integers(1, 6), comment=st.sampled_from([None, "a"]), enable=st.booleans())


@settings(max_examples=300, deadline=None)
@given(current=st.lists(rules, max_size=10), listed=st.lists(rules, max_size=6, unique_by=match_key))
def test_merged_holds_each_listed_rule_once_in_order_and_the_rest_as_it_was(current: list[Rule], listed: list[Rule]) -> None:
    result = merged(current, listed)
    keys = {match_key(item) for item in listed}
    assert [item for item in result if match_key(item) in keys] == listed
    assert [item for item in result if match_key(item) not in keys] == [item for item in current if match_key(item) not in keys]
    assert merged(result, listed) == result  # a rerun changes nothing


@settings(max_examples=200, deadline=None)
@given(current=st.lists(rules, max_size=10), listed=st.lists(rules, max_size=6))
def test_merged_holds_a_rule_listed_twice_twice(current: list[Rule], listed: list[Rule]) -> None:
    result = merged(current, listed)
    wanted = Counter(match_key(item) for item in listed)
    have = Counter(match_key(item) for item in result)
    assert {key: have[key] for key in wanted} == wanted
    assert merged(result, listed) == result


# --------------------------------------------------------------------------------------------
# deleted, overridden


def test_deleted_removes_every_copy_and_empties_the_list_when_nothing_is_listed() -> None:
    current = (rule(1), rule(2, comment="x"), rule(2))
    assert deleted(current, [rule(2)]) == (rule(1),)
    assert deleted(current, []) == ()


def test_target_list_by_state() -> None:
    current = (rule(1), rule(2), rule(1))
    assert target_list("overridden", current, [rule(3)]) == (rule(3),)
    assert target_list("deleted", current, [rule(1)]) == (rule(2),)
    assert target_list("merged", current, [rule(1)]) == (rule(1), rule(2))
