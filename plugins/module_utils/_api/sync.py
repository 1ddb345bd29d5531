"""Carrying out plans against the API, safely under concurrent writers.

The third layer's engine: read, plan with the compiler's planner, write, and re-plan when
someone else changed the same object in between.

* Ordered rule lists: every write that addresses a position carries the digest of a read
  that showed exactly what the plan predicts at that point, so it can never hit the wrong
  rule. POSTs need no such read (PVE inserts at 0 and ignores their digest), so a run of
  them is read back once, before the next positional write and at the end (a plan that ends
  with a positional write needs no read at the end: its digest vouched for the list). A
  read-back that differs means another writer was at work: the rest is re-planned from what
  is there.
* Keyed collections (ipset entries, aliases): writes name their object, so positions cannot
  go wrong. The first write carries the digest where PVE accepts one; a later write that
  finds its object gone (or already there) marks a concurrent change, and the rest is
  re-planned from a new read. No read-back per write: a 50,000-entry set stays cheap. An
  exact sync (``purge``) reads the collection back once at the end, unless its one write
  carried the digest: objects another writer added between the writes would otherwise stay,
  and two exact writers would leave a mixture of both lists. A read-back that differs from
  the prediction is planned anew, so the collection ends as the list of the writer that
  finished last.
* Options: one PUT with the digest.

A digest conflict (PVE's HTTP 500 "detected modified configuration") or a read-back that
differs leads to a new read and plan. Options give up after ``MAX_ATTEMPTS`` attempts in
all. Rule lists and keyed collections give up only after ``MAX_STALLED`` attempts in a row
that wrote nothing (a busy writer interrupts every plan, yet each attempt gets further), or
``MAX_ROUNDS`` attempts in all; after each interrupted attempt they wait a random, growing
while, so that two writers that keep meeting fall out of step and the one that got in first
can finish.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Optional, TypeVar

from .._compiler.api_mapping import ApiCall, options_to_api, rule_call
from .._model.errors import PveFirewallError
from .._model.list_operations import CreateItem, apply_list_operation
from .._model.objects import OptionValue, Rule
from .._plan.planner import plan_keyed, plan_options
from .._plan.rule_plan import plan_rules
from .service import FirewallApi, Snapshot
from .transport import PveApiError

T = TypeVar("T")
V = TypeVar("V")
# Sends order-free calls at once; returns those that wrote and the first error (Lease.spread)
Spread = Callable[[Sequence[ApiCall], Callable[[FirewallApi, ApiCall], bool]], tuple[list[ApiCall], Optional[BaseException]]]  # noqa: UP045
MAX_ATTEMPTS = 4
MAX_STALLED = 8
# Attempts of a rule list sync in all: bounds runs that keep undoing each other's writes.
MAX_ROUNDS = 50
BACKOFF = 0.05  # seconds, doubled per attempt in a row that wrote nothing, at most 2 s
# Answers to keyed writes that mean "someone else changed this collection meanwhile".
_KEYED_CONFLICTS = ("already exists", "no such")


class ConcurrentChange(PveFirewallError):
    """What was read back is not what the plan predicted; carries that read."""

    def __init__(self, snapshot: Snapshot[tuple[Rule, ...]]) -> None:
        super().__init__("the list changed meanwhile")
        self.snapshot = snapshot


class SyncError(PveFirewallError):
    """A plan could not be carried out; ``done`` lists the calls that were made."""

    def __init__(self, message: str, done: Sequence[ApiCall] = ()) -> None:
        self.reason = message
        self.done = tuple(done)
        text = message
        if done:
            text += f" (after {len(done)} successful write{'s' if len(done) != 1 else ''}; a rerun converges from here)"
        super().__init__(text)

    def following(self, earlier: Sequence[ApiCall]) -> SyncError:
        """This failure as one of a run that made ``earlier`` writes before it."""
        return SyncError(self.reason, (*earlier, *self.done)) if earlier else self

    def result_details(self) -> dict[str, Any]:
        return {"commands": [str(call) for call in self.done]}


@dataclass(frozen=True)
class SyncResult(Generic[T]):
    """The state before, the state after (or as it would be in check mode) and the calls."""

    before: T
    after: T
    calls: tuple[ApiCall, ...] = ()
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


def _give_up(label: str, done: Sequence[ApiCall], times: int = MAX_ATTEMPTS, *, in_a_row: bool = False) -> SyncError:
    how_often = f"{times} times in a row" if in_a_row else f"{times} times"
    return SyncError(f"{label} changed under this run {how_often} (other writers at work); giving up", done)


class _Tries:
    """The attempts of one rule list or keyed sync: how many, and the pause after each one
    that was interrupted. ``done`` is the sync's record of writes, shared."""

    def __init__(self, label: str, done: list[ApiCall]) -> None:
        self.label, self.done = label, done
        self.attempt = self.stalled = self.written = 0

    def next(self) -> int:
        """The number of the attempt that starts now; SyncError when the limits are reached."""
        if self.stalled >= MAX_STALLED:
            raise _give_up(self.label, self.done, MAX_STALLED, in_a_row=True)
        self.attempt += 1
        if self.attempt > MAX_ROUNDS:
            raise SyncError(f"{self.label} kept changing under this run for {MAX_ROUNDS} attempts (other writers at work); giving up", self.done)
        self.written = len(self.done)
        return self.attempt

    def interrupted(self) -> None:
        """An attempt met another writer: count it, then wait before the next one."""
        self.stalled = 0 if len(self.done) > self.written else self.stalled + 1
        if self.stalled < MAX_STALLED:
            # at least half the pause: a run that keeps meeting a busy writer waits 3.5 s at
            # least before it gives up, time for a hundred or so writes of the other run
            pause = min(2.0, BACKOFF * 2**self.stalled)
            time.sleep(random.uniform(pause / 2, pause))


# --------------------------------------------------------------------------------------------
# Ordered rule lists


def _read_back(api: FirewallApi, path: str, expected: Sequence[Rule]) -> Snapshot[tuple[Rule, ...]]:
    """The list as it is now, which must be what the writes so far predict."""
    snapshot = api.read_rules(path)
    if snapshot.items != tuple(expected):
        raise ConcurrentChange(snapshot)
    return snapshot


def sync_rules(
    api: FirewallApi,
    path: str,
    target: Callable[[tuple[Rule, ...]], tuple[Rule, ...]],
    *,
    check_mode: bool,
    label: str,
    first: Snapshot[tuple[Rule, ...]] | None = None,
) -> SyncResult[tuple[Rule, ...]]:
    """Make the rule list at ``path`` what ``target(current)`` says, with the fewest writes."""
    snapshot = first or api.read_rules(path)
    before = snapshot.items
    done: list[ApiCall] = []
    tries = _Tries(label, done)
    while True:
        attempt = tries.next()
        desired = tuple(target(snapshot.items))
        plan = plan_rules(snapshot.items, desired)
        if check_mode or not plan:
            return SyncResult(before, desired, tuple(done) + tuple(rule_call(path, op) for op in plan), attempt)
        expected = list(snapshot.items)
        stale = unverified = False  # digest outdated by a write; a POST made since the last read
        try:
            for op in plan:
                if stale and not isinstance(op, CreateItem):
                    snapshot = _read_back(api, path, expected)
                    stale = unverified = False
                call = rule_call(path, op)
                # POST inserts at 0 whatever the list holds, and PVE ignores its digest
                api.send(call, None if isinstance(op, CreateItem) else snapshot.digest)
                done.append(call)
                apply_list_operation(expected, op)
                stale = True
                unverified = unverified or isinstance(op, CreateItem)
            if not unverified:
                # the last write carried the digest of a read that showed ``expected`` before
                # it: PVE applied it to exactly that list, so its result needs no read
                return SyncResult(before, tuple(expected), tuple(done), attempt)
            snapshot = _read_back(api, path, expected)
            return SyncResult(before, snapshot.items, tuple(done), attempt)
        except ConcurrentChange as change:
            snapshot = change.snapshot
        except PveApiError as error:
            if not _is_conflict(error):
                raise SyncError(str(error), done) from None
            snapshot = api.read_rules(path)
        tries.interrupted()


# --------------------------------------------------------------------------------------------
# Keyed collections


@dataclass(frozen=True)
class KeyedEndpoints(Generic[V]):
    """How one keyed collection is read and written."""

    read: Callable[[], Snapshot[tuple[V, ...]]]
    key: Callable[[V], str]
    create: Callable[[V], ApiCall]
    update: Callable[[V, V], ApiCall]
    delete: Callable[[V], ApiCall]
    digest_methods: frozenset[str] = field(default_factory=lambda: frozenset({"PUT", "DELETE"}))


def keyed_calls(endpoints: KeyedEndpoints[V], current: Mapping[str, V], desired: Mapping[str, V], purge: bool) -> tuple[ApiCall, ...]:
    """Deletions, then updates, then creations: the first write can then carry the digest."""
    plan = plan_keyed(current, desired, purge=purge)
    return (
        *(endpoints.delete(item) for item in plan.delete),
        *(endpoints.update(before, after) for before, after in plan.update),
        *(endpoints.create(item) for item in plan.create),
    )


def _apply_keyed(endpoints: KeyedEndpoints[V], current: Mapping[str, V], desired: Mapping[str, V], purge: bool) -> tuple[V, ...]:
    result = dict(current) if not purge else {key: value for key, value in current.items() if key in desired}
    result.update(desired)
    return tuple(result[key] for key in sorted(result))


def _spread_tail(calls: Sequence[ApiCall], digest: str | None, api: FirewallApi, endpoints: KeyedEndpoints[V], spread: Spread, done: list[ApiCall]) -> bool:
    """The first call with the digest of the read (the collection is as planned), then the
    others at once: each names its object, so their order does not matter. A call another
    writer beat (the object is there, or gone, already) is not written. Whether all wrote."""
    head, rest = calls[0], calls[1:]
    api.send(head, digest if head.method in endpoints.digest_methods else None)
    done.append(head)

    def send(other: FirewallApi, call: ApiCall) -> bool:
        try:
            other.send(call)
        except PveApiError as error:
            if _is_conflict(error, keyed=True):
                return False
            raise
        return True

    written, error = spread(rest, send)
    done.extend(written)
    if isinstance(error, PveApiError):
        raise SyncError(str(error), done) from None
    if error is not None:
        raise error
    return len(written) == len(rest)


def sync_keyed(
    api: FirewallApi,
    endpoints: KeyedEndpoints[V],
    desired_items: Sequence[V],
    *,
    purge: bool,
    check_mode: bool,
    label: str,
    first: Snapshot[tuple[V, ...]] | None = None,
    spread: Spread | None = None,
) -> SyncResult[tuple[V, ...]]:
    """Make a keyed collection hold ``desired_items`` (and nothing else when ``purge``).
    ``spread``: sends order-free calls over several connections at once (``Lease.spread``);
    without it, or for two calls or fewer, they go one after the other on ``api``."""
    desired = {endpoints.key(item): item for item in desired_items}
    snapshot = first or endpoints.read()
    before = snapshot.items
    done: list[ApiCall] = []
    tries = _Tries(label, done)
    while True:
        attempt = tries.next()
        current = {endpoints.key(item): item for item in snapshot.items}
        calls = keyed_calls(endpoints, current, desired, purge)
        after = _apply_keyed(endpoints, current, desired, purge)
        if check_mode or not calls:
            return SyncResult(before, after, tuple(done) + calls, attempt)
        try:
            if spread is not None and len(calls) > 2:
                every_call_wrote = _spread_tail(calls, snapshot.digest, api, endpoints, spread, done)
            else:
                for index, call in enumerate(calls):
                    api.send(call, snapshot.digest if index == 0 and call.method in endpoints.digest_methods else None)
                    done.append(call)
                every_call_wrote = True
            # Without purge, what others add may stay; one write that carried the digest was
            # applied to exactly what was read. Else read back: what another writer added
            # between the writes (or was first to write) would stay unseen.
            if every_call_wrote and (not purge or (len(calls) == 1 and snapshot.digest and calls[0].method in endpoints.digest_methods)):
                return SyncResult(before, after, tuple(done), attempt)
            snapshot = endpoints.read()
            if not keyed_calls(endpoints, {endpoints.key(item): item for item in snapshot.items}, desired, purge):
                return SyncResult(before, after, tuple(done), attempt)
        except PveApiError as error:
            if not _is_conflict(error, keyed=True):
                raise SyncError(str(error), done) from None
            snapshot = endpoints.read()
        tries.interrupted()


# --------------------------------------------------------------------------------------------
# Options


def sync_object(
    read: Callable[[], Snapshot[T]],
    plan: Callable[[T], tuple[T, ApiCall | None]],
    send: Callable[[ApiCall, str | None], object],
    *,
    check_mode: bool,
    label: str,
    first: Snapshot[T] | None = None,
) -> SyncResult[T]:
    """One object written with one PUT carrying its digest (options, a guest's config).

    ``plan`` turns what was read into the state after and the PUT (None: nothing to write).
    A digest conflict means another writer got in between: read again and plan on top of it.
    """
    snapshot = first or read()
    before = snapshot.items
    for attempt in range(1, MAX_ATTEMPTS + 1):
        after, call = plan(snapshot.items)
        if call is None:
            return SyncResult(before, after, (), attempt)
        if check_mode:
            return SyncResult(before, after, (call,), attempt)
        try:
            send(call, snapshot.digest)
            return SyncResult(before, after, (call,), attempt)
        except PveApiError as error:
            if not _is_conflict(error):
                raise SyncError(str(error)) from None
            snapshot = read()
    raise _give_up(label, ())


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
    send: Callable[[ApiCall, str | None], None] | None = None,
    first: Snapshot[dict[str, OptionValue]] | None = None,
) -> SyncResult[dict[str, OptionValue]]:
    """One PUT of the changed and reset keys; ``send`` may replace the plain write (auto-revert)."""

    def plan(current: dict[str, OptionValue]) -> tuple[dict[str, OptionValue], ApiCall | None]:
        changes = plan_options(current, desired, reset)
        after = {key: value for key, value in current.items() if key not in changes.delete}
        after.update(changes.set)
        return after, None if changes.is_empty else ApiCall("PUT", path, options_to_api(level, changes.set, changes.delete))

    return sync_object(read, plan, send or api.send, check_mode=check_mode, label=label, first=first)
