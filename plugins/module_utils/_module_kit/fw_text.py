"""``.fw`` text in module results: the diff of a change and the ``parsed`` state's input."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from .._compiler.fw_format import ParsedFile, parse_fw, render_fw
from .._model.errors import FieldError, raise_if_errors
from .._model.objects import FileKind, FirewallFile

_SECTION = re.compile(r"^\s*\[", re.MULTILINE)
_LINE = re.compile(r"line (\d+)$")


def parse_running_config(text: str, kind: FileKind, header: str | None, checks: Callable[[ParsedFile], Iterable[FieldError]]) -> ParsedFile:
    """The ``.fw`` text of ``state: parsed``. Lines without a section get ``header``; every
    line PVE would refuse or skip, and every problem ``checks`` finds, fails the task naming
    its line in the text as given."""
    shift = 0
    if header and not _SECTION.search(text):
        text, shift = f"{header}\n{text}", 1
    parsed = parse_fw(text, kind, filename="running_config", lenient=True)
    errors = [*parsed.warnings, *checks(parsed)]
    raise_if_errors(replace(error, location=_LINE.sub(lambda found: f"line {int(found.group(1)) - shift}", error.location)) for error in errors)
    return parsed


def fw_text(kind: FileKind, **parts: Any) -> str:
    """The ``.fw`` text of just the given parts (rules, options, ipsets, groups, aliases)."""
    return render_fw(FirewallFile(kind, **parts))
