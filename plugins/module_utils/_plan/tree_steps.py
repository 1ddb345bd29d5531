"""Which writes a firewall tree needs and in which order: pure Python, no API.

A run of ``firewall_tree`` is a set of steps. Each step writes one part of one file (the
aliases of the datacenter, one IP set of a guest, the rules of a node, ...), and every step
names the file PVE locks while writing it, so that two steps of one file never run at once.
Steps fall into phases, the safe order of the rollout (roles/safe_rollout):

1. aliases, then IP sets (rules and IP set entries refer to them), at every level; an IP
   set that exists before and after gets only its added and changed entries here, except a
   datacenter set that rules only deny (``set_entries.deny_sets``), which first loses the
   entries the tree drops;
2. security groups (rules of every level jump to them), except those the change only narrows
   (``group_changes.late_groups``), which follow the datacenter's rules;
3. the guests', nodes' and vnets' own options, NIC flags and rules;
4. the datacenter's rules, then the groups the change only narrows, 5. its options, 6. its
   ``enable``;
7. the entries the tree drops from the other IP sets it lists (add before remove: until here
   a set holds its old and its new entries, so rules that move from one to the other always
   find one of them);
8. removals the tree asks for with ``prune``: groups, then IP sets, then aliases (each only
   once nothing refers to it any more).

A step waits for every step of the phases before its own, and for the step before it in the
same file (a file's steps run in their listed order); steps of one phase in different files
are free to run at once. ``stage_config`` gives the configuration after some of the stages
only, so a rollout can apply its tree in several calls: the stage ``prune`` takes the dropped
entries out (whatever the option ``prune``, which only decides about unlisted objects), so a
call whose stages leave it out keeps them and the rollout's last call removes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._compiler.fw_size import pve_path
from .._model.objects import ClusterConfig, FileKind, FirewallFile, GuestFirewall
from .group_changes import late_groups
from .set_entries import deny_sets, dropped_entries, held_set, held_sets, trimmed_set, trimmed_sets

# The stages a call may select (option ``stages``), in the safe order.
STAGES = ("sets", "groups", "guests", "nodes", "vnets", "cluster_rules", "cluster_options", "enable", "prune")
PHASES = (
    "aliases",
    "ipsets",
    "groups",
    "files",
    "cluster_rules",
    "late_groups",
    "cluster_options",
    "enable",
    "prune_entries",
    "prune_groups",
    "prune_ipsets",
    "prune_aliases",
)


@dataclass(frozen=True)
class FileRef:
    """One file of the cluster: how users and the API name it, and where PVE keeps it."""

    level: str  # cluster, node, vm, ct, vnet
    name: str = ""  # node name, vmid or vnet name; empty for the datacenter

    @property
    def label(self) -> str:
        return "cluster" if self.level == "cluster" else f"{self.level} {self.name}"

    @property
    def path(self) -> str:
        if self.level in ("vm", "ct"):
            return pve_path(self.level, int(self.name))
        return pve_path(self.level, node=self.name or None, vnet=self.name or None)


@dataclass(frozen=True)
class Step:
    """One write unit. ``lock`` is the file it writes; ``after`` the steps it waits for."""

    id: str
    file: FileRef
    part: str  # aliases, ipset, group, options, nics, rules, enable, prune_entries, prune_group, prune_ipset, prune_alias
    phase: int
    name: str | None = None  # the IP set or group of the step
    after: frozenset[str] = frozenset()

    @property
    def lock(self) -> str:
        # NIC flags live in the guest's config, a file of its own
        return f"{self.file.path}:config" if self.part == "nics" else self.file.path


def _names(items: Iterable[Any]) -> dict[str, Any]:
    return {item.name.lower(): item for item in items}


def union_by_name(before: Sequence[Any], after: Sequence[Any]) -> tuple[Any, ...]:
    """``after``'s objects, and ``before``'s that ``after`` does not list (nothing removed)."""
    wanted = _names(after)
    kept = [wanted.pop(item.name.lower(), item) for item in before]
    return (*kept, *wanted.values())


def _kept(before: Sequence[Any], after: Sequence[Any]) -> tuple[Any, ...]:
    """``before``'s objects that ``after`` still has, as they are in ``before``."""
    listed = _names(after)
    return tuple(item for item in before if item.name.lower() in listed)


def _overlay(
    before: FirewallFile, after: FirewallFile, parts: frozenset[str], deny: frozenset[str] = frozenset(), late: frozenset[str] = frozenset()
) -> FirewallFile:
    """``before`` with the parts a selection writes taken from ``after``. ``sets`` and
    ``groups`` add and change objects (an IP set only gains entries, unless ``deny`` names
    it: then it becomes as ``after`` has it; ``late_groups`` writes the groups ``late``
    names, ``groups`` the others), ``prune`` removes them and the entries ``after``'s IP sets
    drop; the datacenter's ``enable`` is a part of its own."""
    options = dict(before.options)
    if "options" in parts and before.kind != FileKind.CLUSTER:
        options = dict(after.options)
    elif "options" in parts:
        options = {key: value for key, value in after.options.items() if key != "enable"}
        if "enable" in before.options:
            options["enable"] = before.options["enable"]
    if "enable" in parts:
        options.pop("enable", None)
        if "enable" in after.options:
            options["enable"] = after.options["enable"]
    fw = replace(before, options=options)
    if "rules" in parts:
        fw = replace(fw, rules=after.rules)
    if "sets" in parts:
        exact = tuple(ipset for ipset in after.ipsets if ipset.name.lower() in deny)
        held = held_sets(fw.ipsets, (ipset for ipset in after.ipsets if ipset.name.lower() not in deny))
        fw = replace(fw, ipsets=union_by_name(fw.ipsets, (*held, *exact)), aliases=union_by_name(fw.aliases, after.aliases))
    if "groups" in parts:
        fw = replace(fw, groups=union_by_name(fw.groups, [group for group in after.groups if group.name.lower() not in late]))
    if "late_groups" in parts:
        fw = replace(fw, groups=union_by_name(fw.groups, [group for group in after.groups if group.name.lower() in late]))
    if "prune" in parts:
        ipsets = _kept(trimmed_sets(fw.ipsets, after.ipsets), after.ipsets)
        fw = replace(fw, ipsets=ipsets, aliases=_kept(fw.aliases, after.aliases), groups=_kept(fw.groups, after.groups))
    return fw


def stage_parts(stages: Iterable[str]) -> dict[str, frozenset[str]]:
    """The parts each kind of file gets written by the selected stages."""
    chosen = set(stages)
    cluster = {
        part
        for stage, part in (("cluster_rules", "rules"), ("cluster_rules", "late_groups"), ("cluster_options", "options"), ("enable", "enable"))
        if stage in chosen
    }
    guest: set[str] = set()
    for stage, parts in (("sets", {"sets"}), ("prune", {"prune"})):
        if stage in chosen:
            cluster |= parts
            guest |= parts
    if "groups" in chosen:
        cluster.add("groups")
    if "guests" in chosen:
        guest |= {"options", "rules"}
    return {
        "cluster": frozenset(cluster),
        "guest": frozenset(guest),
        "node": frozenset({"options", "rules"} if "nodes" in chosen else ()),
        "vnet": frozenset({"options", "rules"} if "vnets" in chosen else ()),
    }


def stage_config(
    before: ClusterConfig, after: ClusterConfig, stages: Iterable[str], deny: frozenset[str] | None = None, late: frozenset[str] | None = None
) -> ClusterConfig:
    """The configuration once the selected stages of the change from ``before`` to ``after``
    are written (every stage: ``after``, options and all); ``deny``: the datacenter IP sets
    whose dropped entries leave first (default: ``deny_sets`` of the change); ``late``: the
    groups written with the datacenter's rules (default: ``late_groups`` of the change)."""
    parts = stage_parts(stages)
    deny = deny_sets(before, after) if deny is None else deny
    late = late_groups(before, after) if late is None else late
    cluster = _overlay(before.cluster, after.cluster, parts["cluster"], deny, late)
    hosts = dict(before.hosts)
    for node, fw in after.hosts.items():
        hosts[node] = _overlay(before.hosts.get(node, FirewallFile(FileKind.HOST)), fw, parts["node"])
    guests = dict(before.guests)
    for vmid, guest in after.guests.items():
        old = before.guests.get(vmid)
        guests[vmid] = GuestFirewall(vmid, guest.level, _overlay(old.file if old else FirewallFile(FileKind.GUEST), guest.file, parts["guest"]))
    vnets = dict(before.vnets)
    for vnet, fw in after.vnets.items():
        vnets[vnet] = _overlay(before.vnets.get(vnet, FirewallFile(FileKind.VNET)), fw, parts["vnet"])
    return ClusterConfig(cluster, hosts, guests, vnets)


def _file_steps(
    file: FileRef,
    before: FirewallFile,
    after: FirewallFile,
    *,
    own_phase: int,
    joint_enable: bool = False,
    deny: frozenset[str] = frozenset(),
    late: frozenset[str] = frozenset(),
) -> list[Step]:
    """The steps that make ``before`` into ``after``, one file; ``own_phase``: the phase of
    its options and rules (the datacenter's have phases of their own). ``joint_enable``: the
    datacenter's ``enable`` goes in the PUT of its other options (an exact restore), not after.
    ``deny``: the IP sets whose dropped entries leave before the others are written; ``late``:
    the groups written after the datacenter's rules."""
    steps: list[Step] = []

    def add(part: str, phase: str, name: str | None = None) -> None:
        ident = f"{file.label} {part}" + (f" {name}" if name else "")
        steps.append(Step(ident, file, part, PHASES.index(phase), name))

    old_aliases, new_aliases = _names(before.aliases), _names(after.aliases)
    if any(old_aliases.get(key) != alias for key, alias in new_aliases.items()):
        add("aliases", "aliases")
    old_sets = _names(before.ipsets)
    for key, ipset in _names(after.ipsets).items():
        old = old_sets.get(key)
        if key in deny and old is not None and dropped_entries(old, ipset):
            add("prune_entries", "ipsets", key)  # a set rules only deny: dropped entries first
            old = trimmed_set(old, ipset)
        # added and changed entries now, dropped ones in the phase prune_entries
        if old is None or held_set(old, ipset) != old:
            add("ipset", "ipsets", key)
    old_groups = _names(before.groups)
    for key, group in _names(after.groups).items():
        if old_groups.get(key) != group:
            add("group", "late_groups" if key in late else "groups", key)
    apart = file.level == "cluster" and not joint_enable  # enable is a step of its own
    options_before = {key: value for key, value in before.options.items() if key != "enable" or not apart}
    options_after = {key: value for key, value in after.options.items() if key != "enable" or not apart}
    own = PHASES[own_phase]
    if options_before != options_after:
        add("options", "cluster_options" if file.level == "cluster" else own)
    if before.rules != after.rules:
        add("rules", "cluster_rules" if file.level == "cluster" else own)
    if apart and before.options.get("enable") != after.options.get("enable"):
        add("enable", "enable")
    new_groups, new_sets = _names(after.groups), _names(after.ipsets)
    for key, ipset in new_sets.items():
        if key not in deny and key in old_sets and dropped_entries(old_sets[key], ipset):
            add("prune_entries", "prune_entries", key)
    for key in old_groups:
        if key not in new_groups:
            add("prune_group", "prune_groups", key)
    for key in old_sets:
        if key not in new_sets:
            add("prune_ipset", "prune_ipsets", key)
    if any(key not in new_aliases for key in old_aliases):
        add("prune_alias", "prune_aliases")
    return steps


def _ordered(steps: list[Step]) -> tuple[Step, ...]:
    """``steps`` sorted by phase (stable: files in the given order), each waiting for the
    steps of the last earlier phase that has any (which waited for theirs) and for the step
    before it in its own file."""
    steps = sorted(steps, key=lambda step: step.phase)
    done: list[Step] = []
    last_of_phase: dict[int, list[str]] = {}
    previous_in_file: dict[str, str] = {}
    for step in steps:
        earlier = [phase for phase in last_of_phase if phase < step.phase]
        after = set(last_of_phase[max(earlier)]) if earlier else set()
        if step.lock in previous_in_file:
            after.add(previous_in_file[step.lock])
        done.append(replace(step, after=frozenset(after)))
        last_of_phase.setdefault(step.phase, []).append(step.id)
        previous_in_file[step.lock] = step.id
    return tuple(done)


def plan_steps(
    before: ClusterConfig,
    after: ClusterConfig,
    nics: Sequence[int] = (),
    levels: Mapping[int, str] | None = None,
    *,
    joint_enable: bool = False,
    deny: frozenset[str] | None = None,
    late: frozenset[str] | None = None,
) -> tuple[Step, ...]:
    """Every step from ``before`` to ``after`` (both in canonical form) in the safe order;
    ``nics``: the guests whose NIC flags change; ``levels``: vm or ct of each guest;
    ``joint_enable``: the datacenter's enable written with its other options; ``deny``: the
    datacenter IP sets whose dropped entries leave first (default: ``deny_sets`` of the
    change), ``late``: the groups written after the datacenter's rules (default:
    ``late_groups`` of the change); a call that applies some stages gives those of the whole
    tree."""
    found: list[Step] = []
    files = PHASES.index("files")
    if deny is None:
        deny = deny_sets(before, after)
    if late is None:
        late = late_groups(before, after)
    found += _file_steps(FileRef("cluster"), before.cluster, after.cluster, own_phase=files, joint_enable=joint_enable, deny=deny, late=late)
    for vmid, guest in sorted(after.guests.items()):
        old = before.guests.get(vmid)
        ref = FileRef(guest.level.value, str(vmid))
        found += _file_steps(ref, old.file if old else FirewallFile(FileKind.GUEST), guest.file, own_phase=files)
    level_of = dict(levels or {})
    for vmid in sorted(nics):
        known = after.guests.get(vmid)
        level = known.level.value if known is not None else level_of.get(vmid, "vm")
        found.append(Step(f"{level} {vmid} nics", FileRef(level, str(vmid)), "nics", files))
    for node, fw in sorted(after.hosts.items()):
        found += _file_steps(FileRef("node", node), before.hosts.get(node, FirewallFile(FileKind.HOST)), fw, own_phase=files)
    for vnet, fw in sorted(after.vnets.items()):
        found += _file_steps(FileRef("vnet", vnet), before.vnets.get(vnet, FirewallFile(FileKind.VNET)), fw, own_phase=files)
    # a guest's options before its NIC flags before its rules, as the role wrote them
    rank = {"options": 0, "nics": 1, "rules": 2}
    found.sort(key=lambda step: (step.phase, rank.get(step.part, 0) if step.phase == files else 0))
    return _ordered(found)
