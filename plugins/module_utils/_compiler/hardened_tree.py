"""The hardened defaults of the ``hardened_defaults`` role as a firewall tree.

The tree has the shape ``pve.firewall.firewall_info`` returns and ``pve.firewall.safe_rollout``
takes: ``cluster`` (options, IP sets, security groups, rules), ``nodes`` (options per node)
and ``guests`` (options, GROUP rules and the NIC firewall flag per vmid). The settings are the
role's variables without their ``hardened_defaults_`` prefix; the cluster is what
``firewall_info`` says about its nodes and guests (with their PVE tags). Pure: no Ansible
imports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ADMIN_IPSET_COMMENT = "administrators"
DATABASE_CLIENTS_IPSET_COMMENT = "database clients"
# the library group whose guests need the database clients' IP set
DATABASE_GROUP = "database"


@dataclass(frozen=True)
class HardenedSettings:
    """What the tree is built from: the ``hardened_defaults_*`` variables of the role.

    Values go into the tree as given (the modules that apply it check and convert them); only
    ``admin_rules`` and which guests the ``guest_groups`` entries select shape the tree."""

    admin_networks: Sequence[Any]
    admin_ipset: str = "management"
    admin_rules: Any = True
    cluster_rules: Sequence[Any] = ()
    enable: Any = True
    policy_in: Any = "DROP"
    policy_out: Any = "ACCEPT"
    cluster_options: Mapping[str, Any] = field(default_factory=dict)
    nodes: Sequence[str] = ()
    node_options: Mapping[str, Any] = field(default_factory=dict)
    group_library: Mapping[str, Any] = field(default_factory=dict)
    database_clients_ipset: str = "dbclients"
    database_clients: Sequence[Any] = ()
    guest_groups: Sequence[Any] = ()
    guest_options: Mapping[str, Any] = field(default_factory=dict)
    guest_nic_firewall: Any = True


def _plain(value: Any) -> Any:
    """A copy made of plain dicts and lists, shared with neither the input nor other parts of
    the tree (a tree that is changed later changes in one place only)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(item) for item in value]
    return value


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dictionary, not {type(value).__name__}")
    return value


def _sequence(value: Any, what: str) -> Sequence[Any]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{what} must be a list, not {type(value).__name__}")
    return value


def _unique(names: Any) -> list[Any]:
    """Each name once, where first listed; names that differ in case only count as one (PVE
    keeps security group names in lower case)."""
    seen: set[Any] = set()
    found = []
    for name in names:
        key = name.lower() if isinstance(name, str) else name
        if key not in seen:
            seen.add(key)
            found.append(name)
    return found


def _selects(entry: Mapping[str, Any], guest: Mapping[str, Any]) -> bool:
    """Whether a ``guest_groups`` entry selects the guest: by vmid, or by any of its tags."""
    if guest.get("vmid") in _sequence(entry.get("vmids"), "vmids of a guest_groups entry"):
        return True
    tags = _sequence(entry.get("tags"), "tags of a guest_groups entry")
    return any(tag in tags for tag in _sequence(guest.get("tags"), f"tags of guest {guest.get('vmid')}"))


def assigned_groups(guests: Mapping[str, Any], guest_groups: Sequence[Any]) -> dict[str, list[str]]:
    """The groups of each selected guest by vmid (a string), in the order of ``guests``: the
    groups of every entry that selects it, in the entries' order, each once (see ``_unique``)."""
    entries = [_mapping(entry, f"guest_groups entry {number}") for number, entry in enumerate(_sequence(guest_groups, "guest_groups"), start=1)]
    assigned: dict[str, list[str]] = {}
    for guest in guests.values():
        guest = _mapping(guest, "a guest of the cluster")
        names: list[Any] = []
        for entry in entries:
            if _selects(entry, guest):
                names.extend(_sequence(entry.get("groups"), "groups of a guest_groups entry"))
        if names:
            assigned[str(guest.get("vmid"))] = _unique(names)
    return assigned


def unknown_vmids(guests: Mapping[str, Any], guest_groups: Sequence[Any]) -> list[str]:
    """One line per vmid a ``guest_groups`` entry names that is no guest of the cluster: such an
    entry would select nothing, and the role would roll out without the guest it was meant for."""
    known = [_mapping(guest, "a guest of the cluster").get("vmid") for guest in guests.values()]
    listed = ", ".join(str(vmid) for vmid in sorted(vmid for vmid in known if isinstance(vmid, int))) or "none"
    problems = []
    for number, entry in enumerate(_sequence(guest_groups, "guest_groups"), start=1):
        for vmid in _sequence(_mapping(entry, f"guest_groups entry {number}").get("vmids"), "vmids of a guest_groups entry"):
            if vmid not in known:
                hint = " (write it as a number)" if str(vmid) in map(str, known) else ""
                problems.append(f"guest_groups entry {number} names vmid {vmid!r}, which is not a guest of the cluster{hint}; its guests: {listed}")
    return problems


def build_hardened_tree(cluster: Mapping[str, Any], settings: HardenedSettings) -> dict[str, Any]:
    """The hardened tree for ``cluster`` (``nodes`` and ``guests`` as ``firewall_info``
    returns them). A ``TypeError`` for input of the wrong shape, a ``ValueError`` for empty
    ``admin_networks``, a group the library does not have or a vmid the cluster does not have."""
    cluster = _mapping(cluster, "the cluster")
    guests = _mapping(cluster.get("guests") or {}, "the cluster's guests")
    library = _mapping(settings.group_library, "group_library")
    admin_networks = _sequence(settings.admin_networks, "admin_networks")
    if not admin_networks:
        raise ValueError("admin_networks is empty: name the networks the administrators work from, or they lose access")
    unknown_guests = unknown_vmids(guests, settings.guest_groups)
    if unknown_guests:
        raise ValueError("; ".join(unknown_guests))

    assigned = assigned_groups(guests, settings.guest_groups)
    used = _unique(name for names in assigned.values() for name in names)
    unknown = [name for name in used if name not in library]
    if unknown:
        raise ValueError(f"guest_groups names groups that group_library does not have: {', '.join(map(str, unknown))}")

    admin = settings.admin_ipset
    ipsets = [{"name": admin, "comment": ADMIN_IPSET_COMMENT, "entries": _plain(admin_networks)}]
    if DATABASE_GROUP in used:
        ipsets.append({"name": settings.database_clients_ipset, "comment": DATABASE_CLIENTS_IPSET_COMMENT, "entries": _plain(settings.database_clients)})

    rules: list[Any] = []
    if settings.admin_rules:
        rules.append({"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": "8006", "source": f"+{admin}", "comment": "web interface from the admins"})
        rules.append({"type": "in", "action": "ACCEPT", "macro": "SSH", "source": f"+{admin}", "comment": "SSH from the admins"})
    rules.extend(_plain(_sequence(settings.cluster_rules, "cluster_rules")))

    groups = []
    for name in used:
        definition = _mapping(library[name], f"group {name} of group_library")
        if "rules" not in definition:
            raise ValueError(f"group {name} of group_library has no rules")
        group = {"name": name, "rules": _plain(definition["rules"])}
        if "comment" in definition:
            group["comment"] = definition["comment"]
        groups.append(group)

    options = {
        "enable": settings.enable,
        "policy_in": settings.policy_in,
        "policy_out": settings.policy_out,
        **_plain(_mapping(settings.cluster_options, "cluster_options")),
    }
    node_names = _sequence(settings.nodes, "nodes") or list(_mapping(cluster.get("nodes") or {}, "the cluster's nodes"))
    node_options = _mapping(settings.node_options, "node_options")
    guest_options = _mapping(settings.guest_options, "guest_options")
    return {
        "cluster": {"options": options, "ipsets": ipsets, "groups": groups, "rules": rules},
        "nodes": {node: {"options": _plain(node_options)} for node in node_names},
        "guests": {
            vmid: {
                "options": _plain(guest_options),
                "rules": [{"type": "group", "action": name} for name in names],
                "nic_firewall": settings.guest_nic_firewall,
            }
            for vmid, names in assigned.items()
        },
    }
