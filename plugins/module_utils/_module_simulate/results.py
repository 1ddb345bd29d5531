"""The module's result, in the shape RETURN documents, and the failure it reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .._compiler.fw_format import render_fw
from .._engine.lockout import LockoutReport
from .._engine.verdict import Step
from .._model.inventory import Inventory
from .._plan.tree import touches_node_access
from .changes import AppliedChanges
from .packets import Answer


def step_result(step: Step | None) -> dict[str, Any] | None:
    if step is None:
        return None
    data = dataclasses.asdict(step)
    data.pop("group_reference", None)  # the rule that jumped to the group: not part of a documented step
    return data


def packet_result(answer: Answer) -> dict[str, Any]:
    verdict = answer.verdict
    return {
        "name": answer.name,
        "packet": {key: value for key, value in dataclasses.asdict(answer.packet).items() if value is not None},
        "verdict": verdict.action,
        "decided_by": step_result(verdict.decided_by),
        "trail": [step_result(step) for step in verdict.trail],
        "warnings": list(verdict.warnings),
        "expected": answer.expected,
        "passed": answer.expected is None or answer.expected == verdict.action,
    }


def failed_expectations(results: Sequence[dict[str, Any]]) -> list[str]:
    """One line per packet whose verdict is not the expected one, with what decided it."""
    return [
        f"{result['name']}: expected {result['expected']}, got {result['verdict']}"
        + (f" ({result['decided_by']['hop']}: {result['decided_by']['detail']})" if result["decided_by"] else "")
        for result in results
        if not result["passed"]
    ]


def nodes_result(inventory: Inventory) -> dict[str, dict[str, Any]]:
    return {name: {"address": node.address, "local_network": node.local_network} for name, node in sorted(inventory.nodes.items())}


def changes_result(applied: AppliedChanges) -> dict[str, Any]:
    return {
        "files": [change.label for change in applied.files],
        "nics": list(applied.nics),
        "node_access": touches_node_access(applied.files),
    }


def changes_diff(applied: AppliedChanges) -> list[dict[str, str]]:
    """Each changed firewall before and after, as the ``.fw`` file PVE keeps."""
    return [
        {"before_header": change.path, "after_header": change.path, "before": render_fw(change.before), "after": render_fw(change.after)}
        for change in applied.files
    ]


def lockout_result(report: LockoutReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "summary": report.summary(),
        "accesses": [
            {
                "node": access.node,
                "node_address": access.node_address,
                "client": access.client,
                "port": access.port,
                "status": access.status,
                "verdict": access.verdict.action,
                "reason": access.reason,
                "fix": access.fix,
                "trail": [step_result(step) for step in access.verdict.trail],
            }
            for access in report.accesses
        ],
    }


def with_stages(lockout: dict[str, Any], stages: list[tuple[str, LockoutReport]]) -> dict[str, Any]:
    """The end state's report with each stage's verdict; the first stage that cuts an access
    off makes the whole check fail and names itself in the summary."""
    out = {**lockout, "stages": [{"stage": label, "ok": report.ok, "summary": report.summary()} for label, report in stages]}
    failing = next(((label, report) for label, report in stages if not report.ok), None)
    if failing is not None and lockout["ok"]:
        label, report = failing
        out["ok"] = False
        out["summary"] = f"on the way, after the stage '{label}': {report.summary()}"
    return out


def failure_message(output: dict[str, Any], fail_on_lockout: bool) -> str | None:
    """Why the task fails: the failed expectations and, if asked, a lost access; None if it
    does not."""
    failed = output["failed_expectations"]
    problems = list(failed)
    lockout = output.get("lockout")
    if fail_on_lockout and lockout is not None and not lockout["ok"]:
        problems.append(lockout["summary"])
    if not problems:
        return None
    heading = f"{len(failed)} of {len(output['results'])} expectations failed" if failed else "the lockout check failed"
    return "\n".join([heading + ":", *(f"- {problem}" for problem in problems)])
