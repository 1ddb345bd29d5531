"""Carrying out plans against the API, safely under concurrent writers.

The third layer's engine: read, plan with the compiler's planner, write, and re-plan when
someone else changed the same object in between.

* Ordered rule lists: every write that addresses a position carries the digest of a read
  that showed exactly what the plan predicts at that point, so it can never hit the wrong
  rule. POSTs need no such read (PVE inserts at 0 and ignores their digest), so a run of
  them is read back once, before the next positional write and at the end. A read-back that
  differs means another writer was at work: the rest is re-planned from what is there.
* Keyed collections (ipset entries, aliases): writes name their object, so positions cannot
  go wrong. The first write carries the digest where PVE accepts one; a later write that
  finds its object gone (or already there) marks a concurrent change, and the rest is
  re-planned from a new read. No read-back per write: a 50,000-entry set stays cheap.
* Options: one PUT with the digest.

A digest conflict (PVE's HTTP 500 "detected modified configuration") or a read-back that
differs leads to a new read and plan, at most ``MAX_ATTEMPTS`` times in all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, Optional, Tuple, TypeVar

from ._api_mapping import options_to_api, rule_to_api, rule_update_params
from ._firewall_api import ApiCall, FirewallApi, Snapshot
from ._model import OptionValue, Rule
from ._planner import CreateItem, ListOperation, MoveItem, UpdateItem, apply_list_operation, plan_keyed, plan_options, plan_ordered
from ._pve_transport import PveApiError

T = TypeVar("T")
V = TypeVar("V")
MAX_ATTEMPTS = 4
# Answers to keyed writes that mean "someone else changed this collection meanwhile".
_KEYED_CONFLICTS = ("already exists", "no such")


class ConcurrentChange(Exception):
    """What was read back is not what the plan predicted; carries that read."""

    def __init__(self, snapshot: Snapshot[Tuple[Rule, ...]]) -> None:
        super().__init__("the list changed meanwhile")
        self.snapshot = snapshot


class SyncError(Exception):
    """A plan could not be carried out; ``done`` lists the calls that were made."""

    def __init__(self, message: str, done: Sequence[ApiCall] = ()) -> None:
        self.done = tuple(done)
        text = message
        if done:
            text += f" (after {len(done)} successful write{'s' if len(done) != 1 else ''}; a rerun converges from here)"
        super().__init__(text)


@dataclass(frozen=True)
class SyncResult(Generic[T]):
    """The state before, the state after (or as it would be in check mode) and the calls."""

    before: T
    after: T
    calls: Tuple[ApiCall, ...] = ()
    attempts: int = 1

    @property
    def changed(self) -> bool:
        return bool(self.calls)


def _is_conflict(error: PveApiError, keyed: bool = False) -> bool:
    if error.is_digest_conflict:
        return True
    if keyed and error.status == 400:
        text = " ".join([error.message, *error.errors.values()])
        return any(marker in text for marker in _KEYED_CONFLICTS)
    return False


def _give_up(label: str, done: Sequence[ApiCall]) -> SyncError:
    return SyncError(f"{label} changed under this run {MAX_ATTEMPTS} times in a row (other writers at work); giving up", done)


# --------------------------------------------------------------------------------------------
# Ordered rule lists


def rule_call(path: str, op: ListOperation[Rule]) -> ApiCall:
    """The request that carries out one planned list operation."""
    if isinstance(op, CreateItem):
        return ApiCall("POST", path, rule_to_api(op.item))
    if isinstance(op, UpdateItem):
        return ApiCall("PUT", f"{path}/{op.pos}", rule_update_params(op.before, op.after))
    if isinstance(op, MoveItem):
        return ApiCall("PUT", f"{path}/{op.pos}", {"moveto": op.moveto})
    return ApiCall("DELETE", f"{path}/{op.pos}")


def _read_back(api: FirewallApi, path: str, expected: Sequence[Rule]) -> Snapshot[Tuple[Rule, ...]]:
    """The list as it is now, which must be what the writes so far predict."""
    snapshot = api.read_rules(path)
    if snapshot.items != tuple(expected):
        raise ConcurrentChange(snapshot)
    return snapshot


def planned_rule_calls(path: str, current: Sequence[Rule], desired: Sequence[Rule]) -> Tuple[ApiCall, ...]:
    return tuple(rule_call(path, op) for op in plan_ordered(tuple(current), tuple(desired)))


def sync_rules(
    api: FirewallApi,
    path: str,
    target: Callable[[Tuple[Rule, ...]], Tuple[Rule, ...]],
    *,
    check_mode: bool,
    label: str,
    first: Optional[Snapshot[Tuple[Rule, ...]]] = None,
) -> SyncResult[Tuple[Rule, ...]]:
    """Make the rule list at ``path`` what ``target(current)`` says, with the fewest writes."""
    snapshot = first or api.read_rules(path)
    before = snapshot.items
    done: list[ApiCall] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        desired = tuple(target(snapshot.items))
        plan = plan_ordered(snapshot.items, desired)
        if check_mode or not plan:
            return SyncResult(before, desired, tuple(done) + tuple(rule_call(path, op) for op in plan), attempt)
        expected = list(snapshot.items)
        unverified = False
        try:
            for op in plan:
                if unverified and not isinstance(op, CreateItem):
                    snapshot = _read_back(api, path, expected)
                    unverified = False
                call = rule_call(path, op)
                # POST inserts at 0 whatever the list holds, and PVE ignores its digest
                api.send(call, None if isinstance(op, CreateItem) else snapshot.digest)
                done.append(call)
                apply_list_operation(expected, op)
                unverified = True
            snapshot = _read_back(api, path, expected)
            return SyncResult(before, snapshot.items, tuple(done), attempt)
        except ConcurrentChange as change:
            snapshot = change.snapshot
        except PveApiError as error:
            if not _is_conflict(error):
                raise SyncError(str(error), done) from None
            snapshot = api.read_rules(path)
    raise _give_up(label, done)


# --------------------------------------------------------------------------------------------
# Keyed collections


@dataclass(frozen=True)
class KeyedEndpoints(Generic[V]):
    """How one keyed collection is read and written."""

    read: Callable[[], Snapshot[Tuple[V, ...]]]
    key: Callable[[V], str]
    create: Callable[[V], ApiCall]
    update: Callable[[V, V], ApiCall]
    delete: Callable[[V], ApiCall]
    digest_methods: frozenset[str] = field(default_factory=lambda: frozenset({"PUT", "DELETE"}))


def keyed_calls(endpoints: KeyedEndpoints[V], current: Mapping[str, V], desired: Mapping[str, V], purge: bool) -> Tuple[ApiCall, ...]:
    """Deletions, then updates, then creations: the first write can then carry the digest."""
    plan = plan_keyed(current, desired, purge=purge)
    return (
        *(endpoints.delete(item) for item in plan.delete),
        *(endpoints.update(before, after) for before, after in plan.update),
        *(endpoints.create(item) for item in plan.create),
    )


def _apply_keyed(endpoints: KeyedEndpoints[V], current: Mapping[str, V], desired: Mapping[str, V], purge: bool) -> Tuple[V, ...]:
    result = dict(current) if not purge else {key: value for key, value in current.items() if key in desired}
    result.update(desired)
    return tuple(result[key] for key in sorted(result))


def sync_keyed(
    api: FirewallApi,
    endpoints: KeyedEndpoints[V],
    desired_items: Sequence[V],
    *,
    purge: bool,
    check_mode: bool,
    label: str,
    first: Optional[Snapshot[Tuple[V, ...]]] = None,
) -> SyncResult[Tuple[V, ...]]:
    """Make a keyed collection hold ``desired_items`` (and nothing else when ``purge``)."""
    desired = {endpoints.key(item): item for item in desired_items}
    snapshot = first or endpoints.read()
    before = snapshot.items
    done: list[ApiCall] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        current = {endpoints.key(item): item for item in snapshot.items}
        calls = keyed_calls(endpoints, current, desired, purge)
        after = _apply_keyed(endpoints, current, desired, purge)
        if check_mode or not calls:
            return SyncResult(before, after, tuple(done) + calls, attempt)
        try:
            for index, call in enumerate(calls):
                digest = snapshot.digest if index == 0 and call.method in endpoints.digest_methods else None
                api.send(call, digest)
                done.append(call)
            return SyncResult(before, after, tuple(done), attempt)
        except PveApiError as error:
            if not _is_conflict(error, keyed=True):
                raise SyncError(str(error), done) from None
            snapshot = endpoints.read()
    raise _give_up(label, done)


# --------------------------------------------------------------------------------------------
# Options


def sync_options(
    api: FirewallApi,
    path: str,
    level: str,
    read: Callable[[], Snapshot[dict[str, OptionValue]]],
    desired: Mapping[str, OptionValue],
    reset: Sequence[str],
    *,
    check_mode: bool,
    label: str,
    send: Optional[Callable[[ApiCall, Optional[str]], None]] = None,
    first: Optional[Snapshot[dict[str, OptionValue]]] = None,
) -> SyncResult[dict[str, OptionValue]]:
    """One PUT of the changed and reset keys; ``send`` may replace the plain write (auto-revert)."""
    snapshot = first or read()
    before = dict(snapshot.items)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        plan = plan_options(snapshot.items, desired, reset)
        after = {key: value for key, value in snapshot.items.items() if key not in plan.delete}
        after.update(plan.set)
        if plan.is_empty:
            return SyncResult(before, after, (), attempt)
        call = ApiCall("PUT", path, options_to_api(level, plan.set, plan.delete))
        if check_mode:
            return SyncResult(before, after, (call,), attempt)
        try:
            if send is None:
                api.send(call, snapshot.digest)
            else:
                send(call, snapshot.digest)
            return SyncResult(before, after, (call,), attempt)
        except PveApiError as error:
            if not _is_conflict(error):
                raise SyncError(str(error)) from None
            snapshot = read()
    raise _give_up(label, ())
