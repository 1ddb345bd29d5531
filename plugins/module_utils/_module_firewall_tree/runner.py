"""The run of firewall_tree: one gather, the whole tree validated, the lockout analysis of the
whole change, then the steps in the safe order, files written in parallel."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .._api.parallel import ConnectionPool, Job, Lease, run_jobs
from .._api.service import FirewallApi
from .._compiler.api_mapping import ApiCall
from .._compiler.fw_format import render_fw
from .._compiler.normalise import normalise_file
from .._model.errors import FieldError, PveFirewallError, raise_if_errors
from .._model.inventory import Inventory
from .._model.objects import ClusterConfig, FirewallFile
from .._module_kit.access import AccessGuard
from .._module_kit.connections import connection_pool, parallel_problems
from .._module_kit.report import ModuleContext, Report
from .._module_kit.runner import connect
from .._plan.config_change import ConfigChange
from .._plan.group_changes import late_groups
from .._plan.rollout_stages import Stage, step_stages
from .._plan.set_entries import deny_sets
from .._plan.tree import (
    Tree,
    apply_tree,
    canonical_config,
    file_changes,
    nic_flag_changes,
    reaches_every_file,
    touches_node_access,
    tree_from_user,
    tree_problems,
    unknown_objects,
)
from .._plan.tree_steps import STAGES, Step, plan_steps, stage_config
from .writes import RunContext, StepFailed, StepWriter


class TreeWriteFailed(PveFirewallError):
    """Steps failed; the others that were under way finished, none started after the failure."""

    def __init__(self, failures: list[tuple[Step, str]], written: list[ApiCall], not_started: list[str]) -> None:
        self.failures = failures
        self.written = written
        self.not_started = not_started
        first = "; ".join(message for _step, message in failures)
        count = len(written)
        super().__init__(f"{first} (after {count} successful write{'s' if count != 1 else ''}; a rerun converges from here)")

    def result_details(self) -> dict[str, Any]:
        return {
            "changed": bool(self.written),
            "commands": [str(call) for call in self.written],
            "failed_steps": [
                {"file": step.file.label, "path": step.file.path, "part": step.part, "name": step.name, "message": message} for step, message in self.failures
            ],
            "not_started": self.not_started,
        }


def exact_options(config: ClusterConfig, tree: Tree) -> ClusterConfig:
    """The files whose options the tree lists with exactly those options (keys it does not
    list reset), as ``firewall_options`` with ``exact`` does."""

    def exact(fw: FirewallFile, listed: FirewallFile) -> FirewallFile:
        return replace(fw, options=dict(normalise_file(listed).options))

    cluster = exact(config.cluster, tree.cluster.file) if tree.cluster is not None and "options" in tree.cluster.parts else config.cluster
    hosts = {node: exact(fw, tree.hosts[node].file) if node in tree.hosts and "options" in tree.hosts[node].parts else fw for node, fw in config.hosts.items()}
    guests = {
        vmid: replace(guest, file=exact(guest.file, tree.guests[vmid].file)) if vmid in tree.guests and "options" in tree.guests[vmid].parts else guest
        for vmid, guest in config.guests.items()
    }
    vnets = {vnet: exact(fw, tree.vnets[vnet].file) if vnet in tree.vnets and "options" in tree.vnets[vnet].parts else fw for vnet, fw in config.vnets.items()}
    return ClusterConfig(cluster, hosts, guests, vnets)


def _enabled(config: ClusterConfig) -> bool:
    return int(config.cluster.options.get("enable") or 0) > 0


def _file_text(changes: list[Any], side: str) -> str:
    return "".join(f"# {change.path}\n{render_fw(getattr(change, side))}\n" for change in changes)


class FirewallTree:
    """One run: validate, gather, check access, plan the steps, write them (or only plan)."""

    def __init__(self, module: ModuleContext) -> None:
        self.module = module
        self.params = module.params
        self.report = Report(module)
        self.access = AccessGuard(self.params, self.report)

    def checked_input(self) -> tuple[Tree, tuple[str, ...]]:
        """The tree and the stages, every problem named before the first request."""
        tree, errors = tree_from_user(self.params["tree"], "tree")
        stages = tuple(self.params["stages"] or STAGES)
        errors += [
            FieldError(f"stages[{index}]", "stages", stage, f"no stage {stage!r}", ", ".join(STAGES))
            for index, stage in enumerate(stages)
            if stage not in STAGES
        ]
        errors += parallel_problems(self.params)
        raise_if_errors(errors)
        return tree, tuple(stage for stage in STAGES if stage in stages)

    def run(self) -> dict[str, Any]:
        tree, stages = self.checked_input()
        self.access.validate()
        with connect(self.module) as api, connection_pool(api, self.params) as pool:
            return self.apply(api, pool, tree, stages)

    def apply(self, api: FirewallApi, pool: ConnectionPool, tree: Tree, stages: tuple[str, ...]) -> dict[str, Any]:
        params = self.params
        # the one gather: its reads of different files go at once, over the pool the writes use;
        # the whole cluster when the tree can change what other files mean, else the datacenter,
        # the nodes and what the tree names
        if reaches_every_file(tree, bool(params["prune"])):
            inventory = api.inventory(fan_out=pool.fan_out)
            before = canonical_config(api.gather(inventory, fan_out=pool.fan_out))
            vnets = tuple(sorted(before.vnets))
        else:
            inventory = api.inventory(fan_out=pool.fan_out, guests={*tree.guests, *tree.nic_firewall})
            vnets = tuple(api.vnet_names()) if tree.vnets else ()
            before = canonical_config(api.gather(inventory, vnets=[vnet for vnet in tree.vnets if vnet in vnets], fan_out=pool.fan_out))
        unknown = unknown_objects(tree, inventory, vnets)
        full = apply_tree(before, tree, inventory, params["rules_state"], params["prune"])
        if params["exact_options"]:
            full = exact_options(full, tree)
        # every problem at once: the objects the cluster lacks and what the tree gets wrong
        raise_if_errors([*unknown, *tree_problems(tree, before, full)])
        # the sets rules only deny and the groups the change only narrows, judged on the whole
        # change: every call of a rollout agrees on the order
        deny, late = deny_sets(before, full), late_groups(before, full)
        target = canonical_config(stage_config(before, full, stages, deny, late))
        nics = nic_flag_changes(inventory, tree) if "guests" in stages else []
        joint = bool(params["exact_options"]) and {"cluster_options", "enable"} <= set(stages)
        steps = plan_steps(before, target, nics, joint_enable=joint, deny=deny, late=late)
        changes = file_changes(before, target)
        if touches_node_access(changes) and (_enabled(before) or _enabled(target)):
            self.judge_steps(api, inventory, before, target, steps, joint)
        context = RunContext(
            before=before,
            after=target,
            inventory=inventory,
            desired_rules=self.desired_rules(tree),
            nic_flags=dict(tree.nic_firewall),
            rules_state=params["rules_state"],
            exact=bool(params["exact_options"]),
            joint_enable=joint,
            auto_revert=bool(params["auto_revert"]),
            check_mode=bool(self.module.check_mode),
        )
        calls = self.carry_out(api, pool, steps, context)
        self.report.record([call for step in steps for call in calls.get(step.id, ())], _file_text(changes, "before"), _file_text(changes, "after"))
        return self.report.result(files=self.summaries(steps, calls, changes), stages=list(stages), nics=nics)

    def judge_steps(self, api: FirewallApi, inventory: Inventory, before: ClusterConfig, target: ClusterConfig, steps: tuple[Step, ...], joint: bool) -> None:
        """The lockout analysis of every configuration the writes pass through, from what the
        gather read: a step that cuts an access off refuses the whole call before any write."""
        from .._api.access_guard import Gathered  # pylint: disable=import-outside-toplevel

        def overlay(stage: Stage) -> ConfigChange:
            return lambda config: replace(config, cluster=stage.config.cluster, hosts={**config.hosts, **stage.config.hosts})

        stages = step_stages(before, target, steps, joint_enable=joint)
        self.access.check_steps(api, [(stage.label, overlay(stage)) for stage in stages], Gathered(inventory.nodes, before))

    @staticmethod
    def desired_rules(tree: Tree) -> dict[str, tuple[Any, ...]]:
        """The rule list each file of the tree names, normalised, by file label (for merged)."""
        found: dict[str, tuple[Any, ...]] = {}
        if tree.cluster is not None:
            found["cluster"] = normalise_file(tree.cluster.file).rules
        found.update({f"node {node}": normalise_file(desired.file).rules for node, desired in tree.hosts.items()})
        found.update({f"vnet {vnet}": normalise_file(desired.file).rules for vnet, desired in tree.vnets.items()})
        for vmid, desired in tree.guests.items():
            rules = normalise_file(desired.file).rules
            found[f"vm {vmid}"] = found[f"ct {vmid}"] = rules
        return found

    def carry_out(self, api: FirewallApi, pool: ConnectionPool, steps: tuple[Step, ...], context: RunContext) -> dict[str, tuple[ApiCall, ...]]:
        writers = {step.id: StepWriter(context, step) for step in steps}
        if context.check_mode:
            lease = Lease(api, ConnectionPool(api, 1))
            return {step.id: writers[step.id].run(lease) for step in steps}
        outcome = run_jobs([Job(step.id, step.lock, writers[step.id].run, step.after) for step in steps], pool)
        if not outcome.failures:
            self.report.values["most_at_once"] = outcome.most_at_once
            return outcome.results
        failures: list[tuple[Step, str]] = []
        written: list[ApiCall] = []
        by_id = {step.id: step for step in steps}
        failed = dict(outcome.failures)
        for step in steps:
            if step.id in outcome.results:
                written += outcome.results[step.id]
            elif step.id in failed:
                error = failed[step.id]
                if not isinstance(error, PveFirewallError):
                    raise error  # a bug: keep its traceback
                written += error.done if isinstance(error, StepFailed) else writers[step.id].done
                failures.append((by_id[step.id], str(error)))
        raise TreeWriteFailed(failures, written, outcome.not_started)

    @staticmethod
    def summaries(steps: tuple[Step, ...], calls: dict[str, tuple[ApiCall, ...]], changes: list[Any]) -> dict[str, dict[str, Any]]:
        """Per file: where PVE keeps it, the parts written, how many calls."""
        files: dict[str, dict[str, Any]] = {change.label: {"path": change.path, "parts": [], "commands": 0} for change in changes}
        for step in steps:
            made = calls.get(step.id, ())
            entry = files.setdefault(step.file.label, {"path": step.file.path, "parts": [], "commands": 0})
            if made:
                part = step.part + (f" {step.name}" if step.name else "")
                entry["parts"].append(part)
                entry["commands"] += len(made)
        return files
