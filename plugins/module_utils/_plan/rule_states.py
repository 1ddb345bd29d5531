"""The resource states of an ordered rule list (firewall_rule, security_group), as pure functions.

PVE rules have no id: a rule is what it matches. Two rules are "the same rule" for ``merged``
and ``deleted`` when they match the same traffic the same way: every field but ``enable``,
``log`` and ``comment`` is equal. Those three are the rule's attributes, applied as listed.

``merged`` leaves a listed rule present as often as it is listed, so once: a POST that timed
out may still land after its run gave up, and the rerun that added the rule again must not
leave two (nor must any run after it). Copies of a rule that is not listed stay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from .._model.objects import Rule

RULE_STATES = ("merged", "overridden", "deleted", "gathered", "rendered", "parsed")


def match_key(rule: Rule) -> Rule:
    """The part of a rule that says what it matches and does."""
    return replace(rule, enable=True, log=None, comment=None)


def _index_of(cells: list[list[object]], cell: list[object]) -> int:
    return next(index for index, item in enumerate(cells) if item is cell)


def merged(current: Sequence[Rule], listed: Sequence[Rule]) -> tuple[Rule, ...]:
    """``current`` with every listed rule present, the listed ones in the listed order.

    A listed rule replaces the first same rule (see ``match_key``) after the previous listed
    one, or if there is none there, the first same rule anywhere, which is then moved right
    after the previous listed rule. A listed rule with no same rule is inserted right after
    the previous listed rule; the first one goes to the top, where PVE itself adds rules.
    Further copies of a listed rule, that no listed rule claimed, are removed. Rules not listed
    keep their relative order.
    """
    cells: list[list[object]] = [[rule, False] for rule in current]  # [rule, claimed]
    last: list[object] | None = None
    for want in listed:
        key = match_key(want)
        start = _index_of(cells, last) + 1 if last is not None else 0
        same = [cell for cell in cells if not cell[1] and match_key(cell[0]) == key]  # type: ignore[arg-type]
        after = [cell for cell in same if _index_of(cells, cell) >= start]
        found = after[0] if after else (same[0] if same else None)
        if found is None:
            found = [want, True]
            cells.insert(start, found)
        else:
            found[0], found[1] = want, True
            position = _index_of(cells, found)
            if position < start:
                cells.pop(position)
                cells.insert(_index_of(cells, last) + 1, found)  # type: ignore[arg-type]
        last = found
    listed_keys = {match_key(rule) for rule in listed}
    return tuple(cell[0] for cell in cells if cell[1] or match_key(cell[0]) not in listed_keys)  # type: ignore[misc,arg-type]


def deleted(current: Sequence[Rule], listed: Sequence[Rule]) -> tuple[Rule, ...]:
    """``current`` without every rule that is the same as a listed one; all gone if none listed."""
    if not listed:
        return ()
    keys = {match_key(rule) for rule in listed}
    return tuple(rule for rule in current if match_key(rule) not in keys)


def target_list(state: str, current: Sequence[Rule], listed: Sequence[Rule]) -> tuple[Rule, ...]:
    if state == "overridden":
        return tuple(listed)
    if state == "deleted":
        return deleted(current, listed)
    return merged(current, listed)
