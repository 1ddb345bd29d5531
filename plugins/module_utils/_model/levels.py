"""The levels a user names a firewall by, and what each one is in PVE's own vocabularies.

A user (and every module's ``level`` option) says cluster, node, vm, ct or vnet. PVE's code
speaks of the same firewall as a rule environment (``Level``: host, not node), a ``.fw`` file
kind (guest for vm and ct), an options table (host, vm) and, for guests, an API type in
``/cluster/resources`` and in paths (qemu, lxc). One table maps them, so no caller maps by
hand.
"""

from __future__ import annotations

from enum import Enum

from .objects import FileKind, Level


class ScopeLevel(str, Enum):
    """A firewall as users name it; the values are the ``level`` option's choices."""

    CLUSTER = "cluster"
    NODE = "node"
    VM = "vm"
    CT = "ct"
    VNET = "vnet"

    @property
    def rule_level(self) -> Level:
        return _RULE_LEVELS[self]

    @property
    def file_kind(self) -> FileKind:
        return _FILE_KINDS[self]

    @property
    def option_level(self) -> str:
        """The options table of the level (PVE's option schemas: cluster, host, vm, vnet)."""
        return _OPTION_LEVELS[self]

    @property
    def is_guest(self) -> bool:
        return self in (ScopeLevel.VM, ScopeLevel.CT)

    @property
    def has_sets(self) -> bool:
        """IP sets and aliases exist at the cluster and guest levels only (reference 1.1)."""
        return self.value in SET_LEVEL_NAMES

    @property
    def guest_type(self) -> str:
        """The API's guest type (qemu or lxc); only for vm and ct."""
        try:
            return _GUEST_TYPES[self]
        except KeyError:
            raise ValueError(f"level {self.value} is no guest level") from None

    @classmethod
    def of_guest_type(cls, guest_type: str) -> ScopeLevel:
        """vm for qemu, ct for lxc."""
        for level, api_type in _GUEST_TYPES.items():
            if api_type == guest_type:
                return level
        raise ValueError(f"guest type {guest_type!r} is neither qemu nor lxc")


LEVEL_NAMES: tuple[str, ...] = tuple(level.value for level in ScopeLevel)
GUEST_LEVEL_NAMES: tuple[str, ...] = (ScopeLevel.VM.value, ScopeLevel.CT.value)
SET_LEVEL_NAMES: tuple[str, ...] = ("cluster", *GUEST_LEVEL_NAMES)  # the levels with IP sets and aliases

_RULE_LEVELS = {
    ScopeLevel.CLUSTER: Level.CLUSTER,
    ScopeLevel.NODE: Level.HOST,
    ScopeLevel.VM: Level.VM,
    ScopeLevel.CT: Level.CT,
    ScopeLevel.VNET: Level.VNET,
}
_FILE_KINDS = {
    ScopeLevel.CLUSTER: FileKind.CLUSTER,
    ScopeLevel.NODE: FileKind.HOST,
    ScopeLevel.VM: FileKind.GUEST,
    ScopeLevel.CT: FileKind.GUEST,
    ScopeLevel.VNET: FileKind.VNET,
}
_OPTION_LEVELS = {ScopeLevel.CLUSTER: "cluster", ScopeLevel.NODE: "host", ScopeLevel.VM: "vm", ScopeLevel.CT: "vm", ScopeLevel.VNET: "vnet"}
_GUEST_TYPES = {ScopeLevel.VM: "qemu", ScopeLevel.CT: "lxc"}
