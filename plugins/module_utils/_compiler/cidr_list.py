"""Address lists as public blocklists publish them, turned into ipset entries.

The format of FireHOL netsets, Spamhaus DROP and most plain feeds: one IPv4 or IPv6 address or
CIDR per line, blank lines, and comments that start with ``#`` or ``;`` anywhere on a line
(``192.0.2.0/24 ; SBL123``). Each address is checked and canonicalised by the same function
that checks ipset entries (``check_ipset_address``), so what this accepts the ipset module
accepts, spelled as PVE stores it. Pure: no Ansible imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Union

from .._model.errors import FieldError
from .config_validation import check_ipset_address

CidrListInput = Union[str, Iterable[str]]  # noqa: UP007

LINE_ACCEPTED = "one IPv4 or IPv6 address or CIDR per line; '#' or ';' starts a comment"
_COMMENT_MARKS = ("#", ";")


@dataclass(frozen=True)
class CidrList:
    """What a list holds. ``entries``: each network once, canonical, in the order first
    listed. ``invalid``: one error per line that is not an address, naming ``line N``."""

    entries: tuple[str, ...]
    invalid: tuple[FieldError, ...]
    lines: int  # lines read, comments and blank lines included
    listed: int  # lines with a valid address (duplicates included)

    @property
    def duplicates(self) -> int:
        """Lines whose network an earlier line already listed (``10.0.0.1`` and ``10.0.0.1/32``)."""
        return self.listed - len(self.entries)


def _value(line: str) -> str:
    """The line without its comment and surrounding blanks."""
    for mark in _COMMENT_MARKS:
        cut = line.find(mark)
        if cut >= 0:
            line = line[:cut]
    return line.strip()


def _lines(text: CidrListInput) -> list[str]:
    if not isinstance(text, str):
        items = list(text)
        strays = [item for item in items if not isinstance(item, str)]
        if strays:
            raise TypeError(f"a list of lines must hold strings only, not {type(strays[0]).__name__} {strays[0]!r}")
        text = "\n".join(items)
    return text.lstrip("\ufeff").splitlines()


def parse_cidr_list(text: CidrListInput) -> CidrList:
    """Every address line of ``text`` (the whole text, or a list of its lines) checked; all
    problems collected, none raised. A ``TypeError`` for input that is not text."""
    seen: dict[str, None] = {}  # an ordered set
    invalid: list[FieldError] = []
    lines = _lines(text)
    listed = 0
    for number, line in enumerate(lines, start=1):
        value = _value(line)
        if not value:
            continue
        where = f"line {number}"
        if len(value.split()) > 1:
            invalid.append(FieldError(where, "cidr", value, "more than one value on the line", LINE_ACCEPTED))
            continue
        canonical, problem = check_ipset_address(value, where, LINE_ACCEPTED)
        if problem is not None:
            invalid.append(problem)
            continue
        listed += 1
        seen[canonical] = None
    return CidrList(tuple(seen), tuple(invalid), len(lines), listed)


def describe_invalid(invalid: Iterable[FieldError], limit: int = 20) -> str:
    """The invalid lines for a message, at most ``limit`` of them spelled out."""
    errors = list(invalid)
    shown = [f"{error.location}: {error.value!r}: {error.message}" for error in errors[:limit]]
    if len(errors) > limit:
        shown.append(f"and {len(errors) - limit} more")
    return "; ".join(shown)
