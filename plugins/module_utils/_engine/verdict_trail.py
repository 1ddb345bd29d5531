"""The trail of a verdict as the hops write it: which chain a hop evaluates, and the steps
and warnings it records on the way to its decision."""

from __future__ import annotations

from dataclasses import dataclass

from .verdict_types import UNEVALUATED, Step


@dataclass(frozen=True)
class Hop:
    """One chain evaluation: its trail label, chain, the node it runs on and its interface."""

    label: str
    chain: str
    node: str
    iface: str | None = None
    direction: str = "in"  # rule type used: in or out


class Trail:
    """The steps and warnings of one verdict, in the order the hops produce them."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.warnings: list[str] = []

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def note(self, hop: Hop, detail: str, **extra: object) -> None:
        self.steps.append(Step(hop.label, hop.chain, "note", "-", detail, node=hop.node, **extra))  # type: ignore[arg-type]

    def builtin(self, hop: Hop, action: str, detail: str) -> str:
        """An exception or filter PVE adds to the chain decided: recorded, its action returned."""
        self.steps.append(Step(hop.label, hop.chain, "builtin", action, detail, node=hop.node))
        return action

    def unevaluated(self, hop: Hop) -> str:
        """The hop runs on a node with the nftables backend, whose semantics are not modelled."""
        self.steps.append(
            Step(
                hop.label,
                hop.chain,
                "note",
                UNEVALUATED,
                f"node {hop.node} uses the nftables backend (host.fw nftables: 1); pve-firewall generates nothing "
                "there and the nftables semantics are not evaluated by this engine",
                level="host",
                node=hop.node,
            )
        )
        return UNEVALUATED
