"""The run of firewall_simulate: load, lay the changes over, answer the packets and the
lockout check, and report."""

from __future__ import annotations

from typing import Any

from ansible.module_utils.basic import AnsibleModule

from .._api.service import FanOut, FirewallApi
from .._engine.verdict import Environment, VerdictEngine
from .._model.errors import raise_if_errors
from .._module_kit.connections import connection_pool, parallel_problems
from .._module_kit.runner import ModuleFailure, connect
from .changes import apply_changes
from .errors import SimulationError
from .loading import FILE_SOURCES, load, load_corosync, with_sdn
from .lockout_check import check_lockout
from .packets import ask
from .results import changes_diff, changes_result, failed_expectations, failure_message, lockout_result, nodes_result, packet_result, with_stages


def run(module: AnsibleModule) -> dict[str, Any]:
    """The result; a failed expectation, or a lost access with fail_on_lockout, fails the
    task with the whole result."""
    output, warnings = _simulate_from_source(module)
    for warning in warnings:
        module.warn(warning)
    check = module.params["lockout_check"]
    message = failure_message(output, bool(check and check["fail_on_lockout"]))
    if message is not None:
        raise ModuleFailure(message, **output)
    return output


def _simulate_from_source(module: AnsibleModule) -> tuple[dict[str, Any], tuple[str, ...]]:
    if module.params["source"] != "live":
        return simulate(module, None)
    given = [option for option in FILE_SOURCES if module.params[option] is not None]
    if given:
        raise SimulationError(f"source=live reads the configuration from the cluster; {', '.join(given)} cannot be given with it")
    raise_if_errors(parallel_problems(module.params))
    with connect(module) as api, connection_pool(api, module.params) as pool:
        return simulate(module, api, pool.fan_out)


def simulate(module: AnsibleModule, api: FirewallApi | None, fan_out: FanOut | None = None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The result and the warnings; ``api`` is the connection with source live, else None;
    ``fan_out`` runs its reads of different files at once."""
    params = module.params
    loaded = load(params, api, fan_out)
    config, inventory = loaded.config, loaded.inventory
    applied = None
    if params["changes"] is not None:
        applied = apply_changes(params, config, inventory)
        config, inventory = applied.config, applied.inventory
    inventory = with_sdn(config, inventory, api)
    environment = Environment(inventory, load_corosync(params, inventory, api), params["now"])
    engine = VerdictEngine(config, environment)
    results = [packet_result(ask(engine, inventory, index, spec)) for index, spec in enumerate(params["packets"])]
    output: dict[str, Any] = {"changed": False, "results": results, "failed_expectations": failed_expectations(results), "nodes": nodes_result(inventory)}
    if applied is not None:
        output["changes"] = changes_result(applied)
        if module._diff and applied.files:  # pylint: disable=protected-access
            output["diff"] = changes_diff(applied)
    check = params["lockout_check"]
    if check is not None:
        output["lockout"] = lockout_result(check_lockout(config, environment, check, api))
        if check["stages"] and applied is not None:
            reports = [(stage.label, check_lockout(stage.config, environment, check, api)) for stage in applied.stages]
            output["lockout"] = with_stages(output["lockout"], reports)
    return output, loaded.warnings
