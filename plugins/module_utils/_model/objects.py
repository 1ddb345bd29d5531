"""The firewall objects of every PVE level, as immutable values.

Values are held in their canonical form once they went through ``_normalise``: two objects
that mean the same compare equal. Unset fields are ``None`` (never ``""``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Union

OptionValue = Union[bool, int, str]  # noqa: UP007


class Level(str, Enum):
    """Where a rule lives; the values are PVE's ``rule_env`` names."""

    CLUSTER = "cluster"
    HOST = "host"
    VM = "vm"
    CT = "ct"
    VNET = "vnet"
    GROUP = "group"

    @property
    def is_guest(self) -> bool:
        return self in (Level.VM, Level.CT)


class FileKind(str, Enum):
    """The four kinds of ``.fw`` file."""

    CLUSTER = "cluster"
    HOST = "host"
    GUEST = "guest"
    VNET = "vnet"


# Rule types allowed per level (reference 2.6).
RULE_TYPES: Mapping[Level, tuple[str, ...]] = MappingProxyType(
    {
        Level.CLUSTER: ("in", "out", "forward", "group"),
        Level.HOST: ("in", "out", "forward", "group"),
        Level.VM: ("in", "out", "group"),
        Level.CT: ("in", "out", "group"),
        Level.GROUP: ("in", "out", "forward"),
        Level.VNET: ("forward", "group"),
    }
)

# Which sections each file kind has (reference 3.1).
FILE_SECTIONS: Mapping[FileKind, frozenset[str]] = MappingProxyType(
    {
        FileKind.CLUSTER: frozenset({"options", "aliases", "ipsets", "rules", "groups"}),
        FileKind.HOST: frozenset({"options", "rules"}),
        FileKind.GUEST: frozenset({"options", "aliases", "ipsets", "rules"}),
        FileKind.VNET: frozenset({"options", "rules"}),
    }
)

# The rule_env used for the [RULES] section of each file kind.
FILE_RULE_LEVEL: Mapping[FileKind, Level] = MappingProxyType(
    {
        FileKind.CLUSTER: Level.CLUSTER,
        FileKind.HOST: Level.HOST,
        FileKind.GUEST: Level.VM,
        FileKind.VNET: Level.VNET,
    }
)

# The options table that applies to each file kind (keys of _options.OPTION_SPECS).
FILE_OPTION_LEVEL: Mapping[FileKind, str] = MappingProxyType(
    {
        FileKind.CLUSTER: "cluster",
        FileKind.HOST: "host",
        FileKind.GUEST: "vm",
        FileKind.VNET: "vnet",
    }
)

ACTIONS = ("ACCEPT", "DROP", "REJECT")
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog")

# Rule fields in PVE's API spelling, in the order the .fw writer emits them.
RULE_FIELDS = (
    "type",
    "action",
    "macro",
    "iface",
    "source",
    "dest",
    "proto",
    "dport",
    "sport",
    "icmp-type",
    "log",
    "enable",
    "comment",
)


@dataclass(frozen=True)
class Rule:
    """One firewall rule.

    For ``type == "group"`` the ``action`` is the security group's name. ``enable`` is the
    user's view (a rule is active unless disabled); PVE's POST default of 0 is handled by the
    API mapping, not here.
    """

    type: str
    action: str
    macro: str | None = None
    iface: str | None = None
    source: str | None = None
    dest: str | None = None
    proto: str | None = None
    dport: str | None = None
    sport: str | None = None
    icmp_type: str | None = None
    log: str | None = None
    enable: bool = True
    comment: str | None = None


@dataclass(frozen=True)
class IPSetEntry:
    cidr: str
    nomatch: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class IPSet:
    name: str
    comment: str | None = None
    entries: tuple[IPSetEntry, ...] = ()


@dataclass(frozen=True)
class Alias:
    name: str
    cidr: str
    comment: str | None = None


@dataclass(frozen=True)
class SecurityGroup:
    name: str
    comment: str | None = None
    rules: tuple[Rule, ...] = ()


def _frozen_options(options: Mapping[str, OptionValue] | None) -> Mapping[str, OptionValue]:
    return MappingProxyType(dict(sorted((options or {}).items())))


@dataclass(frozen=True)
class FirewallFile:
    """The content of one ``.fw`` file: cluster, host, guest or vnet.

    Sections a kind does not have stay empty. ``options`` holds only the keys that are set.
    """

    kind: FileKind
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    aliases: tuple[Alias, ...] = ()
    ipsets: tuple[IPSet, ...] = ()
    rules: tuple[Rule, ...] = ()
    groups: tuple[SecurityGroup, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _frozen_options(self.options))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FirewallFile):
            return NotImplemented
        return (
            self.kind == other.kind
            and dict(self.options) == dict(other.options)
            and self.aliases == other.aliases
            and self.ipsets == other.ipsets
            and self.rules == other.rules
            and self.groups == other.groups
        )

    def __hash__(self) -> int:
        return hash((self.kind, tuple(self.options.items()), self.aliases, self.ipsets, self.rules, self.groups))

    def ipset(self, name: str) -> IPSet | None:
        return next((item for item in self.ipsets if item.name == name.lower()), None)

    def alias(self, name: str) -> Alias | None:
        return next((item for item in self.aliases if item.name.lower() == name.lower()), None)

    def group(self, name: str) -> SecurityGroup | None:
        return next((item for item in self.groups if item.name == name.lower()), None)


@dataclass(frozen=True)
class GuestFirewall:
    """A guest's firewall file together with what kind of guest it belongs to."""

    vmid: int
    level: Level  # Level.VM or Level.CT
    file: FirewallFile


@dataclass(frozen=True)
class ClusterConfig:
    """Every firewall file of a cluster: what PVE keeps under /etc/pve."""

    cluster: FirewallFile = field(default_factory=lambda: FirewallFile(FileKind.CLUSTER))
    hosts: Mapping[str, FirewallFile] = field(default_factory=dict)
    guests: Mapping[int, GuestFirewall] = field(default_factory=dict)
    vnets: Mapping[str, FirewallFile] = field(default_factory=dict)
