"""The record of one module run: one tracker feeds ``changed``, ``commands``, ``diff`` and
the values a result (or a failure) carries.

Every write of a run goes through the report, so a failure part-way names every write made
before it, and a rerun converges from there.

The ``.fw`` text of the diff is rendered only in diff mode (``Report.diff``), and a list of
more than ``FULL_LIST_LIMIT`` IP set entries or rules is returned as its ``delta`` alone
unless diff mode or the ``return_full`` option asks for it (``Report.lists``): on a large set
rendering and returning both lists cost more than the run's requests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from .._api.service import FirewallApi
from .._api.sync import SyncError, SyncResult
from .._api.transport import PveApiError
from .._compiler.api_mapping import ApiCall

T = TypeVar("T")
Item = TypeVar("Item", bound=Hashable)
Whole = TypeVar("Whole")

# Above this many entries or rules before or after the change, ``before`` and ``after`` are left
# out of a result (``delta`` carries the change) unless diff mode is on or ``return_full`` is set.
FULL_LIST_LIMIT = 500


def list_delta(before: Sequence[Item] | None, after: Sequence[Item] | None, shown: Callable[[Item], Any]) -> dict[str, Any]:
    """What changed between two lists, as multisets: ``added`` (in the order of ``after``),
    ``removed`` (in the order of ``before``), each item as ``shown``; ``kept_count``; and the
    lengths, None for a list that does not exist (a set or group missing before or after)."""
    # One count of ``after``, used up by ``before``: each item is hashed as few times as can be
    # (a frozen dataclass hashes in Python; a 10,000-entry set is hashed 30,000 times, not 60,000).
    remaining = Counter(after or ())
    removed = []
    for item in before or ():
        count = remaining.get(item, 0)
        if count:
            remaining[item] = count - 1
        else:
            removed.append(shown(item))
    kept = len(before or ()) - len(removed)
    added = []
    if kept < len(after or ()):
        for item in after or ():
            count = remaining.get(item, 0)
            if count:
                remaining[item] = count - 1
                added.append(shown(item))
    return {
        "added": added,
        "removed": removed,
        "kept_count": kept,
        "before_count": None if before is None else len(before),
        "after_count": None if after is None else len(after),
    }


class ModuleContext(Protocol):
    """What a module's backend uses of the module it runs in: an ``AnsibleModule`` on the
    module path, ``plugin_utils.controller.ControllerModule`` on the controller path."""

    params: dict[str, Any]
    check_mode: bool
    _diff: bool
    no_log_values: set[str]

    def warn(self, warning: str) -> None: ...


class Report:
    """Collects what a module did (or would do) and builds its result."""

    def __init__(self, module: ModuleContext) -> None:
        self.module = module
        self._calls: list[ApiCall] = []
        self._before: list[str] = []
        self._after: list[str] = []
        self.values: dict[str, Any] = {}  # keys of the result, failures included

    @property
    def calls(self) -> tuple[ApiCall, ...]:
        return tuple(self._calls)

    @property
    def changed(self) -> bool:
        return bool(self._calls)

    @property
    def before_text(self) -> str:
        return "".join(self._before)

    @property
    def after_text(self) -> str:
        return "".join(self._after)

    def record(self, calls: Iterable[ApiCall] = (), before_text: str = "", after_text: str = "") -> None:
        """Calls made (or planned) and the diff text they stand for."""
        self._calls.extend(calls)
        self._before.append(before_text)
        self._after.append(after_text)

    @property
    def diff_mode(self) -> bool:
        return bool(self.module._diff)  # pylint: disable=protected-access

    def diff(self, before: Callable[[], str], after: Callable[[], str]) -> None:
        """The diff text of a change, rendered only in diff mode (a large list's ``.fw`` text
        costs more than the requests of a run that changes nothing)."""
        if self.diff_mode:
            self.record((), before(), after())

    def lists(
        self, before: Whole | None, after: Whole | None, items: Callable[[Whole], Sequence[Item]], whole: Callable[[Whole], Any], item: Callable[[Item], Any]
    ) -> dict[str, Any]:
        """The result keys of a change to a list (an IP set's entries, a rule list, a group's
        rules): ``delta`` always; ``before`` and ``after`` (each ``whole``, or None for an object
        that does not exist) unless a list is over ``FULL_LIST_LIMIT`` items, in diff mode, or
        with ``return_full``."""
        old = items(before) if before is not None else None
        new = items(after) if after is not None else None
        out: dict[str, Any] = {"delta": list_delta(old, new, item)}
        longest = max(len(old or ()), len(new or ()))
        if longest <= FULL_LIST_LIMIT or self.diff_mode or self.module.params.get("return_full"):
            out["before"] = whole(before) if before is not None else None
            out["after"] = whole(after) if after is not None else None
        return out

    def sync(self, work: Callable[[], SyncResult[T]]) -> SyncResult[T]:
        """Run one sync; its calls join the record (the caller records its diff text)."""
        try:
            outcome = work()
        except SyncError as error:
            raise error.following(self._calls) from None  # names this run's earlier writes too
        self._calls.extend(outcome.calls)
        return outcome

    def send(self, api: FirewallApi, call: ApiCall, digest: str | None = None) -> None:
        """One write outside a sync (none in check mode); a failure names the earlier ones."""
        if not self.module.check_mode:
            try:
                api.send(call, digest)
            except PveApiError as error:
                if not self._calls:
                    raise
                raise SyncError(str(error), self._calls) from None
        self._calls.append(call)

    def result(self, **values: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"changed": self.changed, "commands": [str(call) for call in self._calls]}
        out.update(self.values)
        out.update(values)
        if self.diff_mode:
            out["diff"] = {"before": self.before_text, "after": self.after_text}
        return out
