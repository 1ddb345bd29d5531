"""O(lockout_check): whether the operator keeps access to every node."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._api.service import FirewallApi
from .._engine.lockout import LockoutReport, OperatorView, analyse_lockout
from .._engine.verdict import Environment, VerdictError
from .._model.objects import ClusterConfig
from .errors import SimulationError


def check_lockout(config: ClusterConfig, environment: Environment, check: Mapping[str, Any], api: FirewallApi | None) -> LockoutReport:
    operator = clients(check, api)
    try:
        view = OperatorView(operator, check["node_addresses"], tuple(check["ports"]), tuple(check["extra_ports"]))
        return analyse_lockout(config, environment, view, nodes=check["nodes"])
    except (ValueError, VerdictError) as error:
        raise SimulationError(f"lockout_check: {error}") from None


def clients(check: Mapping[str, Any], api: FirewallApi | None) -> tuple[str, ...]:
    """The given clients, or with source live the address of this module's own connection
    (no NAT in between assumed)."""
    given = tuple(check["clients"] or ())
    if given:
        return given
    own = api.transport.local_address() if api is not None else None
    if own is None:
        raise SimulationError("lockout_check.clients: required with source=files (with source=live it defaults to this host's address)")
    return (own,)
