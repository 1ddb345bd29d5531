"""The configurations a change passes through, step by step, in the order firewall_tree
writes it (``tree_steps``).

A tree whose end state keeps the operator's access can still cut it off on the way: a group's
new DROP rule lands before the datacenter rules that should precede its jump are rewritten, or
an IP set loses the admin before the rules move to another set. Each stage here is the whole
configuration once one step of the datacenter or of a node is written, so the lockout analysis
can judge every one of them before the first write: firewall_tree judges the steps of its own
call, and firewall_simulate (the safe_rollout role's preflight) the steps of the whole rollout,
which writes the same steps in the same order over several calls. Guest and vnet firewalls
cannot block a node, so their steps are left out: they change nothing the analysis reads.

Steps of one phase in different files may run at once, but a node's access depends only on the
datacenter's file and its own, and the datacenter's steps of one phase are one file's, written
in their listed order: judging the steps in their listed order covers every interleaving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from .._model.inventory import Inventory
from .._model.objects import ClusterConfig, FileKind, FirewallFile, IPSet, SecurityGroup
from .set_entries import held_set, trimmed_set
from .tree import Tree, apply_tree, canonical_config
from .tree_steps import Step, plan_steps, union_by_name

# The levels whose files decide whether a node accepts new connections.
ACCESS_LEVELS = ("cluster", "node")


@dataclass(frozen=True)
class Stage:
    """The configuration after one step."""

    label: str
    config: ClusterConfig


def stage_label(step: Step) -> str:
    """The step as the reports name it: ``datacenter IP set office``, ``node pve1 rules``."""
    where = "datacenter" if step.file.level == "cluster" else step.file.label
    what = {
        "ipset": f"IP set {step.name}",
        "group": f"security group {step.name}",
        "prune_entries": f"IP set {step.name} dropped entries removed",
        "prune_group": f"security group {step.name} removed",
        "prune_ipset": f"IP set {step.name} removed",
        "prune_alias": "aliases the tree does not list removed",
        "nics": "NIC firewall flags",
    }.get(step.part, step.part)
    return f"{where} {what}"


Named = TypeVar("Named", IPSet, SecurityGroup)


def _named(items: Sequence[Named], name: str) -> Named | None:
    return next((item for item in items if item.name.lower() == name), None)


def _listed(items: Sequence[Named], name: str) -> Named:
    """The object a step writes, which the file after the change holds (``plan_steps``)."""
    found = _named(items, name)
    if found is None:
        raise KeyError(f"a step writes {name!r}, which the configuration after the change lacks")
    return found


def _step_written(current: FirewallFile, after: FirewallFile, step: Step, joint_enable: bool) -> FirewallFile:
    """``current`` once ``step`` has written its part of ``after`` (as ``StepWriter`` does)."""
    part, name = step.part, step.name or ""
    apart = current.kind == FileKind.CLUSTER and not joint_enable
    if part == "aliases":
        return replace(current, aliases=union_by_name(current.aliases, after.aliases))
    if part == "ipset":
        return replace(current, ipsets=union_by_name(current.ipsets, (held_set(_named(current.ipsets, name), _listed(after.ipsets, name)),)))
    if part == "prune_entries":
        return replace(current, ipsets=union_by_name(current.ipsets, (trimmed_set(_listed(current.ipsets, name), _listed(after.ipsets, name)),)))
    if part == "group":
        return replace(current, groups=union_by_name(current.groups, (_listed(after.groups, name),)))
    if part == "prune_group":
        return replace(current, groups=tuple(group for group in current.groups if group.name.lower() != name))
    if part == "prune_ipset":
        return replace(current, ipsets=tuple(ipset for ipset in current.ipsets if ipset.name.lower() != name))
    if part == "prune_alias":
        listed = {alias.name.lower() for alias in after.aliases}
        return replace(current, aliases=tuple(alias for alias in current.aliases if alias.name.lower() in listed))
    if part == "rules":
        return replace(current, rules=after.rules)
    if part == "options":
        options = {key: value for key, value in after.options.items() if key != "enable" or not apart}
        if apart and "enable" in current.options:
            options["enable"] = current.options["enable"]
        return replace(current, options=options)
    if part == "enable":
        options = {key: value for key, value in current.options.items() if key != "enable"}
        if "enable" in after.options:
            options["enable"] = after.options["enable"]
        return replace(current, options=options)
    return current  # nics: the guest's config, not its firewall


def step_stages(before: ClusterConfig, after: ClusterConfig, steps: tuple[Step, ...], *, joint_enable: bool = False) -> list[Stage]:
    """The configuration after each step of the datacenter and the nodes in ``steps`` (planned
    from ``before`` to ``after`` by ``plan_steps``), in their order; the last one holds the
    datacenter and the nodes as ``after`` does."""
    stages: list[Stage] = []
    current = before
    for step in steps:
        if step.file.level not in ACCESS_LEVELS:
            continue
        if step.file.level == "cluster":
            current = replace(current, cluster=_step_written(current.cluster, after.cluster, step, joint_enable))
        else:
            node = step.file.name
            old = current.hosts.get(node, FirewallFile(FileKind.HOST))
            current = replace(current, hosts={**current.hosts, node: _step_written(old, after.hosts[node], step, joint_enable)})
        stages.append(Stage(stage_label(step), current))
    return stages


def rollout_stages(config: ClusterConfig, tree: Tree, inventory: Inventory, rules_state: str = "overridden", prune: bool = False) -> list[Stage]:
    """Every configuration a rollout of ``tree`` passes through that can decide node access, in
    the order it writes them; the last one is the end state (``apply_tree``, canonical)."""
    # A node without a host.fw yet reads as an empty one (as PVE does), so creating it is no step.
    config = replace(config, hosts={**{node: FirewallFile(FileKind.HOST) for node in tree.hosts}, **config.hosts})
    before = canonical_config(config)
    after = canonical_config(apply_tree(config, tree, inventory, rules_state, prune))
    return step_stages(before, after, plan_steps(before, after))
