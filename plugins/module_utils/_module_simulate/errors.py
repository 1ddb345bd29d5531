"""The error of input the simulate module cannot use."""

from __future__ import annotations

from collections.abc import Iterable

from .._model.errors import PveFirewallError


class SimulationError(PveFirewallError):
    """Input the simulation cannot use; the message says what and where."""

    @classmethod
    def listing(cls, option: str, problems: Iterable[object]) -> SimulationError:
        """One error naming the option and every problem found in it."""
        return cls(f"{option}: {'; '.join(str(problem) for problem in problems)}")
