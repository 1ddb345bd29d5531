#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: alias
short_description: Manage a firewall alias of the Proxmox VE datacenter or of a guest
version_added: 0.2.0
description:
  - Creates, updates and deletes an alias, a name for an address or network that rules and
    IP set entries use, through the Proxmox VE API, at the datacenter (O(level=cluster)) or a
    guest (O(level=vm), O(level=ct)); only these levels have aliases, other levels are refused.
  - Writes carry PVE's digest of the alias list read before, so a concurrent change is
    detected and the change is planned anew.
  - Refuses to delete an alias that rules or IP set entries still use, and names them. PVE
    itself would delete it and silently skip the rules that use it.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.api.SCOPE
  - pve.firewall.lockout
attributes:
  check_mode:
    support: full
    description: Plans and returns the API calls it would make, and writes nothing.
  diff_mode:
    support: full
    description: Shows the alias before and after as a line of the C([ALIASES]) section of a C(.fw) file.
options:
  name:
    description:
      - Name of the alias, 2 to 64 characters; a letter, then letters, digits, V(-) or V(_).
      - Names are case-insensitive, as in PVE. A new alias is created with the name as
        written; an existing one keeps the spelling it has.
    type: str
    required: true
  cidr:
    description:
      - The address or network, IPv4 or IPv6, with an optional prefix, for example
        V(192.0.2.10) or V(192.0.2.0/24).
      - Stored as PVE stores it, host bits kept and V(/32) or V(/128) dropped.
      - Required with O(state=present).
    type: str
  comment:
    description:
      - Comment of the alias.
      - When not given, an existing alias keeps its comment. An empty string removes it.
    type: str
  state:
    description:
      - V(present) makes the alias exist with the given address and comment.
      - V(absent) deletes the alias. It fails, writing nothing, while a rule or IP set entry
        uses the alias, naming each one; for a datacenter alias that means rules and entries
        of the datacenter, security groups, nodes, guests and vnets that can reach it.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: pve.firewall.ipset
  - module: pve.firewall.firewall_rule
"""

EXAMPLES = r"""
- name: Name the monitoring server at the datacenter
  pve.firewall.alias:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    name: monitoring
    cidr: 192.0.2.10
    comment: prometheus

- name: The office network, as an alias of a container
  pve.firewall.alias:
    level: ct
    vmid: 200
    name: office
    cidr: 198.51.100.0/24

- name: The monitoring server moved
  pve.firewall.alias:
    name: monitoring
    cidr: 192.0.2.20

- name: Remove the container's alias (fails while rules or IP set entries use it)
  pve.firewall.alias:
    level: ct
    vmid: 200
    name: office
    state: absent
"""

RETURN = r"""
commands:
  description: The API calls made, or in check mode the calls planned.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/aliases name=monitoring cidr=192.0.2.10 comment=prometheus"]
before:
  description: The alias before the change (name, cidr, comment), or null if it did not exist.
  returned: always
  type: dict
  sample: {"name": "monitoring", "cidr": "192.0.2.10", "comment": "prometheus"}
after:
  description: The alias after the change (in check mode, as it would be), or null if it does not exist.
  returned: always
  type: dict
  sample: {"name": "monitoring", "cidr": "192.0.2.20", "comment": "prometheus"}
lockout:
  description:
    - The lockout analysis, when the change can decide whether a node accepts new connections
      (see O(allow_lockout)). Each access names node, client, port, status (C(kept), C(lost),
      C(unknown)) and a fix.
  returned: when the change touches the datacenter or a node and the datacenter firewall is on
  type: dict
  sample: {"ok": true, "summary": "lockout check: 6 of 6 accesses kept.", "accesses": []}
"""

from functools import partial
from typing import Any

from ..module_utils._api.service import FirewallApi, Scope, Snapshot
from ..module_utils._api.sync import KeyedEndpoints, sync_keyed
from ..module_utils._api.usage import alias_users
from ..module_utils._compiler.api_mapping import ApiCall, alias_to_api, alias_update_params
from ..module_utils._compiler.config_validation import RulePlace, alias_change_errors, alias_family, check_aliases, check_name, names_alias
from ..module_utils._compiler.normalise import normalise_alias, optional_text
from ..module_utils._compiler.user_input import alias_to_user, line_break_errors
from ..module_utils._model.errors import FieldError, raise_if_errors
from ..module_utils._model.levels import SET_LEVEL_NAMES
from ..module_utils._model.objects import Alias, FileKind, FirewallFile, Level
from ..module_utils._module_kit.access import ACCESS_ARGS, AccessGuard
from ..module_utils._module_kit.arguments import argument_spec
from ..module_utils._module_kit.fw_text import fw_text
from ..module_utils._module_kit.references import still_used
from ..module_utils._module_kit.report import ModuleContext, Report
from ..module_utils._module_kit.runner import ModuleSpec, Run, connect, run_module, scope_from_params
from ..module_utils._plan.config_change import with_alias

LEVELS = SET_LEVEL_NAMES


def _rule_places(api: FirewallApi, scope: Scope, name: str) -> list[RulePlace]:
    """The rules that can name an alias of ``scope``: a guest's own; for the datacenter, its
    rules and security groups and those of every node, guest and vnet. A guest's own aliases
    are read only when one of its rules names the alias."""
    if scope.level != "cluster":
        return [RulePlace(scope.label, scope.rule_level, api.read_rules(scope.rules_path()).items, api.read_aliases(scope).items)]
    cluster = Scope("cluster")
    places = [RulePlace("cluster", Level.CLUSTER, api.read_rules(cluster.rules_path()).items)]
    for group in api.list_groups().items:
        places.append(RulePlace(f"security group '{group.name}'", Level.GROUP, api.read_rules(cluster.rules_path(group.name)).items))
    for place in [Scope("node", node) for node in api.node_names()] + [Scope("vnet", vnet=vnet) for vnet in api.vnet_names()]:
        places.append(RulePlace(place.label, place.rule_level, api.read_rules(place.rules_path()).items))
    for guest in api.guest_scopes():
        rules = api.read_rules(guest.rules_path()).items
        if any(names_alias(rule, name) for rule in rules):
            places.append(RulePlace(guest.label, guest.rule_level, rules, api.read_aliases(guest).items))
    return places


def _alias_text(kind: FileKind, alias: Alias | None) -> str:
    return fw_text(kind, aliases=(alias,)) if alias else ""


class AliasModule:
    """One run of the module: validate, then read, plan and write (or only plan)."""

    def __init__(self, module: ModuleContext) -> None:
        self.module = module
        self.params = module.params
        self.report = Report(module)
        self.access = AccessGuard(self.params, self.report)
        self.key: str = self.params["name"].lower()

    def validate(self) -> None:
        name, cidr, comment = self.params["name"], self.params["cidr"], self.params["comment"]
        if self.params["state"] == "present":
            listed = FirewallFile(FileKind.CLUSTER, aliases=(Alias(name, cidr.strip(), comment),))
            errors = [*check_aliases(listed, lambda _path: "alias"), *line_break_errors("alias", "comment", comment)]
        else:
            errors = list(check_name("alias", name, "alias"))
        raise_if_errors(errors)

    def endpoints(self, api: FirewallApi, scope: Scope) -> KeyedEndpoints[Alias]:
        """The alias list narrowed to this one alias; the digest still covers the whole list."""

        def read() -> Snapshot[tuple[Alias, ...]]:
            snapshot = api.read_aliases(scope)
            return Snapshot(tuple(alias for alias in snapshot.items if alias.name.lower() == self.key), snapshot.digest)

        return KeyedEndpoints(
            read=read,
            key=lambda alias: alias.name.lower(),
            create=lambda alias: ApiCall("POST", scope.aliases_path(), alias_to_api(alias)),
            update=lambda before, after: ApiCall("PUT", scope.aliases_path(before.name), alias_update_params(after)),
            delete=lambda alias: ApiCall("DELETE", scope.aliases_path(alias.name)),
        )

    def desired(self, existing: Alias | None) -> Alias:
        given = self.params["comment"]
        comment = optional_text(given) if given is not None else (existing.comment if existing else None)
        return normalise_alias(Alias(existing.name if existing else self.params["name"], self.params["cidr"], comment))

    def online(self, api: FirewallApi) -> dict[str, Any]:
        scope = scope_from_params(api, self.params, allowed=LEVELS)
        endpoints = self.endpoints(api, scope)
        first = endpoints.read()
        existing = first.items[0] if first.items else None
        if self.params["state"] == "absent":
            wanted: tuple[Alias, ...] = ()
            users = alias_users(api, scope, self.key) if existing else []
            if users:
                what = f"alias '{existing.name if existing else self.key}' of {scope.label}"
                raise still_used(what, users, users=("rule or ipset entry", "rules or ipset entries"))
        else:
            wanted = (self.desired(existing),)
            raise_if_errors(self.rules_made_invalid(api, scope, existing, wanted[0]))
            if scope.level == "cluster" and existing is not None and wanted[0].cidr != existing.cidr:
                # Datacenter and node rules (and the sets they use) may name the alias.
                self.access.check_if_filtering(api, with_alias(existing.name, wanted[0]))
        label = f"the aliases of {scope.label}"
        outcome = self.report.sync(lambda: sync_keyed(api, endpoints, wanted, purge=True, check_mode=self.module.check_mode, label=label, first=first))
        before = outcome.before[0] if outcome.before else None
        after = outcome.after[0] if outcome.after else None
        self.report.diff(*(partial(_alias_text, scope.file_kind, alias) for alias in (before, after)))
        return self.report.result(before=alias_to_user(before) if before else None, after=alias_to_user(after) if after else None)

    def rules_made_invalid(self, api: FirewallApi, scope: Scope, existing: Alias | None, wanted: Alias) -> list[FieldError]:
        """The rules at the alias's level and below that the change would make invalid: PVE
        takes a rule's IP family from its aliases (FW verify_rule), but changes an alias without
        looking at the rules (Aliases.pm). Only a change of family can do that, of this alias or
        of the datacenter's one a new guest alias hides; the rules are read only then."""
        own = scope.level != "cluster"
        cluster_aliases = None
        if existing is None and own:
            cluster_aliases = api.read_aliases(Scope("cluster")).items
            existing = next((alias for alias in cluster_aliases if alias.name.lower() == self.key), None)
        if existing is None or alias_family(existing.cidr) == alias_family(wanted.cidr):
            return []
        if cluster_aliases is None:
            cluster_aliases = api.read_aliases(Scope("cluster")).items
        return alias_change_errors(_rule_places(api, scope, self.key), cluster_aliases, wanted, own=own)

    def run(self) -> dict[str, Any]:
        self.validate()
        self.access.validate()
        with connect(self.module) as api:
            return self.online(api)


SPEC = ModuleSpec(
    argument_spec=argument_spec(
        ACCESS_ARGS,
        {
            "name": {"type": "str", "required": True},
            "cidr": {"type": "str"},
            "comment": {"type": "str"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
    ),
    start=lambda module: Run.of(AliasModule(module)),
    required_if=[("state", "present", ("cidr",))],
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
