#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: firewall_log_info
short_description: Read, filter and summarise the Proxmox VE firewall logs
version_added: 0.2.0
description:
  - Reads the firewall logs of nodes and guests through the Proxmox VE API
    (C(GET /nodes/{node}/firewall/log) and C(GET /nodes/{node}/{qemu|lxc}/{vmid}/firewall/log))
    and parses every line C(pvefw-logger) wrote into fields - guest or host, chain, direction,
    action and whether a policy decided, interfaces, MAC, source, destination, protocol,
    ports, ICMP type and TCP flags, time.
  - Filters the entries by action, guest, source network, destination port, direction and
    time, and summarises them - counts per action, the busiest sources, the most blocked
    ports, per guest and per node.
  - A line that does not fit the log format is returned as it was read in RV(unparsed) and
    counted in RV(unparsed_count), never dropped. Status lines of the logger itself, such as
    C(starting pvefw logger) or the count of lines it skipped when its queue was full, are
    returned in RV(messages).
  - The module never changes anything.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.api.READ_ONLY
options:
  nodes:
    description:
      - Read the log of these nodes. A node's log holds every line of that node, the lines of
        the guests running there included.
      - Default every node of the cluster, unless O(vmids) is given; then only the guests'
        logs are read.
      - A name that is no node of the cluster fails the task.
    type: list
    elements: str
  vmids:
    description:
      - Read the log of these guests (VMs and containers) through the guest endpoint, on the
        node each guest runs on now. It holds only the lines of that guest.
      - A guest on a node whose log O(nodes) reads anyway is not read a second time.
      - Lines a guest left on another node before a migration stay in that node's log.
      - An id that is no guest of the cluster fails the task.
    type: list
    elements: int
  start:
    description:
      - Skip this many matching lines of each log (PVE's C(start)), counted from the oldest
        line, or from the newest with O(tail=true).
    type: int
    default: 0
  limit:
    description:
      - Read at most this many lines of each log (PVE's C(limit)); V(0) reads every matching
        line.
      - PVE's own default is 50; this module reads 1000 lines per log unless told otherwise,
        in one request per log.
    type: int
    default: 1000
  tail:
    description:
      - Read the newest O(limit) lines of each log instead of the oldest. A log longer than
        O(start) plus O(limit) lines costs a second request.
    type: bool
    default: false
  since:
    description:
      - Only lines logged at or after this time. Epoch seconds, or an ISO 8601 date and time
        such as V(2025-11-20T08:00:00+01:00) (UTC when it has no zone).
      - PVE then also reads the rotated logs (C(pve-firewall.log.1), C(.2.gz) ...).
    type: raw
  until:
    description:
      - Only lines logged at or before this time, in the same forms as O(since).
    type: raw
  action:
    description:
      - Keep only entries with these actions; a rule's action and a policy's alike
        (RV(entries[].policy) tells them apart).
    type: list
    elements: str
    choices: [ACCEPT, DROP, REJECT]
  vmid:
    description:
      - Keep only entries of these guests; V(0) keeps the host's own entries.
    type: list
    elements: int
  source:
    description:
      - Keep only entries whose source address is in one of these IPv4 or IPv6 addresses or
        networks (CIDR).
    type: list
    elements: str
  dport:
    description:
      - Keep only entries whose destination port is one of these; each item is a port, a
        range V(a:b), a service name such as V(ssh), or a comma list of these.
      - Entries without a port (ICMP, ARP ...) do not match.
    type: list
    elements: str
  direction:
    description:
      - Keep only entries of chains of these directions - V(in) is traffic to the host or
        guest, V(out) traffic from it, V(forward) routed traffic.
    type: list
    elements: str
    choices: [in, out, forward]
  summary_top:
    description:
      - How many items C(top_sources) and C(top_blocked_ports) of RV(summary) list; V(0)
        lists all.
    type: int
    default: 10
  return_entries:
    description:
      - Return the entries themselves in RV(entries). V(false) returns the summary and counts
        only, for reads of many lines.
    type: bool
    default: true
notes:
  - Reading a node's log needs C(Sys.Syslog) on C(/nodes/{node}), a guest's log C(VM.Console)
    on C(/vms/{vmid}); the audit privileges alone (C(Sys.Audit), C(VM.Audit)) are not enough.
  - The API applies O(start), O(limit), O(since) and O(until); the other filters apply to
    what was read. So O(limit) counts lines before the filters.
  - Times in RV(entries) are those of the node that logged, with its offset.
seealso:
  - module: pve.firewall.firewall_info
  - module: pve.firewall.firewall_simulate
"""

EXAMPLES = r"""
- name: What the firewall blocked in the last hour, on every node
  pve.firewall.firewall_log_info:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    since: "{{ (now(utc=true).timestamp() - 3600) | int }}"
    action: [DROP, REJECT]
    tail: true
  register: blocked

- name: Show the ports blocked most often
  ansible.builtin.debug:
    var: blocked.summary.top_blocked_ports

- name: SSH and RDP attempts on two guests since this morning
  pve.firewall.firewall_log_info:
    vmids: [100, 200]
    since: "2025-11-20T08:00:00+01:00"
    dport: [ssh, "3389"]
  register: logins

- name: Who knocked from a documentation network, counts only
  pve.firewall.firewall_log_info:
    nodes: [pve1]
    source: [203.0.113.0/24, "2001:db8::/32"]
    limit: 0
    return_entries: false
    summary_top: 20
  register: knocks

- name: Fail when a log line could not be read
  ansible.builtin.assert:
    that: knocks.unparsed_count == 0
    fail_msg: "{{ knocks.unparsed }}"
"""

RETURN = r"""
entries:
  description:
    - The logged packets that pass the filters, in the order of the logs read (nodes first,
      then guests) and of their lines.
  returned: when O(return_entries=true)
  type: list
  elements: dict
  contains:
    node:
      description: The node whose log held the line.
      type: str
    n:
      description: The line's number among the matching lines of its log (PVE's C(n)).
      type: int
    vmid:
      description: The guest the line is about; V(null) for the host (C(pvefw-logger) writes 0).
      type: int
    level:
      description: The log level of the rule or policy (C(emerg) .. C(debug)).
      type: str
    chain:
      description: The chain that logged, for example C(PVEFW-HOST-IN) or C(tap100i0-IN); V(null) for C(-).
      type: str
    direction:
      description: C(in), C(out) or C(forward) as the chain says; V(null) when it does not.
      type: str
    action:
      description: C(ACCEPT), C(DROP) or C(REJECT) from the line's prefix; V(null) for another prefix.
      type: str
    policy:
      description: Whether the chain's policy decided (prefix C(policy DROP:)) rather than a rule.
      type: bool
    prefix:
      description: The message before the packet fields, for example C(policy DROP:).
      type: str
    timestamp:
      description: Epoch seconds.
      type: int
    time:
      description: The time as ISO 8601 with the node's offset.
      type: str
    iface_in:
      description: C(IN=), the interface the packet came in on.
      type: str
    iface_out:
      description: C(OUT=), the interface it was going out on.
      type: str
    physin:
      description: C(PHYSIN=), the bridge port it came in on.
      type: str
    physout:
      description: C(PHYSOUT=), the bridge port it was going out on.
      type: str
    mac:
      description: C(MAC=), the link-layer header.
      type: str
    src:
      description: Source address.
      type: str
    dst:
      description: Destination address.
      type: str
    proto:
      description: Protocol in lowercase (C(tcp), C(udp), C(icmp), C(icmpv6), C(arp), or its number).
      type: str
    sport:
      description: Source port; V(null) without ports.
      type: int
    dport:
      description: Destination port; V(null) without ports.
      type: int
    icmp_type:
      description: ICMP or ICMPv6 type.
      type: int
    icmp_code:
      description: ICMP or ICMPv6 code.
      type: int
    flags:
      description: The bare words of the line - C(DF), C(MF), the TCP flags (C(SYN), C(ACK) ...), the ARP operation.
      type: list
      elements: str
    raw:
      description: The line as logged.
      type: str
  sample:
    - node: pve1
      n: 17
      vmid: 100
      level: info
      chain: tap100i0-IN
      direction: in
      action: DROP
      policy: true
      prefix: "policy DROP:"
      timestamp: 1763625600
      time: "2025-11-20T09:00:00+01:00"
      iface_in: fwbr100i0
      iface_out: fwbr100i0
      physin: fwln100o0
      physout: tap100i0
      mac: null
      src: 203.0.113.7
      dst: 192.0.2.100
      proto: tcp
      sport: 51234
      dport: 22
      icmp_type: null
      icmp_code: null
      flags: [DF, SYN]
      raw: "100 6 tap100i0-IN 20/Nov/2025:09:00:00 +0100 policy DROP: IN=fwbr100i0 ..."
unparsed:
  description: Every line read that does not fit the log format, as it was read, with why.
  returned: always
  type: list
  elements: dict
  sample: [{node: pve1, vmid: null, n: 3, line: "garbage", reason: "not in pvefw-logger's format ..."}]
unparsed_count:
  description: How many lines are in RV(unparsed).
  returned: always
  type: int
  sample: 0
messages:
  description: The logger's own status lines, each with C(node), C(n), C(level), C(timestamp), C(time), C(text) and C(raw).
  returned: always
  type: list
  elements: dict
  sample: [{node: pve1, n: 1, level: notice, timestamp: 1763625600, time: "2025-11-20T09:00:00+01:00", text: starting pvefw logger}]
summary:
  description:
    - Counts over the entries that pass the filters. C(blocked) counts C(DROP) and C(REJECT).
    - C(by_action) per action (C(other) for lines without one), C(top_sources) and
      C(top_blocked_ports) the most frequent first (at most O(summary_top)), C(per_guest) by
      guest id and C(per_node) by node, each with C(total) and C(blocked).
  returned: always
  type: dict
  sample:
    total: 42
    by_action: {ACCEPT: 2, DROP: 38, REJECT: 2}
    top_sources: [{source: 203.0.113.7, count: 30}]
    top_blocked_ports: [{proto: tcp, dport: 22, count: 31}]
    per_guest: {"100": {total: 40, blocked: 38}}
    per_node: {pve1: {total: 42, blocked: 40}}
logs:
  description:
    - Each log read - C(node), C(vmid) (V(null) for a node's log), C(total) (the lines PVE
      counts as matching O(since) and O(until)), C(start) and C(read) (the lines read from
      there, counted from the oldest line). Lines before C(start) or from C(start + read) on
      were not read.
  returned: always
  type: list
  elements: dict
  sample: [{node: pve1, vmid: null, total: 1500, start: 0, read: 1000}]
total_read:
  description: How many lines were read from all logs.
  returned: always
  type: int
  sample: 1000
"""

from typing import Any

from ..module_utils._analysis.fw_log import ACTIONS, DIRECTIONS, LogFilter, ParsedLog, answer_lines, log_filter, summarise, tail_window
from ..module_utils._api.service import FirewallApi, Scope
from ..module_utils._model.errors import FieldError, FirewallValidationError, raise_if_errors
from ..module_utils._model.levels import ScopeLevel
from ..module_utils._module_kit.arguments import argument_spec
from ..module_utils._module_kit.references import unknown_names
from ..module_utils._module_kit.report import ModuleContext
from ..module_utils._module_kit.runner import ModuleSpec, Run, connect, run_module


class FirewallLogInfo:
    """One run: check the input, pick the logs, read each in as few requests as possible,
    then parse, filter and summarise."""

    def __init__(self, module: ModuleContext) -> None:
        self.params = module.params
        params = self.params
        errors = [
            FieldError(option, option, params[option], "must be 0 or more", "an integer >= 0")
            for option in ("start", "limit", "summary_top")
            if params[option] < 0
        ]
        # every value is checked before the first request, and every bad one reported
        self.filter = LogFilter()
        try:
            self.filter = log_filter(
                actions=params["action"],
                vmids=params["vmid"],
                sources=params["source"],
                dports=params["dport"],
                directions=params["direction"],
                since=params["since"],
                until=params["until"],
            )
        except FirewallValidationError as error:
            errors.extend(error.errors)
        raise_if_errors(errors)

    def logs(self, api: FirewallApi) -> list[Scope]:
        """The node logs, then the guest logs, to read."""
        params = self.params
        asked_nodes: list[str] | None = params["nodes"]
        asked_guests: list[int] | None = params["vmids"]
        nodes = api.node_names() if asked_nodes is not None or asked_guests is None else []
        guests = {vmid: (guest_type, node) for vmid, guest_type, node in api.guests()} if asked_guests else {}
        errors = unknown_names("nodes", "node", asked_nodes or [], nodes)
        errors += unknown_names("vmids", "guest", asked_guests or [], sorted(guests))
        raise_if_errors(errors)
        read_nodes = list(dict.fromkeys(asked_nodes)) if asked_nodes is not None else (nodes if asked_guests is None else [])
        scopes = [Scope("node", node) for node in read_nodes]
        for vmid in dict.fromkeys(asked_guests or []):
            guest_type, node = guests[vmid]
            if node not in read_nodes:  # its lines are in that node's log already
                level = ScopeLevel.of_guest_type(guest_type).value
                scopes.append(Scope(level, node, vmid))
        return scopes

    def read(self, api: FirewallApi, scope: Scope) -> tuple[int, int, list[dict[str, Any]]]:
        """``(total, start, lines)`` of one log: one request, a second for the newest lines
        of a log longer than the first one read."""
        params = self.params
        start, limit = params["start"], params["limit"]
        window = {key: value for key, value in (("since", self.filter.since), ("until", self.filter.until)) if value is not None}
        if not params["tail"]:
            total, lines = answer_lines(*api.read_log(scope, start=start, limit=limit, **window))
            return total, start, lines
        first_limit = 0 if limit == 0 else start + limit
        total, lines = answer_lines(*api.read_log(scope, start=0, limit=first_limit, **window))
        first, count = tail_window(total, start, limit)
        if limit == 0 or total <= first_limit:
            return total, first, lines[first : first + count]
        total, lines = answer_lines(*api.read_log(scope, start=first, limit=count, **window))
        return total, first, lines

    def run(self, api: FirewallApi) -> dict[str, Any]:
        parsed = ParsedLog()
        logs = []
        for scope in self.logs(api):
            total, start, lines = self.read(api, scope)
            vmid = scope.vmid if scope.kind.is_guest else None
            parsed.add(lines, node=str(scope.node), log_vmid=vmid)
            logs.append({"node": scope.node, "vmid": vmid, "total": total, "start": start, "read": len(lines)})
        entries = [entry for entry in parsed.entries if self.filter.matches(entry)]
        result: dict[str, Any] = {
            "changed": False,
            "summary": summarise(entries, self.params["summary_top"]),
            "unparsed": [line.to_dict() for line in parsed.unparsed],
            "unparsed_count": len(parsed.unparsed),
            "messages": [message.to_dict() for message in parsed.messages],
            "logs": logs,
            "total_read": parsed.read,
        }
        if self.params["return_entries"]:
            result["entries"] = [entry.to_dict() for entry in entries]
        return result


def start(module: ModuleContext) -> Run:
    def work() -> dict[str, Any]:
        info = FirewallLogInfo(module)
        with connect(module) as api:
            return info.run(api)

    return Run(work)


SPEC = ModuleSpec(
    argument_spec=argument_spec(
        {
            "nodes": {"type": "list", "elements": "str"},
            "vmids": {"type": "list", "elements": "int"},
            "start": {"type": "int", "default": 0},
            "limit": {"type": "int", "default": 1000},
            "tail": {"type": "bool", "default": False},
            "since": {"type": "raw"},
            "until": {"type": "raw"},
            "action": {"type": "list", "elements": "str", "choices": list(ACTIONS)},
            "vmid": {"type": "list", "elements": "int"},
            "source": {"type": "list", "elements": "str"},
            "dport": {"type": "list", "elements": "str"},
            "direction": {"type": "list", "elements": "str", "choices": list(DIRECTIONS)},
            "summary_top": {"type": "int", "default": 10},
            "return_entries": {"type": "bool", "default": True},
        },
        scope=False,
    ),
    start=start,
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
