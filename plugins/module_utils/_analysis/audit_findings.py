"""What the audit reports: severities, the object a finding is about, the finding itself,
and the summaries of a set of findings (counts, the findings at or above a severity, one
line each)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from .._model.levels import GUEST_LEVEL_NAMES, LEVEL_NAMES

SEVERITIES = ("critical", "high", "medium", "low", "info")  # most severe first
LEVELS = LEVEL_NAMES
GUEST_LEVELS = GUEST_LEVEL_NAMES

_RANK = {name: len(SEVERITIES) - index for index, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """Higher is more severe; an unknown name raises KeyError."""
    return _RANK[severity]


@dataclass(frozen=True)
class AuditObject:
    """What a finding is about. ``level`` is the firewall it belongs to (security groups
    belong to the datacenter); ``position`` is a rule's PVE ``pos`` in its list, ``entry`` an
    IP set entry's index."""

    level: str
    node: str | None = None
    vmid: int | None = None
    vnet: str | None = None
    group: str | None = None
    ipset: str | None = None
    alias: str | None = None
    nic: str | None = None
    position: int | None = None
    entry: int | None = None

    @property
    def firewall(self) -> str:
        if self.group is not None:
            return f"security group '{self.group}'"
        if self.level == "node":
            return f"node {self.node}"
        if self.level in GUEST_LEVELS:
            return f"{self.level} {self.vmid}"
        if self.level == "vnet":
            return f"vnet {self.vnet}"
        return "cluster"

    @property
    def label(self) -> str:
        """``vm 100 rules[3]``, ``security group 'web' rules[0]``, ``cluster ipset 'x' entries[2]``."""
        parts = [self.firewall]
        if self.ipset is not None:
            parts.append(f"ipset '{self.ipset}'" + (f" entries[{self.entry}]" if self.entry is not None else ""))
        elif self.alias is not None:
            parts.append(f"alias '{self.alias}'")
        elif self.nic is not None:
            parts.append(self.nic)
        if self.position is not None:
            parts.append(f"rules[{self.position}]")
        return " ".join(parts)

    def as_dict(self) -> dict[str, str | int]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class Issue:
    """What one check found: the object, what is wrong and the fix. The checks table gives it
    its check code and severity, so that a check states neither twice."""

    target: AuditObject
    message: str
    fix: str


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    target: AuditObject
    message: str
    fix: str

    @property
    def key(self) -> str:
        """Stable while the object keeps its place: the check and where."""
        return f"{self.check}@{self.target.label}"

    def line(self) -> str:
        return f"{self.severity.upper()} {self.check} {self.target.label}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.key,
            "check": self.check,
            "severity": self.severity,
            "object": self.target.as_dict(),
            "where": self.target.label,
            "message": self.message,
            "fix": self.fix,
        }


def at_or_above(findings: Iterable[Finding], severity: str) -> tuple[Finding, ...]:
    """The findings of ``severity`` or a more severe one."""
    floor = severity_rank(severity)
    return tuple(finding for finding in findings if severity_rank(finding.severity) >= floor)


def counts(findings: Sequence[Finding]) -> dict[str, object]:
    by_severity = {name: 0 for name in SEVERITIES}
    by_check: dict[str, int] = {}
    for finding in findings:
        by_severity[finding.severity] += 1
        by_check[finding.check] = by_check.get(finding.check, 0) + 1
    return {"total": len(findings), "by_severity": by_severity, "by_check": dict(sorted(by_check.items()))}


def summary_lines(findings: Sequence[Finding]) -> list[str]:
    """A heading with the counts, then one line per finding, most severe first."""
    if not findings:
        return ["no findings"]
    by_severity = {name: sum(finding.severity == name for finding in findings) for name in SEVERITIES}
    shown = ", ".join(f"{number} {name}" for name, number in by_severity.items() if number)
    noun = "finding" if len(findings) == 1 else "findings"
    return [f"{len(findings)} {noun}: {shown}", *(finding.line() for finding in findings)]
