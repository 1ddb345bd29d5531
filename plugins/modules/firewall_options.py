#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_options
short_description: Manage the options of a Proxmox VE firewall without locking yourself out
version_added: 0.1.0
description:
  - Sets the firewall options of the datacenter, a node, a guest or an SDN vnet through the
    Proxmox VE API. Only the keys given in O(options) are managed, and only the keys whose value
    differs are written, in one request carrying PVE's digest.
  - O(reset) returns keys to PVE's default by removing them.
  - Before a change that decides whether nodes accept new connections (the datacenter's
    C(enable), C(policy_in) and C(policy_out); a node's C(enable) and C(nftables)), the module
    reads the whole configuration, applies the change to it offline and checks with the
    lockout analysis that this controller still reaches every node on the management ports
    (8006 and 22). A change that would cut it off is refused with the report, which names the
    rule or policy that blocks and a fix, unless O(allow_lockout) is set.
  - Turning the datacenter firewall on uses PVE's auto-revert (O(auto_revert)) - the module
    stores a timestamp instead of C(1), proves access over a new connection and only then
    confirms with C(1). If the proof fails, PVE turns the firewall off again within about
    60 seconds.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.SCOPE
attributes:
  check_mode:
    support: full
    description: Plans the change and runs the lockout analysis; writes nothing.
  diff_mode:
    support: full
    description: Shows the managed options before and after as the C([OPTIONS]) section of a C(.fw) file.
  action_group:
    support: full
    membership: [pve.firewall.firewall]
    description: Use C(group/pve.firewall.firewall) in C(module_defaults) to set the connection once.
options:
  options:
    description:
      - Option names mapped to values, as in the C([OPTIONS]) section of the level's C(.fw)
        file, for example C(enable), C(policy_in), C(log_level_in), C(nf_conntrack_max),
        C(dhcp), C(macfilter) or C(log_ratelimit). Booleans may be given as C(true)/C(false)
        or C(1)/C(0).
      - Which keys a level knows, and their values, follow PVE's API schema; an unknown key or
        value fails the task naming it, with what PVE accepts.
    type: dict
    default: {}
  reset:
    description:
      - Option names to return to PVE's default (removed from the configuration).
    type: list
    elements: str
    default: []
  allow_lockout:
    description:
      - Apply a change even though the lockout analysis says it would cut off access.
    type: bool
    default: false
  lockout_clients:
    description:
      - The addresses that must keep access, as the nodes see them. Defaults to the address
        this module connects from.
    type: list
    elements: str
    default: []
  lockout_ports:
    description:
      - The TCP ports that must stay reachable on every node.
    type: list
    elements: int
    default: [8006, 22]
  auto_revert:
    description:
      - When this task turns the datacenter firewall on, do it with PVE's 60-second
        auto-revert and confirm only after a new connection succeeded.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Harden the datacenter policy (refused if this controller would lose access)
  pve.firewall.firewall_options:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    level: cluster
    options:
      enable: true
      policy_in: DROP
      policy_out: ACCEPT
      log_ratelimit: enable=1,rate=10/second,burst=20

- name: Log dropped packets on a node and guard against SYN floods
  pve.firewall.firewall_options:
    level: node
    node: pve1
    options:
      log_level_in: info
      protection_synflood: true

- name: A VM gets its own firewall, no DHCP server, strict MAC filter
  pve.firewall.firewall_options:
    level: vm
    vmid: 100
    options:
      enable: true
      dhcp: false
      macfilter: true
      policy_in: DROP

- name: Return the guest's log level to the default
  pve.firewall.firewall_options:
    level: vm
    vmid: 100
    reset: [log_level_in]
"""

RETURN = r"""
commands:
  description: The API calls made, or in check mode the call planned.
  returned: always
  type: list
  elements: str
  sample: ["PUT /cluster/firewall/options policy_in=DROP"]
before:
  description: Every option set at the level before the change (keys PVE holds; defaults are not filled in).
  returned: success
  type: dict
  sample: {"enable": 1}
after:
  description: Every option set at the level after the change (in check mode, as it would be).
  returned: success
  type: dict
  sample: {"enable": 1, "policy_in": "DROP"}
lockout:
  description:
    - The lockout analysis, when the change touches access. Each access names node, client,
      port, status (C(kept), C(lost), C(unknown)) and a fix.
  returned: when the change touches access
  type: dict
  sample: {"ok": true, "summary": "lockout check: 6 of 6 accesses kept.", "accesses": []}
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._access_guard import (
    AccessLost,
    AccessView,
    LockoutRefused,
    analyse_change,
    enable_with_auto_revert,
    report_dict,
    touches_access,
)
from ..module_utils._errors import FieldError, raise_if_errors
from ..module_utils._firewall_api import ApiCall, FirewallApi
from ..module_utils._module_kit import EXPECTED_ERRORS, ModuleFailure, Report, argument_spec, connect, fail, fw_text, scope_from_params
from ..module_utils._options import option_spec
from ..module_utils._planner import plan_options
from ..module_utils._sync import sync_options
from ..module_utils._user_input import options_from_user


class FirewallOptions:
    """One run: validate, read, plan one PUT, guard access, write."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params = module.params
        self.report = Report(module)

    def desired(self, level: str) -> tuple[dict[str, Any], list[str]]:
        options, errors = options_from_user(level, self.params["options"], "options")
        reset = list(dict.fromkeys(self.params["reset"]))
        for key in reset:
            if option_spec(level, key) is None:
                errors.append(FieldError("reset", "reset", key, f"no such option '{key}'", f"an option of the {level} level"))
            elif key in (self.params["options"] or {}):
                errors.append(FieldError("reset", "reset", key, f"option '{key}' is both set and reset", "each key in options or in reset"))
        raise_if_errors(errors)
        return options, reset

    def guard(self, api: FirewallApi, scope: Any, after: dict[str, Any]) -> None:
        view = AccessView(tuple(self.params["lockout_clients"]), tuple(self.params["lockout_ports"]))
        try:
            report = analyse_change(api, scope, after, view)
        except ValueError as error:
            raise ModuleFailure(str(error)) from None
        self.report.values["lockout"] = report_dict(report)
        if not report.ok and not self.params["allow_lockout"]:
            raise LockoutRefused(report)

    def run(self, api: FirewallApi) -> dict[str, Any]:
        scope = scope_from_params(api, self.params)
        options, reset = self.desired(scope.option_level)
        path = f"{scope.base}/options"
        first = api.read_options(scope)
        plan = plan_options(first.items, options, reset)
        if not plan.is_empty and touches_access(scope, plan.set, plan.delete):
            after = {key: value for key, value in first.items.items() if key not in plan.delete}
            after.update(plan.set)
            self.guard(api, scope, after)
        made: list[ApiCall] = []

        def send(call: ApiCall, digest: Any) -> None:
            enabling = scope.level == "cluster" and str(call.params.get("enable")) == "1" and self.params["auto_revert"]
            if enabling:
                made.extend(enable_with_auto_revert(api, call, digest))
            else:
                api.send(call, digest)
                made.append(call)

        outcome = sync_options(
            api, path, scope.option_level, lambda: api.read_options(scope), options, reset,
            check_mode=self.module.check_mode, label=f"the options of {scope.label}", send=send, first=first,
        )
        calls = made if made else list(outcome.calls)
        kind = scope.file_kind
        self.report.record(calls, fw_text(kind, options=outcome.before), fw_text(kind, options=outcome.after))
        return self.report.result(before=outcome.before, after=outcome.after)


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(
            {
                "options": {"type": "dict", "default": {}},
                "reset": {"type": "list", "elements": "str", "default": []},
                "allow_lockout": {"type": "bool", "default": False},
                "lockout_clients": {"type": "list", "elements": "str", "default": []},
                "lockout_ports": {"type": "list", "elements": "int", "default": [8006, 22]},
                "auto_revert": {"type": "bool", "default": True},
            }
        ),
        supports_check_mode=True,
    )
    runner = FirewallOptions(module)
    api = connect(module)
    try:
        module.exit_json(**runner.run(api))
    except LockoutRefused as error:
        fail(module, ModuleFailure(f"refused: {error} (set allow_lockout to apply it anyway)"), **runner.report.values)
    except AccessLost as error:
        fail(module, ModuleFailure(str(error)), changed=True, **runner.report.values)
    except EXPECTED_ERRORS as error:
        fail(module, error, **runner.report.values)
    finally:
        api.transport.close()


if __name__ == "__main__":
    main()
