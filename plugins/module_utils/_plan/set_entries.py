"""How an IP set that a tree changes passes from its old entries to its new ones: add before
remove, or for a set only DROP and REJECT rules use, remove before add.

A rollout writes an IP set's new entries in its first stage and takes the entries the tree
drops out only in its last (prune), after the rules that may still rely on them have moved. In
between the set holds both: rules that accept the set's members keep accepting the admin
while they move from the old entries to the new ones. A set that rules only deny (``blacklist``
and the sets of DROP and REJECT rules, before and after the change, in every file) goes the
other way: its dropped entries leave first, so that a DROP rule the same tree adds never meets
the old entries (removing a member of such a set can only let more in). The writer
(firewall_tree) and the judge of every stage (``rollout_stages``) build the set of each stage
with these functions, so that what is judged is what is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .._compiler.addresses import IPSetRef, address_refs
from .._compiler.normalise import normalise_entries
from .._model.objects import ClusterConfig, FirewallFile, IPSet, IPSetEntry, Rule

# Verdicts that can only keep a set's members out. PVE itself drops the sources in
# ``blacklist`` (FW ruleset_chain_add_input_filters) and accepts those in ``management``.
_DENYING = frozenset({"DROP", "REJECT"})
_IMPLIED = {"blacklist": "DROP", "management": "ACCEPT"}


def _cidrs(ipset: IPSet) -> set[str]:
    return {entry.cidr for entry in ipset.entries}


def held_set(current: IPSet | None, wanted: IPSet) -> IPSet:
    """``wanted`` with the entries of ``current`` it does not list still in it: the set once its
    added and changed entries are written and before any is removed (``wanted`` when the set is
    new)."""
    if current is None:
        return wanted
    listed = _cidrs(wanted)
    return replace(wanted, entries=normalise_entries((*wanted.entries, *(entry for entry in current.entries if entry.cidr not in listed))))


def trimmed_set(current: IPSet, wanted: IPSet) -> IPSet:
    """``current`` without the entries ``wanted`` does not list (the others as they are)."""
    listed = _cidrs(wanted)
    return replace(current, entries=tuple(entry for entry in current.entries if entry.cidr in listed))


def dropped_entries(current: IPSet, wanted: IPSet) -> tuple[IPSetEntry, ...]:
    """The entries of ``current`` that ``wanted`` does not list: the prune stage removes them."""
    listed = _cidrs(wanted)
    return tuple(entry for entry in current.entries if entry.cidr not in listed)


def held_sets(current: Iterable[IPSet], wanted: Iterable[IPSet]) -> tuple[IPSet, ...]:
    """Each set of ``wanted`` as ``held_set`` makes it, against the set of its name in ``current``."""
    known = {ipset.name.lower(): ipset for ipset in current}
    return tuple(held_set(known.get(ipset.name.lower()), ipset) for ipset in wanted)


def trimmed_sets(current: Iterable[IPSet], wanted: Iterable[IPSet]) -> tuple[IPSet, ...]:
    """``current``'s sets, each one ``wanted`` lists without the entries it drops; the others as they are."""
    listed = {ipset.name.lower(): ipset for ipset in wanted}
    return tuple(trimmed_set(ipset, listed[ipset.name.lower()]) if ipset.name.lower() in listed else ipset for ipset in current)


def _datacenter_sets_named(rule: Rule) -> Iterable[str]:
    """The datacenter IP sets a rule's addresses name (``+name`` or ``+dc/name``)."""
    return (ref.name.lower() for _field, ref in address_refs(rule) if isinstance(ref, IPSetRef) and ref.scope in (None, "dc"))


def _files(config: ClusterConfig) -> Iterable[FirewallFile]:
    yield config.cluster
    yield from config.hosts.values()
    yield from (guest.file for guest in config.guests.values())
    yield from config.vnets.values()


def deny_sets(*configs: ClusterConfig) -> frozenset[str]:
    """The datacenter IP sets that every rule naming them, in every file of ``configs``,
    denies (and ``blacklist``, unless a rule accepts it): their dropped entries leave first."""
    verdicts: dict[str, set[str]] = {name: {verdict} for name, verdict in _IMPLIED.items()}
    for config in configs:
        for fw in _files(config):
            rules = [*fw.rules, *(rule for group in fw.groups for rule in group.rules)]
            for rule in rules:
                if rule.type.lower() == "group":
                    continue
                for name in _datacenter_sets_named(rule):
                    verdicts.setdefault(name, set()).add(rule.action.upper())
    return frozenset(name for name, seen in verdicts.items() if seen <= _DENYING)
