"""Security groups (reference 1.3): list, create or rename, delete when empty.

A rename rewrites ``GROUP <old>`` rules in cluster.fw, in every node's host.fw and in every
guest file of the cluster (all of them re-written, as PVE does), but not in vnet files.
"""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FirewallFile, Rule, SecurityGroup

from ..context import Call
from ..digests import list_digest
from ..errors import ApiFailure, param_error
from ..state import FileKey
from ..views import named_list_view
from .common import check_digest, modify


def _group_list(fw: FirewallFile) -> list[dict[str, object]]:
    return named_list_view("group", ((group.name, group.comment) for group in fw.groups))


def list_groups(call: Call) -> list[dict[str, object]]:
    return _group_list(call.ctx.store.read(FileKey.cluster()))


def _find(fw: FirewallFile, name: str) -> SecurityGroup | None:
    return next((group for group in fw.groups if group.name == name), None)


def _renamed_rules(rules: tuple[Rule, ...], old: str, new: str) -> tuple[Rule, ...]:
    return tuple(replace(rule, action=new) if rule.type == "group" and rule.action == old else rule for rule in rules)


def _rewrite_references(call: Call, old: str, new: str) -> None:
    """Every host.fw and guest file is re-read and re-written, referenced or not (GR:117-193)."""
    topology = call.ctx.topology
    keys = [FileKey.host(node) for node in topology.nodes] + [FileKey.guest(vmid) for vmid in topology.guests]
    for key in keys:
        with modify(call, key) as txn:
            txn.save(replace(txn.fw, rules=_renamed_rules(txn.fw.rules, old, new)))


def create_group(call: Call) -> None:
    params = call.params
    name, old, comment = params["group"], params.get("rename"), params.get("comment")
    with modify(call, FileKey.cluster()) as txn:
        fw = txn.fw
        if old is None:
            if _find(fw, name) is not None:
                raise param_error("group", f"Security group '{name}' already exists")
            txn.save(replace(fw, groups=(*fw.groups, SecurityGroup(name, comment or None))))
            return
        check_digest(list_digest(_group_list(fw)), params.get("digest"))
        existing = _find(fw, old)
        if existing is None:
            raise param_error("group", f"Security group '{old}' does not exist")
        if old == name:
            if comment is not None:
                txn.save(replace(fw, groups=tuple(replace(g, comment=comment or None) if g is existing else g for g in fw.groups)))
            else:
                txn.save(fw)
            return
        if _find(fw, name) is not None:
            raise param_error("group", f"Security group '{name}' does already exist")
        copy = replace(existing, name=name, comment=(comment or None) if comment is not None else existing.comment)
        txn.save(replace(fw, groups=(*fw.groups, copy)))
    _rewrite_references(call, old, name)
    with modify(call, FileKey.cluster()) as txn:
        fw = txn.fw
        txn.save(replace(fw, rules=_renamed_rules(fw.rules, old, name), groups=tuple(g for g in fw.groups if g.name != old)))


def delete_group(call: Call) -> None:
    name = call.params["group"]
    with modify(call, FileKey.cluster()) as txn:
        group = _find(txn.fw, name)
        if group is None:
            raise ApiFailure(f"no such security group '{name}'")
        if group.rules:
            raise ApiFailure(f"Security group '{name}' is not empty")
        txn.save(replace(txn.fw, groups=tuple(g for g in txn.fw.groups if g is not group)))
