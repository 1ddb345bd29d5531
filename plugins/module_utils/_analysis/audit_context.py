"""What the checks of the audit read: the facts of the cluster, the scope asked for, and the
configuration seen as the checks see it (every rule list, every guest, every node, whether
the datacenter firewall is on), built once and shared by all checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TypeVar

from .._engine.matchers import option_flag
from .._engine.verdict import cluster_enable_state
from .._model.inventory import Guest, Inventory, Nic
from .._model.objects import ClusterConfig, FileKind, FirewallFile, Level
from .audit_coverage import RuleCompiler, RuleList
from .audit_findings import GUEST_LEVELS, LEVELS, AuditObject

T = TypeVar("T")


@dataclass(frozen=True)
class AuditFacts:
    """What the configuration is applied to.

    ``inventory``: guests with their NICs (a guest missing there is not judged on its NICs).
    ``node_names``: every node of the cluster (with the inventory's nodes and the host files).
    ``node_interfaces``: node -> its interface names (``/nodes/{node}/network``); a node not
    listed is not checked for missing interfaces. ``sdn_ipsets``: the IP sets SDN generates
    (None: unknown, ``+sdn/`` references are then not checked). ``now``: UNIX time for a
    datacenter ``enable`` timestamp (None: the current time).
    """

    inventory: Inventory = field(default_factory=Inventory)
    node_names: tuple[str, ...] = ()
    node_interfaces: Mapping[str, frozenset[str]] = field(default_factory=dict)
    sdn_ipsets: frozenset[str] | None = None
    now: float | None = None


@dataclass(frozen=True)
class AuditScope:
    """Which findings to report: by level, and by node and guest id (None: all)."""

    levels: frozenset[str] = frozenset(LEVELS)
    nodes: frozenset[str] | None = None
    vmids: frozenset[int] | None = None

    def covers(self, target: AuditObject) -> bool:
        if target.level not in self.levels:
            return False
        if target.level == "node" and self.nodes is not None:
            return target.node in self.nodes
        if target.level in GUEST_LEVELS and self.vmids is not None:
            return target.vmid in self.vmids
        return True


@dataclass(frozen=True)
class AuditedGuest:
    """A guest in scope with what the guest checks ask of it."""

    vmid: int
    level: str  # vm or ct
    file: FirewallFile
    target: AuditObject
    known: Guest | None  # from the inventory; None: its NICs are unknown
    firewall_on: bool  # its own firewall ('enable: 1' in its options)
    active: int  # enabled rules

    @property
    def ident(self) -> str:
        return guest_ident(self.level, self.vmid)

    @property
    def nics(self) -> tuple[Nic, ...]:
        return self.known.nics if self.known else ()

    @property
    def flagless(self) -> list[str]:
        """The NICs without firewall=1: PVE does not filter them."""
        return [nic.name for nic in self.nics if not nic.firewall]


def count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def guest_ident(level: str, vmid: int) -> str:
    """How a fix names the guest to the modules."""
    return f"level: {level}, vmid: {vmid}"


class AuditContext:
    """The configuration as the checks see it; what several checks need is computed once."""

    def __init__(self, config: ClusterConfig, facts: AuditFacts, scope: AuditScope, max_rules_per_guest: int) -> None:
        self.config = config
        self.facts = facts
        self.scope = scope
        self.max_rules_per_guest = max_rules_per_guest
        self.compiler = RuleCompiler(config, facts.inventory)
        self.lists = tuple(self._lists())
        self.dc_on, self.dc_why = cluster_enable_state(config.cluster.options, facts.now if facts.now is not None else time.time())
        self._shared: dict[Callable[[AuditContext], object], object] = {}

    def shared(self, compute: Callable[[AuditContext], T]) -> T:
        """``compute(self)``, computed once for all the checks that ask for it."""
        if compute not in self._shared:
            self._shared[compute] = compute(self)
        return self._shared[compute]  # type: ignore[return-value]

    def guest_target(self, vmid: int, level: str) -> AuditObject:
        guest = self.facts.inventory.guest(vmid)
        return AuditObject(level, node=guest.node if guest else None, vmid=vmid)

    @cached_property
    def audited_guests(self) -> tuple[AuditedGuest, ...]:
        """Every guest in scope, known from the configuration or the inventory, by id."""
        inventory = self.facts.inventory
        found = {vmid: (guest.level.value, guest.file) for vmid, guest in self.config.guests.items()}
        for vmid, guest in inventory.guests.items():
            found.setdefault(vmid, (guest.level, FirewallFile(FileKind.GUEST)))
        audited = []
        for vmid, (level, fw) in sorted(found.items()):
            target = self.guest_target(vmid, level)
            if self.scope.covers(target):
                enabled = sum(rule.enable for rule in fw.rules)
                audited.append(AuditedGuest(vmid, level, fw, target, inventory.guest(vmid), option_flag(fw.options, "vm", "enable"), enabled))
        return tuple(audited)

    def nodes(self) -> list[str]:
        facts = self.facts
        return sorted(set(facts.node_names) | set(facts.inventory.nodes) | set(self.config.hosts) | set(facts.node_interfaces))

    def _lists(self) -> Iterator[RuleList]:
        cluster = self.config.cluster
        yield RuleList(AuditObject("cluster"), cluster.rules, Level.CLUSTER)
        for group in cluster.groups:
            yield RuleList(AuditObject("cluster", group=group.name), group.rules, Level.GROUP)
        for node, host in sorted(self.config.hosts.items()):
            yield RuleList(AuditObject("node", node=node), host.rules, Level.HOST)
        for vmid, guest in sorted(self.config.guests.items()):
            yield RuleList(self.guest_target(vmid, guest.level.value), guest.file.rules, guest.level, vmid, guest.file)
        for vnet, fw in sorted(self.config.vnets.items()):
            yield RuleList(AuditObject("vnet", vnet=vnet), fw.rules, Level.VNET)

    def audited_lists(self) -> Iterator[RuleList]:
        return (rules for rules in self.lists if self.scope.covers(rules.target))
