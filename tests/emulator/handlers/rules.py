"""Rules of every level and of security groups (reference 1.2): list, get, create at 0,
update or move, delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ansible_collections.pve.firewall.plugins.module_utils._compiler.rule_validation import References, check_rule
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FirewallFile, Level, Rule, SecurityGroup
from ansible_collections.pve.firewall.plugins.module_utils._plan.planner import move_item
from ansible_collections.pve.firewall.plugins.module_utils._reference.macros import canonical_macro_name

from ..context import Call
from ..digests import list_digest
from ..errors import ApiFailure, param_error
from ..routes import Handler
from ..schema import split_list
from ..targets import Target, TargetResolver
from ..views import is_uncollected, pve_rule_errors, rule_fields, rules_view
from .common import check_digest, modify, pve_address_list_problem, pve_ipset_ref_problem, refs_for, refuse_formats

# Rule properties a client may send (FW copy_rule_data) and may name in delete=
# (FW $rule_properties, which also holds pos and digest).
RULE_PROPERTIES = ("type", "action", "macro", "iface", "source", "dest", "proto", "dport", "sport", "icmp-type", "log", "enable", "comment")
DELETABLE = frozenset(RULE_PROPERTIES) | {"pos", "digest"}
_ATTRIBUTE = {"icmp-type": "icmp_type"}


def no_rule(pos: int) -> ApiFailure:
    return ApiFailure(f"no rule at position {pos}")


@dataclass(frozen=True)
class RuleList:
    """The rules one endpoint family edits: a file's [RULES] or one security group's."""

    target: Target
    group: str | None = None

    @property
    def level(self) -> Level:
        return Level.GROUP if self.group is not None else self.target.level

    def _group(self, fw: FirewallFile) -> SecurityGroup:
        found = next((group for group in fw.groups if group.name == self.group), None)
        if found is None:
            raise ApiFailure(f"no such security group '{self.group}'")
        return found

    def parsed(self, fw: FirewallFile) -> tuple[Rule, ...]:
        """The rules of the file, including lines PVE's parser would drop."""
        return self._group(fw).rules if self.group is not None else fw.rules

    def rules(self, fw: FirewallFile, refs: References) -> list[Rule]:
        """The rules as PVE holds them after parsing (lines it would drop are gone)."""
        return [
            rule for rule in self.parsed(fw) if not any(is_uncollected(rule, error) for error in check_rule(rule, self.level, location="", refs=refs).errors)
        ]

    def store(self, fw: FirewallFile, rules: list[Rule]) -> FirewallFile:
        if self.group is None:
            return replace(fw, rules=tuple(rules))
        group = self._group(fw)
        return replace(fw, groups=tuple(replace(item, rules=tuple(rules)) if item is group else item for item in fw.groups))


def _rule_list(call: Call, resolve: TargetResolver, in_group: bool) -> RuleList:
    return RuleList(resolve(call), call.params["group"] if in_group else None)


def _text(value: Any) -> str | None:
    """copy_rule_data: '' and '-' mean unset."""
    return None if value is None or value in ("", "-") else str(value)


# FW verify_rule checks these only when they are true to Perl, and FW $format_rules writes them
# only then: a '0' is neither verified nor written, so it reads back as not set.
_LOST_WHEN_FALSE = frozenset({"macro", "iface", "source", "dest", "proto", "dport", "sport", "log", "comment"})


def _stored(key: str, value: Any) -> str | None:
    text = _text(value)
    return None if key in _LOST_WHEN_FALSE and text == "0" else text


def _rule_from(values: Mapping[str, Any]) -> Rule:
    fields = {_ATTRIBUTE.get(key, key): _stored(key, values.get(key)) for key in RULE_PROPERTIES if key not in ("type", "action", "enable")}
    if fields["macro"] is not None:
        fields["macro"] = canonical_macro_name(fields["macro"]) or fields["macro"]
    return Rule(
        type=_text(values.get("type")) or "",
        action=_text(values.get("action")) or "",
        enable=bool(values.get("enable")),
        **fields,
    )


def verify_strict(rule: Rule, level: Level, refs: References) -> None:
    """verify_rule in API mode: the first problem fails the call."""
    errors = pve_rule_errors(rule, check_rule(rule, level, location="rule", refs=refs).errors)
    if not errors:
        return
    first = errors[0]
    if is_uncollected(rule, first):
        raise ApiFailure(first.message)
    raise param_error(first.field, first.message)


# The schema formats of the rule parameters this module checks on its own (common.py).
_ADDRESS_FORMATS = {"source": pve_address_list_problem, "dest": pve_address_list_problem}


def verify_ipset_refs(call: Call, rule_list: RuleList, fw: FirewallFile, rule: Rule) -> None:
    """FW verify_rule's ipset existence check, on its own: '+sdn/x' too must name a set."""
    for name in ("source", "dest"):
        problem = pve_ipset_ref_problem(call, rule_list.target, fw, getattr(rule, name))
        if problem:
            raise param_error(name, problem)


def _listed(call: Call, rule_list: RuleList) -> list[dict[str, object]]:
    fw = call.ctx.store.read(rule_list.target.key)
    refs = refs_for(call, rule_list.target, fw)
    return rules_view(rule_list.parsed(fw), rule_list.level, refs)  # the view drops what PVE drops


def list_rules(resolve: TargetResolver, *, in_group: bool = False) -> Handler:
    def handler(call: Call) -> list[dict[str, object]]:
        return _listed(call, _rule_list(call, resolve, in_group))

    return handler


def get_rule(resolve: TargetResolver, *, in_group: bool = False) -> Handler:
    def handler(call: Call) -> dict[str, object]:
        views = _listed(call, _rule_list(call, resolve, in_group))
        pos = call.params.get("pos", 0)
        if pos >= len(views):
            raise no_rule(pos)
        return views[pos]

    return handler


def create_rule(resolve: TargetResolver, *, in_group: bool = False) -> Handler:
    """POST: ``pos`` and ``digest`` are ignored, the rule goes to index 0, disabled unless enable=1."""

    def handler(call: Call) -> None:
        rule_list = _rule_list(call, resolve, in_group)
        refuse_formats(call.params, _ADDRESS_FORMATS)
        with modify(call, rule_list.target.key) as txn:
            refs = refs_for(call, rule_list.target, txn.fw)
            rules = rule_list.rules(txn.fw, refs)
            rule = _rule_from({"enable": 0, **call.params})
            verify_strict(rule, rule_list.level, refs)
            verify_ipset_refs(call, rule_list, txn.fw, rule)
            txn.save(rule_list.store(txn.fw, [rule, *rules]))

    return handler


def _apply_delete(values: dict[str, Any], delete: str) -> None:
    for name in split_list(delete):
        if name not in DELETABLE:
            raise param_error("delete", f"no such property ('{name}')")
        if name in ("type", "action"):
            raise param_error("delete", f"unable to delete required property '{name}'")
        values.pop(name, None)
    # A rule without 'enable' is written without '|': it reads back enabled (reference 1.2).
    values.setdefault("enable", 1)


def update_rule(resolve: TargetResolver, *, in_group: bool = False) -> Handler:
    """PUT: a move when ``moveto`` differs from ``pos`` (all else ignored), else an update."""

    def handler(call: Call) -> None:
        rule_list = _rule_list(call, resolve, in_group)
        params = call.params
        refuse_formats(params, _ADDRESS_FORMATS)
        with modify(call, rule_list.target.key) as txn:
            refs = refs_for(call, rule_list.target, txn.fw)
            rules = rule_list.rules(txn.fw, refs)
            check_digest(rules_digest(rules, rule_list.level, refs), params.get("digest"))
            pos = params.get("pos", 0)
            if pos >= len(rules):
                raise no_rule(pos)
            moveto = params.get("moveto")
            if moveto is not None and moveto != pos:
                move_item(rules, pos, moveto)
            else:
                values = rule_fields(rules[pos])
                values.update({key: params[key] for key in RULE_PROPERTIES if key in params})
                if "delete" in params:
                    _apply_delete(values, params["delete"])
                rules[pos] = _rule_from(values)
                verify_strict(rules[pos], rule_list.level, refs)
                verify_ipset_refs(call, rule_list, txn.fw, rules[pos])
            txn.save(rule_list.store(txn.fw, rules))

    return handler


def delete_rule(resolve: TargetResolver, *, in_group: bool = False) -> Handler:
    def handler(call: Call) -> None:
        rule_list = _rule_list(call, resolve, in_group)
        with modify(call, rule_list.target.key) as txn:
            refs = refs_for(call, rule_list.target, txn.fw)
            rules = rule_list.rules(txn.fw, refs)
            check_digest(rules_digest(rules, rule_list.level, refs), call.params.get("digest"))
            pos = call.params.get("pos", 0)
            if pos >= len(rules):
                raise no_rule(pos)
            del rules[pos]
            txn.save(rule_list.store(txn.fw, rules))

    return handler


def rules_digest(rules: list[Rule], level: Level, refs: References) -> str:
    return list_digest(rules_view(rules, level, refs))
