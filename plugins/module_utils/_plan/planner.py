"""Change planning: the fewest API writes that turn current firewall objects into desired ones.

Three shapes of collection exist in PVE's firewall API:

* ordered lists (rules of a level or of a security group), addressed by position, where
  ``POST`` always inserts at index 0 and ``PUT`` with ``moveto`` moves one element
  (reference 1.2);
* keyed collections (IP sets, IP set entries, aliases, security groups), addressed by key;
* option objects, where only the keys a user names are managed.

The planner only decides *what* to write and at which position; turning a before/after pair
into PUT parameters (``delete=``, ``enable=1`` on POST, ...) is the API mapping's job.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, Protocol, TypeVar

from .._model.list_operations import CreateItem, DeleteItem, ListOperation, MoveItem, UpdateItem, apply_list_operation, apply_list_plan, move_item

__all__ = ["CreateItem", "DeleteItem", "ListOperation", "MoveItem", "UpdateItem", "apply_list_operation", "apply_list_plan", "move_item"]

T = TypeVar("T")


class _Key(Hashable, Protocol):
    """A key of a keyed collection: hashable, and ordered so that plans come out sorted."""

    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Key)
V = TypeVar("V")


# --------------------------------------------------------------------------------------------
# Alignment. An alignment is a monotone list of anchor pairs (i, j): current[i] stays in place
# and becomes desired[j] (a match when equal, otherwise an in-place update). Everything else is
# moved, deleted or created by _build_plan.

_SEED, _DIAGONAL, _DELETE, _INSERT = range(4)


@dataclass(frozen=True)
class _CostModel:
    """Uniform edit costs; ``mismatch`` None forbids anchoring unequal elements.

    ``top`` lets a path start anywhere at cost i + j: before the first anchor an insertion
    costs 1, not 2, because a new element that belongs above every anchor is POSTed at index
    0 and never moved.
    """

    mismatch: int | None
    delete: int
    insert: int
    top: bool


def _wavefront(a: list[int], b: list[int], free_a: bytearray, free_b: bytearray, model: _CostModel, budget: int) -> list[tuple[int, int]] | None:
    """Optimal alignment by the wavefront algorithm (WFA), or None once ``budget`` is spent.

    For every score s and diagonal k = j - i it keeps only the furthest point reachable,
    which is enough because with uniform costs a point further along a diagonal never has a
    dearer way to the end. Time is O(m + n + s^2) for an optimal cost s, so similar lists
    (the usual case) are aligned in a few milliseconds.
    """
    m, n = len(a), len(b)
    goal = n - m
    mismatch, delete, insert = model.mismatch, model.delete, model.insert
    # waves[s][k] = (furthest i after sliding over equal pairs, origin, i before sliding)
    waves: list[dict[int, tuple[int, int, int]]] = []
    work = 0
    score = 0
    while True:
        offers: dict[int, tuple[int, int]] = {}
        # Offer order decides ties: anchors first, seeds last, to keep unchanged rules put.
        if mismatch is not None and score >= mismatch:
            for k, (i, *_origin) in waves[score - mismatch].items():
                if i < m and i + k < n:
                    offers[k] = (i + 1, _DIAGONAL)
        if score >= delete:
            for k, (i, *_origin) in waves[score - delete].items():
                if i < m:
                    known = offers.get(k - 1)
                    if known is None or i + 1 > known[0]:
                        offers[k - 1] = (i + 1, _DELETE)
        if score >= insert:
            for k, (i, *_origin) in waves[score - insert].items():
                if i + k < n:
                    known = offers.get(k + 1)
                    if known is None or i > known[0]:
                        offers[k + 1] = (i, _INSERT)
        if model.top:
            for i in range(max(0, score - n), min(m, score) + 1):
                known = offers.get(score - 2 * i)
                if known is None or i > known[0]:
                    offers[score - 2 * i] = (i, _SEED)
        elif score == 0:
            offers[0] = (0, _SEED)

        wave: dict[int, tuple[int, int, int]] = {}
        for k, (start, origin) in offers.items():
            i, j = start, start + k
            while i < m and j < n and (a[i] == b[j] or (free_a[i] and free_b[j])):
                i += 1
                j += 1
            work += 3 + i - start
            wave[k] = (i, origin, start)
        waves.append(wave)
        end = wave.get(goal)
        if end is not None and end[0] == m:
            break
        if work > budget:
            return None
        score += 1

    anchors: list[tuple[int, int]] = []
    k = goal
    while True:
        end_i, origin, start = waves[score][k]
        anchors.extend((i, i + k) for i in range(end_i - 1, start - 1, -1))
        if origin == _SEED:
            break
        if origin == _DIAGONAL:
            anchors.append((start - 1, start - 1 + k))
            score -= mismatch  # type: ignore[operator]
        elif origin == _DELETE:
            k += 1
            score -= delete
        else:
            k -= 1
            score -= insert
    anchors.reverse()
    return anchors


def _table(a: list[int], b: list[int], free_a: bytearray, free_b: bytearray, model: _CostModel) -> list[tuple[int, int]]:
    """Optimal alignment by the full O(m * n) table, for lists too different for WFA."""
    m, n = len(a), len(b)
    mismatch, delete, insert, top = model.mismatch, model.delete, model.insert, model.top
    infinity = (m + 1) * delete + (n + 1) * insert + 1
    unequal = infinity if mismatch is None else mismatch
    above = [j if top else j * insert for j in range(n + 1)]
    rows = [above]
    for i in range(1, m + 1):
        ai, fi = a[i - 1], free_a[i - 1]
        left = i if top else above[0] + delete
        row = [left]
        j = i  # i + column, the cost of a seed
        for bj, fj, diagonal, up in zip(b, free_b, above, above[1:]):
            j += 1
            best = diagonal if ai == bj or (fi and fj) else diagonal + unequal
            if up + delete < best:
                best = up + delete
            if left + insert < best:
                best = left + insert
            if top and j < best:
                best = j
            row.append(best)
            left = best
        rows.append(row)
        above = row

    anchors: list[tuple[int, int]] = []
    i, j = m, n
    while i or j:
        value = rows[i][j]
        if i and j:
            same = a[i - 1] == b[j - 1] or (free_a[i - 1] and free_b[j - 1])
            if rows[i - 1][j - 1] + (0 if same else unequal) == value:
                anchors.append((i - 1, j - 1))
                i, j = i - 1, j - 1
                continue
        if i and rows[i - 1][j] + delete == value:
            i -= 1
        elif j and rows[i][j - 1] + insert == value:
            j -= 1
        else:  # only a seed explains the value: nothing before (i, j) is anchored
            break
    anchors.reverse()
    return anchors


def _align(a: list[int], b: list[int], free_a: bytearray, free_b: bytearray, model: _CostModel) -> list[tuple[int, int]]:
    # WFA wins on similar lists. A unit of its work costs about 2.5 table cells, so this budget
    # stops it after about half the table's time, which bounds the worst case to 1.6 tables.
    found = _wavefront(a, b, free_a, free_b, model, budget=(len(a) + 1) * (len(b) + 1) // 4)
    if found is None:
        found = _table(a, b, free_a, free_b, model)
    return found


# --------------------------------------------------------------------------------------------
# From an alignment to operations.


def _build_plan(
    current: Sequence[T],
    desired: Sequence[T],
    cur_ids: list[int],
    des_ids: list[int],
    anchors: list[tuple[int, int]],
) -> tuple[ListOperation[T], ...]:
    """Turn monotone anchors into operations with PVE positions.

    Order: deletions (highest index first, so each position is still the original one),
    in-place updates, POSTs of the new elements that belong above every anchor (in reverse,
    so they end up in order with no move), then a left-to-right walk over ``desired`` that puts
    every other element right after its desired predecessor.

    Why the walk ends in ``desired``: call anchors and already placed elements *settled*.
    Anchors are in desired order from the start, and the top POSTs sit above them in desired
    order. Placing desired[j] right after desired[j-1] (settled by then) keeps the settled
    elements in desired order, whatever unsettled elements lie between them. After the walk
    every element is settled and every current element not wanted has been deleted.
    """
    m, n = len(current), len(desired)
    anchored_cur = bytearray(m)
    anchor_of: dict[int, int] = {}
    for i, j in anchors:
        anchored_cur[i] = 1
        anchor_of[j] = i
    first_anchor = anchors[0][1] if anchors else n

    # An equal element elsewhere costs one move; pair those first.
    spare: dict[int, deque[int]] = {}
    for i in range(m):
        if not anchored_cur[i]:
            spare.setdefault(cur_ids[i], deque()).append(i)
    source: dict[int, int] = {}  # desired index -> current index it is moved from
    unsourced: list[int] = []
    for j in range(n):
        if j in anchor_of:
            continue
        pool = spare.get(des_ids[j])
        if pool:
            source[j] = pool.popleft()
        else:
            unsourced.append(j)

    # An unequal pair costs update + move (2) instead of delete + POST + move (3). Top
    # elements gain nothing from pairing (delete + POST is 2 as well), so they come last.
    leftovers = sorted(i for pool in spare.values() for i in pool)
    unsourced.sort(key=lambda j: (j < first_anchor, j))
    rewritten: dict[int, int] = dict(zip(unsourced, leftovers))
    deletions = leftovers[len(rewritten) :]
    created = unsourced[len(rewritten) :]
    top_created = sorted((j for j in created if j < first_anchor), reverse=True)
    source.update(rewritten)

    ops: list[ListOperation[T]] = []
    tokens = list(range(m))  # current element i is token i; new desired element j is m + j
    for i in reversed(deletions):
        ops.append(DeleteItem(i, current[i]))
        del tokens[i]

    updates = [(i, j) for i, j in anchors if cur_ids[i] != des_ids[j]]
    updates += [(i, j) for j, i in rewritten.items()]
    for i, j in sorted(updates):
        ops.append(UpdateItem(tokens.index(i), current[i], desired[j]))

    settled = bytearray(m + n)
    for i in anchor_of.values():
        settled[i] = 1
    token_of = dict(anchor_of)
    for j in top_created:
        ops.append(CreateItem(desired[j]))
        tokens.insert(0, m + j)
        settled[m + j] = 1
        token_of[j] = m + j

    for j in range(n):
        if j in token_of:
            continue
        if j in source:
            token = source[j]
        else:
            token = m + j
            ops.append(CreateItem(desired[j]))
            tokens.insert(0, token)
        token_of[j] = token
        pos = tokens.index(token)
        before = token_of[j - 1] if j else None
        # Already in place when the nearest settled element above it is its predecessor.
        above = pos - 1
        while above >= 0 and not settled[tokens[above]]:
            above -= 1
        if (tokens[above] if above >= 0 else None) != before:
            moveto = tokens.index(before) + 1 if before is not None else 0
            ops.append(MoveItem(pos, moveto, desired[j]))
            move_item(tokens, pos, moveto)
        settled[token] = 1
    return tuple(ops)


def plan_ordered(current: Sequence[T], desired: Sequence[T]) -> tuple[ListOperation[T], ...]:
    """Plan the writes that turn the list ``current`` into ``desired`` (items hashable, ``==``).

    Guarantees: ``apply_list_plan(current, plan) == list(desired)``; the common prefix and
    suffix are never touched; anchored elements are never moved; the number of operations
    (each one API write) is at most the weighted edit distance with substitution 1,
    deletion 1, insertion 2.

    Method: the common prefix and suffix are cut off. The middle is aligned under three cost
    models, each alignment becomes a plan (``_build_plan``) and the plan with the fewest
    writes wins, then the one with fewer in-place rewrites:

    * the weighted edit distance (match 0, substitution 1, deletion 1, insertion 2, and
      insertion 1 above the first anchor when nothing was cut from the top). Its plan never
      costs more than that distance, which gives the guarantee;
    * the longest common subsequence in which an element also counts as equal to any
      element of the other side that has no partner there (it is then rewritten in place).
      It prefers moves: a swap or a rotation becomes one move instead of rewrites;
    * a mix of both (unpartnered elements equal, other substitutions 2, insertion 2), which
      catches some inputs where the cheap top insertions and moves interact.

    Complexity: O(m + n) for the trimming and the plan's bookkeeping, plus for each
    alignment O(m' + n' + s^2) by the wavefront algorithm on a middle of m' and n' elements
    with optimal cost s, capped near O(m' * n') by the full table when the lists are very
    different; building a plan is O((m + n) * w) for w writes. Two 1,000-element lists with
    5% changes plan in 10-30 ms; two unrelated 1,000-element lists in about a second, which
    is still small next to the thousand API writes such a plan holds.
    """
    cur, des = list(current), list(desired)
    table: dict[T, int] = {}
    cur_ids = [table.setdefault(item, len(table)) for item in cur]
    des_ids = [table.setdefault(item, len(table)) for item in des]
    m, n = len(cur), len(des)

    head = 0
    while head < m and head < n and cur_ids[head] == des_ids[head]:
        head += 1
    tail = 0
    while tail < m - head and tail < n - head and cur_ids[m - 1 - tail] == des_ids[n - 1 - tail]:
        tail += 1
    if head == m == n:
        return ()
    mid_a, mid_b = cur_ids[head : m - tail], des_ids[head : n - tail]

    # An element with more copies on its own side than on the other has no partner to be
    # moved to, so rewriting it in place costs no move elsewhere.
    count_a: dict[int, int] = {}
    count_b: dict[int, int] = {}
    for x in mid_a:
        count_a[x] = count_a.get(x, 0) + 1
    for x in mid_b:
        count_b[x] = count_b.get(x, 0) + 1
    free_a = bytearray(count_a[x] > count_b.get(x, 0) for x in mid_a)
    free_b = bytearray(count_b[x] > count_a.get(x, 0) for x in mid_b)
    none_a, none_b = bytearray(len(mid_a)), bytearray(len(mid_b))
    top = head == 0
    candidates = (
        (_CostModel(1, 1, 2, top), none_a, none_b),
        (_CostModel(None, 1, 1, False), free_a, free_b),
        (_CostModel(2, 1, 2, top), free_a, free_b),
    )

    plans: list[tuple[ListOperation[T], ...]] = []
    tried: list[list[tuple[int, int]]] = []
    for model, marks_a, marks_b in candidates:
        middle = _align(mid_a, mid_b, marks_a, marks_b, model)
        if middle in tried:
            continue
        tried.append(middle)
        anchors = [(k, k) for k in range(head)] + [(i + head, j + head) for i, j in middle] + [(m - tail + k, n - tail + k) for k in range(tail)]
        plans.append(_build_plan(cur, des, cur_ids, des_ids, anchors))
    return min(plans, key=_rank)  # the first of equals: the bounded model's on a tie


def _rank(plan: tuple[ListOperation[T], ...]) -> tuple[int, int]:
    # Fewer writes first; on a tie, rewrite fewer elements in place.
    return len(plan), sum(isinstance(op, UpdateItem) for op in plan)


# --------------------------------------------------------------------------------------------
# Keyed collections.


@dataclass(frozen=True)
class KeyedPlan(Generic[V]):
    """Writes for an unordered collection, each part sorted by key."""

    create: tuple[V, ...] = ()
    update: tuple[tuple[V, V], ...] = ()  # (before, after)
    delete: tuple[V, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.update or self.delete)

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)


def plan_keyed(current: Mapping[K, V], desired: Mapping[K, V], *, purge: bool = True) -> KeyedPlan[V]:
    """Plan an unordered collection: create what is missing, update what differs, and delete
    what is not desired unless ``purge`` is False.

    The caller picks the key (cidr, lowercased alias name, group or ipset name). O(N log N)
    for N keys, the sort being the only super-linear step.
    """
    create: list[V] = []
    update: list[tuple[V, V]] = []
    for key in sorted(desired):
        after = desired[key]
        if key not in current:
            create.append(after)
        elif current[key] != after:
            update.append((current[key], after))
    delete = [current[key] for key in sorted(current) if key not in desired] if purge else []
    return KeyedPlan(tuple(create), tuple(update), tuple(delete))


# --------------------------------------------------------------------------------------------
# Options.


@dataclass(frozen=True)
class OptionsPlan(Generic[V]):
    """One options PUT: keys to set and keys to delete (PVE deletes before it sets)."""

    set: Mapping[str, V]
    delete: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.set and not self.delete


def plan_options(current: Mapping[str, V], desired: Mapping[str, V], reset: Iterable[str] = ()) -> OptionsPlan[V]:
    """Plan an options PUT managing only the keys given.

    ``set`` holds the desired keys that are absent from ``current`` or hold another value;
    ``delete`` the ``reset`` keys that ``current`` still has. A key both desired and reset is
    a contradiction and raises ValueError naming it.
    """
    reset_keys = {reset} if isinstance(reset, str) else set(reset)  # one name, not its letters
    both = sorted(reset_keys & set(desired))
    if both:
        raise ValueError(f"options both set and reset: {', '.join(both)}")
    changed = {key: desired[key] for key in sorted(desired) if key not in current or current[key] != desired[key]}
    delete = tuple(sorted(key for key in reset_keys if key in current))
    return OptionsPlan(MappingProxyType(changed), delete)
