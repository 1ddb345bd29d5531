"""The result of a change to a long list (report.Report.lists, report.list_delta) and the .fw
diff text rendered only in diff mode (report.Report.diff), the latter counted on real module
runs against the emulator."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler import fw_format
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FirewallFile
from ansible_collections.pve.firewall.plugins.module_utils._module_kit.report import FULL_LIST_LIMIT, Report, list_delta
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.modules import module_connection, run_module

# -- list_delta and Report.lists ------------------------------------------------------------


@dataclass
class Context:
    """A ModuleContext as a backend sees it."""

    params: dict[str, Any] = field(default_factory=dict)
    check_mode: bool = False
    _diff: bool = False
    no_log_values: set[str] = field(default_factory=set)

    def warn(self, warning: str) -> None:
        raise AssertionError(warning)


def test_the_delta_compares_lists_as_multisets_in_their_order() -> None:
    delta = list_delta(("a", "b", "b", "c"), ("c", "d", "b", "e"), str.upper)
    assert delta == {"added": ["D", "E"], "removed": ["A", "B"], "kept_count": 2, "before_count": 4, "after_count": 4}


def test_a_list_that_does_not_exist_counts_as_none() -> None:
    assert list_delta(None, ("a",), str) == {"added": ["a"], "removed": [], "kept_count": 0, "before_count": None, "after_count": 1}
    assert list_delta(("a",), None, str) == {"added": [], "removed": ["a"], "kept_count": 0, "before_count": 1, "after_count": None}


def test_a_reorder_adds_and_removes_nothing() -> None:
    assert list_delta(("a", "b"), ("b", "a"), str) == {"added": [], "removed": [], "kept_count": 2, "before_count": 2, "after_count": 2}


def lists(count: int, **context: Any) -> dict[str, Any]:
    before = tuple(range(count))
    after = (*before[1:], -1)
    return Report(Context(**context)).lists(before, after, tuple, list, str)


def test_up_to_the_limit_before_and_after_are_whole() -> None:
    result = lists(FULL_LIST_LIMIT)
    assert result["before"] == list(range(FULL_LIST_LIMIT)) and result["after"][-1] == -1
    assert result["delta"] == {"added": ["-1"], "removed": ["0"], "kept_count": FULL_LIST_LIMIT - 1, "before_count": 500, "after_count": 500}


def test_above_the_limit_only_the_delta_is_returned() -> None:
    result = lists(FULL_LIST_LIMIT + 1)
    assert sorted(result) == ["delta"]
    assert result["delta"] == {"added": ["-1"], "removed": ["0"], "kept_count": FULL_LIST_LIMIT, "before_count": 501, "after_count": 501}


@pytest.mark.parametrize("context", [{"_diff": True}, {"params": {"return_full": True}}], ids=["diff mode", "return_full"])
def test_diff_mode_and_return_full_return_long_lists_whole(context: dict[str, Any]) -> None:
    result = lists(FULL_LIST_LIMIT + 1, **context)
    assert len(result["before"]) == len(result["after"]) == FULL_LIST_LIMIT + 1 and "delta" in result


def test_a_missing_object_is_none_either_way() -> None:
    report = Report(Context())
    assert report.lists(None, None, tuple, list, str) == {
        "delta": {"added": [], "removed": [], "kept_count": 0, "before_count": None, "after_count": None},
        "before": None,
        "after": None,
    }
    long = tuple(range(FULL_LIST_LIMIT + 1))
    assert "before" not in report.lists(None, long, tuple, list, str)


# -- the .fw text is rendered in diff mode only ---------------------------------------------


@dataclass
class Renders:
    """Every render_fw call of the collection: the files rendered as text (the diff, the
    ``rendered`` state) and those only measured (the file-size check, ``canonical=False``)."""

    texts: list[FirewallFile] = field(default_factory=list)
    measured: list[FirewallFile] = field(default_factory=list)

    @property
    def measured_entries(self) -> int:
        return sum(len(ipset.entries) for fw in self.measured for ipset in fw.ipsets)


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[Renders]:
    """Count render_fw calls wherever the collection bound the name (from-imports included)."""
    for module in RUNS:  # loaded first, so that none binds the counter of an earlier test
        importlib.import_module(f"ansible_collections.pve.firewall.plugins.modules.{module}")
    original = fw_format.render_fw
    seen = Renders()

    def counting(fw: FirewallFile, *, canonical: bool = True) -> str:
        (seen.texts if canonical else seen.measured).append(fw)
        return original(fw, canonical=canonical)

    for name, module in list(sys.modules.items()):
        if name.startswith("ansible_collections.pve.firewall.plugins") and getattr(module, "render_fw", None) is original:
            monkeypatch.setattr(module, "render_fw", counting)
    yield seen


@pytest.fixture
def pve_tls(make_pve_emulator: Callable[..., RunningEmulator]) -> Iterator[RunningEmulator]:
    yield make_pve_emulator(tls=True)


def run(running: RunningEmulator, module: str, args: dict[str, Any], *, diff: bool = False) -> dict[str, Any]:
    result = run_module(module, {**module_connection(running), **args}, diff=diff)
    assert not result.get("failed"), result.get("msg")
    return result


RULES = [{"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "22", "comment": "ssh"}]
RUNS: dict[str, tuple[str, dict[str, Any], str]] = {
    "firewall_rule": ("firewall_rule", {"level": "cluster", "rules": RULES}, "[RULES]\n\nIN ACCEPT -p tcp -dport 22 # ssh\n\n"),
    "security_group": ("security_group", {"name": "web", "rules": RULES}, "[group web]\n\nIN ACCEPT -p tcp -dport 22 # ssh\n\n"),
    "firewall_options": ("firewall_options", {"level": "cluster", "options": {"policy_in": "ACCEPT"}}, "[OPTIONS]\n\npolicy_in: ACCEPT\n\n"),
    "ipset": ("ipset", {"name": "admins", "entries": ["192.0.2.0/24"]}, "[IPSET admins]\n\n192.0.2.0/24\n\n"),
    "alias": ("alias", {"name": "admin", "cidr": "192.0.2.10"}, "[ALIASES]\n\nadmin 192.0.2.10\n\n"),
}


@pytest.mark.parametrize("case", sorted(RUNS))
def test_without_diff_mode_no_fw_text_is_rendered(pve_tls: RunningEmulator, renders: Renders, case: str) -> None:
    """Neither a change nor a rerun renders .fw text (a set's file-size check measures the set
    it makes); diff mode shows the text as before."""
    module, args, text = RUNS[case]
    created = run(pve_tls, module, args)
    rerun = run(pve_tls, module, args)
    assert created["changed"] is True and rerun["changed"] is False
    assert "diff" not in created and "diff" not in rerun
    assert renders.texts == []
    shown = run(pve_tls, module, args, diff=True)
    assert shown["diff"] == {"before": text, "after": text}
    assert len(renders.texts) == 2


def test_a_large_set_that_shrinks_renders_only_the_entries_that_go(pve_tls: RunningEmulator, renders: Renders) -> None:
    """The file-size check measures how much the set grows from the entries that differ: a
    change that removes one entry of 600 renders that entry, not the set twice."""
    entries = [f"10.0.{index // 256}.{index % 256}" for index in range(600)]
    pve_tls.control.write_file("firewall/cluster.fw", "[IPSET big]\n\n" + "\n".join(entries) + "\n")
    result = run(pve_tls, "ipset", {"name": "big", "entries": entries[1:]})
    assert result["commands"] == ["DELETE /cluster/firewall/ipset/big/10.0.0.0"]
    assert renders.texts == [] and renders.measured_entries == 1
