#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_rule
short_description: Manage the ordered rule list of a Proxmox VE firewall
version_added: 0.2.0
description:
  - Manages the rules of the datacenter, a node, a guest (VM or container) or an SDN vnet
    firewall through the Proxmox VE API, in the order PVE evaluates them.
  - Plans the fewest API writes (create, update in place, move, delete) that turn the current
    list into the desired one, and carries them out with PVE's digest, so a concurrent change
    is detected and the rest of the plan is made anew.
  - Validates every listed rule before the first write, and the references to IP sets,
    aliases and security groups of every rule it is to write (a rule already in the list as
    listed is not written); a bad rule fails the task naming the field and value, and nothing
    is written.
  - Rules of security groups are managed with M(pve.firewall.security_group).
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.api.SCOPE
  - pve.firewall.rules
  - pve.firewall.lockout
  - pve.firewall.result
attributes:
  check_mode:
    support: full
    description: Plans and returns the API calls it would make, and writes nothing.
  diff_mode:
    support: full
    description: Shows the rule list before and after as C(.fw) text.
options:
  state:
    description:
      - V(merged) makes each listed rule present exactly once, in the listed order, and leaves
        other rules alone. A listed rule that matches the same traffic as an existing one (every
        key equal but O(rules[].enable), O(rules[].log) and O(rules[].comment)) updates that
        rule; one with no such rule is added right after the previous listed rule, the first
        at the top of the list. Further copies of a listed rule are removed, such as one that
        a write which timed out added after its run had given up (PVE may still carry out a
        request the client stopped waiting for). A rule listed twice is kept twice.
      - V(overridden) makes the list exactly O(rules).
      - V(deleted) removes every rule that matches the same traffic as a listed one, or all
        rules when O(rules) is empty.
      - V(gathered) returns the current rules in RV(gathered), in exactly the shape O(rules)
        takes.
      - V(rendered) works offline and returns the C(.fw) text of O(rules) in RV(rendered) and
        the API calls that create them in RV(commands).
      - V(parsed) works offline and turns the C(.fw) text in O(running_config) into RV(parsed).
        A line PVE would refuse, or keep but skip, fails the task naming the line.
    type: str
    choices: [merged, overridden, deleted, gathered, rendered, parsed]
    default: merged
  running_config:
    description:
      - The C(.fw) text for O(state=parsed); a C([RULES]) section, or rule lines alone.
    type: str
"""

EXAMPLES = r"""
- name: Allow SSH and the GUI from the admin network, and ping, on the datacenter
  pve.firewall.firewall_rule:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    level: cluster
    state: merged
    rules:
      - {type: in, action: ACCEPT, macro: SSH, source: 192.0.2.0/24, comment: admin ssh}
      - {type: in, action: ACCEPT, proto: tcp, dport: 8006, source: 192.0.2.0/24, comment: admin gui}
      - {type: in, action: ACCEPT, macro: Ping}

- name: A web VM gets exactly these rules (found on whatever node it runs)
  pve.firewall.firewall_rule:
    level: vm
    vmid: 100
    state: overridden
    rules:
      - {type: in, action: ACCEPT, macro: HTTPS}
      - {type: in, action: ACCEPT, macro: HTTP}
      - {type: in, action: DROP, proto: tcp, dport: 3306, log: info}

- name: Remove the ping rule again
  pve.firewall.firewall_rule:
    level: cluster
    state: deleted
    rules:
      - {type: in, action: ACCEPT, macro: Ping}

- name: Read the node's rules in the shape the module takes
  pve.firewall.firewall_rule:
    level: node
    node: pve1
    state: gathered
  register: node_rules

- name: Render a rule list offline, for review in a merge request
  pve.firewall.firewall_rule:
    level: cluster
    state: rendered
    rules:
      - {type: in, action: ACCEPT, macro: SSH, source: 192.0.2.0/24}
  register: preview

- name: Turn .fw text into rules
  pve.firewall.firewall_rule:
    level: node
    state: parsed
    running_config: |
      [RULES]
      IN SSH(ACCEPT) -source 192.0.2.0/24 # admin
      IN ACCEPT -p tcp -dport 8006
  register: from_text
"""

RETURN = r"""
commands:
  description: The API calls made, or in check mode and for O(state=rendered) the calls planned.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/rules type=in action=ACCEPT enable=1 macro=SSH", "PUT /cluster/firewall/rules/0 moveto=3"]
before:
  description:
    - The rules before the change, in the shape of O(rules).
    - Left out when the list has more than 500 rules before or after the change, unless in
      diff mode or with O(return_full); RV(delta) says what changed.
  returned: when O(state) is V(merged), V(overridden) or V(deleted) and the list has at most 500 rules, in diff mode, or with O(return_full)
  type: list
  elements: dict
after:
  description:
    - The rules after the change (in check mode, as they would be).
    - Left out like RV(before).
  returned: when O(state) is V(merged), V(overridden) or V(deleted) and the list has at most 500 rules, in diff mode, or with O(return_full)
  type: list
  elements: dict
gathered:
  description: The current rules, ready to be passed back as O(rules).
  returned: when O(state=gathered)
  type: list
  elements: dict
  sample: [{"type": "in", "action": "ACCEPT", "macro": "SSH", "source": "192.0.2.0/24"}]
rendered:
  description: The C(.fw) text of O(rules).
  returned: when O(state=rendered)
  type: str
  sample: "[RULES]\n\nIN SSH(ACCEPT) -source 192.0.2.0/24\n"
parsed:
  description: The rules of O(running_config), in the shape of O(rules).
  returned: when O(state=parsed)
  type: list
  elements: dict
delta:
  description:
    - What the change did to the rule list, compared as lists of whole rules (a rule that changed
      is removed as it was and added as it is); a reorder changes none of them, RV(commands) shows
      its moves.
    - Always returned, so a playbook can read the counts and changes the same way whatever the
      size of the list; above 500 rules it replaces RV(before) and RV(after) (see O(return_full)).
  returned: when O(state) is V(merged), V(overridden) or V(deleted)
  type: dict
  contains:
    added:
      description: The rules only after the change, in their order there, in the shape of O(rules).
      type: list
      elements: raw
    removed:
      description: The rules only before the change, in their order there, in the shape of O(rules).
      type: list
      elements: raw
    kept_count:
      description: How many rules are both before and after the change.
      type: int
    before_count:
      description: How many rules there were before the change.
      type: int
    after_count:
      description: How many rules there are after the change (in check mode, would be).
      type: int
  sample: {"added": [{"type": "in", "action": "ACCEPT", "macro": "SSH"}], "removed": [], "kept_count": 600, "before_count": 600, "after_count": 601}
lockout:
  description:
    - The lockout analysis, when the change can decide whether a node accepts new connections
      (see O(allow_lockout)). Each access names node, client, port, status (C(kept), C(lost),
      C(unknown)) and a fix.
  returned: when the change touches the datacenter or a node and the datacenter firewall is on
  type: dict
  sample: {"ok": true, "summary": "lockout check: 6 of 6 accesses kept.", "accesses": []}
"""

from typing import Any

from ..module_utils._api.service import FirewallApi, Scope, ScopeError
from ..module_utils._compiler.normalise import normalise_rule
from ..module_utils._compiler.user_input import rule_to_user, rules_from_user
from ..module_utils._model.errors import FieldError, raise_if_errors
from ..module_utils._model.levels import GUEST_LEVEL_NAMES
from ..module_utils._model.objects import Rule
from ..module_utils._module_kit.access import ACCESS_ARGS
from ..module_utils._module_kit.arguments import RETURN_FULL_ARGS, RULE_SUBOPTIONS, argument_spec, without_none
from ..module_utils._module_kit.fw_text import fw_text, parse_running_config
from ..module_utils._module_kit.references import check_rules, check_written_rules
from ..module_utils._module_kit.rule_list import RuleListModule, parsed_rule_errors
from ..module_utils._module_kit.runner import ModuleSpec, Run, run_module, scope_from_params
from ..module_utils._plan.config_change import with_rules
from ..module_utils._plan.rule_plan import planned_rule_calls
from ..module_utils._plan.rule_states import RULE_STATES, target_list


def _same(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
    return rules


def _rules_to_user(rules: tuple[Rule, ...]) -> list[dict[str, Any]]:
    return [rule_to_user(rule) for rule in rules]


class FirewallRules(RuleListModule[tuple[Rule, ...]]):
    """One run of the module: validate, then read, plan and write (or only plan)."""

    def offline_scope(self, complete: bool = False) -> Scope:
        """The scope without the API (a guest's node is a placeholder); ``complete`` requires
        the other keys of the level, which the planned calls name."""
        params = self.params
        needed = {"node": "node", "vm": "vmid", "ct": "vmid", "vnet": "vnet"}.get(params["level"])
        if complete and needed and params[needed] is None:
            raise ScopeError(f"level {params['level']} needs {needed}")
        node = params["node"] or ("{node}" if params["level"] in GUEST_LEVEL_NAMES else None)
        return Scope(params["level"], node, params["vmid"], params["vnet"])

    def guard_node_access(self, api: FirewallApi, scope: Scope, end: tuple[Rule, ...], current: tuple[Rule, ...]) -> None:
        """Datacenter and node rules decide whether a node accepts new connections."""
        if scope.level in ("cluster", "node") and end != current:
            self.access.check_if_filtering(api, with_rules(scope.node if scope.level == "node" else None, end))

    def validated(self) -> tuple[Rule, ...]:
        self.access.validate()
        rules, errors = rules_from_user(without_none(self.params["rules"]), "rules")
        raise_if_errors(errors)
        raise_if_errors(check_rules(rules, self.offline_scope().rule_level, None, "rules"))
        return rules

    def parsed(self) -> dict[str, Any]:
        scope = self.offline_scope()
        text = self.params["running_config"]
        if text is None:
            raise_if_errors([FieldError("running_config", "running_config", None, "missing property", "the .fw text to parse")])
        parsed = parse_running_config(
            text, scope.file_kind, "[RULES]", lambda found: parsed_rule_errors(found, scope.rule_level, found.file.rules, lambda index: ("rules", index))
        )
        return self.report.result(parsed=[rule_to_user(normalise_rule(rule)) for rule in parsed.file.rules])

    def rendered(self) -> dict[str, Any]:
        scope = self.offline_scope(complete=True)
        rules = tuple(map(normalise_rule, self.validated()))
        self.report.record(planned_rule_calls(scope.rules_path(), (), rules))
        return self.report.result(rendered=fw_text(scope.file_kind, rules=rules))

    def gathered(self, api: FirewallApi) -> dict[str, Any]:
        scope = scope_from_params(api, self.params)
        return self.report.result(gathered=[rule_to_user(rule) for rule in api.read_rules(scope.rules_path()).items])

    def configure(self, api: FirewallApi, wanted: tuple[Rule, ...]) -> dict[str, Any]:
        scope = scope_from_params(api, self.params)
        path = scope.rules_path()
        first = api.read_rules(path)
        if self.state != "deleted":
            raise_if_errors(check_written_rules(api, scope, scope.rule_level, wanted, first.items, "rules"))
        desired = tuple(map(normalise_rule, wanted))
        self.guard_node_access(api, scope, target_list(self.state, first.items, desired), first.items)
        outcome = self.sync_rules(api, path, lambda current: target_list(self.state, current, desired), f"the rules of {scope.label}", first)
        self.report.diff(lambda: fw_text(scope.file_kind, rules=outcome.before), lambda: fw_text(scope.file_kind, rules=outcome.after))
        return self.report.result(**self.report.lists(outcome.before, outcome.after, _same, _rules_to_user, rule_to_user))


SPEC = ModuleSpec(
    argument_spec=argument_spec(
        ACCESS_ARGS,
        RETURN_FULL_ARGS,
        {
            "state": {"type": "str", "default": "merged", "choices": list(RULE_STATES)},
            "rules": {"type": "list", "elements": "dict", "default": [], "options": RULE_SUBOPTIONS},
            "running_config": {"type": "str"},
        },
    ),
    start=lambda module: Run.of(FirewallRules(module)),
    required_if=[("state", "parsed", ("running_config",))],
    rule_lines=True,
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
