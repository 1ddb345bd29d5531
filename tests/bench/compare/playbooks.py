"""The playbook each collection runs for a scenario: the desired state in its own terms.

Both get one task per object the way their documentation shows it, connection options once
through ``module_defaults`` of their action group; pve.firewall also runs the same desired state
as one ``firewall_tree`` task (the row ``pve.firewall.firewall_tree``). pve.firewall is told the guests' nodes
(its ``node`` option; community.proxmox's ``level: vm`` has none and looks the guest up).
Generated at run time (never stored as YAML in the repository: ansible-lint would try to
resolve community.proxmox, which only the comparison's own virtualenv has).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .spec import Alias, Cluster, Entry, Group, IPSet, Rule, Scenario, guest_of, list_keys

OURS = "pve.firewall"
OURS_TREE = "pve.firewall.firewall_tree"  # pve.firewall again, the whole state in one task
THEIRS = "community.proxmox"


def _ours_rule(rule: Rule) -> dict[str, Any]:
    return {key: value for key, value in rule.items() if value is not None}


def _ours_entry(entry: Entry) -> Any:
    if entry.comment is None:
        return ("!" if entry.nomatch else "") + entry.cidr
    return {"cidr": entry.cidr, "nomatch": entry.nomatch, "comment": entry.comment}


def _with_comment(item: dict[str, Any], comment: str | None) -> dict[str, Any]:
    return {**item, "comment": comment} if comment else item


def _ours_alias(name: str, alias: Alias) -> dict[str, Any]:
    return _with_comment({"name": name, "cidr": alias.cidr}, alias.comment)


def _ours_ipset(name: str, ipset: IPSet) -> dict[str, Any]:
    return _with_comment({"name": name, "entries": [_ours_entry(entry) for entry in ipset.entries]}, ipset.comment)


def _ours_group_rules(group: Group) -> list[dict[str, Any]]:
    return [_ours_rule(rule) for rule in group.rules]


def _ours_scope(key: str) -> dict[str, Any]:
    if key == "cluster":
        return {"level": "cluster"}
    kind, name = key.split("/")
    if kind == "node":
        return {"level": "node", "node": name}
    guest = guest_of(key)
    return {"level": guest.level, "vmid": guest.vmid, "node": guest.node}


def _ordered_keys(keys: Sequence[str]) -> list[str]:
    """Datacenter first, then the nodes, then the guests."""
    order = list_keys()
    return sorted(keys, key=order.index)


def ours_tasks(scenario: Scenario) -> list[dict[str, Any]]:
    """pve.firewall: aliases, sets, groups, then rule lists (state overridden), then options."""
    after = scenario.after
    tasks: list[dict[str, Any]] = []
    for name, alias in after.aliases.items():
        tasks.append({"name": f"alias {name}", "pve.firewall.alias": _ours_alias(name, alias)})
    for name, ipset in after.ipsets.items():
        tasks.append({"name": f"ipset {name}", "pve.firewall.ipset": _ours_ipset(name, ipset)})
    for name, group in after.groups.items():
        args = _with_comment({"name": name, "state": "overridden", "rules": _ours_group_rules(group)}, group.comment)
        tasks.append({"name": f"security_group {name}", "pve.firewall.security_group": args})
    for key in _ordered_keys(list(after.rules)):
        args = {**_ours_scope(key), "state": "overridden", "rules": [_ours_rule(rule) for rule in after.rules[key]]}
        tasks.append({"name": f"rules {key}", "pve.firewall.firewall_rule": args})
    for key in _ordered_keys(list(after.options)):
        args = {**_ours_scope(key), "options": dict(after.options[key])}
        tasks.append({"name": f"options {key}", "pve.firewall.firewall_options": args})
    return tasks


def ours_tree_tasks(scenario: Scenario) -> list[dict[str, Any]]:
    """pve.firewall in one task: the desired state of ``ours_tasks`` as a firewall tree."""
    after = scenario.after
    cluster: dict[str, Any] = {}
    if after.aliases:
        cluster["aliases"] = [_ours_alias(name, alias) for name, alias in after.aliases.items()]
    if after.ipsets:
        cluster["ipsets"] = [_ours_ipset(name, ipset) for name, ipset in after.ipsets.items()]
    if after.groups:
        cluster["groups"] = [_with_comment({"name": name, "rules": _ours_group_rules(group)}, group.comment) for name, group in after.groups.items()]
    tree: dict[str, Any] = {"cluster": cluster, "nodes": {}, "guests": {}}

    def firewall(key: str) -> dict[str, Any]:
        if key == "cluster":
            return cluster
        kind, name = key.split("/")
        if kind == "node":
            return tree["nodes"].setdefault(name, {})
        return tree["guests"].setdefault(str(guest_of(key).vmid), {})

    for key, rules in after.rules.items():
        firewall(key)["rules"] = [_ours_rule(rule) for rule in rules]
    for key, options in after.options.items():
        firewall(key)["options"] = dict(options)
    return [{"name": "the whole tree", "pve.firewall.firewall_tree": {"tree": tree}}]


def tasks_of(tool: str, scenario: Scenario) -> list[dict[str, Any]]:
    if tool == OURS:
        return ours_tasks(scenario)
    return ours_tree_tasks(scenario) if tool == OURS_TREE else theirs_tasks(scenario)


def collection_of(tool: str) -> str:
    """The collection a row runs: both pve.firewall rows run this checkout's."""
    return THEIRS if tool == THEIRS else OURS


def _theirs_rules(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """Rules by position (``pos`` is required and is how proxmox_firewall identifies them);
    ``enable`` always given, as PVE stores a rule without it disabled."""
    out = []
    for pos, rule in enumerate(rules):
        item: dict[str, Any] = {"pos": pos, **{key: value for key, value in rule.items() if value is not None}}
        item["enable"] = bool(rule.get("enable", True))
        out.append(item)
    return out


def _theirs_scope(key: str) -> dict[str, Any]:
    if key == "cluster":
        return {"level": "cluster"}
    kind, name = key.split("/")
    if kind == "node":
        return {"level": "node", "node": name}
    return {"level": "vm", "vmid": guest_of(key).vmid}  # containers too: it looks the type up


def _theirs_entry(entry: Entry) -> dict[str, Any]:
    item: dict[str, Any] = {"cidr": entry.cidr, "nomatch": entry.nomatch}
    if entry.comment:
        item["comment"] = entry.comment
    return item


def theirs_tasks(scenario: Scenario) -> list[dict[str, Any]]:
    """community.proxmox.proxmox_firewall: aliases (one task), sets (one task), per group a
    task that creates it and one for its rules, then one task per rule list."""
    if scenario.community_cannot:
        return []
    after, before = scenario.after, scenario.before
    module = "community.proxmox.proxmox_firewall"
    tasks: list[dict[str, Any]] = []
    if after.aliases:
        aliases = [{"name": name, "cidr": alias.cidr, **({"comment": alias.comment} if alias.comment else {})} for name, alias in after.aliases.items()]
        tasks.append({"name": "aliases", module: {"level": "cluster", "aliases": aliases}})
    if after.ipsets:
        ip_sets = []
        for name, ipset in after.ipsets.items():
            item: dict[str, Any] = {"name": name, "cidrs": [_theirs_entry(entry) for entry in ipset.entries]}
            if ipset.comment:
                item["comment"] = ipset.comment
            ip_sets.append(item)
        tasks.append({"name": "ip sets", module: {"ip_sets": ip_sets}})
    removed = _removed_entries(before, after)
    if removed:
        tasks.append({"name": "ip set entries to remove", module: {"state": "absent", "ip_sets": removed}})
    for name, group in after.groups.items():
        create: dict[str, Any] = {"group_conf": True, "group": name}
        if group.comment:
            create["comment"] = group.comment
        tasks.append({"name": f"group {name}", module: create})
        tasks.append({"name": f"group {name} rules", module: {"level": "group", "group": name, "rules": _theirs_rules(group.rules)}})
    for key in _ordered_keys([key for key, rules in after.rules.items() if rules]):
        tasks.append({"name": f"rules {key}", module: {**_theirs_scope(key), "rules": _theirs_rules(after.rules[key])}})
    return tasks


def _removed_entries(before: Cluster, after: Cluster) -> list[dict[str, Any]]:
    found = []
    for name, ipset in after.ipsets.items():
        old = before.ipsets.get(name)
        if old is None:
            continue
        keep = {entry.cidr for entry in ipset.entries}
        gone = [{"cidr": entry.cidr} for entry in old.entries if entry.cidr not in keep]
        if gone:
            found.append({"name": name, "cidrs": gone})
    return found


def playbook(tool: str, tasks: list[dict[str, Any]], connection: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One play on the implicit localhost; ``connection`` goes to the action group's defaults."""
    group = "group/pve.firewall.firewall" if collection_of(tool) == OURS else "group/community.proxmox.proxmox"
    return [{"name": f"{tool} benchmark", "hosts": "localhost", "gather_facts": False, "module_defaults": {group: dict(connection)}, "tasks": tasks}]
