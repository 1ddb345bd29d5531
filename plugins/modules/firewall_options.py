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
  - PVE filters a guest only when three switches are on - the datacenter's C(enable), the
    guest's own C(enable), and the C(firewall=1) flag of each of its network devices (the
    C(netN) lines of the guest config). At a guest level, O(nic_firewall) sets or clears that
    flag in the same task as the guest's options, so one task protects a guest. Protecting a
    guest while the datacenter firewall is off gives a warning naming the fix; a guest-level
    task never changes the datacenter.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.api.SCOPE
attributes:
  check_mode:
    support: full
    description: Plans the change and runs the lockout analysis; writes nothing.
  diff_mode:
    support: full
    description:
      - Shows the managed options before and after as the C([OPTIONS]) section of a C(.fw) file.
      - With O(nic_firewall), the guest's C(netN) lines follow as they read in its config.
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
  arm_auto_revert:
    description:
      - At level V(cluster) only - write the datacenter's C(enable) as PVE's auto-revert
        timestamp and do not confirm it. The firewall is then on, and PVE switches it off by
        itself about 60 seconds later unless a later task confirms with C(enable) set to C(1).
      - Each run writes a fresh timestamp (it always reports a change), so a rollout re-arms
        before each step to keep the safety net up while it applies, verifies access over new
        connections, and only then confirms. Role M(pve.firewall.safe_rollout) does exactly that.
      - Cannot be combined with C(enable) in O(options) or O(reset). The lockout analysis runs
        as for turning the firewall on.
    type: bool
    default: false
  nic_firewall:
    description:
      - At level V(vm) or V(ct) only - turn the C(firewall) flag of the guest's network devices
        on (V(true)) or off (V(false)). Without the flag PVE does not filter a NIC, whatever the
        rules and options say.
      - Only the flag changes; every other property of a C(netN) line stays as it is, byte for
        byte (C(rate), C(queues), C(tag), keys in any order). On appends C(firewall=1) or turns
        a C(firewall=0) into C(firewall=1); off removes the key, as the PVE web interface does.
      - The changed lines are written in one request with the config's digest; if another
        writer changed the config meanwhile, the lines are read again and the change made on
        top of theirs.
      - Not given, the NICs are left alone.
    type: bool
  nics:
    description:
      - The network devices O(nic_firewall) applies to, by config key (C(net0), C(net1), ...).
        A name the guest does not have fails the task before anything is written.
      - Defaults to every network device of the guest. Needs O(nic_firewall).
    type: list
    elements: str
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

- name: Arm PVE's 60-second auto-revert before a risky change (confirm later with enable true)
  pve.firewall.firewall_options:
    level: cluster
    arm_auto_revert: true

- name: Confirm - the firewall stays on
  pve.firewall.firewall_options:
    level: cluster
    options:
      enable: true
    auto_revert: false

- name: A VM gets its own firewall, no DHCP server, strict MAC filter, and every NIC filtered
  pve.firewall.firewall_options:
    level: vm
    vmid: 100
    options:
      enable: true
      dhcp: false
      macfilter: true
      policy_in: DROP
    nic_firewall: true

- name: Take one NIC of a container out of the firewall (the others keep their flag)
  pve.firewall.firewall_options:
    level: ct
    vmid: 200
    nics: [net0]
    nic_firewall: false

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
nics_before:
  description: Every network device of the guest (C(netN) key to its config line) before the change.
  returned: when nic_firewall is given
  type: dict
  sample: {"net0": "virtio=BC:24:11:00:64:00,bridge=vmbr0,rate=12.5"}
nics_after:
  description: Every network device of the guest after the change (in check mode, as it would be).
  returned: when nic_firewall is given
  type: dict
  sample: {"net0": "virtio=BC:24:11:00:64:00,bridge=vmbr0,rate=12.5,firewall=1"}
"""

from collections.abc import Mapping
from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._api.access_guard import (
    AUTO_REVERT_ENABLE,
    AccessLost,
    AccessView,
    LockoutRefused,
    analyse_change,
    enable_with_auto_revert,
    report_dict,
    touches_access,
)
from ..module_utils._model.errors import FieldError, raise_if_errors
from ..module_utils._api.service import ApiCall, FirewallApi, Scope, Snapshot
from ..module_utils._api.guest_nics import NIC_KEY, NicLines, diff_text, read_nic_lines, sync_nic_firewall, unknown_nics
from ..module_utils._module_kit.kit import EXPECTED_ERRORS, ModuleFailure, Report, argument_spec, connect, fail, fw_text, scope_from_params
from ..module_utils._compiler.options import option_spec
from ..module_utils._plan.planner import plan_options
from ..module_utils._api.transport import PveApiError
from ..module_utils._api.sync import SyncError, sync_options
from ..module_utils._compiler.user_input import options_from_user

GUEST_LEVELS = ("vm", "ct")


class FirewallOptions:
    """One run: validate, read, plan one PUT, guard access, write; at a guest level then the
    NICs' firewall flag in one PUT of the guest config."""

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
        if self.params["arm_auto_revert"]:
            if self.params["level"] != "cluster":
                message = f"only valid at level cluster (level is {self.params['level']})"
                errors.append(FieldError("arm_auto_revert", "arm_auto_revert", True, message, "level: cluster"))
            elif "enable" in (self.params["options"] or {}) or "enable" in reset:
                errors.append(FieldError("arm_auto_revert", "arm_auto_revert", True, "cannot be combined with enable in options or reset", "one of them"))
            options["enable"] = AUTO_REVERT_ENABLE
        raise_if_errors(errors)
        return options, reset

    def check_nic_input(self) -> None:
        """nic_firewall and nics belong to a guest level, and name NICs by their config key."""
        level = self.params["level"]
        errors = [
            FieldError(key, key, self.params[key], f"only valid at level vm or ct (level is {level})", "level: vm or level: ct")
            for key in ("nic_firewall", "nics")
            if self.params[key] is not None and level not in GUEST_LEVELS
        ]
        for index, name in enumerate(self.params["nics"] or []):
            if not NIC_KEY.fullmatch(name):
                errors.append(FieldError(f"nics[{index}]", "nics", name, f"'{name}' is not a network device key", "net0, net1, ... as in the guest config"))
        raise_if_errors(errors)

    def read_nics(self, api: FirewallApi, scope: Scope) -> Snapshot[NicLines]:
        """The guest's NIC lines; every name in ``nics`` must be one of them."""
        snapshot = read_nic_lines(api, scope)
        have = ", ".join(snapshot.items) or f"none ({scope.label} has no network device)"
        raise_if_errors(
            FieldError("nics", "nics", name, f"{scope.label} has no network device {name}", have)
            for name in unknown_nics(snapshot.items, self.params["nics"] or ())
        )
        return snapshot

    def warn_if_unprotected(self, api: FirewallApi, scope: Scope, desired: Mapping[str, Any], guest_options: Mapping[str, Any]) -> None:
        """PVE filters a guest only with all three switches on: say which one is still off
        when this task protects the guest (turns its enable or its NICs' flag on)."""
        protecting = self.params["nic_firewall"] is True or bool(desired.get("enable"))
        if not protecting:
            return
        try:
            datacenter = api.read_options(Scope("cluster")).items
        except PveApiError as error:
            self.module.warn(f"could not check that the datacenter firewall is on: {error}")
            datacenter = {"enable": 1}
        if not datacenter.get("enable"):
            self.module.warn(
                f"the datacenter firewall is off (cluster option enable), so PVE filters no guest and {scope.label} stays unfiltered "
                "whatever its options and NICs say; turn it on with a task at level: cluster with options: {enable: true} "
                "(a guest-level task leaves the datacenter alone)"
            )
        if self.params["nic_firewall"] is True and not guest_options.get("enable"):
            self.module.warn(
                f"the firewall of {scope.label} is off (its options have no enable: 1), so its NICs stay unfiltered; add options: {{enable: true}}"
            )

    def sync_nics(self, api: FirewallApi, scope: Scope, first: Snapshot[NicLines], done: list[ApiCall]) -> None:
        """Set or clear the NICs' flag, after the options (``done``) were written."""
        try:
            outcome = sync_nic_firewall(api, scope, bool(self.params["nic_firewall"]), self.params["nics"], check_mode=self.module.check_mode, first=first)
        except SyncError as error:
            raise SyncError(str(error), [*done, *error.done]) from None
        path = scope.config_path

        def following(text: str, lines: NicLines) -> str:  # a blank line after the [OPTIONS] text
            added = diff_text(lines, path)
            return "\n" + added if text and added and not text.endswith("\n\n") else added

        self.report.record(outcome.calls, following(self.report.before_text, outcome.before), following(self.report.after_text, outcome.after))
        self.report.values["nics_before"] = outcome.before
        self.report.values["nics_after"] = outcome.after

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
        self.check_nic_input()
        scope = scope_from_params(api, self.params)
        options, reset = self.desired(scope.option_level)
        nics_first: Optional[Snapshot[NicLines]] = None
        if self.params["nic_firewall"] is not None:
            nics_first = self.read_nics(api, scope)
        path = f"{scope.base}/options"
        first = api.read_options(scope)
        plan = plan_options(first.items, options, reset)
        if not plan.is_empty and touches_access(scope, plan.set, plan.delete):
            after = {key: value for key, value in first.items.items() if key not in plan.delete}
            after.update(plan.set)
            if int(after.get("enable") or 0) > 1:
                after["enable"] = 1  # a fresh auto-revert timestamp: the firewall is on
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
        if scope.level in GUEST_LEVELS:
            self.warn_if_unprotected(api, scope, options, outcome.after)
        if nics_first is not None:
            self.sync_nics(api, scope, nics_first, calls)
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
                "arm_auto_revert": {"type": "bool", "default": False},
                "nic_firewall": {"type": "bool"},
                "nics": {"type": "list", "elements": "str"},
            }
        ),
        required_by={"nics": "nic_firewall"},
        supports_check_mode=True,
    )
    runner = FirewallOptions(module)
    try:
        with connect(module) as api:
            result = runner.run(api)
    except LockoutRefused as error:
        fail(module, ModuleFailure(f"refused: {error} (set allow_lockout to apply it anyway)"), **runner.report.values)
    except AccessLost as error:
        fail(module, ModuleFailure(str(error)), changed=True, **runner.report.values)
    except EXPECTED_ERRORS as error:
        fail(module, error, **runner.report.values)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
