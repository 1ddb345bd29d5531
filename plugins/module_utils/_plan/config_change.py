"""One planned change laid over a whole configuration, so the lockout analysis can judge the
cluster as it would be after it.

Each function returns a new ``ClusterConfig`` with one part of the datacenter or of a node's
firewall replaced (or removed); everything else is the configuration as read. Names of IP sets,
aliases and groups compare case-insensitively, as PVE stores them lowercased.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol, TypeVar

from .._model.objects import Alias, ClusterConfig, FirewallFile, IPSet, OptionValue, Rule, SecurityGroup

ConfigChange = Callable[[ClusterConfig], ClusterConfig]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=_Named)


def _with_file(config: ClusterConfig, node: str | None, change: Callable[[FirewallFile], FirewallFile]) -> ClusterConfig:
    """``change`` applied to the datacenter's file (``node`` None) or to a node's host file."""
    if node is None:
        return replace(config, cluster=change(config.cluster))
    hosts = dict(config.hosts)
    if node in hosts:
        hosts[node] = change(hosts[node])
    return replace(config, hosts=hosts)


def _replaced(items: tuple[N, ...], name: str, new: N | None) -> tuple[N, ...]:
    """``items`` with the one named ``name`` replaced by ``new`` (appended if absent), or removed."""
    key = name.lower()
    kept = tuple(item for item in items if item.name.lower() != key)
    if new is None:
        return kept
    if len(kept) == len(items):
        return (*items, new)
    return tuple(new if item.name.lower() == key else item for item in items)


def with_rules(node: str | None, rules: tuple[Rule, ...]) -> ConfigChange:
    """The datacenter's (``node`` None) or a node's rule list becomes ``rules``."""
    return lambda config: _with_file(config, node, lambda fw: replace(fw, rules=rules))


def with_options(node: str | None, options: Mapping[str, OptionValue]) -> ConfigChange:
    """The datacenter's (``node`` None) or a node's options become ``options``."""
    return lambda config: _with_file(config, node, lambda fw: replace(fw, options=dict(options)))


def with_group(name: str, group: SecurityGroup | None) -> ConfigChange:
    """The datacenter's group ``name`` becomes ``group`` (renamed, changed or new), or is gone."""
    return lambda config: _with_file(config, None, lambda fw: replace(fw, groups=_replaced(fw.groups, name, group)))


def with_ipset(name: str, ipset: IPSet | None) -> ConfigChange:
    """The datacenter's IP set ``name`` becomes ``ipset``, or is gone."""
    return lambda config: _with_file(config, None, lambda fw: replace(fw, ipsets=_replaced(fw.ipsets, name, ipset)))


def with_alias(name: str, alias: Alias | None) -> ConfigChange:
    """The datacenter's alias ``name`` becomes ``alias``, or is gone."""
    return lambda config: _with_file(config, None, lambda fw: replace(fw, aliases=_replaced(fw.aliases, name, alias)))
