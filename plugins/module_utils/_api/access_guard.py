"""Guarding the operator's access around changes that can cut it off.

Before a change that can decide whether the nodes accept new connections (the rules, groups,
IP sets and aliases of the datacenter and the nodes, and the options ``enable``, the input and
output policies and the backend switch), the datacenter's and every node's firewall is read,
the change laid over it offline (``_plan/config_change``), and the lockout analysis asks
whether the operator still reaches every node on the management ports. Enabling the cluster
firewall through PVE's auto-revert is ``auto_revert``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._engine.lockout import DEFAULT_PORTS, LockoutReport, OperatorView, analyse_lockout
from .._engine.sdn import may_name_sdn_sets
from .._engine.verdict import Environment, VerdictError
from .._model.errors import PveFirewallError
from .._model.inventory import Inventory, Node
from .._model.objects import ClusterConfig, OptionValue
from .._plan.config_change import ConfigChange, with_options
from .service import FirewallApi, Scope, serving_node

# Options whose change can decide whether a node accepts the operator's connections.
ACCESS_OPTIONS = {"cluster": frozenset({"enable", "policy_in", "policy_out"}), "node": frozenset({"enable", "nftables"})}


class LockoutRefused(PveFirewallError):
    """The change would cut the operator off; carries the report."""

    def __init__(self, report: LockoutReport, stage: str | None = None) -> None:
        where = f"on the way, after the step '{stage}': " if stage else ""
        super().__init__(f"refused: {where}{report.summary()} (set allow_lockout to apply it anyway)")
        self.report = report
        self.stage = stage


class AccessCheckError(PveFirewallError):
    """The lockout analysis cannot be made (no client address, a question the engine refuses)."""


def touches_access(scope: Scope, changed: Mapping[str, OptionValue], deleted: Sequence[str]) -> bool:
    keys = ACCESS_OPTIONS.get(scope.level, frozenset())
    return bool(keys & (set(changed) | set(deleted)))


def report_dict(report: LockoutReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "summary": report.summary(),
        "accesses": [
            {"node": access.node, "node_address": access.node_address, "client": access.client, "port": access.port, "status": access.status, "fix": access.fix}
            for access in report.accesses
        ],
    }


@dataclass(frozen=True)
class AccessView:
    """Who must keep access: the client addresses and the ports, as the options say."""

    clients: tuple[str, ...] = ()
    ports: tuple[int, ...] = DEFAULT_PORTS


@dataclass(frozen=True)
class Gathered:
    """What a caller already read: the nodes with their addresses and networks, and the
    datacenter's and nodes' files. The analysis then reads only the cluster status."""

    nodes: Mapping[str, Node]
    config: ClusterConfig


def analyse_access(api: FirewallApi, change: ConfigChange, view: AccessView, gathered: Gathered | None = None) -> LockoutReport:
    """The lockout report of the cluster as ``change`` would make it."""
    return analyse_stages(api, [change], view, gathered)[0]


def analyse_stages(api: FirewallApi, changes: Sequence[ConfigChange], view: AccessView, gathered: Gathered | None = None) -> list[LockoutReport]:
    """The lockout report of each configuration ``changes`` make, in their order, up to the
    first that loses an access. Reads (unless ``gathered``) the datacenter's and every node's
    file, the cluster status and the nodes' networks: guest and vnet rules cannot block a node,
    so they are not read."""
    status = api.cluster_status()
    nodes = dict(gathered.nodes) if gathered is not None else api.node_addresses(status)
    local = api.transport.local_address()
    clients = view.clients or ((local,) if local else ())
    if not clients:
        raise AccessCheckError("cannot tell this client's address; give lockout_clients")
    config = gathered.config if gathered is not None else api.gather(Inventory(nodes, {}), nodes=sorted(nodes), vnets=False)
    serving = serving_node(status)
    node_addresses = {serving: api.transport.peer_address() or nodes[serving].address} if serving in nodes else {}
    operator = OperatorView(tuple(clients), node_addresses, tuple(view.ports))
    configs = [change(config) for change in changes]
    # a host or datacenter rule may name an SDN set: read what the sets are made of, else the
    # engine leaves such a rule out and may judge access wrongly
    sdn = api.sdn() if any(may_name_sdn_sets(each) for each in (config, *configs)) else None
    environment = Environment(Inventory(nodes, {}, sdn=sdn))
    reports: list[LockoutReport] = []
    try:
        for changed in configs:
            reports.append(analyse_lockout(changed, environment, operator))
            if not reports[-1].ok:
                break
    except VerdictError as error:
        raise AccessCheckError(f"lockout analysis: {error}") from None
    return reports


def options_change(scope: Scope, after: Mapping[str, OptionValue]) -> ConfigChange:
    """The datacenter's or a node's options becoming ``after``."""
    return with_options(None if scope.level == "cluster" else str(scope.node), after)
