"""When a security group that a tree changes is written: before the rules that jump to it, or,
for a group the change only narrows, after them.

Groups go before the rule lists (a rule may only jump to a group that exists, and a new jump
should find the group complete). A group whose change only takes access away - ACCEPT rules
removed, DROP or REJECT rules added - while the files that jump to it keep jumping to it, is
the other case: the datacenter's or a node's new rules often take over what the group granted
(the admin rules move out of the group), so written first, the narrowed group would cut the
operator off until the rules catch up. Written after the rules, the group keeps granting until
then, and no file meets its old rules that did not already jump to it.

The writer (firewall_tree) and the judge of every step (``rollout_stages``) both take the order
from here; the lockout analysis judges the result either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .._model.objects import ClusterConfig, FirewallFile, Rule, SecurityGroup

_DENYING = frozenset({"DROP", "REJECT"})


def _jumps(config: ClusterConfig) -> dict[str, set[str]]:
    """Group name (lowercase) -> the files whose rules jump to it."""
    files: list[tuple[str, FirewallFile]] = [("cluster", config.cluster)]
    files += [(f"node {node}", fw) for node, fw in config.hosts.items()]
    files += [(f"guest {vmid}", guest.file) for vmid, guest in config.guests.items()]
    found: dict[str, set[str]] = {}
    for label, fw in files:
        for rule in fw.rules:
            if rule.type.lower() == "group":
                found.setdefault(rule.action.lower(), set()).add(label)
    return found


def _active(rules: Iterable[Rule]) -> list[Rule]:
    """The rules that take part (a disabled rule is as good as absent), compared without their comments."""
    return [replace(rule, comment=None) for rule in rules if rule.enable]


def only_narrows(before: SecurityGroup, after: SecurityGroup) -> bool:
    """Whether ``after`` differs from ``before`` only by ACCEPT rules taken out (or disabled)
    and DROP or REJECT rules put in (or enabled), the rules both keep in the same order. Any
    other change - an ACCEPT rule added, a rule edited, kept rules reordered - may widen."""
    old, new = _active(before.rules), _active(after.rules)
    if old == new:
        return False
    removed = [rule for rule in old if rule not in new]
    added = [rule for rule in new if rule not in old]
    kept_in_old_order = [rule for rule in old if rule in new]
    kept_in_new_order = [rule for rule in new if rule in old]
    return (
        all(rule.action.upper() not in _DENYING for rule in removed)
        and all(rule.action.upper() in _DENYING for rule in added)
        and kept_in_old_order == kept_in_new_order
    )


def late_groups(before: ClusterConfig, after: ClusterConfig) -> frozenset[str]:
    """The groups (lowercase names) written after the datacenter's and the nodes' rules: each
    exists before and after, the change only narrows it, and every file that jumps to it after
    the change already jumped to it before."""
    old_groups = {group.name.lower(): group for group in before.cluster.groups}
    old_jumps, new_jumps = _jumps(before), _jumps(after)
    late = set()
    for group in after.cluster.groups:
        key = group.name.lower()
        old = old_groups.get(key)
        if old is not None and only_narrows(old, group) and new_jumps.get(key, set()) <= old_jumps.get(key, set()):
            late.add(key)
    return frozenset(late)
