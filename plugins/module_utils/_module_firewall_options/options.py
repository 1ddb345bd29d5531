"""The backend of the firewall_options module: options at every level, the access guard on
the options that decide whether a node accepts connections, the auto-revert of the datacenter
``enable``, and at a guest level the ``firewall`` flag of its NICs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._api.auto_revert import AUTO_REVERT_ENABLE, enable_with_auto_revert
from .._api.guest_nics import NIC_KEY, NicLines, diff_text, read_nic_lines, sync_nic_firewall, unknown_nics
from .._api.service import FirewallApi, Scope, Snapshot
from .._api.sync import sync_object
from .._api.transport import PveApiError
from .._compiler.api_mapping import ApiCall, options_to_api
from .._compiler.options import option_spec
from .._compiler.user_input import options_from_user
from .._model.errors import FieldError, raise_if_errors
from .._model.levels import GUEST_LEVEL_NAMES
from .._model.objects import OptionValue
from .._module_kit.access import AccessGuard
from .._module_kit.fw_text import fw_text
from .._module_kit.report import ModuleContext, Report
from .._module_kit.runner import connect, scope_from_params
from .._plan.planner import OptionsPlan, plan_options

# The access guard's helpers are imported in the functions that use them: they load the
# verdict engine, which only a change of the options that decide access, or the auto-revert,
# needs.


class FirewallOptions:
    """One run: validate, read, plan one PUT, guard access, write; at a guest level then the
    NICs' firewall flag in one PUT of the guest config."""

    def __init__(self, module: ModuleContext) -> None:
        self.module = module
        self.params = module.params
        self.report = Report(module)
        self.access = AccessGuard(self.params, self.report)

    def desired(self, level: str) -> tuple[dict[str, Any], list[str]]:
        options, errors = options_from_user(level, self.params["options"], "options")
        reset = list(dict.fromkeys(self.params["reset"]))
        for key in reset:
            if option_spec(level, key) is None:
                errors.append(FieldError("reset", "reset", key, f"no such option '{key}'", f"an option of the {level} level"))
            elif key in (self.params["options"] or {}):
                errors.append(FieldError("reset", "reset", key, f"option '{key}' is both set and reset", "each key in options or in reset"))
        if self.params["exact"] and reset:
            errors.append(FieldError("reset", "reset", reset, "exact resets every key options does not list", "exact or reset, not both"))
        if self.params["arm_auto_revert"]:
            if self.params["level"] != "cluster":
                message = f"only valid at level cluster (level is {self.params['level']})"
                errors.append(FieldError("arm_auto_revert", "arm_auto_revert", True, message, "level: cluster"))
            elif "enable" in (self.params["options"] or {}) or "enable" in reset:
                errors.append(FieldError("arm_auto_revert", "arm_auto_revert", True, "cannot be combined with enable in options or reset", "one of them"))
            elif self.params["exact"]:
                errors.append(FieldError("arm_auto_revert", "arm_auto_revert", True, "cannot be combined with exact", "one of them"))
            options["enable"] = AUTO_REVERT_ENABLE
        raise_if_errors(errors)
        return options, reset

    def plan(self, current: Mapping[str, OptionValue], options: Mapping[str, OptionValue], reset: list[str]) -> OptionsPlan[OptionValue]:
        """The PUT for ``current``. With exact, every key ``options`` does not list is reset,
        planned anew from each read: a key another writer adds before the write goes too, so
        the options end as the guard judged them (exactly ``options``)."""
        if self.params["exact"]:
            reset = [key for key in current if key not in options]
        return plan_options(current, options, reset)

    def check_nic_input(self) -> None:
        """nic_firewall and nics belong to a guest level, and name NICs by their config key."""
        level = self.params["level"]
        errors = [
            FieldError(key, key, self.params[key], f"only valid at level vm or ct (level is {level})", "level: vm or level: ct")
            for key in ("nic_firewall", "nics")
            if self.params[key] is not None and level not in GUEST_LEVEL_NAMES
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
        if self.params["warn_unfiltered"]:  # off: a later task of the same run turns the datacenter on
            self.warn_if_datacenter_off(api, scope)
        if self.params["nic_firewall"] is True and not guest_options.get("enable"):
            self.module.warn(
                f"the firewall of {scope.label} is off (its options have no enable: 1), so its NICs stay unfiltered; add options: {{enable: true}}"
            )

    def warn_if_datacenter_off(self, api: FirewallApi, scope: Scope) -> None:
        try:
            datacenter = api.read_options(Scope("cluster")).items
        except PveApiError as error:
            self.module.warn(f"could not check that the datacenter firewall is on: {error}")
            return
        if not datacenter.get("enable"):
            self.module.warn(
                f"the datacenter firewall is off (cluster option enable), so PVE filters no guest and {scope.label} stays unfiltered "
                "whatever its options and NICs say; turn it on with a task at level: cluster with options: {enable: true} "
                "(a guest-level task leaves the datacenter alone)"
            )

    def sync_nics(self, api: FirewallApi, scope: Scope, first: Snapshot[NicLines]) -> None:
        """Set or clear the NICs' flag, after the options were written."""
        wanted = bool(self.params["nic_firewall"])
        outcome = self.report.sync(lambda: sync_nic_firewall(api, scope, wanted, self.params["nics"], check_mode=self.module.check_mode, first=first))
        path = scope.config_path

        def following(text: str, lines: NicLines) -> str:  # a blank line after the [OPTIONS] text
            added = diff_text(lines, path)
            return "\n" + added if text and added and not text.endswith("\n\n") else added

        self.report.diff(lambda: following(self.report.before_text, outcome.before), lambda: following(self.report.after_text, outcome.after))
        self.report.values["nics_before"] = outcome.before
        self.report.values["nics_after"] = outcome.after

    def guard(self, api: FirewallApi, scope: Scope, current: Mapping[str, OptionValue], plan: OptionsPlan[OptionValue]) -> None:
        """Judge a planned change of the options that decide whether a node accepts connections."""
        from .._api.access_guard import options_change, touches_access  # pylint: disable=import-outside-toplevel

        if not touches_access(scope, plan.set, plan.delete):
            return
        after = {key: value for key, value in current.items() if key not in plan.delete}
        after.update(plan.set)
        if int(after.get("enable") or 0) > 1:
            after["enable"] = 1  # a fresh auto-revert timestamp: the firewall is on
        self.access.check(api, options_change(scope, after))

    def run(self) -> dict[str, Any]:
        self.access.validate()
        with connect(self.module) as api:
            return self.apply(api)

    def apply(self, api: FirewallApi) -> dict[str, Any]:
        self.check_nic_input()
        scope = scope_from_params(api, self.params)
        options, reset = self.desired(scope.option_level)
        nics_first: Snapshot[NicLines] | None = None
        if self.params["nic_firewall"] is not None:
            nics_first = self.read_nics(api, scope)
        path = scope.options_path
        first = api.read_options(scope)
        plan = self.plan(first.items, options, reset)
        if not plan.is_empty:
            self.guard(api, scope, first.items, plan)
        made: list[ApiCall] = []

        def send(call: ApiCall, digest: Any) -> None:
            enabling = scope.level == "cluster" and str(call.params.get("enable")) == "1" and self.params["auto_revert"]
            if enabling:
                made.extend(enable_with_auto_revert(api, call, digest))
            else:
                api.send(call, digest)
                made.append(call)

        def planned(current: dict[str, OptionValue]) -> tuple[dict[str, OptionValue], ApiCall | None]:
            changes = self.plan(current, options, reset)
            after = {key: value for key, value in current.items() if key not in changes.delete}
            after.update(changes.set)
            return after, None if changes.is_empty else ApiCall("PUT", path, options_to_api(scope.option_level, changes.set, changes.delete))

        outcome = sync_object(
            lambda: api.read_options(scope),
            planned,
            send,
            check_mode=self.module.check_mode,
            label=f"the options of {scope.label}",
            first=first,
        )
        calls = made if made else list(outcome.calls)
        kind = scope.file_kind
        self.report.record(calls)
        self.report.diff(lambda: fw_text(kind, options=outcome.before), lambda: fw_text(kind, options=outcome.after))
        if scope.kind.is_guest:
            self.warn_if_unprotected(api, scope, options, outcome.after)
        if nics_first is not None:
            self.sync_nics(api, scope, nics_first)
        return self.report.result(before=outcome.before, after=outcome.after)
