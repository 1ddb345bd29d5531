#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_options
short_description: Manage the options of a Proxmox VE firewall without locking yourself out
version_added: 0.2.0
description:
  - Sets the firewall options of the datacenter, a node, a guest or an SDN vnet through the
    Proxmox VE API. Only the keys given in O(options) are managed, and only the keys whose value
    differs are written, in one request carrying PVE's digest.
  - O(reset) returns keys to PVE's default by removing them; O(exact) does so for every key
    O(options) does not list, so that the level holds exactly O(options).
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
  - pve.firewall.lockout
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
  exact:
    description:
      - Make the level's options exactly O(options) - every key set at the level that
        O(options) does not list is reset (removed, back to PVE's default) in the same
        request. With an empty O(options) every key is reset.
      - The keys to reset are taken from each read, so a key another writer adds between the
        read and the write is reset too.
      - The lockout guard judges the options as they will be; at level V(cluster), leaving
        C(enable) out of O(options) turns the datacenter firewall off, and leaving out
        C(policy_in) returns it to PVE's default C(DROP).
      - Cannot be combined with O(reset) (it resets the keys O(options) does not list) or
        O(arm_auto_revert).
      - Restoring a snapshot of M(pve.firewall.firewall_info) uses it, so that keys a change
        added do not stay - role P(pve.firewall.safe_rollout#role) does that in its rollback.
    type: bool
    default: false
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
        connections, and only then confirms. Role P(pve.firewall.safe_rollout#role) does exactly that.
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
  warn_unfiltered:
    description:
      - At level V(vm) or V(ct) - when this task turns the guest's firewall or its NICs' flag on
        while the datacenter firewall is off, warn that PVE still filters nothing for the guest
        (all three switches must be on).
      - A rollout that turns the datacenter firewall on in a later task sets V(false), since the
        warning would be about a state the same run is about to change.
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

- name: A node's options exactly as given (every other key back to PVE's default)
  pve.firewall.firewall_options:
    level: node
    node: pve2
    options:
      log_level_in: warning
    exact: true
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

from ..module_utils._module_firewall_options.options import FirewallOptions
from ..module_utils._module_kit.access import ACCESS_ARGS
from ..module_utils._module_kit.arguments import argument_spec
from ..module_utils._module_kit.runner import ModuleSpec, Run, run_module

SPEC = ModuleSpec(
    argument_spec=argument_spec(
        ACCESS_ARGS,
        {
            "options": {"type": "dict", "default": {}},
            "reset": {"type": "list", "elements": "str", "default": []},
            "exact": {"type": "bool", "default": False},
            "auto_revert": {"type": "bool", "default": True},
            "warn_unfiltered": {"type": "bool", "default": True},
            "arm_auto_revert": {"type": "bool", "default": False},
            "nic_firewall": {"type": "bool"},
            "nics": {"type": "list", "elements": "str"},
        },
    ),
    start=lambda module: Run.of(FirewallOptions(module)),
    required_by={"nics": "nic_firewall"},
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
