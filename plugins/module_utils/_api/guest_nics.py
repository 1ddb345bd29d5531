"""The third switch: the ``firewall`` flag of a guest's network devices.

PVE filters a guest only when the datacenter firewall is on, the guest's own firewall is on,
and the NIC's config line (``net0: virtio=BC:24:11:..,bridge=vmbr0,firewall=1``) carries
``firewall=1``. This module reads the guest's ``netN`` lines, changes only their ``firewall``
key and writes the changed lines back in one PUT of the guest config with its digest.

A line is kept byte for byte: it is split on commas into its parts in order, and only the
``firewall`` part is touched. Turning the flag on replaces a false value in place
(``firewall=0`` becomes ``firewall=1``) or appends ``,firewall=1``. Turning it off removes
the part, as PVE's GUI does (PVE writes the flag only when it is set, so a line without it
is the usual form of "off"); a ``firewall=0`` already there means off and is left alone.
Everything else (``rate=12.5,queues=4``, a key PVE adds in a later release, the order of
keys) passes through untouched. PVE re-prints a line it stores in its own key order; that
only reorders, and the flag's value is what is compared, so a rerun stays unchanged.

No Ansible imports: the module glue lives in ``_module_kit``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .._compiler.api_mapping import ApiCall
from .service import FirewallApi, Scope, Snapshot
from .sync import SyncError, SyncResult, sync_object

NIC_KEY = re.compile(r"net(\d+)")
FIREWALL = "firewall"
# pve-common's parse_boolean, which PVE applies to a boolean given with its key
_TRUE = re.compile(r"1|on|yes|true", re.IGNORECASE)

NicLines = dict[str, str]


def nic_order(name: str) -> tuple[int, str]:
    found = NIC_KEY.fullmatch(name)
    return (int(found.group(1)) if found else 1 << 30, name)


@dataclass(frozen=True)
class NicLine:
    """One ``netN`` value as its comma-separated parts, each kept as written."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> NicLine:
        return cls(tuple(text.split(",")))

    @property
    def text(self) -> str:
        return ",".join(self.parts)

    @staticmethod
    def key_of(part: str) -> str | None:
        """The key of a ``key=value`` part (PVE: ``^([^=]+)=(.+)$``); None for a bare value."""
        key, sep, value = part.partition("=")
        return key if sep and key and value else None

    def _flag_index(self) -> int | None:
        return next((index for index, part in enumerate(self.parts) if self.key_of(part) == FIREWALL), None)

    @property
    def firewall(self) -> bool:
        index = self._flag_index()
        return index is not None and bool(_TRUE.fullmatch(self.parts[index].partition("=")[2]))

    def with_firewall(self, enabled: bool) -> NicLine:
        """The line with the flag set or cleared; the same line when it already says so."""
        if self.firewall == enabled:
            return self
        index = self._flag_index()
        if enabled:
            if index is None:
                return NicLine(self.parts + (f"{FIREWALL}=1",))
            return NicLine(self.parts[:index] + (f"{FIREWALL}=1",) + self.parts[index + 1 :])
        if index is None:  # cannot happen: a line without the flag is off
            return self
        return NicLine(self.parts[:index] + self.parts[index + 1 :])


def set_firewall(text: str, enabled: bool) -> str:
    """``text`` with only its ``firewall`` key changed (see the module docstring)."""
    return NicLine.parse(text).with_firewall(enabled).text


def planned_lines(lines: Mapping[str, str], enabled: bool, names: Iterable[str] | None = None) -> NicLines:
    """Every NIC line as it will be: the flag set or cleared on ``names`` (default all)."""
    wanted = set(lines) if names is None else set(names)
    return {name: set_firewall(text, enabled) if name in wanted else text for name, text in lines.items()}


def unknown_nics(lines: Mapping[str, str], names: Iterable[str]) -> list[str]:
    return [name for name in names if name not in lines]


def read_nic_lines(api: FirewallApi, scope: Scope) -> Snapshot[NicLines]:
    """The guest's ``netN`` lines in NIC order, with the config digest a write must carry."""
    config = api.get(scope.config_path) or {}
    lines = {str(key): str(value) for key, value in config.items() if NIC_KEY.fullmatch(str(key))}
    ordered = {name: lines[name] for name in sorted(lines, key=nic_order)}
    digest = config.get("digest")
    return Snapshot(ordered, str(digest) if digest else None)


def nic_call(scope: Scope, before: Mapping[str, str], after: Mapping[str, str]) -> ApiCall | None:
    """One PUT of the lines that change, or None when none does."""
    changed = {name: text for name, text in after.items() if before.get(name) != text}
    return ApiCall("PUT", scope.config_path, changed) if changed else None


def diff_text(lines: Mapping[str, str], path: str) -> str:
    """The lines as they read in the guest config, for a diff (a comment names the file)."""
    if not lines:
        return ""
    return f"# {path}\n" + "".join(f"{name}: {text}\n" for name, text in lines.items())


def sync_nic_firewall(
    api: FirewallApi,
    scope: Scope,
    enabled: bool,
    names: Sequence[str] | None,
    *,
    check_mode: bool,
    first: Snapshot[NicLines] | None = None,
) -> SyncResult[NicLines]:
    """Set or clear the flag on ``names`` (default every NIC) with one PUT carrying the
    config digest; another writer's change in between is read and planned on top of."""

    def plan(lines: NicLines) -> tuple[NicLines, ApiCall | None]:
        missing = unknown_nics(lines, names or ())
        if missing:  # removed by another writer since the names were checked
            raise SyncError(f"{scope.label} has no NIC {', '.join(missing)} any more (changed meanwhile)")
        after = planned_lines(lines, enabled, names)
        return after, nic_call(scope, lines, after)

    return sync_object(lambda: read_nic_lines(api, scope), plan, api.send, check_mode=check_mode, label=f"the NICs of {scope.label}", first=first)
