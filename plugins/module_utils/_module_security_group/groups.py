"""The backend of the security_group module: a group's name, comment and rules, renames whose
references follow, and removal refused while rules jump to the group."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from .._api.service import GROUPS_PATH, FirewallApi, Scope, Snapshot
from .._compiler.api_mapping import ApiCall, comment_update_params, named_object_params
from .._compiler.config_validation import check_name
from .._compiler.fw_format import ParsedFile
from .._compiler.normalise import normalise_rule, optional_text
from .._compiler.user_input import group_to_user, line_break_errors, rule_to_user, rules_from_user
from .._model.errors import FieldError, raise_if_errors
from .._model.objects import FileKind, Level, Rule, SecurityGroup
from .._module_kit.arguments import without_none
from .._module_kit.fw_text import fw_text, parse_running_config
from .._module_kit.references import check_rules, check_written_rules, still_used
from .._module_kit.rule_list import RuleListModule, parsed_rule_errors
from .._plan.config_change import with_group
from .._plan.rule_plan import planned_rule_calls
from .._plan.rule_states import target_list

STATES = ("merged", "overridden", "deleted", "absent", "gathered", "rendered", "parsed")
CLUSTER = Scope("cluster")


@dataclass(frozen=True)
class GroupInput:
    """The checked options of a configuration state; ``old`` is the group to rename."""

    name: str
    old: str | None
    comment: str | None
    rules: tuple[Rule, ...]


def _group_text(group: SecurityGroup | None) -> str:
    return fw_text(FileKind.CLUSTER, groups=(group,)) if group else ""


def _group_rules(group: SecurityGroup) -> tuple[Rule, ...]:
    return group.rules


def _vnet_text(label: str, rules: tuple[Rule, ...]) -> str:
    return f"# {label}\n" + fw_text(FileKind.VNET, rules=rules)


def _group_rule_place(group: str, index: int) -> tuple[str, str, int]:
    return ("groups", group, index)


def _renamed(rules: tuple[Rule, ...], old: str, new: str) -> tuple[Rule, ...]:
    return tuple(replace(rule, action=new) if rule.type == "group" and rule.action == old else rule for rule in rules)


class SecurityGroups(RuleListModule[GroupInput]):
    """One run of the module: validate, then read, plan and write (or only plan)."""

    # -- input -----------------------------------------------------------------------------

    def _name_errors(self, key: str) -> list[FieldError]:
        value = self.params[key]
        return [] if value is None else [replace(error, field=key) for error in check_name("group", value, key)]

    def _checked_name(self, key: str) -> str | None:
        """The lowercased name in option ``key``; errors name the option and the value as given."""
        raise_if_errors(self._name_errors(key))
        value = self.params[key]
        return None if value is None else str(value).lower()

    def validated(self) -> GroupInput:
        """Name, old name (when a real rename), comment and rules, all checked without the API."""
        self.access.validate()
        errors = [*self._name_errors("name"), *self._name_errors("rename")]
        comment = self.params["comment"]
        errors += line_break_errors("comment", "comment", comment)
        if self.params["rename"] is not None and self.state == "absent":
            errors.append(FieldError("rename", "rename", self.params["rename"], "rename cannot be used with state=absent", "no rename, or another state"))
        rules, problems = rules_from_user(without_none(self.params["rules"]), "rules")
        errors += problems
        errors += check_rules(rules, Level.GROUP, None, "rules")
        raise_if_errors(errors)
        name = str(self.params["name"] or "").lower()
        old = self.params["rename"]
        old = str(old).lower() if old is not None and str(old).lower() != name else None
        return GroupInput(name, old, optional_text(comment), rules)

    # -- offline states ----------------------------------------------------------------------

    def parsed(self) -> dict[str, Any]:
        name = self._checked_name("name")

        def chosen(groups: tuple[SecurityGroup, ...]) -> tuple[SecurityGroup, ...]:
            return tuple(group for group in groups if name is None or group.name == name)

        def checks(found: ParsedFile) -> Iterator[FieldError]:
            for group in chosen(found.file.groups):
                yield from parsed_rule_errors(found, Level.GROUP, group.rules, partial(_group_rule_place, group.name))

        parsed = parse_running_config(self.params["running_config"], FileKind.CLUSTER, f"[group {name}]" if name else None, checks)
        groups = [SecurityGroup(group.name, group.comment, tuple(map(normalise_rule, group.rules))) for group in chosen(parsed.file.groups)]
        return self.report.result(parsed=[group_to_user(group) for group in groups])

    def rendered(self) -> dict[str, Any]:
        wanted = self.validated()
        group = SecurityGroup(wanted.name, wanted.comment, tuple(map(normalise_rule, wanted.rules)))
        self.report.record((ApiCall("POST", GROUPS_PATH, named_object_params("group", wanted.name, wanted.comment)),))
        self.report.record(planned_rule_calls(CLUSTER.rules_path(wanted.name), (), group.rules))
        return self.report.result(rendered=_group_text(group))

    # -- online states -----------------------------------------------------------------------

    def gathered(self, api: FirewallApi) -> dict[str, Any]:
        name = self._checked_name("name")
        groups = [
            SecurityGroup(group.name, group.comment, api.read_rules(CLUSTER.rules_path(group.name)).items)
            for group in api.list_groups().items
            if name is None or group.name == name
        ]
        return self.report.result(gathered=[group_to_user(group) for group in groups])

    def configure(self, api: FirewallApi, wanted: GroupInput) -> dict[str, Any]:
        return self.absent(api, wanted.name) if self.state == "absent" else self.present(api, wanted)

    @staticmethod
    def references(api: FirewallApi, name: str) -> list[str]:
        """Every rule, anywhere in the cluster, that jumps to the group."""
        scopes = [CLUSTER, *(Scope("node", node) for node in api.node_names()), *api.guest_scopes()]
        scopes += [Scope("vnet", vnet=vnet) for vnet in api.vnet_names()]
        return [
            f"{scope.label} rules[{pos}]"
            for scope in scopes
            for pos, rule in enumerate(api.read_rules(scope.rules_path()).items)
            if rule.type == "group" and rule.action == name
        ]

    def absent(self, api: FirewallApi, name: str) -> dict[str, Any]:
        current = next((group for group in api.list_groups().items if group.name == name), None)
        if current is None:
            return self.result(None, None)
        places = self.references(api, name)
        if places:
            raise still_used(f"security group '{name}'", places, key="references")
        path = CLUSTER.rules_path(name)
        outcome = self.sync_rules(api, path, lambda current_rules: (), f"the rules of security group '{name}'")
        self.report.send(api, ApiCall("DELETE", path))
        group = SecurityGroup(current.name, current.comment, outcome.before)
        self.report.diff(lambda: _group_text(group), lambda: "")
        return self.result(group, None)

    def existing(self, groups: dict[str, SecurityGroup], name: str, old: str | None) -> tuple[SecurityGroup | None, SecurityGroup | None]:
        """The group named ``name`` and the group to rename (``old``), checked."""
        current = groups.get(name)
        if old is None:
            return current, None
        if old in groups and current is not None:
            raise_if_errors(
                [FieldError("rename", "rename", old, f"security groups '{old}' and '{name}' both exist", "the name of a group to rename to a free name")]
            )
        if old not in groups and current is None:
            raise_if_errors([FieldError("rename", "rename", old, f"security group '{old}' does not exist (nor does '{name}')", "the current name of a group")])
        return current, groups.get(old)

    def present(self, api: FirewallApi, wanted: GroupInput) -> dict[str, Any]:
        name = wanted.name
        snapshot = api.list_groups()
        current, source = self.existing({group.name: group for group in snapshot.items}, name, wanted.old)
        existing = source or current
        if existing is None and self.state == "deleted":
            return self.result(None, None)
        empty: tuple[Rule, ...] = ()
        rules = api.read_rules(CLUSTER.rules_path(existing.name)) if existing else Snapshot(empty)
        if self.state != "deleted":
            raise_if_errors(check_written_rules(api, CLUSTER, Level.GROUP, wanted.rules, rules.items, "rules"))
        before = SecurityGroup(existing.name, existing.comment, rules.items) if existing else None
        comment = self.wanted_comment(existing, wanted.comment)
        desired = tuple(map(normalise_rule, wanted.rules))
        end = target_list(self.state, rules.items, desired)
        if existing is not None and end != rules.items:
            # Datacenter and node rules may jump to the group: its rules can decide node access.
            self.access.check_if_filtering(api, with_group(existing.name, SecurityGroup(existing.name, existing.comment, end)))
        if existing is None:
            self.report.send(api, ApiCall("POST", GROUPS_PATH, named_object_params("group", name, comment)))
        elif source is not None:
            params: dict[str, Any] = {"group": name, "rename": source.name}
            if comment != source.comment:
                params["comment"] = comment or ""
            self.report.send(api, ApiCall("POST", GROUPS_PATH, params), snapshot.digest)
        elif comment != existing.comment:
            self.report.send(api, ApiCall("POST", GROUPS_PATH, comment_update_params("group", name, comment)), snapshot.digest)
        # After a group-level write the rules are read anew, unless nothing is written at all
        # or the write created the group: a new group has no rules (one another writer adds
        # meanwhile shows in the read that follows the POSTs, as in any list).
        first = rules if self.check_mode or not self.report.changed or existing is None else None
        outcome = self.sync_rules(
            api, CLUSTER.rules_path(name), lambda current_rules: target_list(self.state, current_rules, desired), f"the rules of security group '{name}'", first
        )
        after = SecurityGroup(name, comment, outcome.after)
        self.report.diff(lambda: _group_text(before), lambda: _group_text(after))
        if wanted.old is not None:
            self.rewrite_vnet_rules(api, wanted.old, name)
        return self.result(before, after)

    def result(self, before: SecurityGroup | None, after: SecurityGroup | None) -> dict[str, Any]:
        """``before``, ``after`` and the ``delta`` of the group's rules (a long list: the delta alone)."""
        return self.report.result(**self.report.lists(before, after, _group_rules, group_to_user, rule_to_user))

    def wanted_comment(self, existing: SecurityGroup | None, comment: str | None) -> str | None:
        """merged changes the comment only when given, overridden always; deleted never."""
        if self.state == "deleted" or (self.params["comment"] is None and self.state == "merged"):
            return existing.comment if existing else None
        return comment

    def rewrite_vnet_rules(self, api: FirewallApi, old: str, new: str) -> None:
        """PVE's rename leaves vnet rules alone (reference 1.3): point them at the new name."""
        for vnet in api.vnet_names():
            scope = Scope("vnet", vnet=vnet)
            outcome = self.sync_rules(api, scope.rules_path(), lambda current: _renamed(current, old, new), f"the rules of {scope.label}")
            if outcome.calls:
                self.report.diff(
                    partial(_vnet_text, scope.label, outcome.before),
                    partial(_vnet_text, scope.label, outcome.after),
                )
