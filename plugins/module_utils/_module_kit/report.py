"""The record of one module run: one tracker feeds ``changed``, ``commands``, ``diff`` and
the values a result (or a failure) carries.

Every write of a run goes through the report, so a failure part-way names every write made
before it, and a rerun converges from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from .._api.service import FirewallApi
from .._api.sync import SyncError, SyncResult
from .._api.transport import PveApiError
from .._compiler.api_mapping import ApiCall

T = TypeVar("T")


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
        if self.module._diff:  # pylint: disable=protected-access
            out["diff"] = {"before": self.before_text, "after": self.after_text}
        return out
