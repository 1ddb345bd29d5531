"""A firewall tree: the desired configuration of a whole cluster as one data structure.

A tree has the shape ``firewall_info`` returns (``cluster``, ``nodes``, ``guests``, ``vnets``),
so a gathered cluster is a tree that changes nothing when applied. The roles apply a tree in
a safe order; ``firewall_simulate`` lays a tree over the live configuration to answer what
the cluster will do after the rollout. Applying means, per file the tree names:

* ``options``: the keys given are set, the others stay;
* ``rules``: the list is made exactly so (``overridden``) or merged into the current one
  (``merged``, the semantics of ``firewall_rule``);
* ``ipsets``, ``aliases``, ``groups``: each one listed is made exactly so; others stay,
  unless ``prune`` removes the ones not listed.

Parts a file does not name stay as they are. Guests may carry ``nic_firewall``: a boolean
(the ``firewall`` flag of all their NICs) or a mapping of NIC keys to their flag
(``{net0: true, net1: false}``, the shape ``firewall_info`` returns with ``include: nics``;
NICs not listed stay). The read-only keys ``firewall_info`` adds (``vmid``, ``type``,
``level``, ``node``, ``name``, ``tags``, ``refs``) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Union

from .._compiler.config_validation import located, validate_config, validate_file
from .._compiler.fw_size import pve_path, size_problem
from .._compiler.normalise import normalise_file
from .._compiler.user_input import FILE_KEYS, file_from_user
from .._model.errors import FieldError
from .._model.inventory import Guest, Inventory
from .._model.objects import ClusterConfig, FileKind, FirewallFile, GuestFirewall, Level
from .rule_states import merged

TREE_KEYS = ("cluster", "nodes", "guests", "vnets")
# What firewall_info returns besides the firewall's own parts; read-only, ignored on input.
INFO_KEYS = ("refs", "auto_revert_armed_at")
GUEST_INFO_KEYS = ("vmid", "type", "level", "node", "name", "tags", "refs")
NIC_KEY = re.compile(r"net\d+")
# A guest's nic_firewall: one flag for every NIC, or the flag per NIC key.
NicFlags = Union[bool, Mapping[str, bool]]  # noqa: UP007


@dataclass(frozen=True)
class DesiredFile:
    """One firewall of the tree: its content and which parts the tree names."""

    file: FirewallFile
    parts: frozenset[str]


@dataclass(frozen=True)
class Tree:
    cluster: DesiredFile | None = None
    hosts: Mapping[str, DesiredFile] = field(default_factory=dict)
    guests: Mapping[int, DesiredFile] = field(default_factory=dict)
    vnets: Mapping[str, DesiredFile] = field(default_factory=dict)
    nic_firewall: Mapping[int, NicFlags] = field(default_factory=dict)


def _desired_file(kind: FileKind, data: object, location: str, ignored: tuple[str, ...], errors: list[FieldError]) -> DesiredFile | None:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        errors.append(FieldError(location, location.rsplit(".", 1)[-1], data, "must be a mapping", f"a mapping with keys {', '.join(FILE_KEYS)}"))
        return None
    own = {key: value for key, value in data.items() if key not in ignored}
    fw, problems = file_from_user(kind, own, location)
    errors.extend(problems)
    if fw is None:
        return None
    return DesiredFile(fw, frozenset(key for key in own if key in FILE_KEYS))


def _named(section: object, location: str, errors: list[FieldError]) -> Mapping[Any, Any]:
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        errors.append(FieldError(location, location.rsplit(".", 1)[-1], section, "must be a mapping", "names (or guest ids) mapped to their firewall"))
        return {}
    return section


def _nic_flags(flag: object, where: str, errors: list[FieldError]) -> NicFlags | None:
    """``nic_firewall`` of one guest: a boolean, or NIC keys mapped to booleans."""
    if isinstance(flag, bool):
        return flag
    if not isinstance(flag, Mapping):
        errors.append(FieldError(where, "nic_firewall", flag, "nic_firewall must be a boolean or a mapping", "true, false or {net0: true, net1: false}"))
        return None
    flags: dict[str, bool] = {}
    place = f"{where}.nic_firewall"
    for name, value in flag.items():
        if not isinstance(name, str) or not NIC_KEY.fullmatch(name):
            errors.append(FieldError(place, str(name), value, f"'{name}' is not a network device key", "net0, net1, ... as in the guest config"))
        elif not isinstance(value, bool):
            errors.append(FieldError(place, name, value, "the flag of a network device must be a boolean", "true or false"))
        else:
            flags[name] = value
    return flags if len(flags) == len(flag) else None


def tree_from_user(data: object, location: str = "tree") -> tuple[Tree, list[FieldError]]:
    """The tree from its YAML shape, with every problem named by its place in the tree."""
    errors: list[FieldError] = []
    if data is None:
        return Tree(), errors
    if not isinstance(data, Mapping):
        return Tree(), [FieldError(location, location, data, "a firewall tree must be a mapping", ", ".join(TREE_KEYS))]
    for key in data:
        if key not in TREE_KEYS:
            errors.append(FieldError(location, str(key), data[key], f"unknown tree key '{key}'", ", ".join(TREE_KEYS)))
    cluster = None
    if data.get("cluster") is not None:
        cluster = _desired_file(FileKind.CLUSTER, data["cluster"], f"{location}.cluster", INFO_KEYS, errors)
    hosts = {}
    for node, value in _named(data.get("nodes"), f"{location}.nodes", errors).items():
        found = _desired_file(FileKind.HOST, value, f"{location}.nodes.{node}", INFO_KEYS, errors)
        if found is not None:
            hosts[str(node)] = found
    guests: dict[int, DesiredFile] = {}
    nic_firewall: dict[int, NicFlags] = {}
    for key, value in _named(data.get("guests"), f"{location}.guests", errors).items():
        where = f"{location}.guests.{key}"
        if not str(key).isdigit():
            errors.append(FieldError(where, "guests", key, f"'{key}' is not a guest id", "a vmid such as 100"))
            continue
        vmid = int(str(key))
        flag = value.get("nic_firewall") if isinstance(value, Mapping) else None
        if flag is not None:
            flags = _nic_flags(flag, where, errors)
            if flags is not None:
                nic_firewall[vmid] = flags
        found = _desired_file(FileKind.GUEST, value, where, (*GUEST_INFO_KEYS, "nic_firewall"), errors)
        if found is not None:
            guests[vmid] = found
    vnets = {}
    for vnet, value in _named(data.get("vnets"), f"{location}.vnets", errors).items():
        found = _desired_file(FileKind.VNET, value, f"{location}.vnets.{vnet}", INFO_KEYS, errors)
        if found is not None:
            vnets[str(vnet)] = found
    return Tree(cluster, hosts, guests, vnets, nic_firewall), errors


def _by_name(current: tuple[Any, ...], desired: tuple[Any, ...], prune: bool) -> tuple[Any, ...]:
    """Each desired object replaces the current one of its name (case-insensitively, as PVE
    compares them); the others stay unless pruned. New ones come last."""
    wanted = {item.name.lower(): item for item in desired}
    kept = [wanted.pop(item.name.lower(), item) for item in current if not prune or item.name.lower() in wanted]
    return (*kept, *wanted.values())


def apply_file(current: FirewallFile, desired: DesiredFile, rules_state: str = "overridden", prune: bool = False) -> FirewallFile:
    """``current`` after applying one firewall of a tree (in canonical form, as PVE keeps it)."""
    fw, parts = normalise_file(desired.file), desired.parts
    options = dict(current.options)
    options.update(fw.options)
    rules = current.rules
    if "rules" in parts:
        rules = fw.rules if rules_state == "overridden" else merged(current.rules, fw.rules)
    applied = replace(
        current,
        options=options,
        rules=rules,
        ipsets=_by_name(current.ipsets, fw.ipsets, prune) if "ipsets" in parts else current.ipsets,
        aliases=_by_name(current.aliases, fw.aliases, prune) if "aliases" in parts else current.aliases,
        groups=_by_name(current.groups, fw.groups, prune) if "groups" in parts else current.groups,
    )
    return normalise_file(applied)


def unknown_objects(tree: Tree, inventory: Inventory, vnets: tuple[str, ...], location: str = "tree") -> list[FieldError]:
    """Nodes, guests and vnets the tree names that the cluster does not have."""
    errors = [
        FieldError(f"{location}.nodes.{node}", "nodes", node, f"no node {node} in the cluster", ", ".join(sorted(inventory.nodes)))
        for node in tree.hosts
        if node not in inventory.nodes
    ]
    for vmid in sorted({*tree.guests, *tree.nic_firewall}):
        if vmid not in inventory.guests:
            known = ", ".join(map(str, sorted({*inventory.guests, *inventory.unread})))
            errors.append(FieldError(f"{location}.guests.{vmid}", "guests", vmid, f"no guest {vmid} in the cluster", known))
            continue
        flags = tree.nic_firewall.get(vmid)
        if isinstance(flags, Mapping):
            nics = [nic.name for nic in inventory.guests[vmid].nics]
            have = ", ".join(nics) or "none"
            errors += [
                FieldError(f"{location}.guests.{vmid}.nic_firewall", name, flag, f"guest {vmid} has no network device {name}", have)
                for name, flag in flags.items()
                if name not in nics
            ]
    errors += [
        FieldError(f"{location}.vnets.{vnet}", "vnets", vnet, f"no vnet {vnet} in the cluster", ", ".join(vnets) or "none")
        for vnet in tree.vnets
        if vnet not in vnets
    ]
    return errors


def reaches_every_file(tree: Tree, prune: bool) -> bool:
    """Whether applying ``tree`` can change what a file it does not name means, so that the
    whole cluster must be read to plan and validate it. The rules of every file may name the
    datacenter's IP sets, aliases and groups: a changed alias may mix address families in a
    rule elsewhere, a changed group's rules land in every guest that jumps to it, the order of
    an IP set's writes depends on every rule that names it (``set_entries.deny_sets``), and a
    pruned object may still be named. A tree that lists them or prunes at the datacenter
    reaches every file; other parts change only the file they are in. The datacenter's and
    the nodes' files are read whatever the tree (rules of every file name the first, the
    lockout analysis needs both)."""
    cluster = tree.cluster
    return cluster is not None and (prune or bool(cluster.parts & {"ipsets", "aliases", "groups"}))


def apply_tree(config: ClusterConfig, tree: Tree, inventory: Inventory, rules_state: str = "overridden", prune: bool = False) -> ClusterConfig:
    """The whole configuration as it will be once ``tree`` is applied to ``config``."""
    cluster = apply_file(config.cluster, tree.cluster, rules_state, prune) if tree.cluster is not None else config.cluster
    hosts = dict(config.hosts)
    for node, desired in tree.hosts.items():
        hosts[node] = apply_file(hosts.get(node, FirewallFile(FileKind.HOST)), desired, rules_state, prune)
    guests = dict(config.guests)
    for vmid, desired in tree.guests.items():
        known = guests.get(vmid)
        level = known.level if known is not None else (Level.CT if vmid in inventory.guests and inventory.guests[vmid].type == "lxc" else Level.VM)
        current = known.file if known is not None else FirewallFile(FileKind.GUEST)
        guests[vmid] = GuestFirewall(vmid, level, apply_file(current, desired, rules_state, prune))
    vnets = dict(config.vnets)
    for vnet, desired in tree.vnets.items():
        vnets[vnet] = apply_file(vnets.get(vnet, FirewallFile(FileKind.VNET)), desired, rules_state, prune)
    return ClusterConfig(cluster, hosts, guests, vnets)


def wanted_nic_flags(guest: Guest, flags: NicFlags) -> dict[str, bool]:
    """Each NIC's flag once ``flags`` is applied: all of them, or those named (others keep theirs)."""
    if isinstance(flags, bool):
        return {nic.name: flags for nic in guest.nics}
    return {nic.name: flags.get(nic.name, nic.firewall) for nic in guest.nics}


def apply_nic_flags(inventory: Inventory, tree: Tree) -> Inventory:
    """The inventory with the NIC firewall flags the tree sets."""
    if not tree.nic_firewall:
        return inventory
    guests = dict(inventory.guests)
    for vmid, flags in tree.nic_firewall.items():
        guest = guests.get(vmid)
        if guest is not None:
            wanted = wanted_nic_flags(guest, flags)
            guests[vmid] = replace(guest, nics=tuple(replace(nic, firewall=wanted[nic.name]) for nic in guest.nics))
    return replace(inventory, guests=guests)


def _differs(before: FirewallFile | None, after: FirewallFile) -> bool:
    return normalise_file(before or FirewallFile(after.kind)) != normalise_file(after)


@dataclass(frozen=True)
class FileChange:
    """One firewall the tree changes: its label and where PVE keeps it, before and after."""

    label: str
    path: str
    before: FirewallFile
    after: FirewallFile


def canonical_config(config: ClusterConfig) -> ClusterConfig:
    """Every file as PVE keeps it, so that equal parts compare equal."""
    return ClusterConfig(
        normalise_file(config.cluster),
        {node: normalise_file(fw) for node, fw in config.hosts.items()},
        {vmid: GuestFirewall(vmid, guest.level, normalise_file(guest.file)) for vmid, guest in config.guests.items()},
        {vnet: normalise_file(fw) for vnet, fw in config.vnets.items()},
    )


def file_changes(before: ClusterConfig, after: ClusterConfig) -> list[FileChange]:
    """The firewalls that differ, datacenter and nodes first, each in canonical form."""
    pairs: list[tuple[str, str, FirewallFile | None, FirewallFile]] = [("cluster", "/etc/pve/firewall/cluster.fw", before.cluster, after.cluster)]
    pairs += [(f"node {node}", f"/etc/pve/nodes/{node}/host.fw", before.hosts.get(node), fw) for node, fw in sorted(after.hosts.items())]
    pairs += [
        (f"{guest.level.value} {vmid}", f"/etc/pve/firewall/{vmid}.fw", before.guests[vmid].file if vmid in before.guests else None, guest.file)
        for vmid, guest in sorted(after.guests.items())
    ]
    pairs += [(f"vnet {vnet}", f"/etc/pve/sdn/firewall/{vnet}.fw", before.vnets.get(vnet), fw) for vnet, fw in sorted(after.vnets.items())]
    changes = []
    for label, path, old, new in pairs:
        old_fw, new_fw = normalise_file(old or FirewallFile(new.kind)), normalise_file(new)
        if old_fw != new_fw:
            changes.append(FileChange(label, path, old_fw, new_fw))
    return changes


def nic_flag_changes(inventory: Inventory, tree: Tree) -> list[int]:
    """The guests whose NICs' firewall flag the tree changes."""
    changed = []
    for vmid, flags in tree.nic_firewall.items():
        guest = inventory.guests.get(vmid)
        if guest is not None and wanted_nic_flags(guest, flags) != {nic.name: nic.firewall for nic in guest.nics}:
            changed.append(vmid)
    return sorted(changed)


def touches_node_access(changes: Sequence[FileChange]) -> bool:
    """Whether the changes can decide if nodes accept new connections: the datacenter file
    (options, rules, the groups, ipsets and aliases they use) or a host file changes."""
    return any(change.label == "cluster" or change.label.startswith("node ") for change in changes)


def _with_existing(desired: FirewallFile, after: FirewallFile) -> FirewallFile:
    """The desired file with the IP sets and aliases it does not list but will have, so that
    its rules' references resolve as they will."""
    listed = {item.name.lower() for item in desired.ipsets} | {item.name.lower() for item in desired.aliases}
    ipsets = (*desired.ipsets, *(item for item in after.ipsets if item.name.lower() not in listed))
    aliases = (*desired.aliases, *(item for item in after.aliases if item.name.lower() not in listed))
    return replace(desired, ipsets=ipsets, aliases=aliases)


def too_large_files(tree: Tree, before: ClusterConfig, after: ClusterConfig, location: str = "tree") -> list[FieldError]:
    """The files the tree changes that pmxcfs would refuse (over 1 MiB, ``_compiler.fw_size``):
    a rollout must stop before its first write, not when PVE answers ``File too large``."""
    files: list[tuple[str, str, FirewallFile | None, FirewallFile]] = []
    if tree.cluster is not None:
        files.append((f"{location}.cluster", pve_path("cluster"), before.cluster, after.cluster))
    files += [(f"{location}.nodes.{node}", pve_path("node", node=node), before.hosts.get(node), after.hosts[node]) for node in sorted(tree.hosts)]
    for vmid in sorted(tree.guests):
        known = before.guests.get(vmid)
        files.append((f"{location}.guests.{vmid}", pve_path("vm", vmid), known.file if known else None, after.guests[vmid].file))
    files += [(f"{location}.vnets.{vnet}", pve_path("vnet", vnet=vnet), before.vnets.get(vnet), after.vnets[vnet]) for vnet in sorted(tree.vnets)]
    errors = []
    for where, path, old, new in files:
        problem = size_problem(new, path) if old != new else None
        if problem is not None:
            errors.append(FieldError(where, "size", problem.size, problem.message, f"at most {problem.limit:,} bytes per file"))
    return errors


def tree_problems(tree: Tree, before: ClusterConfig, after: ClusterConfig, location: str = "tree") -> list[FieldError]:
    """What the tree gets wrong, by its place in the tree (``tree.cluster rules[0]``), then the
    problems the tree brings into the rest of the configuration (a pruned IP set still used)."""
    errors: list[FieldError] = []
    if tree.cluster is not None:
        errors += validate_file(tree.cluster.file, cluster=after.cluster, locate=located(f"{location}.cluster"))
    for node, desired in sorted(tree.hosts.items()):
        errors += validate_file(desired.file, cluster=after.cluster, locate=located(f"{location}.nodes.{node}"))
    for vmid, desired in sorted(tree.guests.items()):
        guest = after.guests[vmid]
        with_sets = _with_existing(desired.file, guest.file)
        errors += validate_file(with_sets, cluster=after.cluster, locate=located(f"{location}.guests.{vmid}"), guest_level=guest.level)
    for vnet, desired in sorted(tree.vnets.items()):
        errors += validate_file(desired.file, cluster=after.cluster, locate=located(f"{location}.vnets.{vnet}"))
    errors += too_large_files(tree, before, after, location)
    if errors:
        return errors
    known = set(map(str, validate_config(before)))
    return [error for error in validate_config(after) if str(error) not in known]
