"""The writes of each step of a tree run, through the syncs of the API layer.

A step reads what it writes anew (for the digest its first write carries, and so that another
writer's change since the gather is planned on top of), except in check mode, where it plans
from the gathered configuration and reads nothing. A step returns the calls it made (or would
make); a failure is a ``StepFailed`` naming the file, the part and the writes made before it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from .._api.auto_revert import AUTO_REVERT_ENABLE, enable_with_auto_revert
from .._api.guest_nics import NicLines, nic_call, planned_lines, read_nic_lines
from .._api.parallel import Lease
from .._api.service import GROUPS_PATH, FirewallApi, Scope, Snapshot
from .._api.sync import KeyedEndpoints, SyncError, sync_keyed, sync_object, sync_rules
from .._api.transport import PveApiError
from .._compiler.api_mapping import (
    ApiCall,
    alias_to_api,
    alias_update_params,
    comment_update_params,
    ipset_entry_to_api,
    ipset_entry_update_params,
    named_object_params,
    options_to_api,
)
from .._model.errors import PveFirewallError
from .._model.inventory import Inventory
from .._model.objects import Alias, ClusterConfig, FirewallFile, IPSetEntry, OptionValue, Rule
from .._plan.rule_states import merged
from .._plan.set_entries import held_set, trimmed_set
from .._plan.tree_steps import PHASES, FileRef, Step

CLUSTER = Scope("cluster")


class StepFailed(PveFirewallError):
    """A step could not be carried out; ``done`` are its writes before the failure."""

    def __init__(self, step: Step, message: str, done: Sequence[ApiCall] = ()) -> None:
        self.step = step
        self.done = tuple(done)
        super().__init__(f"{step.file.label} ({step.file.path}), {step.part}{' ' + step.name if step.name else ''}: {message}")


@dataclass(frozen=True)
class RunContext:
    """What every step needs: the configurations before and after, how rules and options
    apply, the tree's own rule lists (for merged), and the run's switches."""

    before: ClusterConfig
    after: ClusterConfig
    inventory: Inventory
    desired_rules: Mapping[str, tuple[Rule, ...]]  # by file label, normalised (merged rules)
    nic_flags: Mapping[int, Any]  # by vmid: True/False or {netN: flag}
    rules_state: str = "overridden"
    exact: bool = False
    joint_enable: bool = False
    auto_revert: bool = True
    check_mode: bool = False


def scope_of(ref: FileRef, inventory: Inventory) -> Scope:
    if ref.level == "cluster":
        return CLUSTER
    if ref.level == "node":
        return Scope("node", ref.name)
    if ref.level == "vnet":
        return Scope("vnet", vnet=ref.name)
    vmid = int(ref.name)
    return Scope(ref.level, inventory.guests[vmid].node, vmid)


def _file(config: ClusterConfig, ref: FileRef) -> FirewallFile | None:
    if ref.level == "cluster":
        return config.cluster
    if ref.level == "node":
        return config.hosts.get(ref.name)
    if ref.level == "vnet":
        return config.vnets.get(ref.name)
    guest = config.guests.get(int(ref.name))
    return guest.file if guest else None


class StepWriter:
    """Carries out one step on a lease (or plans it, in check mode)."""

    def __init__(self, context: RunContext, step: Step) -> None:
        self.context = context
        self.step = step
        self.scope = scope_of(step.file, context.inventory)
        self.check = context.check_mode
        self.before = _file(context.before, step.file)
        self.after = _file(context.after, step.file)
        self.done: list[ApiCall] = []

    # -- the run of one step --------------------------------------------------------------

    def run(self, lease: Lease) -> tuple[ApiCall, ...]:
        part = self.step.part
        action: Callable[[Lease], None] = getattr(self, f"write_{part}")
        try:
            action(lease)
        except SyncError as error:
            raise StepFailed(self.step, error.reason, (*self.done, *error.done)) from None
        except PveApiError as error:
            raise StepFailed(self.step, str(error), self.done) from None
        return tuple(self.done)

    def send(self, api: FirewallApi, call: ApiCall, digest: str | None = None) -> None:
        if not self.check:
            api.send(call, digest)
        self.done.append(call)

    def _sides(self) -> tuple[FirewallFile, FirewallFile]:
        """The file before and after the change; the planner gives a write step only a file
        both hold (only a prune step has nothing after)."""
        if self.before is None or self.after is None:
            raise StepFailed(self.step, "planned for a file missing before or after the change", self.done)
        return self.before, self.after

    def _object(self) -> str:
        """The IP set or group a named step writes."""
        if self.step.name is None:
            raise StepFailed(self.step, "planned without the name of the object it writes", self.done)
        return self.step.name

    def _first(self, snapshot: Snapshot[Any]) -> Snapshot[Any] | None:
        """The gathered state to plan from in check mode; None: read anew."""
        return snapshot if self.check else None

    # -- keyed collections, order-free writes spread over idle connections ----------------

    def keyed(self, lease: Lease, endpoints: KeyedEndpoints[Any], desired: Sequence[Any], purge: bool, label: str, first: Snapshot[Any] | None) -> None:
        outcome = sync_keyed(lease.api, endpoints, desired, purge=purge, check_mode=self.check, label=label, first=first, spread=lease.spread)
        self.done.extend(outcome.calls)

    # -- the parts ------------------------------------------------------------------------

    def alias_endpoints(self, api: FirewallApi) -> KeyedEndpoints[Alias]:
        scope = self.scope
        return KeyedEndpoints(
            read=lambda: api.read_aliases(scope),
            key=lambda alias: alias.name.lower(),
            create=lambda alias: ApiCall("POST", scope.aliases_path(), alias_to_api(alias)),
            update=lambda before, after: ApiCall("PUT", scope.aliases_path(before.name), alias_update_params(after)),
            delete=lambda alias: ApiCall("DELETE", scope.aliases_path(alias.name)),
        )

    def write_aliases(self, lease: Lease) -> None:
        """Listed aliases made so; others stay (removals are the prune step's)."""
        before, after = self._sides()
        endpoints = self.alias_endpoints(lease.api)
        self.keyed(lease, endpoints, after.aliases, False, f"the aliases of {self.scope.label}", self._first(Snapshot(before.aliases)))

    def write_prune_alias(self, lease: Lease) -> None:
        before, after = self._sides()
        endpoints = self.alias_endpoints(lease.api)
        self.keyed(lease, endpoints, after.aliases, True, f"the aliases of {self.scope.label}", self._first(Snapshot(before.aliases)))

    def entry_endpoints(self, api: FirewallApi, name: str) -> KeyedEndpoints[IPSetEntry]:
        scope = self.scope
        return KeyedEndpoints(
            read=lambda: api.read_entries(scope, name),
            key=lambda entry: entry.cidr,
            create=lambda entry: ApiCall("POST", scope.ipsets_path(name), ipset_entry_to_api(entry)),
            update=lambda before, after: ApiCall("PUT", scope.entry_path(name, after.cidr), ipset_entry_update_params(after)),
            delete=lambda entry: ApiCall("DELETE", scope.entry_path(name, entry.cidr)),
        )

    def write_ipset(self, lease: Lease) -> None:
        """The set made, its comment and its listed entries so; entries it drops stay until the
        step prune_entries (add before remove)."""
        before, after = self._sides()
        api, scope, name = lease.api, self.scope, self._object()
        wanted = next(item for item in after.ipsets if item.name.lower() == name)
        if self.check:
            existing = next((item for item in before.ipsets if item.name.lower() == name), None)
            digest = None
        else:
            listing = api.list_ipsets(scope)
            existing, digest = next((item for item in listing.items if item.name.lower() == name), None), listing.digest
        if existing is None:
            self.send(api, ApiCall("POST", scope.ipsets_path(), named_object_params("name", wanted.name, wanted.comment)))
        elif existing.comment != wanted.comment:
            self.send(api, ApiCall("POST", scope.ipsets_path(), comment_update_params("name", wanted.name, wanted.comment)), digest)
        empty: tuple[IPSetEntry, ...] = ()
        first: Optional[Snapshot[tuple[IPSetEntry, ...]]] = Snapshot(empty) if existing is None else None  # noqa: UP045
        if self.check and existing is not None:
            first = Snapshot(existing.entries)
        self.keyed(lease, self.entry_endpoints(api, name), wanted.entries, False, f"ipset '{name}' of {scope.label}", first)

    def write_prune_entries(self, lease: Lease) -> None:
        """The entries the set no longer lists removed: once the rules that used them moved, or
        for a set rules only deny, first (before its step ipset adds the new ones)."""
        before, after = self._sides()
        name = self._object()
        wanted = next(item for item in after.ipsets if item.name.lower() == name)
        existing = next((item for item in before.ipsets if item.name.lower() == name), None)
        first = None
        if self.step.phase < PHASES.index("prune_entries"):
            if existing is None:
                raise StepFailed(self.step, "planned for an IP set missing before the change", self.done)
            # the set as it is without the dropped entries; the step ipset adds the new ones
            desired = trimmed_set(existing, wanted).entries
            first = self._first(Snapshot(existing.entries))
        else:
            desired = wanted.entries
            if self.check:
                # planned from the set as the step ipset leaves it: old and new entries
                first = Snapshot(held_set(existing, wanted).entries)
        self.keyed(lease, self.entry_endpoints(lease.api, name), desired, True, f"ipset '{name}' of {self.scope.label}", first)

    def write_prune_ipset(self, lease: Lease) -> None:
        # PVE refuses to delete a set that still has entries unless forced
        self.send(lease.api, ApiCall("DELETE", self.scope.ipsets_path(self._object()), {"force": 1}))

    def write_group(self, lease: Lease) -> None:
        before, after = self._sides()
        api, name = lease.api, self._object()
        wanted = next(item for item in after.groups if item.name.lower() == name)
        if self.check:
            existing = next((item for item in before.groups if item.name.lower() == name), None)
            digest = None
        else:
            listing = api.list_groups()
            existing, digest = next((item for item in listing.items if item.name.lower() == name), None), listing.digest
        if existing is None:
            self.send(api, ApiCall("POST", GROUPS_PATH, named_object_params("group", wanted.name, wanted.comment)))
        elif existing.comment != wanted.comment:
            self.send(api, ApiCall("POST", GROUPS_PATH, comment_update_params("group", wanted.name, wanted.comment)), digest)
        empty: tuple[Rule, ...] = ()
        first = Snapshot(existing.rules) if self.check and existing is not None else (Snapshot(empty) if existing is None else None)
        self.rules_to(api, CLUSTER.rules_path(name), lambda current: wanted.rules, f"the rules of security group '{name}'", first)

    def write_prune_group(self, lease: Lease) -> None:
        if self.before is None:
            raise StepFailed(self.step, "planned for a file missing before the change", self.done)
        before, name = self.before, self._object()
        existing = next(item for item in before.groups if item.name.lower() == name)
        path = CLUSTER.rules_path(name)
        self.rules_to(lease.api, path, lambda current: (), f"the rules of security group '{name}'", self._first(Snapshot(existing.rules)))
        self.send(lease.api, ApiCall("DELETE", path))

    def rules_to(self, api: FirewallApi, path: str, target: Callable[[tuple[Rule, ...]], tuple[Rule, ...]], label: str, first: Any) -> None:
        outcome = sync_rules(api, path, target, check_mode=self.check, label=label, first=first)
        self.done.extend(outcome.calls)

    def write_rules(self, lease: Lease) -> None:
        before, after = self._sides()
        wanted = after.rules
        if self.context.rules_state == "merged":
            given = self.context.desired_rules.get(self.step.file.label, ())

            def target(current: tuple[Rule, ...]) -> tuple[Rule, ...]:
                return merged(current, given)

        else:

            def target(current: tuple[Rule, ...]) -> tuple[Rule, ...]:
                return wanted

        self.rules_to(lease.api, self.scope.rules_path(), target, f"the rules of {self.scope.label}", self._first(Snapshot(before.rules)))

    # -- options and enable: one PUT with the digest ------------------------------------

    def _options_write(self, lease: Lease, keys: Callable[[str], bool]) -> None:
        """The options whose key ``keys`` accepts made as in ``after``: changed keys set, and
        with ``exact`` the keys ``after`` does not hold reset."""
        before, wanted = self._sides()
        api, scope = lease.api, self.scope
        desired = {key: value for key, value in wanted.options.items() if keys(key)}

        def plan(current: dict[str, OptionValue]) -> tuple[dict[str, OptionValue], ApiCall | None]:
            changed = {key: value for key, value in desired.items() if current.get(key) != value}
            # merged keeps the keys the tree does not name; exact resets them
            removed = [key for key in current if keys(key) and key not in desired] if self.context.exact else []
            after = {key: value for key, value in current.items() if key not in removed}
            after.update(changed)
            if not changed and not removed:
                return after, None
            return after, ApiCall("PUT", scope.options_path, options_to_api(scope.option_level, changed, removed))

        made: list[ApiCall] = []

        def enabling(call: ApiCall) -> bool:
            return scope.level == "cluster" and str(call.params.get("enable")) == "1" and self.context.auto_revert

        def send(call: ApiCall, digest: str | None) -> None:
            if enabling(call):
                made.extend(enable_with_auto_revert(api, call, digest))
            else:
                api.send(call, digest)
                made.append(call)

        outcome = sync_object(
            lambda: api.read_options(scope),
            plan,
            send,
            check_mode=self.check,
            label=f"the options of {scope.label}",
            first=self._first(Snapshot(dict(before.options))),
        )
        if self.check:
            for call in outcome.calls:
                # the calls the auto-revert will make: a timestamp, then the confirmation
                armed = [ApiCall(call.method, call.path, {**call.params, "enable": AUTO_REVERT_ENABLE}), ApiCall("PUT", call.path, {"enable": 1})]
                self.done.extend(armed if enabling(call) else [call])
        else:
            self.done.extend(made)

    def write_options(self, lease: Lease) -> None:
        apart = self.scope.level == "cluster" and not self.context.joint_enable
        self._options_write(lease, lambda key: key != "enable" or not apart)

    def write_enable(self, lease: Lease) -> None:
        self._options_write(lease, lambda key: key == "enable")

    # -- NIC flags: one PUT of the guest config ------------------------------------------

    def write_nics(self, lease: Lease) -> None:
        api, scope = lease.api, self.scope
        flags = self.context.nic_flags[int(self.step.file.name)]
        guest = self.context.inventory.guests[int(self.step.file.name)]

        def plan(lines: NicLines) -> tuple[NicLines, ApiCall | None]:
            after: NicLines = dict(lines)
            if isinstance(flags, bool):
                after = planned_lines(after, flags, None, guest.type)
            else:
                on = [name for name, flag in flags.items() if flag]
                off = [name for name, flag in flags.items() if not flag]
                after = planned_lines(planned_lines(after, True, on, guest.type), False, off, guest.type)
            return after, nic_call(scope, lines, after)

        first = None
        if self.check:
            first = read_nic_lines(api, scope)  # reads, writes nothing
        outcome = sync_object(lambda: read_nic_lines(api, scope), plan, api.send, check_mode=self.check, label=f"the NICs of {scope.label}", first=first)
        self.done.extend(outcome.calls)
