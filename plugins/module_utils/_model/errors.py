"""Validation errors of the rule compiler.

Every problem found in an input becomes one FieldError that names where it is (object and
position), the field, the offending value, PVE's own message and what would be accepted.
Validators collect all errors of an input and raise them together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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

    def __str__(self) -> str:
        text = f"{self.location}: {self.field}={self.value!r}: {self.message}"
        if self.accepted:
            text += f" (accepted: {self.accepted})"
        return text


class FirewallValidationError(ValueError):
    """Raised with every error of an input, never only the first."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        count = len(self.errors)
        heading = f"{count} validation error{'s' if count != 1 else ''}"
        super().__init__("\n".join([heading + ":", *(f"  - {error}" for error in self.errors)]))


def raise_if_errors(errors: Iterable[FieldError]) -> None:
    collected = tuple(errors)
    if collected:
        raise FirewallValidationError(collected)
