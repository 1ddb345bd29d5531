"""The change planner: PVE's list semantics, fewest-write list plans, keyed and options plans."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import IPSetEntry, Rule
from ansible_collections.pve.firewall.plugins.module_utils._plan import planner as _planner
from ansible_collections.pve.firewall.plugins.module_utils._plan.planner import (
    CreateItem,
    DeleteItem,
    KeyedPlan,
    MoveItem,
    OptionsPlan,
    UpdateItem,
    apply_list_operation,
    apply_list_plan,
    move_item,
    plan_keyed,
    plan_options,
    plan_ordered,
)

# --------------------------------------------------------------------------------------------
# Independent oracles, written the plain way.


def weighted_distance(a: Sequence[object], b: Sequence[object]) -> int:
    """Edit distance with substitution 1, deletion 1, insertion 2 (the plan's upper bound)."""
    previous = [2 * j for j in range(len(b) + 1)]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(
                previous[j - 1] + (0 if a[i - 1] == b[j - 1] else 1),
                previous[j] + 1,
                row[j - 1] + 2,
            )
        previous = row
    return previous[-1]


def lcs_length(a: Sequence[object], b: Sequence[object]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        row = [0]
        for j, y in enumerate(b):
            row.append(previous[j] + 1 if x == y else max(previous[j + 1], row[j]))
        previous = row
    return previous[-1]


def common_ends(a: Sequence[object], b: Sequence[object]) -> tuple[int, int]:
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def touched_originals(current: Sequence[object], plan: Sequence[object]) -> set[int]:
    """Indexes in ``current`` of the elements an update, move or delete of ``plan`` addresses."""
    tokens: list[object] = list(range(len(current)))
    touched: set[int] = set()
    for op in plan:
        if isinstance(op, CreateItem):
            tokens.insert(0, object())
            continue
        token = tokens[op.pos]
        if isinstance(token, int):
            touched.add(token)
        if isinstance(op, MoveItem):
            move_item(tokens, op.pos, op.moveto)
        elif isinstance(op, DeleteItem):
            del tokens[op.pos]
    return touched


def check_plan(current: Sequence[object], desired: Sequence[object]) -> tuple[object, ...]:
    plan = plan_ordered(current, desired)
    assert apply_list_plan(current, plan) == list(desired)
    assert len(plan) <= weighted_distance(current, desired)
    head, tail = common_ends(current, desired)
    unchanged = set(range(head)) | set(range(len(current) - tail, len(current)))
    assert not touched_originals(current, plan) & unchanged
    return plan


def rule(port: int, **changes: object) -> Rule:
    fields: dict[str, object] = {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(port)}
    fields.update(changes)
    return Rule(**fields)  # type: ignore[arg-type]


RULES = [rule(port) for port in range(50)]

# --------------------------------------------------------------------------------------------
# PVE's list semantics.

MOVETO_TABLE = [
    (0, 2, "BACD"),
    (0, 3, "BCAD"),
    (0, 4, "BCDA"),
    (3, 0, "DABC"),
    (3, 1, "ADBC"),
    (1, 2, "ABCD"),
]


@pytest.mark.parametrize(("pos", "moveto", "expected"), MOVETO_TABLE)
def test_move_item_matches_pve_abcd_table(pos: int, moveto: int, expected: str) -> None:
    items = list("ABCD")
    move_item(items, pos, moveto)
    assert "".join(items) == expected


@pytest.mark.parametrize("pos", range(4))
def test_move_item_to_itself_or_next_is_a_no_op(pos: int) -> None:
    for moveto in (pos, pos + 1):
        items = list("ABCD")
        move_item(items, pos, moveto)
        assert items == list("ABCD")


@pytest.mark.parametrize("moveto", [4, 5, 100])
def test_move_item_past_the_end_appends(moveto: int) -> None:
    items = list("ABCD")
    move_item(items, 1, moveto)
    assert items == list("ACDB")


def test_move_item_resulting_index_rule() -> None:
    # moveto when moving up, moveto - 1 when moving down, count - 1 past the end.
    for count in range(1, 7):
        for pos in range(count):
            for moveto in range(count + 3):
                items = list(range(count))
                move_item(items, pos, moveto)
                if moveto in (pos, pos + 1):
                    expected = pos
                elif moveto < pos:
                    expected = moveto
                elif moveto < count:
                    expected = moveto - 1
                else:
                    expected = count - 1
                assert items.index(pos) == expected
                assert sorted(items) == list(range(count))


def test_move_item_rejects_bad_positions() -> None:
    with pytest.raises(IndexError, match="no rule at position 4"):
        move_item(list("ABCD"), 4, 0)
    with pytest.raises(ValueError, match="moveto"):
        move_item(list("ABCD"), 0, -1)


def test_apply_list_operation_create_always_lands_at_index_zero() -> None:
    items = list("ABC")
    apply_list_operation(items, CreateItem("X"))
    assert items == list("XABC")


def test_apply_list_operation_update_move_delete() -> None:
    items = list("ABCD")
    apply_list_operation(items, UpdateItem(1, "B", "b"))
    assert items == list("AbCD")
    apply_list_operation(items, MoveItem(0, 3, "A"))
    assert items == list("bCAD")
    apply_list_operation(items, DeleteItem(1, "C"))
    assert items == list("bAD")


@pytest.mark.parametrize(
    "op",
    [UpdateItem(0, "X", "Y"), MoveItem(1, 3, "X"), DeleteItem(2, "X")],
)
def test_apply_list_operation_refuses_a_plan_for_another_list(op: object) -> None:
    with pytest.raises(ValueError, match="expected 'X'"):
        apply_list_operation(list("ABCD"), op)  # type: ignore[arg-type]


@pytest.mark.parametrize("op", [UpdateItem(4, "X", "Y"), MoveItem(4, 0, "X"), DeleteItem(7, "X")])
def test_apply_list_operation_position_out_of_range(op: object) -> None:
    with pytest.raises(IndexError, match="no rule at position"):
        apply_list_operation(list("ABCD"), op)  # type: ignore[arg-type]


def test_apply_list_operation_rejects_other_values() -> None:
    with pytest.raises(TypeError):
        apply_list_operation([], "create")  # type: ignore[arg-type]


def test_apply_list_plan_returns_a_new_list() -> None:
    current = list("ABC")
    result = apply_list_plan(current, (CreateItem("X"), MoveItem(0, 4, "X"), DeleteItem(0, "A")))
    assert result == list("BCX")
    assert current == list("ABC")


def test_operations_are_frozen_values() -> None:
    op = MoveItem(1, 2, "A")
    assert op == MoveItem(1, 2, "A")
    assert hash(op) == hash(MoveItem(1, 2, "A"))
    with pytest.raises(AttributeError):
        op.pos = 3  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# Ordered plans: the cases the brief pins down.


def test_identical_lists_need_nothing() -> None:
    assert plan_ordered(RULES, list(RULES)) == ()
    assert plan_ordered([], []) == ()


def test_single_insertion_into_the_middle_of_50_is_two_writes() -> None:
    new = rule(1000)
    desired = RULES[:25] + [new] + RULES[25:]
    plan = check_plan(RULES, desired)
    assert plan == (CreateItem(new), MoveItem(0, 26, new))


def test_insertion_at_the_top_is_one_post() -> None:
    new = rule(1000)
    assert check_plan(RULES, [new, *RULES]) == (CreateItem(new),)


def test_insertion_at_the_end_uses_moveto_past_the_last() -> None:
    new = rule(1000)
    assert check_plan(RULES, [*RULES, new]) == (CreateItem(new), MoveItem(0, 51, new))


def test_new_rules_above_everything_are_posted_in_reverse_without_moves() -> None:
    new = [rule(1000 + k) for k in range(3)]
    assert check_plan(RULES, new + RULES) == tuple(CreateItem(item) for item in reversed(new))


def test_single_deletion_is_one_write() -> None:
    assert check_plan(RULES, RULES[:10] + RULES[11:]) == (DeleteItem(10, RULES[10]),)


def test_one_changed_field_is_one_update_in_place() -> None:
    changed = rule(17, comment="now with a comment")
    desired = RULES[:17] + [changed] + RULES[18:]
    assert check_plan(RULES, desired) == (UpdateItem(17, RULES[17], changed),)


def test_disabling_a_rule_is_one_update() -> None:
    disabled = rule(3, enable=False)
    desired = RULES[:3] + [disabled] + RULES[4:]
    assert check_plan(RULES, desired) == (UpdateItem(3, RULES[3], disabled),)


@pytest.mark.parametrize(
    ("desired", "expected"),
    [
        (RULES[1:] + RULES[:1], MoveItem(0, 50, RULES[0])),  # first to the end
        (RULES[-1:] + RULES[:-1], MoveItem(49, 0, RULES[49])),  # last to the top
        (RULES[:10] + RULES[11:30] + [RULES[10]] + RULES[30:], MoveItem(10, 30, RULES[10])),  # down
        (RULES[:10] + [RULES[30]] + RULES[10:30] + RULES[31:], MoveItem(30, 10, RULES[30])),  # up
    ],
)
def test_rotation_of_one_element_is_one_move(desired: list[Rule], expected: MoveItem[Rule]) -> None:
    assert check_plan(RULES, desired) == (expected,)


def test_adjacent_swap_is_one_move_not_two_rewrites() -> None:
    plan = check_plan(list("AB"), list("BA"))
    assert plan == (MoveItem(1, 0, "B"),)
    plan = check_plan(list("xABy"), list("xBAy"))
    assert len(plan) == 1 and isinstance(plan[0], MoveItem)


def test_short_rotation_is_one_move() -> None:
    assert len(check_plan(list("ABC"), list("BCA"))) == 1
    assert len(check_plan(list("ABC"), list("CAB"))) == 1


def test_reversal_needs_one_move_per_element_but_one() -> None:
    plan = check_plan(RULES, RULES[::-1])
    assert len(plan) == len(RULES) - 1
    assert all(isinstance(op, MoveItem) for op in plan)


def test_moved_and_changed_rule_is_update_and_move() -> None:
    changed = rule(5, log="info")
    desired = RULES[:5] + RULES[6:40] + [changed] + RULES[40:]
    plan = check_plan(RULES, desired)
    assert len(plan) == 2
    assert {type(op) for op in plan} == {UpdateItem, MoveItem}


def test_replacing_a_rule_by_an_unrelated_one_is_an_update() -> None:
    other = Rule("out", "DROP", dest="10.0.0.1")
    desired = RULES[:20] + [other] + RULES[21:]
    assert check_plan(RULES, desired) == (UpdateItem(20, RULES[20], other),)


def test_deletions_run_from_the_highest_position_down() -> None:
    desired = [r for k, r in enumerate(RULES) if k not in (3, 20, 41)]
    plan = check_plan(RULES, desired)
    assert plan == (DeleteItem(41, RULES[41]), DeleteItem(20, RULES[20]), DeleteItem(3, RULES[3]))


def test_mixed_edit_positions_are_those_at_execution_time() -> None:
    new = rule(1000)
    changed = rule(30, comment="changed")
    desired = RULES[1:12] + [new] + RULES[12:30] + [changed] + RULES[31:]
    plan = check_plan(RULES, desired)
    # The dropped first rule is recycled: rewritten in place, then moved (2 writes, not the
    # 3 of delete + POST + move); the move's moveto counts the element still at index 0.
    assert plan == (
        UpdateItem(0, RULES[0], new),
        UpdateItem(30, RULES[30], changed),
        MoveItem(0, 12, new),
    )


def test_empty_lists_both_ways() -> None:
    assert check_plan([], RULES[:3]) == tuple(CreateItem(r) for r in reversed(RULES[:3]))
    assert check_plan(RULES[:3], []) == tuple(DeleteItem(k, RULES[k]) for k in (2, 1, 0))
    assert check_plan([], []) == ()


def test_duplicate_rules() -> None:
    a, b, c = rule(1), rule(2), rule(3)
    assert check_plan([a, a, b], [a, b]) == (DeleteItem(1, a),)
    assert check_plan([a, b], [b, a, b]) == (CreateItem(b),)
    assert len(check_plan([a, a, b], [a, b, a])) == 1
    assert len(check_plan([a, b, a, b], [b, a, b, a])) == 1
    assert check_plan([a, a], [a, c]) == (UpdateItem(1, a, c),)
    assert check_plan([a, a, a], [b, b, b]) == tuple(UpdateItem(k, a, b) for k in range(3))


def test_copy_of_the_first_rule_goes_after_the_unchanged_prefix() -> None:
    # Edge case: a POST at the top would give the same list in one write, but the common
    # prefix is kept where it is by design, so the copy is POSTed and moved below it.
    a, b = rule(1), rule(2)
    assert check_plan([a, a], [a, a, a]) == (CreateItem(a), MoveItem(0, 3, a))
    assert check_plan([a, b], [a, a, b]) == (CreateItem(a), MoveItem(0, 2, a))


def test_complete_replacement_rewrites_in_place() -> None:
    desired = [rule(1000 + k) for k in range(10)]
    plan = check_plan(RULES[:10], desired)
    assert plan == tuple(UpdateItem(k, RULES[k], desired[k]) for k in range(10))


def test_accepts_tuples_and_returns_a_tuple() -> None:
    plan = plan_ordered(tuple("ABC"), tuple("ACB"))
    assert isinstance(plan, tuple)
    assert apply_list_plan("ABC", plan) == list("ACB")


def test_plan_for_1000_rules_with_5_percent_changes_is_fast() -> None:
    rng = random.Random(20)
    current = [rule(port) for port in range(1000)]
    desired = list(current)
    for step in range(50):
        what = step % 4
        if what == 0:
            desired.insert(rng.randrange(len(desired) + 1), rule(5000 + step))
        elif what == 1:
            del desired[rng.randrange(len(desired))]
        elif what == 2:
            where = rng.randrange(len(desired))
            desired[where] = rule(6000 + step, action="DROP")
        else:
            desired.insert(rng.randrange(len(desired)), desired.pop(rng.randrange(len(desired))))
    plan = plan_ordered(current, desired)
    assert apply_list_plan(current, plan) == desired
    assert len(plan) <= 63  # 13 inserts x 2 + 13 deletes + 12 updates + 12 moves


# --------------------------------------------------------------------------------------------
# Ordered plans: properties.

SMALL_ALPHABET = st.sampled_from("abcdef")
RULE_POOL = st.sampled_from([rule(port) for port in range(8)] + [rule(1, enable=False), rule(2, comment="x")])


@st.composite
def edited(
    draw: st.DrawFn, items: st.SearchStrategy[object], min_size: int = 0
) -> tuple[list[object], list[object]]:
    """A list and a copy with a few random edits, as real desired states mostly are."""
    current = draw(st.lists(items, min_size=min_size, max_size=200))
    desired = list(current)
    for _edit in range(draw(st.integers(0, 8))):
        what = draw(st.sampled_from(["insert", "delete", "replace", "move"]))
        if what == "insert" or not desired:
            desired.insert(draw(st.integers(0, len(desired))), draw(items))
        elif what == "delete":
            del desired[draw(st.integers(0, len(desired) - 1))]
        elif what == "replace":
            desired[draw(st.integers(0, len(desired) - 1))] = draw(items)
        else:
            moved = desired.pop(draw(st.integers(0, len(desired) - 1)))
            desired.insert(draw(st.integers(0, len(desired))), moved)
    return current, desired


@settings(max_examples=150, deadline=None)
@given(st.lists(SMALL_ALPHABET, max_size=200), st.lists(SMALL_ALPHABET, max_size=200))
def test_property_small_alphabet(current: list[str], desired: list[str]) -> None:
    check_plan(current, desired)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10**6), max_size=200), st.lists(st.integers(0, 10**6), max_size=200))
def test_property_unrelated_lists(current: list[int], desired: list[int]) -> None:
    check_plan(current, desired)


@settings(max_examples=150, deadline=None)
@given(edited(st.integers(0, 300)))
def test_property_few_edits_of_distinct_items(lists: tuple[list[int], list[int]]) -> None:
    check_plan(*lists)


@settings(max_examples=100, deadline=None)
@given(edited(RULE_POOL))
def test_property_few_edits_of_rules_with_duplicates(lists: tuple[list[Rule], list[Rule]]) -> None:
    check_plan(*lists)


LONG_LISTS = st.lists(SMALL_ALPHABET, min_size=120, max_size=200) | st.lists(
    st.integers(0, 10**6), min_size=120, max_size=200
)


@settings(max_examples=15, deadline=None)
@given(LONG_LISTS, LONG_LISTS)
def test_property_long_lists(current: list[object], desired: list[object]) -> None:
    # Hypothesis favours short lists; these reach the aligner's table fallback.
    check_plan(current, desired)


@settings(max_examples=20, deadline=None)
@given(edited(st.integers(0, 300) | SMALL_ALPHABET, min_size=120))
def test_property_long_lists_with_few_edits(lists: tuple[list[object], list[object]]) -> None:
    check_plan(*lists)


@settings(max_examples=100, deadline=None)
@given(st.lists(SMALL_ALPHABET, max_size=60), st.randoms(use_true_random=False))
def test_property_reorders_use_moves_only(current: list[str], rng: random.Random) -> None:
    desired = list(current)
    rng.shuffle(desired)
    plan = check_plan(current, desired)
    assert all(isinstance(op, MoveItem) for op in plan)
    assert len(plan) <= len(current) - lcs_length(current, desired)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=14), st.lists(st.integers(0, 3), max_size=14), st.data())
def test_property_wavefront_and_table_agree(a: list[int], b: list[int], data: st.DataObject) -> None:
    # The fast aligner must find alignments exactly as cheap as the full table's.
    model = data.draw(
        st.builds(_planner._CostModel, st.sampled_from([None, 1, 2]), st.integers(1, 2), st.integers(1, 3), st.booleans())
    )
    free_a = bytearray(data.draw(st.lists(st.booleans(), min_size=len(a), max_size=len(a))))
    free_b = bytearray(data.draw(st.lists(st.booleans(), min_size=len(b), max_size=len(b))))
    fast = _planner._wavefront(a, b, free_a, free_b, model, budget=10**9)
    full = _planner._table(a, b, free_a, free_b, model)
    assert fast is not None
    assert alignment_cost(a, b, free_a, free_b, model, fast) == alignment_cost(a, b, free_a, free_b, model, full)


def alignment_cost(
    a: list[int],
    b: list[int],
    free_a: bytearray,
    free_b: bytearray,
    model: _planner._CostModel,
    anchors: list[tuple[int, int]],
) -> int:
    total = 0
    last_i = last_j = -1
    for number, (i, j) in enumerate([*anchors, (len(a), len(b))]):
        assert i > last_i and j > last_j  # strictly monotone
        gap_a, gap_b = i - last_i - 1, j - last_j - 1
        if number == 0 and model.top:
            total += gap_a + gap_b
        else:
            total += gap_a * model.delete + gap_b * model.insert
        if (i, j) != (len(a), len(b)) and not (a[i] == b[j] or (free_a[i] and free_b[j])):
            assert model.mismatch is not None
            total += model.mismatch
        last_i, last_j = i, j
    return total


# --------------------------------------------------------------------------------------------
# Keyed plans.


def entry(cidr: str, comment: str | None = None) -> IPSetEntry:
    return IPSetEntry(cidr, comment=comment)


def by_cidr(*entries: IPSetEntry) -> dict[str, IPSetEntry]:
    return {item.cidr: item for item in entries}


def apply_keyed(current: dict[str, IPSetEntry], plan: KeyedPlan[IPSetEntry]) -> dict[str, IPSetEntry]:
    result = dict(current)
    for item in plan.delete:
        assert result.pop(item.cidr) == item
    for before, after in plan.update:
        assert result[before.cidr] == before and before.cidr == after.cidr
        result[after.cidr] = after
    for item in plan.create:
        assert item.cidr not in result
        result[item.cidr] = item
    return result


def test_keyed_plan_creates_updates_deletes_sorted_by_key() -> None:
    current = by_cidr(entry("10.0.0.9"), entry("10.0.0.2", "old"), entry("10.0.0.1"), entry("10.0.0.5"))
    desired = by_cidr(entry("10.0.0.8"), entry("10.0.0.2", "new"), entry("10.0.0.1"), entry("10.0.0.3"))
    plan = plan_keyed(current, desired)
    assert plan.create == (entry("10.0.0.3"), entry("10.0.0.8"))
    assert plan.update == ((entry("10.0.0.2", "old"), entry("10.0.0.2", "new")),)
    assert plan.delete == (entry("10.0.0.5"), entry("10.0.0.9"))
    assert plan.writes == 5
    assert not plan.is_empty


def test_keyed_plan_without_purge_deletes_nothing() -> None:
    current = by_cidr(entry("10.0.0.1"), entry("10.0.0.2"))
    plan = plan_keyed(current, by_cidr(entry("10.0.0.3")), purge=False)
    assert plan == KeyedPlan(create=(entry("10.0.0.3"),))


def test_keyed_plan_of_equal_collections_is_empty() -> None:
    current = by_cidr(entry("10.0.0.1"), entry("10.0.0.2"))
    plan = plan_keyed(current, dict(current))
    assert plan.is_empty and plan.writes == 0
    assert plan_keyed({}, {}).is_empty


def test_keyed_plan_of_50000_entries_writes_only_the_delta() -> None:
    current = {f"10.{k // 65536}.{k // 256 % 256}.{k % 256}": k for k in range(50_000)}
    desired = {key: value + (1 if value % 10 == 0 else 0) for key, value in current.items() if value % 7}
    desired.update({f"172.16.{k // 256}.{k % 256}": k for k in range(2_000)})
    plan = plan_keyed(current, desired)
    assert len(plan.create) == 2_000
    assert len(plan.delete) == len(current) - sum(1 for value in current.values() if value % 7)
    assert len(plan.update) == sum(1 for value in current.values() if value % 7 and value % 10 == 0)


CIDRS = st.sampled_from([f"10.0.0.{k}" for k in range(12)])
ENTRY_MAPS = st.dictionaries(CIDRS, st.sampled_from([None, "a", "b"])).map(
    lambda raw: {cidr: entry(cidr, comment) for cidr, comment in raw.items()}
)


@settings(max_examples=200, deadline=None)
@given(ENTRY_MAPS, ENTRY_MAPS, st.booleans())
def test_property_keyed_plan_reaches_desired(
    current: dict[str, IPSetEntry], desired: dict[str, IPSetEntry], purge: bool
) -> None:
    plan = plan_keyed(current, desired, purge=purge)
    expected = desired if purge else {**current, **desired}
    assert apply_keyed(current, plan) == expected
    unchanged = sum(1 for key in desired if current.get(key) == desired[key])
    assert plan.writes == len(desired) - unchanged + (len(set(current) - set(desired)) if purge else 0)
    for part in (plan.create, plan.delete, [pair[1] for pair in plan.update]):
        keys = [item.cidr for item in part]
        assert keys == sorted(keys)


# --------------------------------------------------------------------------------------------
# Options plans.


def test_options_plan_sets_only_what_differs() -> None:
    current = {"enable": 1, "policy_in": "DROP", "log_level_in": "info"}
    plan = plan_options(current, {"enable": 1, "policy_in": "ACCEPT", "macfilter": False})
    assert dict(plan.set) == {"macfilter": False, "policy_in": "ACCEPT"}
    assert plan.delete == ()
    assert not plan.is_empty


def test_options_plan_leaves_unnamed_keys_alone() -> None:
    plan = plan_options({"enable": 1, "dhcp": 0}, {"enable": 1})
    assert plan.is_empty
    assert plan == OptionsPlan({}, ())


def test_options_plan_deletes_only_reset_keys_that_are_set() -> None:
    plan = plan_options({"enable": 1, "dhcp": 0, "ndp": 1}, {}, reset=["ndp", "dhcp", "radv", "ndp"])
    assert plan.delete == ("dhcp", "ndp")
    assert dict(plan.set) == {}


def test_options_plan_takes_a_single_reset_name_whole() -> None:
    assert plan_options({"ndp": 1, "n": 1}, {}, reset="ndp").delete == ("ndp",)


def test_options_plan_refuses_a_key_both_set_and_reset() -> None:
    with pytest.raises(ValueError, match="policy_in"):
        plan_options({}, {"policy_in": "DROP", "enable": True}, reset=("policy_in",))


def test_options_plan_set_is_read_only() -> None:
    plan = plan_options({}, {"enable": True})
    with pytest.raises(TypeError):
        plan.set["enable"] = False  # type: ignore[index]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 2)),
    st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 2)),
    st.sets(st.sampled_from("abcdefgh")),
)
def test_property_options_plan_reaches_desired(current: dict[str, int], desired: dict[str, int], reset: set[str]) -> None:
    reset -= set(desired)
    plan = plan_options(current, desired, reset)
    result = {key: value for key, value in current.items() if key not in plan.delete}
    result.update(plan.set)
    expected = {key: value for key, value in current.items() if key not in reset}
    expected.update(desired)
    assert result == expected
    assert plan.is_empty == (result == current)
    assert all(current.get(key, object()) != value for key, value in plan.set.items())
