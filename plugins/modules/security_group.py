#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: security_group
short_description: Manage a Proxmox VE firewall security group and its rules
version_added: 0.2.0
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
  - pve.firewall.lockout
  - pve.firewall.result
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
  description:
    - The group before the change, in the shape of RV(gathered) items; null when it did not exist.
    - Left out when the group has more than 500 rules before or after the change, unless in
      diff mode or with O(return_full); RV(delta) says what changed.
  returned: when O(state) is V(merged), V(overridden), V(deleted) or V(absent) and the group has at most 500 rules, in diff mode, or with O(return_full)
  type: dict
  sample: {"name": "webserver", "comment": "public web servers", "rules": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}]}
after:
  description:
    - The group after the change (in check mode, as it would be); null when it does not exist.
    - Left out like RV(before).
  returned: when O(state) is V(merged), V(overridden), V(deleted) or V(absent) and the group has at most 500 rules, in diff mode, or with O(return_full)
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
delta:
  description:
    - What the change did to the group's rules, compared as lists of whole rules (a rule that
      changed is removed as it was and added as it is); a reorder changes none of them,
      RV(commands) shows its moves.
    - Always returned, so a playbook can read the counts and changes the same way whatever the
      size of the list; above 500 rules it replaces RV(before) and RV(after) (see O(return_full)).
  returned: when O(state) is V(merged), V(overridden), V(deleted) or V(absent)
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
      description: How many rules there were before the change; null if the group did not exist.
      type: int
    after_count:
      description: How many rules there are after the change (in check mode, would be); null if it does not exist.
      type: int
  sample: {"added": [{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}], "removed": [], "kept_count": 2, "before_count": 2, "after_count": 3}
lockout:
  description:
    - The lockout analysis, when the change can decide whether a node accepts new connections
      (see O(allow_lockout)). Each access names node, client, port, status (C(kept), C(lost),
      C(unknown)) and a fix.
  returned: when the change touches the datacenter or a node and the datacenter firewall is on
  type: dict
  sample: {"ok": true, "summary": "lockout check: 6 of 6 accesses kept.", "accesses": []}
"""

from ..module_utils._module_kit.access import ACCESS_ARGS
from ..module_utils._module_kit.arguments import RETURN_FULL_ARGS, RULE_SUBOPTIONS, argument_spec
from ..module_utils._module_kit.runner import ModuleSpec, Run, run_module
from ..module_utils._module_security_group.groups import STATES, SecurityGroups

SPEC = ModuleSpec(
    argument_spec=argument_spec(
        ACCESS_ARGS,
        RETURN_FULL_ARGS,
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
    start=lambda module: Run.of(SecurityGroups(module)),
    required_if=[
        ("state", "merged", ("name",)),
        ("state", "overridden", ("name",)),
        ("state", "deleted", ("name",)),
        ("state", "absent", ("name",)),
        ("state", "rendered", ("name",)),
        ("state", "parsed", ("running_config",)),
    ],
    rule_lines=True,
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
