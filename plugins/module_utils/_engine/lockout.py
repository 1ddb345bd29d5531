"""Lockout analysis: would a configuration cut the operator off the nodes?

For every node and port (8006 for the API and GUI, 22 for SSH, plus extras) the client's
first packet is evaluated with the verdict engine, as the node sees it: from the client's
address to the node's address, arriving on the outside bridge, under the backend the node
runs in that configuration (host option ``nftables``), so switching a node's backend is
analysed like any other change. Each access is ``kept``, ``lost`` or ``unknown`` (a path the
engine cannot evaluate), with the trail that decided it and, for each loss, a concrete fix
naming the responsible rule, policy or built-in filter.

Modules and roles refuse a change whose report is not ``ok``. Keep in mind what decides:
on the iptables backend (reference 5.2) user rules (host before cluster) come *before* the
management exceptions, so a DROP rule for 22 locks out even hosts in the ``management``
ipset; on the nftables backend the ``management`` ipset is accepted first (skeleton chain
``default-in``), so only hosts outside it depend on the rules (docs/nftables.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .._model.objects import ClusterConfig
from .nft_chains import HOST_TABLE
from .nft_chains import MANAGEMENT_PORTS as NFT_MANAGEMENT_PORTS
from .std_chains import port_in
from .verdict import (
    ACCEPT,
    MANAGEMENT_PORTS_IN,
    UNEVALUATED,
    Endpoint,
    Environment,
    Packet,
    Step,
    Verdict,
    VerdictEngine,
)

DEFAULT_PORTS = (8006, 22)
KEPT, LOST, UNKNOWN = "kept", "lost", "unknown"


@dataclass(frozen=True)
class OperatorView:
    """How the operator reaches the cluster.

    ``clients``: the operator's address(es) as the nodes see them (after any NAT).
    ``node_addresses``: node -> the address the operator connects to; nodes not listed use
    their inventory address. ``ports``: the ports that must stay reachable, by default
    8006 and 22; ``extra_ports`` are added. ``bridge``: where the client's packets enter a
    node (default: the environment's outside bridge), for rules with ``-i``.
    """

    clients: tuple[str, ...]
    node_addresses: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[int, ...] = DEFAULT_PORTS
    extra_ports: tuple[int, ...] = ()
    bridge: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "node_addresses", MappingProxyType(dict(self.node_addresses)))
        if not self.clients:
            raise ValueError("the operator view needs at least one client address")

    def __hash__(self) -> int:
        return hash((self.clients, tuple(sorted(self.node_addresses.items())), self.ports, self.extra_ports, self.bridge))

    @property
    def all_ports(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys((*self.ports, *self.extra_ports)))


@dataclass(frozen=True)
class Access:
    """One client reaching one node on one TCP port."""

    node: str
    node_address: str
    client: str
    port: int
    status: str  # kept, lost or unknown
    verdict: Verdict
    fix: str | None = None

    @property
    def decided_by(self) -> Step | None:
        return self.verdict.decided_by

    @property
    def reason(self) -> str:
        step = self.decided_by
        return step.detail if step else "no PVE chain on the path"

    def __str__(self) -> str:
        text = f"{self.status.upper()}: {self.client} -> {self.node} ({self.node_address}) tcp/{self.port}: {self.verdict.action} - {self.reason}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text


@dataclass(frozen=True)
class LockoutReport:
    accesses: tuple[Access, ...]

    @property
    def ok(self) -> bool:
        """Every access is kept (an access the engine cannot evaluate is not ok)."""
        return all(access.status == KEPT for access in self.accesses)

    @property
    def lost(self) -> tuple[Access, ...]:
        return tuple(access for access in self.accesses if access.status == LOST)

    @property
    def unknown(self) -> tuple[Access, ...]:
        return tuple(access for access in self.accesses if access.status == UNKNOWN)

    @property
    def fixes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(access.fix for access in self.accesses if access.fix))

    def summary(self) -> str:
        kept = sum(access.status == KEPT for access in self.accesses)
        head = f"lockout check: {kept} of {len(self.accesses)} accesses kept"
        if self.ok:
            return head + "."
        problems = [str(access) for access in self.accesses if access.status != KEPT]
        return "\n".join([head + "; the change would cut off:", *(f"  {line}" for line in problems)])


def _rule_fix(step: Step, access_client: str) -> str:
    verb = "drops" if step.action == "DROP" else "rejects"
    if step.group is not None and step.group_reference is not None:
        reference = step.group_reference
        return (
            f"rule {step.position} ({step.rule}) of security group '{step.group}', used by {reference.level} rule "
            f"{reference.position} ({reference.rule}){_where(reference)}, {verb} it; move it below an ACCEPT for "
            f"{access_client} or delete it (or drop the group reference)"
        )
    return f"rule {step.position} ({step.rule}) at {step.level} level{_where(step)} {verb} it; move it below an ACCEPT for {access_client} or delete it"


def _where(step: Step) -> str:
    return f" of node {step.node}" if step.level == "host" and step.node else ""


def suggest_fix(step: Step | None, client: str, port: int, node: str) -> str:
    """A concrete change that would let ``client`` in, naming what blocks it."""
    if step is None:
        return f"nothing on the path decides; check the inventory of node {node}"
    nft = step.chain.startswith(HOST_TABLE)
    if step.kind == "rule":
        fix = _rule_fix(step, client)
        if nft and port_in(port, *NFT_MANAGEMENT_PORTS):
            fix += f", or add {client} to ipset management (node {node} runs the nftables backend, which accepts it before the rules)"
        return fix
    if step.kind == "policy":
        allow = f"add a rule 'IN ACCEPT -source {client} -p tcp -dport {port}' at cluster level (or host level of node {node})"
        if port_in(port, *MANAGEMENT_PORTS_IN):
            return f"add {client} to ipset management (cluster level), or {allow}, or set policy_in to ACCEPT"
        return f"{allow}, or set policy_in to ACCEPT"
    if "protection_synflood" in step.detail:
        return f"add {client} to ipset management (accepted before block-synflood), or set protection_synflood to 0 on node {node}"
    if "blacklist" in step.detail:
        return f"remove the entry covering {client} from the cluster ipset blacklist"
    if "smurfs" in step.detail:
        return f"{client} is a broadcast or multicast address; connect from a unicast address"
    return f"{step.detail}: change it so that {client} may reach tcp/{port}"


def _same_family(first: str, second: str) -> bool:
    return ipaddress.ip_address(first).version == ipaddress.ip_interface(second).ip.version


def analyse_lockout(config: ClusterConfig, environment: Environment, view: OperatorView, *, nodes: Iterable[str] | None = None) -> LockoutReport:
    """Every (node, client, port) of the view under ``config``; ``nodes`` limits the nodes."""
    engine = VerdictEngine(config, environment)
    inventory = environment.inventory
    names = sorted(nodes) if nodes is not None else sorted(inventory.nodes)
    accesses: list[Access] = []
    for name in names:
        node = inventory.nodes.get(name)
        address = view.node_addresses.get(name) or (node.address if node else None)
        if address is None:
            raise ValueError(f"node '{name}' has no address: give it in the inventory or the operator view")
        node_ip = str(ipaddress.ip_interface(address).ip)
        for client in view.clients:
            if not _same_family(client, node_ip):
                continue  # an IPv6 client does not reach an IPv4 node address
            for port in view.all_ports:
                packet = Packet(source=client, dest=node_ip, proto="tcp", dport=port)
                verdict = engine.evaluate(Endpoint.bridge_port(view.bridge, None, name), Endpoint.host(name), packet)
                if verdict.action == ACCEPT:
                    accesses.append(Access(name, node_ip, client, port, KEPT, verdict))
                elif verdict.action == UNEVALUATED:
                    fix = f"the path to node {name} is not evaluated by this analysis: check tcp/{port} from {client} yourself"
                    accesses.append(Access(name, node_ip, client, port, UNKNOWN, verdict, fix))
                else:
                    fix = suggest_fix(verdict.decided_by, client, port, name)
                    accesses.append(Access(name, node_ip, client, port, LOST, verdict, fix))
    if not accesses and names:
        raise ValueError("no client address is of the same IP family as a node address")
    return LockoutReport(tuple(accesses))
