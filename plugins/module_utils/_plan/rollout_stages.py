"""The configurations a rollout passes through, stage by stage, in the order the safe_rollout
role writes them.

A tree whose end state keeps the operator's access can still cut it off on the way: a group's
new DROP rule lands before the datacenter rules that should precede its jump are rewritten, or
an IP set loses the admin before the rules move to another set. The role applies a tree in a
fixed order (roles/safe_rollout/tasks/apply.yml); each stage here is the whole configuration
once that step is done, so the lockout analysis can judge every one of them before the first
write. Guest and vnet firewalls cannot block a node, so their stages are left out: they change
nothing the analysis reads.

An IP set that the tree changes gains its new entries in its own stage and loses the ones the
tree drops only after the datacenter's enable, each set a stage of its own, before the objects
``prune`` removes (``set_entries``, the order firewall_tree writes in): rules that move from
the old entries to the new ones find the admin in the set all the way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .._compiler.normalise import normalise_file
from .._model.inventory import Inventory
from .._model.objects import Alias, ClusterConfig, FileKind, FirewallFile, IPSet, SecurityGroup
from .set_entries import dropped_entries, held_set, trimmed_set
from .tree import DesiredFile, Tree, apply_file, apply_tree


@dataclass(frozen=True)
class Stage:
    """The configuration after one step of the rollout."""

    label: str
    config: ClusterConfig


def _part(desired: DesiredFile, parts: set[str], *, without_enable: bool = False, only_enable: bool = False) -> DesiredFile:
    """The parts of one desired file that a step writes (options split around ``enable``)."""
    fw = desired.file
    options = dict(fw.options)
    if without_enable:
        options.pop("enable", None)
    if only_enable:
        options = {key: value for key, value in options.items() if key == "enable"}
    file = replace(fw, options=options) if "options" in parts else FirewallFile(fw.kind, rules=fw.rules, ipsets=fw.ipsets, aliases=fw.aliases, groups=fw.groups)
    return DesiredFile(file, frozenset(desired.parts & parts))


def _with_cluster(config: ClusterConfig, desired: DesiredFile, rules_state: str) -> ClusterConfig:
    return replace(config, cluster=apply_file(config.cluster, desired, rules_state))


def _with_host(config: ClusterConfig, node: str, desired: DesiredFile, rules_state: str) -> ClusterConfig:
    hosts = dict(config.hosts)
    hosts[node] = apply_file(hosts[node], desired, rules_state)
    return replace(config, hosts=hosts)


def _one_object(desired: DesiredFile, item: IPSet | Alias | SecurityGroup) -> DesiredFile:
    """The desired file with only ``item`` in it: one task of the role's loops."""
    kind = desired.file.kind
    if isinstance(item, IPSet):
        return DesiredFile(FirewallFile(kind, ipsets=(item,)), frozenset({"ipsets"}))
    if isinstance(item, Alias):
        return DesiredFile(FirewallFile(kind, aliases=(item,)), frozenset({"aliases"}))
    return DesiredFile(FirewallFile(kind, groups=(item,)), frozenset({"groups"}))


def _with_set(config: ClusterConfig, ipset: IPSet) -> ClusterConfig:
    """The datacenter's IP set of that name replaced by ``ipset``."""
    ipsets = tuple(ipset if item.name.lower() == ipset.name.lower() else item for item in config.cluster.ipsets)
    return replace(config, cluster=replace(config.cluster, ipsets=ipsets))


def _added(config: ClusterConfig, desired: DesiredFile, item: IPSet, rules_state: str) -> ClusterConfig:
    """The datacenter once one IP set's added and changed entries are written (none removed)."""
    old = next((ipset for ipset in config.cluster.ipsets if ipset.name.lower() == item.name.lower()), None)
    written = _with_cluster(config, _one_object(desired, item), rules_state)
    new = next(ipset for ipset in written.cluster.ipsets if ipset.name.lower() == item.name.lower())
    return _with_set(written, held_set(old, new))


def rollout_stages(config: ClusterConfig, tree: Tree, inventory: Inventory, rules_state: str = "overridden", prune: bool = False) -> list[Stage]:
    """Every configuration the role passes through that can decide node access, in its order;
    the last one is the end state (``apply_tree``). Node stages keep the tree's node order: a
    node's own rules and options decide only its own access, so their order does not matter."""
    stages: list[Stage] = []
    # A node without a host.fw yet reads as an empty one (as PVE does), so creating it is no step.
    config = replace(config, hosts={**{node: normalise_file(FirewallFile(FileKind.HOST)) for node in tree.hosts}, **config.hosts})

    def step(label: str, after: ClusterConfig) -> ClusterConfig:
        if after != (stages[-1].config if stages else config):
            stages.append(Stage(label, after))
        return after

    current = config
    cluster = tree.cluster
    if cluster is not None:
        listed = (
            ("IP set", cluster.file.ipsets if "ipsets" in cluster.parts else ()),
            ("alias", cluster.file.aliases if "aliases" in cluster.parts else ()),
            ("security group", cluster.file.groups if "groups" in cluster.parts else ()),
        )
        for what, items in listed:
            for item in items:
                if isinstance(item, IPSet):
                    current = step(f"datacenter {what} {item.name}", _added(current, cluster, item, rules_state))
                else:
                    current = step(f"datacenter {what} {item.name}", _with_cluster(current, _one_object(cluster, item), rules_state))
    for node, desired in tree.hosts.items():
        current = step(f"node {node} options", _with_host(current, node, _part(desired, {"options"}), rules_state))
        current = step(f"node {node} rules", _with_host(current, node, _part(desired, {"rules"}), rules_state))
    if cluster is not None:
        current = step("datacenter rules", _with_cluster(current, _part(cluster, {"rules"}), rules_state))
        current = step("datacenter options", _with_cluster(current, _part(cluster, {"options"}, without_enable=True), rules_state))
        current = step("datacenter enable", _with_cluster(current, _part(cluster, {"options"}, only_enable=True), rules_state))
    end = apply_tree(config, tree, inventory, rules_state, prune)
    for wanted in end.cluster.ipsets if cluster is not None and "ipsets" in cluster.parts else ():
        held = next((ipset for ipset in current.cluster.ipsets if ipset.name.lower() == wanted.name.lower()), None)
        if held is not None and dropped_entries(held, wanted):
            current = step(f"datacenter IP set {wanted.name} dropped entries removed", _with_set(current, trimmed_set(held, wanted)))
    step("objects the tree does not list removed", replace(end, guests=current.guests, vnets=current.vnets))
    return stages
