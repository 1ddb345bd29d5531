"""The collection's errors: one base for every layer, and the compiler's validation errors.

Every error the collection raises for a user to read derives from ``PveFirewallError``; a
module catches the base alone and turns it into its failure result, with the keys that
``result_details`` adds. Anything else is a bug and keeps its traceback.

Every problem found in an input becomes one FieldError that names where it is (object and
position), the field, the offending value, PVE's own message and what would be accepted.
Validators collect all errors of an input and raise them together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


class PveFirewallError(Exception):
    """Base of every error of the collection; ``str()`` is the message a user reads."""

    def result_details(self) -> dict[str, Any]:
        """The keys this error adds to a module's failure result."""
        return {}


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one object.

    ``message`` is the text PVE itself uses for the problem (so the emulator can answer with
    it); ``accepted`` tells a user what would be valid instead.
    """

    location: str
    field: str
    value: object
    message: str
    accepted: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"location": self.location, "field": self.field, "value": self.value, "message": self.message, "accepted": self.accepted}

    def __str__(self) -> str:
        text = f"{self.location}: {self.field}={self.value!r}: {self.message}"
        if self.accepted:
            text += f" (accepted: {self.accepted})"
        return text


class FirewallValidationError(PveFirewallError, ValueError):
    """Raised with every error of an input, never only the first."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        count = len(self.errors)
        heading = f"{count} validation error{'s' if count != 1 else ''}"
        super().__init__("\n".join([heading + ":", *(f"  - {error}" for error in self.errors)]))

    def result_details(self) -> dict[str, Any]:
        return {"errors": [error.as_dict() for error in self.errors]}


def raise_if_errors(errors: Iterable[FieldError]) -> None:
    collected = tuple(errors)
    if collected:
        raise FirewallValidationError(collected)
