"""What PVE does to an ordered list (rules of a level or of a group) on each write.

``POST`` inserts at index 0, ``PUT pos`` rewrites in place or, with ``moveto``, moves one
element, ``DELETE pos`` removes one (reference 1.2). The planner plans in these operations,
the API mapping turns each into its request, and the emulator applies them as PVE does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar, Union

T = TypeVar("T")


# ``pos`` is always the index at the moment the operation runs, i.e. after every earlier
# operation of the same plan.


@dataclass(frozen=True)
class CreateItem(Generic[T]):
    """POST: PVE inserts the new element at index 0 whatever ``pos`` says."""

    item: T


@dataclass(frozen=True)
class UpdateItem(Generic[T]):
    """PUT ``pos`` without ``moveto``: rewrite the element in place."""

    pos: int
    before: T
    after: T


@dataclass(frozen=True)
class MoveItem(Generic[T]):
    """PUT ``pos`` with ``moveto``: PVE's "insert before the element that had index moveto"."""

    pos: int
    moveto: int
    item: T


@dataclass(frozen=True)
class DeleteItem(Generic[T]):
    """DELETE ``pos``: later elements shift up by one."""

    pos: int
    item: T


ListOperation = Union[CreateItem[T], UpdateItem[T], MoveItem[T], DeleteItem[T]]  # noqa: UP007


def move_item(items: list[T], pos: int, moveto: int) -> None:
    """Apply PVE's ``moveto`` semantics (RU:377-388) to ``items`` in place.

    The element leaves ``pos`` and is re-inserted before the element whose index was
    ``moveto`` before the removal, or at the end when ``moveto`` is past the last element.
    So it lands at ``moveto`` when moving up and at ``moveto - 1`` when moving down;
    ``moveto`` equal to ``pos`` or ``pos + 1`` leaves the list as it was.
    """
    count = len(items)
    if not 0 <= pos < count:
        raise IndexError(f"no rule at position {pos}")
    if moveto < 0:
        raise ValueError(f"moveto must be >= 0, got {moveto}")
    if moveto == pos:
        return
    item = items.pop(pos)
    if moveto >= count:
        items.append(item)
    elif moveto < pos:
        items.insert(moveto, item)
    else:
        items.insert(moveto - 1, item)


def _check_at(items: list[T], pos: int, expected: T, what: str) -> None:
    # PVE itself does not compare content; the check catches a plan applied to the wrong list.
    if not 0 <= pos < len(items):
        raise IndexError(f"no rule at position {pos}")
    if items[pos] != expected:
        raise ValueError(f"{what} at position {pos}: expected {expected!r}, found {items[pos]!r}")


def apply_list_operation(items: list[T], op: ListOperation[T]) -> None:
    """Apply one operation to ``items`` in place, exactly as PVE would, once the addressed
    element was checked to be the one the operation names."""
    if isinstance(op, CreateItem):
        items.insert(0, op.item)
    elif isinstance(op, UpdateItem):
        _check_at(items, op.pos, op.before, "update")
        items[op.pos] = op.after
    elif isinstance(op, MoveItem):
        _check_at(items, op.pos, op.item, "move")
        move_item(items, op.pos, op.moveto)
    elif isinstance(op, DeleteItem):
        _check_at(items, op.pos, op.item, "delete")
        del items[op.pos]
    else:
        raise TypeError(f"not a list operation: {op!r}")


def apply_list_plan(items: Iterable[T], plan: Iterable[ListOperation[T]]) -> list[T]:
    """Return a new list: ``items`` after every operation of ``plan``, in order."""
    result = list(items)
    for op in plan:
        apply_list_operation(result, op)
    return result
