"""firewall_rule when writes fail or other writers are at work.

* Fault injection: a plan of several writes is cut at every write in turn (an HTTP 500, a
  connection reset). The run fails saying so, no rule that was there and is still wanted is
  lost, a rerun converges to exactly the desired list and the run after it changes nothing.
  PVE's digest-conflict answer at any write is not a failure: the rest is planned anew.
* Concurrent writers: two ansible-playbook processes merge different rules into the same
  list at the same time (with emulator latency to widen the window): no update is lost and
  each run's listed order holds.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_playbook

from ansible_collections.pve.firewall.plugins.module_utils._api import sync as _sync
from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_rule
from ansible_collections.pve.firewall.plugins.module_utils._compiler.user_input import rules_from_user
from ansible_collections.pve.firewall.plugins.module_utils._plan import rule_plan
from ansible_collections.pve.firewall.plugins.module_utils._plan.planner import apply_list_operation

MODULE = "firewall_rule"
SCOPES: dict[str, tuple[dict[str, Any], str]] = {
    "cluster": ({"level": "cluster"}, "/cluster/firewall/rules"),
    "vm": ({"level": "vm", "vmid": 100}, "/nodes/pve1/qemu/100/firewall/rules"),
}
CONFLICT = "detected modified configuration - file changed by other user? Try again."


def rule(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "in" if n % 2 else "out", "action": "ACCEPT", "proto": "tcp", "dport": str(1000 + n), **extra}


def api_params(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "enable": int(item.get("enable", True))}


BEFORE = [rule(n) for n in range(10)]
# 2 inserted (20, 21), 1 deleted (3), 1 changed (5: action and comment), 2 reordered (8 up, 1 down)
DESIRED = [rule(0), rule(8), rule(2), rule(4), rule(20), rule(5, action="DROP", comment="changed"), rule(6), rule(7), rule(9), rule(1), rule(21)]
KEPT = {item["dport"] for item in BEFORE} & {item["dport"] for item in DESIRED}


def seed(cluster: ModuleRunner, path: str, rules: list[dict[str, Any]]) -> None:
    api = cluster.api()
    for item in reversed(rules):  # POST inserts at the top
        api.post(path, **api_params(item))


def shape(stored: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(item["type"], item["action"], item["dport"], item.get("comment"), item["enable"]) for item in stored]


def expected_shape(rules: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(item["type"], item["action"], item["dport"], item.get("comment"), 1) for item in rules]


def planned_writes(cluster: ModuleRunner, args: dict[str, Any], path: str) -> int:
    seed(cluster, path, BEFORE)
    planned = cluster.ok(MODULE, check=True, **args)
    assert planned["changed"] is True
    return len(planned["commands"])


@pytest.mark.parametrize("level", list(SCOPES))
@pytest.mark.parametrize(("action", "symptom"), [("error", "HTTP 500: injected"), ("reset", "failed")])
def test_a_write_failing_at_any_position_loses_nothing_and_a_rerun_converges(cluster: ModuleRunner, level: str, action: str, symptom: str) -> None:
    scope, path = SCOPES[level]
    args = {**scope, "state": "overridden", "rules": DESIRED}
    writes = planned_writes(cluster, args, path)
    assert writes >= 5  # a real multi-write plan: creates, an update, a delete, moves
    api = cluster.api()
    for k in range(1, writes + 1):
        assert cluster.pve.emulator is not None
        cluster.pve.emulator.reset()
        seed(cluster, path, BEFORE)
        cluster.control.arm_fault(action=action, nth=k, on="write", status=500, message="injected")

        failed = cluster.run(MODULE, **args)
        assert failed.get("failed") is True, f"write {k} of {writes}: the run did not fail"
        assert symptom in failed["msg"], failed["msg"]
        if k > 1:
            assert f"(after {k - 1} successful write" in failed["msg"] and "a rerun converges" in failed["msg"]
            assert len(failed["commands"]) == k - 1
        present = {item["dport"] for item in api.get(path)}
        assert KEPT <= present, f"write {k} of {writes}: lost {sorted(KEPT - present)}"

        rerun = cluster.ok(MODULE, **args)
        assert rerun["changed"] is True
        assert shape(api.get(path)) == expected_shape(DESIRED), f"write {k} of {writes}: no convergence"
        seq = cluster.seq()
        third = cluster.ok(MODULE, **args)
        assert third["changed"] is False and cluster.writes_since(seq) == []
        assert cluster.control.faults() == []


@pytest.mark.parametrize("level", list(SCOPES))
def test_a_digest_conflict_at_any_write_is_planned_anew(cluster: ModuleRunner, level: str) -> None:
    scope, path = SCOPES[level]
    args = {**scope, "state": "overridden", "rules": DESIRED}
    writes = planned_writes(cluster, args, path)
    api = cluster.api()
    for k in range(1, writes + 1):
        assert cluster.pve.emulator is not None
        cluster.pve.emulator.reset()
        seed(cluster, path, BEFORE)
        cluster.control.arm_fault(action="error", nth=k, on="write", status=500, message=CONFLICT)
        result = cluster.ok(MODULE, **args)
        assert result["changed"] is True
        assert shape(api.get(path)) == expected_shape(DESIRED), f"conflict at write {k} of {writes}"
        assert cluster.control.faults() == []
        seq = cluster.seq()
        assert cluster.ok(MODULE, **args)["changed"] is False
        assert cluster.writes_since(seq) == []


def test_conflicts_between_progress_do_not_count_against_the_run(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every other write meets a conflict: more conflicts than MAX_STALLED in all, yet each
    attempt gets further, so the run goes on to the end."""
    monkeypatch.setattr(_sync, "BACKOFF", 0.0)
    scope, path = SCOPES["cluster"]
    sixteen = [rule(n) for n in range(16)]
    seed(cluster, path, sixteen)
    conflicts = _sync.MAX_STALLED + 2
    for k in range(1, 2 * conflicts, 2):
        cluster.control.arm_fault(action="error", nth=k, on="write", status=500, message=CONFLICT)
    seq = cluster.seq()
    result = cluster.ok(MODULE, **scope, state="overridden", rules=sixteen[::-1])
    assert result["changed"] is True
    assert [item["dport"] for item in cluster.api().get(path)] == [item["dport"] for item in sixteen[::-1]]
    assert sum(entry["status"] == 500 for entry in cluster.requests_since(seq)) == conflicts
    assert cluster.control.faults() == []


def test_a_run_that_never_gets_a_write_in_gives_up_clearly(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sync, "BACKOFF", 0.0)
    scope, path = SCOPES["cluster"]
    seed(cluster, path, [rule(1), rule(2)])
    args = {**scope, "state": "overridden", "rules": [rule(2), rule(1)]}  # one move: positional
    cluster.control.arm_fault(action="error", on="write", times=_sync.MAX_STALLED, status=500, message=CONFLICT)
    seq = cluster.seq()
    failed = cluster.run(MODULE, **args)
    assert failed["failed"] is True
    assert failed["msg"] == f"the rules of cluster changed under this run {_sync.MAX_STALLED} times in a row (other writers at work); giving up"
    assert failed["commands"] == []
    assert [entry["status"] for entry in cluster.writes_since(seq)] == [500] * _sync.MAX_STALLED
    # one conflict fewer, and the run gets through
    cluster.control.arm_fault(action="error", on="write", times=_sync.MAX_STALLED - 1, status=500, message=CONFLICT)
    assert cluster.ok(MODULE, **args)["changed"] is True
    assert [item["dport"] for item in cluster.api().get(path)] == ["1002", "1001"]


@pytest.mark.parametrize(
    ("before", "desired"),
    [
        # the bare planner rewrites 1 into 50 in place and POSTs 1 again: one write fewer
        ([0, 1], [1, 0, 50]),
        # ... and here deletes 6, then rewrites 4 into 6
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 10, 3, 6, 5, 7, 8, 9, 60]),
    ],
    ids=["rewrite", "delete"],
)
@pytest.mark.parametrize("state", ["merged", "overridden"])
def test_no_write_takes_away_a_rule_that_stays(cluster: ModuleRunner, before: list[int], desired: list[int], state: str) -> None:
    """A rule that stays is only ever moved, so a failure at any write leaves it in place
    (and PVE never compiles the list without it)."""
    scope, path = SCOPES["cluster"]
    args = {**scope, "state": state, "rules": [rule(n) for n in desired]}
    kept = {rule(n)["dport"] for n in set(before) & set(desired)}
    seed(cluster, path, [rule(n) for n in before])
    writes = len(cluster.ok(MODULE, check=True, **args)["commands"])
    api = cluster.api()
    for k in range(1, writes + 1):
        assert cluster.pve.emulator is not None
        cluster.pve.emulator.reset()
        seed(cluster, path, [rule(n) for n in before])
        cluster.control.arm_fault(action="error", nth=k, on="write", status=500, message="injected")
        assert cluster.run(MODULE, **args)["failed"] is True
        present = {item["dport"] for item in api.get(path)}
        assert kept <= present, f"write {k} of {writes}: lost {sorted(kept - present)}"
        cluster.ok(MODULE, **args)
        stored = [item["dport"] for item in api.get(path)]
        listed = [rule(n)["dport"] for n in desired]
        assert stored == listed if state == "overridden" else (set(listed) <= set(stored) and in_order(stored, listed))


def test_rule_plans_never_take_away_a_rule_that_stays() -> None:
    """The same promise without the API, over many random edits (duplicates included)."""
    rng = random.Random(7)
    for _case in range(3000):
        current = [rule(n) for n in range(rng.randint(0, 12))]
        if current and rng.random() < 0.2:
            current += rng.choices(current, k=2)
        desired = list(current)
        for _edit in range(rng.randint(0, 5)):
            kind = rng.choice("insert delete move replace".split())
            if kind == "insert":
                desired.insert(rng.randint(0, len(desired)), rule(100 + rng.randint(0, 30)))
            elif desired and kind == "delete":
                desired.pop(rng.randrange(len(desired)))
            elif desired and kind == "move":
                desired.insert(rng.randint(0, len(desired) - 1), desired.pop(rng.randrange(len(desired))))
            elif desired:
                desired[rng.randrange(len(desired))] = rule(200 + rng.randint(0, 30))
        have = [normalise_rule(rules_from_user([item])[0][0]) for item in current]
        want = [normalise_rule(rules_from_user([item])[0][0]) for item in desired]
        stays = Counter(have) & Counter(want)
        items = list(have)
        for op in rule_plan.plan_rules(have, want):
            apply_list_operation(items, op)
            assert not stays - Counter(items), (current, desired)
        assert items == want


# --------------------------------------------------------------------------------------------
# two writers at once


def merge_task(scope: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": "merge", "pve.firewall.firewall_rule": {**scope, "state": "merged", "rules": rules}}


def in_order(stored: list[str], wanted: list[str]) -> bool:
    positions = [stored.index(port) for port in wanted]
    return positions == sorted(positions)


@pytest.mark.slow
def test_two_playbooks_merging_into_one_list_lose_nothing(cluster: ModuleRunner, tmp_path: Path) -> None:
    """Each playbook merges into the datacenter's list, then into VM 100's (both race twice)."""
    existing = [rule(n, comment="existing") for n in range(5)]
    for _scope, path in SCOPES.values():
        seed(cluster, path, existing)
    # Each run anchors its rules after an existing one, so it must move what it creates:
    # positional writes that carry the digest and meet the other run's changes.
    lists = {
        "first": [rule(2, comment="existing"), *(rule(n) for n in range(100, 110))],
        "second": [rule(3, comment="existing"), *(rule(n) for n in range(200, 210))],
    }
    cluster.control.settings(latency=0.02)
    seq = cluster.seq()
    outcomes: dict[str, Any] = {}

    def play(name: str) -> None:
        work = tmp_path / name
        work.mkdir()
        tasks = [merge_task(scope, lists[name]) for scope, _path in SCOPES.values()]
        outcomes[name] = run_playbook(work, tasks, cluster.env)

    threads = [threading.Thread(target=play, args=(name,)) for name in lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cluster.control.settings(latency=0)

    for name in lists:
        completed, results = outcomes[name]
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        assert [result["changed"] for result in results] == [True, True]
    # (how often the runs met is up to the scheduler: cluster.requests_since(seq) shows it)
    assert cluster.writes_since(seq)
    for scope, path in SCOPES.values():
        stored = [item["dport"] for item in cluster.api().get(path)]
        assert sorted(stored) == sorted(item["dport"] for item in existing + lists["first"][1:] + lists["second"][1:]), path
        for rules in lists.values():
            assert in_order(stored, [item["dport"] for item in rules]), path
            check = cluster.seq()
            assert cluster.ok(MODULE, **scope, rules=rules)["changed"] is False
            assert cluster.writes_since(check) == []
