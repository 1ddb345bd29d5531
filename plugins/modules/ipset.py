#!/usr/bin/python
# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipset
short_description: Manage an IP set of the Proxmox VE datacenter or of a guest
version_added: 0.2.0
description:
  - Creates, updates and deletes an IP set and its entries through the Proxmox VE API, at the
    datacenter (O(level=cluster)) or a guest (O(level=vm), O(level=ct)); only these levels
    have IP sets, other levels are refused.
  - Entries are matched by their address, so only the entries that differ are written. A set
    of tens of thousands of entries is read once and only the difference is written.
  - Validates the name and every entry, alias names included, before the first write; a bad
    entry fails the task naming the field and value, and nothing is written.
  - Refuses to delete a set that rules still use, and names those rules. PVE itself would
    delete it and silently skip the rules.
author:
  - pve.firewall maintainers (@pve-firewall)
extends_documentation_fragment:
  - pve.firewall.api
  - pve.firewall.api.ACTION_GROUP
  - pve.firewall.api.SCOPE
  - pve.firewall.lockout
  - pve.firewall.result
attributes:
  check_mode:
    support: full
    description: Plans and returns the API calls it would make, and writes nothing.
  diff_mode:
    support: full
    description: Shows the set before and after as the C([IPSET name]) section of a C(.fw) file.
options:
  name:
    description:
      - Name of the set, 2 to 64 characters; a letter, then letters, digits, V(-) or V(_).
      - The name is lowercased. PVE reads set names back in lowercase, so a set created with
        capitals could not be found again by that name; V(WebServers) and V(webservers) are
        the same set here, and rules refer to it as V(+webservers).
    type: str
    required: true
  comment:
    description:
      - Comment of the set.
      - When not given, an existing set keeps its comment. An empty string removes it.
    type: str
  entries:
    description:
      - The entries. Each is either a string, an address or CIDR such as V(10.0.0.0/8), or
        V(!10.1.0.0/16) for a C(nomatch) entry (addresses the set must not match), or a
        mapping with the keys C(cidr) (required), C(nomatch) (boolean) and C(comment).
      - A CIDR may also be the name of an alias (V(dc/name) or V(guest/name) to pin the
        level); the alias must exist.
      - Entries are normalised as PVE stores them, host bits cleared and V(/32) or V(/128)
        dropped, so V(192.0.2.7/24) is the entry V(192.0.2.0/24). Two entries for the same
        address fail the task.
      - When not given, the entries are left as they are.
    type: list
    elements: raw
  purge:
    description:
      - With V(true), entries of the set that O(entries) does not list are removed. With
        V(false), listed entries are added or updated and the others stay.
      - Has no effect when O(entries) is not given.
    type: bool
    default: true
  aggregate:
    description:
      - Merge the listed plain entries (no C(nomatch), no comment, no alias name) into the
        fewest CIDRs covering the same addresses, per address family, before comparing;
        overlapping, contained and adjacent networks are joined, for example V(10.0.0.0/25)
        and V(10.0.0.128/25) become V(10.0.0.0/24).
      - Entries with C(nomatch), with a comment or naming an alias are kept as listed. A plain
        entry that lies inside a C(nomatch) network is kept as listed too, since merging it
        would give its addresses to the C(nomatch) entry. A merged network that is exactly a
        listed entry with a comment is dropped in favour of that entry.
      - Only the listed entries are merged; with O(purge=false) they are not merged with
        entries already in the set.
    type: bool
    default: false
  parallel:
    description:
      - How many connections write the entries at the same time (1 to 16). The first write
        carries the digest of the set as read; the others each name their entry, so their
        order does not matter. PVE carries out one file's writes one at a time (its lock),
        so the connections overlap their round trips, which is most of a write's time over
        a network. Used only when more than two entries change. V(1) writes one after the
        other.
    type: int
    default: 4
    version_added: 0.3.0
  state:
    description:
      - V(present) makes the set exist with the given comment and entries.
      - V(absent) deletes the set with all its entries. It fails, writing nothing, while a
        rule uses the set, naming each one; for a datacenter set that means rules of the
        datacenter, security groups, nodes, guests and vnets that can reach it.
    type: str
    choices: [present, absent]
    default: present
notes:
  - PVE's special sets keep their meaning, for example C(management) and C(blacklist) at the
    datacenter and C(ipfilter-net0) at a guest.
  - PVE keeps a level's sets in one file (C(cluster.fw) for the datacenter, holding every
    datacenter set, its rules and security groups; C(<vmid>.fw) for a guest) and its cluster
    file system refuses a file over 1 MiB (1,048,576 bytes). A change that would make the file
    larger fails before the first write, naming the file, its size after the change and the
    limit (result keys C(file), C(file_size), C(file_size_limit)). A file holds at least
    65,000 plain IPv4 entries (16 bytes a line at most), about 71,000 of a typical blocklist,
    fewer with comments or IPv6 networks; see the blocklists guide for how to split a larger
    list.
seealso:
  - module: pve.firewall.alias
  - module: pve.firewall.firewall_rule
"""

EXAMPLES = r"""
- name: An IP set of the admin networks at the datacenter
  pve.firewall.ipset:
    api_host: pve1.example.org
    api_token_id: root@pam!ansible
    api_token_secret: "{{ vault_pve_token_secret }}"
    name: admins
    comment: admin networks
    entries:
      - 192.0.2.0/24
      - 198.51.100.7
      - {cidr: 203.0.113.0/24, comment: vpn}
      - "!192.0.2.128/25"

- name: Add one address to the set and leave the other entries alone
  pve.firewall.ipset:
    name: admins
    purge: false
    entries:
      - 198.51.100.8

- name: A blocklist from a feed, merged into the fewest networks
  pve.firewall.ipset:
    name: blocked
    aggregate: true
    entries: "{{ ['203.0.113.0/25', '203.0.113.128/25', '198.51.100.0/24'] }}"

- name: An IP set of a VM, found on whatever node it runs
  pve.firewall.ipset:
    level: vm
    vmid: 100
    name: backends
    entries:
      - 10.0.0.10
      - 10.0.0.11

- name: Delete the blocklist (fails while rules still use it)
  pve.firewall.ipset:
    name: blocked
    state: absent
"""

RETURN = r"""
commands:
  description: The API calls made, or in check mode the calls planned.
  returned: always
  type: list
  elements: str
  sample: ["POST /cluster/firewall/ipset name=admins", "POST /cluster/firewall/ipset/admins cidr=192.0.2.0/24"]
before:
  description:
    - The set before the change, in the shape of the options (name, comment, entries), or null
      if it did not exist.
    - Left out when the set has more than 500 entries before or after the change, unless in
      diff mode or with O(return_full); RV(delta) says what changed.
  returned: when the set has at most 500 entries, in diff mode, or with O(return_full)
  type: dict
  sample: {"name": "admins", "comment": "admin networks", "entries": ["192.0.2.0/24", {"cidr": "203.0.113.0/24", "comment": "vpn"}]}
after:
  description:
    - The set after the change (in check mode, as it would be), or null if it does not exist.
    - Left out like RV(before).
  returned: when the set has at most 500 entries, in diff mode, or with O(return_full)
  type: dict
  sample: {"name": "admins", "entries": ["192.0.2.0/24", "198.51.100.7"]}
delta:
  description:
    - What the change did to the set's entries, compared as whole entries (an entry whose
      comment or C(nomatch) changed is removed as it was and added as it is).
    - Always returned, so a playbook can read the counts and changes the same way whatever the
      size of the list; above 500 entries it replaces RV(before) and RV(after) (see
      O(return_full)).
  returned: always
  type: dict
  contains:
    added:
      description: The entries only after the change, in their order there, in the shape of O(entries).
      type: list
      elements: raw
    removed:
      description: The entries only before the change, in their order there, in the shape of O(entries).
      type: list
      elements: raw
    kept_count:
      description: How many entries are both before and after the change.
      type: int
    before_count:
      description: How many entries there were before the change; null if the set did not exist.
      type: int
    after_count:
      description: How many entries there are after the change (in check mode, would be); null if it does not exist.
      type: int
  sample: {"added": ["198.51.100.0/24"], "removed": ["203.0.113.0/24"], "kept_count": 9999, "before_count": 10000, "after_count": 10000}
lockout:
  description:
    - The lockout analysis, when the change can decide whether a node accepts new connections
      (see O(allow_lockout)). Each access names node, client, port, status (C(kept), C(lost),
      C(unknown)) and a fix.
  returned: when the change touches the datacenter or a node and the datacenter firewall is on
  type: dict
  sample: {"ok": true, "summary": "lockout check: 6 of 6 accesses kept.", "accesses": []}
"""

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..module_utils._api.parallel import Lease
from ..module_utils._api.service import FirewallApi, Scope, Snapshot
from ..module_utils._api.sync import KeyedEndpoints, sync_keyed
from ..module_utils._compiler.addresses import is_alias_reference
from ..module_utils._compiler.api_mapping import ApiCall, comment_update_params, ipset_entry_to_api, ipset_entry_update_params, named_object_params
from ..module_utils._compiler.config_validation import ReferenceScope, check_ipsets, check_name
from ..module_utils._compiler.fw_size import PMXCFS_MAX_FILE_SIZE, FileTooLargeError, pve_path, rendered_size, size_problem
from ..module_utils._compiler.normalise import normalise_ipset_entry, optional_text
from ..module_utils._compiler.user_input import entries_from_user, entry_to_user, ipset_to_user, line_break_errors
from ..module_utils._model.errors import FieldError, raise_if_errors
from ..module_utils._model.levels import SET_LEVEL_NAMES
from ..module_utils._model.objects import Alias, FileKind, FirewallFile, IPSet, IPSetEntry
from ..module_utils._module_kit.access import ACCESS_ARGS, AccessGuard
from ..module_utils._module_kit.arguments import RETURN_FULL_ARGS, argument_spec
from ..module_utils._module_kit.connections import PARALLEL_ARG, connection_pool, parallel_problems
from ..module_utils._module_kit.fw_text import fw_text
from ..module_utils._module_kit.references import still_used
from ..module_utils._module_kit.report import ModuleContext, Report
from ..module_utils._module_kit.runner import ModuleSpec, Run, connect, run_module, scope_from_params
from ..module_utils._plan.config_change import with_ipset

LEVELS = SET_LEVEL_NAMES


def _locate(path: tuple[object, ...]) -> str:
    """Locations of check_ipsets as the module's options: the set, then entries[i]."""
    return f"entries[{path[2]}]" if len(path) == 3 else "ipset"


def _alias_resolver(cluster: tuple[Alias, ...], own: tuple[Alias, ...]) -> Callable[[str], str | None]:
    """The address an alias entry stands for, looked up as PVE does (the guest's own first)."""
    cluster_cidrs = {alias.name.lower(): alias.cidr for alias in cluster}
    own_cidrs = {alias.name.lower(): alias.cidr for alias in own}

    def resolve(text: str) -> str | None:
        prefix, _slash, name = text.rpartition("/")
        name = name.lower()
        if prefix != "dc" and name in own_cidrs:
            return own_cidrs[name]
        return cluster_cidrs.get(name) if prefix != "guest" else None

    return resolve


def _entries(ipset: IPSet) -> tuple[IPSetEntry, ...]:
    return ipset.entries


def _first_by_cidr(entries: tuple[IPSetEntry, ...]) -> dict[str, IPSetEntry]:
    """The entries the set's file holds: the first of each CIDR, as the writer keeps them
    (``order_like_pve``)."""
    kept: dict[str, IPSetEntry] = {}
    for entry in entries:
        kept.setdefault(entry.cidr, entry)
    return kept


def _growth(kind: FileKind, before: IPSet, after: IPSet) -> int:
    """Bytes the set's section grows by. Each entry is one line of its own, so the growth is the
    size of the lines that come minus those that go (and of the header's comment): measured on
    the entries that differ, a large set that barely changes is not rendered whole."""
    old, new = _first_by_cidr(before.entries), _first_by_cidr(after.entries)
    gone = tuple(entry for cidr, entry in old.items() if new.get(cidr) != entry)
    come = tuple(entry for cidr, entry in new.items() if old.get(cidr) != entry)
    return rendered_size(FirewallFile(kind, ipsets=(IPSet(after.name, after.comment, come),))) - rendered_size(
        FirewallFile(kind, ipsets=(IPSet(before.name, before.comment, gone),))
    )


class IPSetModule:
    """One run of the module: validate, then read, plan and write (or only plan)."""

    def __init__(self, module: ModuleContext) -> None:
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.report = Report(module)
        self.access = AccessGuard(self.params, self.report)
        self.name: str = self.params["name"].lower()

    # -- validation ----------------------------------------------------------------------

    def desired_entries(self, api: FirewallApi, scope: Scope) -> tuple[IPSetEntry, ...] | None:
        """The listed entries, checked and normalised (None when entries are not managed)."""
        errors: list[FieldError] = []
        comment = self.params["comment"]
        errors += line_break_errors("ipset", "comment", comment)
        raw = self.params["entries"]
        entries, problems = entries_from_user(raw, "entries") if raw is not None else ((), [])
        errors += problems
        aliases = self.aliases(api, scope) if any(is_alias_reference(entry.cidr.strip()) for entry in entries) else None
        cluster_file = FirewallFile(FileKind.CLUSTER, aliases=aliases[0] if aliases else ())
        own = FirewallFile(FileKind.GUEST, aliases=aliases[1] if aliases else ()) if scope.level != "cluster" else None
        listed = FirewallFile(scope.file_kind, ipsets=(IPSet(self.params["name"], comment, entries),))
        errors += check_ipsets(listed, ReferenceScope(cluster_file, own), _locate)
        raise_if_errors(errors)
        if raw is None:
            return None
        desired = tuple(map(normalise_ipset_entry, entries))
        if self.params["aggregate"]:
            from ..module_utils._plan.aggregate import aggregate_entries  # pylint: disable=import-outside-toplevel  # only with aggregate

            desired = aggregate_entries(desired, _alias_resolver(*(aliases or ((), ()))))
        return desired

    @staticmethod
    def aliases(api: FirewallApi, scope: Scope) -> tuple[tuple[Alias, ...], tuple[Alias, ...]]:
        """The datacenter's and (for a guest) the guest's aliases, read when an entry names one."""
        cluster = api.read_aliases(Scope("cluster")).items
        return cluster, (api.read_aliases(scope).items if scope.level != "cluster" else ())

    # -- planning and writing -----------------------------------------------------------

    def endpoints(self, api: FirewallApi, scope: Scope) -> KeyedEndpoints[IPSetEntry]:
        return KeyedEndpoints(
            read=lambda: api.read_entries(scope, self.name),
            key=lambda entry: entry.cidr,
            create=lambda entry: ApiCall("POST", scope.ipsets_path(self.name), ipset_entry_to_api(entry)),
            update=lambda before, after: ApiCall("PUT", scope.entry_path(self.name, after.cidr), ipset_entry_update_params(after)),
            delete=lambda entry: ApiCall("DELETE", scope.entry_path(self.name, entry.cidr)),
        )

    def finish(self, scope: Scope, before: IPSet | None, after: IPSet | None) -> dict[str, Any]:
        def text(ipset: IPSet | None) -> str:
            return fw_text(scope.file_kind, ipsets=(ipset,)) if ipset else ""

        self.report.diff(lambda: text(before), lambda: text(after))
        return self.report.result(**self.report.lists(before, after, _entries, ipset_to_user, entry_to_user))

    def end_entries(self, current: tuple[IPSetEntry, ...], desired: tuple[IPSetEntry, ...]) -> tuple[IPSetEntry, ...]:
        """The entries after the sync: exactly ``desired``, or with ``purge`` off, added to the rest."""
        if self.params["purge"]:
            return desired
        return tuple({**{entry.cidr: entry for entry in current}, **{entry.cidr: entry for entry in desired}}.values())

    def guard_node_access(self, api: FirewallApi, scope: Scope, end: tuple[IPSetEntry, ...] | None, current: tuple[IPSetEntry, ...]) -> None:
        """A datacenter set can decide node access: ``management`` and ``blacklist`` by their
        names, others through the datacenter and node rules that use them. ``end`` None: deleted."""
        if scope.level == "cluster" and (end is None or set(end) != set(current)):
            change = with_ipset(self.name, None if end is None else IPSet(self.name, None, end))
            self.access.check_if_filtering(api, change)

    def check_file_size(self, api: FirewallApi, scope: Scope, sets: tuple[IPSet, ...], before: IPSet | None, after: IPSet) -> None:
        """Refuse, before the first write, a set that would make its file exceed pmxcfs' limit.
        PVE rewrites the whole file on each write (deletes first, additions last), so the file
        after the change is the largest one written. A set that does not grow leaves a stored,
        hence legal, file legal; only a growing one costs a read of the rest of the file."""
        if before is not None and _growth(scope.file_kind, before, after) <= 0:
            return
        own = rendered_size(FirewallFile(scope.file_kind, ipsets=(after,)))
        path = pve_path(scope.level, scope.vmid, scope.node, scope.vnet)
        if own > PMXCFS_MAX_FILE_SIZE:  # already too large alone: no need to read the rest
            rest = FirewallFile(scope.file_kind)
        else:
            rest = api.read_file(scope, ("options", "aliases", "rules", "groups"))
            others = tuple(IPSet(item.name, item.comment, api.read_entries(scope, item.name).items) for item in sets if item.name != self.name)
            rest = replace(rest, ipsets=others)
        problem = size_problem(replace(rest, ipsets=(*rest.ipsets, after)), path)
        if problem is not None:
            raise FileTooLargeError(problem)

    def present(self, api: FirewallApi, scope: Scope) -> dict[str, Any]:
        desired = self.desired_entries(api, scope)
        sets = api.list_ipsets(scope)
        existing = next((ipset for ipset in sets.items if ipset.name == self.name), None)
        given = self.params["comment"]
        comment = optional_text(given) if given is not None else (existing.comment if existing else None)
        current: Snapshot[tuple[IPSetEntry, ...]] = api.read_entries(scope, self.name) if existing else Snapshot(())
        before = IPSet(self.name, existing.comment, current.items) if existing else None
        if desired is not None:
            self.guard_node_access(api, scope, self.end_entries(current.items, desired), current.items)
        end = self.end_entries(current.items, desired) if desired is not None else current.items
        self.check_file_size(api, scope, sets.items, before, IPSet(self.name, comment, end))
        if existing is None:
            self.report.send(api, ApiCall("POST", scope.ipsets_path(), named_object_params("name", self.name, comment)))
        else:
            if comment != existing.comment:
                # PVE's rename to the same name edits the comment; the set list's digest guards it.
                self.report.send(api, ApiCall("POST", scope.ipsets_path(), comment_update_params("name", self.name, comment)), sets.digest)
        entries = current.items
        if desired is not None:
            label = f"ipset '{self.name}' of {scope.label}"
            endpoints = self.endpoints(api, scope)
            with connection_pool(api, self.params) as pool:
                # the lease holds the run's own connection (the pool's first), spreads over the others
                spread = Lease(pool.take(1)[0], pool).spread if pool.size > 1 else None
                outcome = self.report.sync(
                    lambda: sync_keyed(
                        api, endpoints, desired, purge=self.params["purge"], check_mode=self.check_mode, label=label, first=current, spread=spread
                    )
                )
            entries = outcome.after
        return self.finish(scope, before, IPSet(self.name, comment, entries))

    def absent(self, api: FirewallApi, scope: Scope) -> dict[str, Any]:
        raise_if_errors(check_name("ipset", self.params["name"], "ipset"))
        existing = next((ipset for ipset in api.list_ipsets(scope).items if ipset.name == self.name), None)
        if existing is None:
            return self.finish(scope, None, None)
        from ..module_utils._api.usage import ipset_users  # pylint: disable=import-outside-toplevel  # only to delete a set

        users = ipset_users(api, scope, self.name)
        if users:
            raise still_used(f"ipset '{self.name}' of {scope.label}", users)
        before = IPSet(self.name, existing.comment, api.read_entries(scope, self.name).items)
        self.guard_node_access(api, scope, None, before.entries)
        # PVE refuses to delete a set that still has entries unless forced.
        self.report.send(api, ApiCall("DELETE", scope.ipsets_path(self.name), {"force": 1}))
        return self.finish(scope, before, None)

    def run(self) -> dict[str, Any]:
        self.access.validate()
        raise_if_errors(parallel_problems(self.params))
        with connect(self.module) as api:
            scope = scope_from_params(api, self.params, allowed=LEVELS)
            if self.params["state"] == "absent":
                return self.absent(api, scope)
            return self.present(api, scope)


SPEC = ModuleSpec(
    argument_spec=argument_spec(
        ACCESS_ARGS,
        RETURN_FULL_ARGS,
        {
            "name": {"type": "str", "required": True},
            "comment": {"type": "str"},
            "entries": {"type": "list", "elements": "raw"},
            "purge": {"type": "bool", "default": True},
            "aggregate": {"type": "bool", "default": False},
            "parallel": PARALLEL_ARG,
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
        },
    ),
    start=lambda module: Run.of(IPSetModule(module)),
)


def main() -> None:
    run_module(SPEC)


if __name__ == "__main__":
    main()
