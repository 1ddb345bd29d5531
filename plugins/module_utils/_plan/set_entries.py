"""How an IP set that a tree changes passes from its old entries to its new ones: add before
remove.

A rollout writes an IP set's new entries in its first stage and takes the entries the tree
drops out only in its last (prune), after the rules that may still rely on them have moved. In
between the set holds both. The writer (firewall_tree) and the judge of every stage
(firewall_simulate's lockout_check.stages) build the set of each stage with these functions,
so that what is judged is what is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .._compiler.normalise import normalise_entries
from .._model.objects import IPSet, IPSetEntry


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
