"""The base of the modules that manage an ordered rule list (firewall_rule, security_group).

One run is one of the resource states: ``parsed`` and ``rendered`` work offline, ``gathered``
reads, and the configuration states (merged, overridden, deleted, and a module's own) read,
plan and write. The base runs the state, validates the input before the first request, and
gives subclasses the parts they share: the rule checks of ``parsed`` text and a rule sync whose
writes join the report.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from .._api.service import FirewallApi, Snapshot
from .._api.sync import SyncResult, sync_rules
from .._compiler.fw_format import ParsedFile
from .._compiler.rule_validation import check_rule
from .._model.errors import FieldError
from .._model.objects import Level, Rule
from .access import AccessGuard
from .report import ModuleContext, Report
from .runner import connect

Input = TypeVar("Input")
RuleTarget = Callable[[tuple[Rule, ...]], tuple[Rule, ...]]


def parsed_rule_errors(parsed: ParsedFile, level: Level, rules: Sequence[Rule], place: Callable[[int], tuple[Any, ...]]) -> Iterator[FieldError]:
    """PVE's checks of rules read from ``running_config``, each naming its line in the text;
    ``place(index)`` is the key of the rule's line in ``parsed.lines``."""
    for index, rule in enumerate(rules):
        where = f"running_config line {parsed.lines.get(place(index), 0)}"
        yield from check_rule(rule, level, location=where, api_schema=False).errors


class RuleListModule(ABC, Generic[Input]):
    """One run of a rule-list module; ``Input`` is what ``validated`` makes of the options."""

    def __init__(self, module: ModuleContext) -> None:
        self.module = module
        self.params: dict[str, Any] = module.params
        self.state: str = self.params["state"]
        self.check_mode: bool = module.check_mode
        self.report = Report(module)
        self.access = AccessGuard(self.params, self.report)

    # -- what a module defines ---------------------------------------------------------------

    @abstractmethod
    def parsed(self) -> dict[str, Any]:
        """``state: parsed``: the objects of ``running_config``, offline."""

    @abstractmethod
    def rendered(self) -> dict[str, Any]:
        """``state: rendered``: the ``.fw`` text and the calls that create the input, offline."""

    @abstractmethod
    def validated(self) -> Input:
        """The input of a configuration state, checked without the API."""

    @abstractmethod
    def gathered(self, api: FirewallApi) -> dict[str, Any]:
        """``state: gathered``: the current objects in the shape the module takes."""

    @abstractmethod
    def configure(self, api: FirewallApi, wanted: Input) -> dict[str, Any]:
        """A configuration state: read, plan and write (or, in check mode, only plan)."""

    # -- shared ------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if self.state == "parsed":
            return self.parsed()
        if self.state == "rendered":
            return {**self.rendered(), "changed": False}
        # Input errors fail before the first request (a guest's node lookup included).
        wanted = None if self.state == "gathered" else self.validated()
        with connect(self.module) as api:
            if wanted is None:
                return self.gathered(api)
            return self.configure(api, wanted)

    def sync_rules(
        self, api: FirewallApi, path: str, target: RuleTarget, label: str, first: Snapshot[tuple[Rule, ...]] | None = None
    ) -> SyncResult[tuple[Rule, ...]]:
        """Bring the list at ``path`` to ``target(current)``; the writes join the report."""
        return self.report.sync(lambda: sync_rules(api, path, target, check_mode=self.check_mode, label=label, first=first))
