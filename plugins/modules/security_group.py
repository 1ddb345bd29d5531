#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: security_group
short_description: Manage a Proxmox VE firewall security group and its rules
version_added: 0.1.0
description:
  - Manages one security group of the datacenter firewall through the Proxmox VE API, its
    comment and its ordered rule list; creates, renames and removes groups.
  - Rules are planned and written as M(pve.firewall.firewall_rule) does it, with the fewest
    API writes and PVE's digest, so a concurrent change is detected and the plan made anew.
  - Validates the name and every listed rule before the first write, and the references to
    IP sets and aliases of the datacenter of every rule it is to write (a rule already in the
    group as listed is not written); a bad input fails the task naming the field and value,
    and nothing is written.
  - Rules that use a group (C(GROUP name) rules at the datacenter, a node, a guest or a vnet)
    are managed with M(pve.firewall.firewall_rule).
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.rules
attributes:
  check_mode:
    support: full
    description: Plans and returns the API calls it would make, and writes nothing.
  diff_mode:
    support: full
    description:
      - Shows the group section (C([group name]) with its rules) before and after as C(.fw) text.
      - A rename also shows the rules of each vnet it rewrites.
notes:
  - Security groups exist at the datacenter only; rules of a group may be of type V(in),
    V(out) or V(forward), with no O(rules[].iface) (PVE's own checks).
  - PVE stores group names as given but reads them back in lowercase, after which the
    mixed-case name is not found any more. The module therefore works with lowercase names
    only - O(name) and O(rename) are lowercased (V(WebSrv) manages V(websrv)) - and returns
    lowercase names.
options:
  name:
    description:
      - The group's name, 2 to 18 characters, a letter first, then letters, digits, V(-) or
        V(_). Lowercased (see the notes).
      - Required unless O(state) is V(gathered) or V(parsed); with those it selects one group.
    type: str
  comment:
    description:
      - The group's comment. With O(state=merged) it is changed only when given (an empty
        string clears it); with O(state=overridden) the group gets exactly this comment, and
        none when it is not given. Not used by the other states.
    type: str
  rename:
    description:
      - The current (old) name of a group to rename to O(name), with PVE's rename. PVE then
        rewrites the C(GROUP old) rules of the datacenter, of every node and of every guest.
      - PVE does not rewrite the C(GROUP old) rules of SDN vnets; the module rewrites them
        itself after the rename, with one rule update each.
      - When the group O(name) already exists and the group O(rename) does not, the group was
        renamed already and nothing is renamed (vnet rules still using the old name are
        rewritten). When both exist the task fails, as it does when neither exists.
      - Then O(state) applies to the renamed group. Not allowed with O(state=absent).
    type: str
  state:
    description:
      - V(merged) makes the group exist, sets O(comment) if given, and makes each listed rule
        present in the listed order, leaving other rules of the group alone. A listed rule that
        matches the same traffic as an existing one (every key equal but O(rules[].enable),
        O(rules[].log) and O(rules[].comment)) updates that rule; one with no such rule is added
        right after the previous listed rule, the first at the top of the group.
      - V(overridden) makes the group exist with exactly O(comment) and exactly O(rules).
      - V(deleted) removes every rule of the group that matches the same traffic as a listed
        one, or all of them when O(rules) is empty. The group itself stays. A missing group is
        left missing.
      - V(absent) removes the group, its rules first (PVE deletes empty groups only). This is
        refused, with nothing written, while any rule of the datacenter, a node, a guest or a
        vnet uses the group; the error lists every such rule.
      - V(gathered) returns all groups, or the one named by O(name), in RV(gathered), in
        exactly the shape O(name), O(comment) and O(rules) take.
      - V(rendered) works offline and returns the C(.fw) text of the group in RV(rendered) and
        the API calls that create it in RV(commands).
      - V(parsed) works offline and turns the C(.fw) text in O(running_config) into
        RV(parsed). A line PVE would refuse, or keep but skip, fails the task naming the line.
    type: str
    choices: [merged, overridden, deleted, absent, gathered, rendered, parsed]
    default: merged
  running_config:
    description:
      - The C(.fw) text for O(state=parsed), with C([group name]) sections (other sections of
        a C(cluster.fw) are ignored), or rule lines alone together with O(name).
    type: str
"""

EXAMPLES = r"""
- name: A group for web servers, used by the guests' firewalls
  pve.firewall.security_group:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    name: webserver
    comment: public web servers
    state: merged
    rules:
      - {type: in, action: ACCEPT, macro: HTTPS}
      - {type: in, action: ACCEPT, macro: HTTP}
      - {type: in, action: ACCEPT, macro: SSH, source: 192.0.2.0/24, comment: admin ssh}

- name: The group has exactly these rules
  pve.firewall.security_group:
    name: webserver
    comment: public web servers
    state: overridden
    rules:
      - {type: in, action: ACCEPT, macro: HTTPS}
      - {type: in, action: ACCEPT, macro: SSH, source: 192.0.2.0/24, comment: admin ssh}

- name: Rename it; GROUP rules that use it follow, vnet rules included
  pve.firewall.security_group:
    name: web-public
    rename: webserver

- name: Remove the SSH rule from the group
  pve.firewall.security_group:
    name: web-public
    state: deleted
    rules:
      - {type: in, action: ACCEPT, macro: SSH, source: 192.0.2.0/24}

- name: Read every group in the shape the module takes
  pve.firewall.security_group:
    state: gathered
  register: all_groups

- name: Render a group offline, for review in a merge request
  pve.firewall.security_group:
    name: dns
    state: rendered
    rules:
      - {type: in, action: ACCEPT, macro: DNS, source: 192.0.2.0/24}
  register: preview

- name: Turn .fw text into groups
  pve.firewall.security_group:
    state: parsed
    running_config: |
      [group dns] # resolvers
      IN DNS(ACCEPT) -source 192.0.2.0/24
  register: from_text

- name: Remove the group (refused while a rule still uses it)
  pve.firewall.security_group:
    name: web-public
    state: absent
"""

RETURN = r"""
commands:
  description: The API calls made, or in check mode and for O(state=rendered) the calls planned.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/groups group=webserver comment='public web servers'",
           "POST /cluster/firewall/groups/webserver type=in action=ACCEPT enable=1 macro=HTTPS"]
before:
  description: The group before the change, in the shape of RV(gathered) items; null when it did not exist.
  returned: when O(state) is V(merged), V(overridden), V(deleted) or V(absent)
  type: dict
  sample: {"name": "webserver", "comment": "public web servers", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}]}
after:
  description: The group after the change (in check mode, as it would be); null when it does not exist.
  returned: when O(state) is V(merged), V(overridden), V(deleted) or V(absent)
  type: dict
gathered:
  description:
    - The current groups (all, or the one O(name) names), each ready to be passed back as
      O(name), O(comment) and O(rules).
  returned: when O(state=gathered)
  type: list
  elements: dict
  sample: [{"name": "webserver", "comment": "public web servers", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}]}]
rendered:
  description: The C(.fw) text of the group section.
  returned: when O(state=rendered)
  type: str
  sample: "[group dns]\n\nIN DNS(ACCEPT) -source 192.0.2.0/24\n"
parsed:
  description: The groups of O(running_config), in the shape of RV(gathered).
  returned: when O(state=parsed)
  type: list
  elements: dict
"""

from dataclasses import replace
from collections.abc import Iterator
from typing import Any, Callable, Optional

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._compiler.api_mapping import comment_update_params, named_object_params
from ..module_utils._compiler.config_validation import check_name
from ..module_utils._model.errors import FieldError, raise_if_errors
from ..module_utils._api.service import ApiCall, FirewallApi, Scope, Snapshot
from ..module_utils._compiler.fw_format import ParsedFile
from ..module_utils._model.objects import FileKind, Level, Rule, SecurityGroup
from ..module_utils._module_kit.kit import (
    ModuleFailure,
    RULE_SUBOPTIONS,
    Report,
    argument_spec,
    check_rules,
    check_written_rules,
    connect,
    fw_text,
    parse_running_config,
    run_and_exit,
    without_none,
)
from ..module_utils._compiler.normalise import normalise_rule, optional_text
from ..module_utils._api.transport import PveApiError
from ..module_utils._compiler.rule_validation import check_rule
from ..module_utils._plan.rule_states import target_list
from ..module_utils._api.sync import SyncError, planned_rule_calls, sync_rules
from ..module_utils._compiler.user_input import group_to_user, line_break_errors, rules_from_user

STATES = ("merged", "overridden", "deleted", "absent", "gathered", "rendered", "parsed")
GROUPS_PATH = "/cluster/firewall/groups"
_CLUSTER = Scope("cluster")


def _group_text(group: Optional[SecurityGroup]) -> str:
    return fw_text(FileKind.CLUSTER, groups=(group,)) if group else ""


def _user(group: Optional[SecurityGroup]) -> Optional[dict[str, Any]]:
    return group_to_user(group) if group else None


def _renamed(rules: tuple[Rule, ...], old: str, new: str) -> tuple[Rule, ...]:
    return tuple(replace(rule, action=new) if rule.type == "group" and rule.action == old else rule for rule in rules)


class SecurityGroups:
    """One run of the module: validate, then read, plan and write (or only plan)."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.state: str = self.params["state"]
        self.check_mode: bool = module.check_mode
        self.report = Report(module)
        self.done: list[ApiCall] = []  # writes made (or planned in check mode), in order

    # -- input -----------------------------------------------------------------------------

    def _checked_name(self, key: str) -> Optional[str]:
        """The lowercased name in option ``key``; errors name the option and the value as given."""
        value = self.params[key]
        if value is None:
            return None
        raise_if_errors(replace(error, field=key) for error in check_name("group", value, key))
        return str(value).lower()

    def validated(self) -> tuple[str, Optional[str], Optional[str], tuple[Rule, ...]]:
        """Name, old name (when a real rename), comment and rules, all checked without the API."""
        errors: list[FieldError] = []
        for key in ("name", "rename"):
            value = self.params[key]
            if value is not None:
                errors += [replace(error, field=key) for error in check_name("group", value, key)]
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
        return name, old, optional_text(comment), rules

    # -- offline states ----------------------------------------------------------------------

    def parsed(self) -> dict[str, Any]:
        text = self.params["running_config"]
        name = self._checked_name("name")

        def chosen(parsed: ParsedFile) -> tuple[SecurityGroup, ...]:
            return tuple(group for group in parsed.file.groups if name is None or group.name == name)

        def checks(parsed: ParsedFile) -> Iterator[FieldError]:
            for group in chosen(parsed):
                for index, rule in enumerate(group.rules):
                    where = f"running_config line {parsed.lines.get(('groups', group.name, index), 0)}"
                    yield from check_rule(rule, Level.GROUP, location=where, api_schema=False).errors

        groups = chosen(parse_running_config(text, FileKind.CLUSTER, f"[group {name}]" if name else None, checks))
        groups = tuple(SecurityGroup(group.name, group.comment, tuple(map(normalise_rule, group.rules))) for group in groups)
        return self.report.result(parsed=[group_to_user(group) for group in groups])

    def rendered(self) -> dict[str, Any]:
        name, _old, comment, listed = self.validated()
        group = SecurityGroup(name, comment, tuple(map(normalise_rule, listed)))
        self.report.record((ApiCall("POST", GROUPS_PATH, named_object_params("group", name, comment)),))
        self.report.record(planned_rule_calls(_CLUSTER.rules_path(name), (), group.rules))
        result = self.report.result(rendered=_group_text(group))
        result["changed"] = False
        return result

    # -- online states -----------------------------------------------------------------------

    def write(self, api: FirewallApi, call: ApiCall, digest: Optional[str] = None) -> None:
        """One group-level write (none in check mode); a failure reports what was done before."""
        if not self.check_mode:
            try:
                api.send(call, digest)
            except PveApiError as error:
                raise SyncError(str(error), self.done) from None
        self.done.append(call)

    def sync(
        self,
        api: FirewallApi,
        path: str,
        target: Callable[[tuple[Rule, ...]], tuple[Rule, ...]],
        label: str,
        first: Optional[Snapshot[tuple[Rule, ...]]] = None,
    ) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        """sync_rules, with a failure reporting the group-level writes made before it too."""
        try:
            outcome = sync_rules(api, path, target, check_mode=self.check_mode, label=label, first=first)
        except SyncError as error:
            if not self.done:
                raise
            reason = str(error).rsplit(" (after ", 1)[0] if error.done else str(error)
            raise SyncError(reason, (*self.done, *error.done)) from None
        self.done.extend(outcome.calls)
        return outcome.before, outcome.after

    def gathered(self, api: FirewallApi) -> dict[str, Any]:
        name = self._checked_name("name")
        listed = api.list_groups().items
        groups = [
            SecurityGroup(group.name, group.comment, api.read_rules(_CLUSTER.rules_path(group.name)).items)
            for group in listed
            if name is None or group.name == name
        ]
        return self.report.result(gathered=[group_to_user(group) for group in groups])

    def references(self, api: FirewallApi, name: str) -> list[str]:
        """Every rule, anywhere in the cluster, that jumps to the group."""
        scopes = [_CLUSTER, *(Scope("node", node) for node in api.node_names())]
        scopes += [Scope("vm" if kind == "qemu" else "ct", node, vmid) for vmid, kind, node in api.guests()]
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
            return self.report.result(before=None, after=None)
        places = self.references(api, name)
        if places:
            raise ModuleFailure(
                f"security group '{name}' is still used by {len(places)} rule{'s' if len(places) != 1 else ''}: {', '.join(places)}; "
                "remove or change those rules first (nothing was written)",
                references=places,
            )
        path = _CLUSTER.rules_path(name)
        before, _after = self.sync(api, path, lambda current_rules: (), f"the rules of security group '{name}'")
        self.write(api, ApiCall("DELETE", path))
        group = SecurityGroup(current.name, current.comment, before)
        self.report.record(self.done, _group_text(group), "")
        return self.report.result(before=_user(group), after=None)

    def present(self, api: FirewallApi, name: str, old: Optional[str], comment: Optional[str], listed: tuple[Rule, ...]) -> dict[str, Any]:
        snapshot = api.list_groups()
        groups = {group.name: group for group in snapshot.items}
        current = groups.get(name)
        source = None  # the group to rename
        if old is not None:
            if old in groups and current is not None:
                raise_if_errors(
                    [FieldError("rename", "rename", old, f"security groups '{old}' and '{name}' both exist", "the name of a group to rename to a free name")]
                )
            if old in groups:
                source = groups[old]
            elif current is None:
                raise_if_errors(
                    [FieldError("rename", "rename", old, f"security group '{old}' does not exist (nor does '{name}')", "the current name of a group")]
                )
        existing = source or current
        if existing is None and self.state == "deleted":
            return self.report.result(before=None, after=None)
        empty: tuple[Rule, ...] = ()
        rules = api.read_rules(_CLUSTER.rules_path(existing.name)) if existing else Snapshot(empty)
        if self.state != "deleted":
            raise_if_errors(check_written_rules(api, _CLUSTER, Level.GROUP, listed, rules.items, "rules"))
        before = SecurityGroup(existing.name, existing.comment, rules.items) if existing else None
        wanted_comment = self.wanted_comment(existing, comment)
        if existing is None:
            self.write(api, ApiCall("POST", GROUPS_PATH, named_object_params("group", name, wanted_comment)))
        elif source is not None:
            params: dict[str, Any] = {"group": name, "rename": source.name}
            if wanted_comment != source.comment:
                params["comment"] = wanted_comment or ""
            self.write(api, ApiCall("POST", GROUPS_PATH, params), snapshot.digest)
        elif wanted_comment != existing.comment:
            self.write(api, ApiCall("POST", GROUPS_PATH, comment_update_params("group", name, wanted_comment)), snapshot.digest)

        # After a group-level write the rules are read anew, unless nothing is written at all
        # or the write created the group: a new group has no rules (one another writer adds
        # meanwhile shows in the read that follows the POSTs, as in any list).
        first = rules if self.check_mode or not self.done or existing is None else None
        desired = tuple(map(normalise_rule, listed))
        _before_rules, after_rules = self.sync(
            api,
            _CLUSTER.rules_path(name),
            lambda current_rules: target_list(self.state, current_rules, desired),
            f"the rules of security group '{name}'",
            first,
        )
        after = SecurityGroup(name, wanted_comment, after_rules)
        self.report.record((), _group_text(before), _group_text(after))
        if old is not None:
            self.rewrite_vnet_rules(api, old, name)
        self.report.record(self.done)
        return self.report.result(before=_user(before), after=_user(after))

    def wanted_comment(self, existing: Optional[SecurityGroup], comment: Optional[str]) -> Optional[str]:
        """merged changes the comment only when given, overridden always; deleted never."""
        if self.state == "deleted" or (self.params["comment"] is None and self.state == "merged"):
            return existing.comment if existing else None
        return comment

    def rewrite_vnet_rules(self, api: FirewallApi, old: str, new: str) -> None:
        """PVE's rename leaves vnet rules alone (reference 1.3): point them at the new name."""
        for vnet in api.vnet_names():
            scope = Scope("vnet", vnet=vnet)
            count = len(self.done)
            before, after = self.sync(api, scope.rules_path(), lambda current: _renamed(current, old, new), f"the rules of {scope.label}")
            if len(self.done) > count:
                self.report.record((), f"# {scope.label}\n" + fw_text(FileKind.VNET, rules=before), f"# {scope.label}\n" + fw_text(FileKind.VNET, rules=after))

    def run(self) -> dict[str, Any]:
        if self.state == "parsed":
            return self.parsed()
        if self.state == "rendered":
            return self.rendered()
        name, old, comment, listed = ("", None, None, ()) if self.state == "gathered" else self.validated()
        with connect(self.module) as api:
            if self.state == "gathered":
                return self.gathered(api)
            if self.state == "absent":
                return self.absent(api, name)
            return self.present(api, name, old, comment, listed)


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "name": {"type": "str"},
                "comment": {"type": "str"},
                "rename": {"type": "str"},
                "state": {"type": "str", "default": "merged", "choices": list(STATES)},
                "rules": {"type": "list", "elements": "dict", "default": [], "options": RULE_SUBOPTIONS},
                "running_config": {"type": "str"},
            },
            scope=False,
        ),
        required_if=[
            ("state", "merged", ("name",)),
            ("state", "overridden", ("name",)),
            ("state", "deleted", ("name",)),
            ("state", "absent", ("name",)),
            ("state", "rendered", ("name",)),
            ("state", "parsed", ("running_config",)),
        ],
        supports_check_mode=True,
    )
    run_and_exit(module, SecurityGroups(module).run)


if __name__ == "__main__":
    main()
