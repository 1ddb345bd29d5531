"""The lockout simulation: judge each new connection as a packet through the firewall.

A connection from ``client_ip`` to a node's API (judged as tcp/8006) or SSH listener
(tcp/22) is the first packet of a new TCP connection from that address to the node's
address. The compiler's verdict engine (``_verdict.VerdictEngine``) evaluates it against the
configuration as it is on disk at that moment, under the backend each node runs (host
option ``nftables``: pve-firewall or proxmox-firewall), so a bad policy really locks a client out
until the configuration changes (for instance by the 60 s auto-revert of the cluster
``enable``). Established connections are not judged again, as with PVE's conntrack.

Every connection that is dropped or rejected leaves a line in the node's firewall log.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from typing import Protocol

from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import ACCEPT, Endpoint, Environment, Packet, VerdictEngine, VerdictError
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import ClusterConfig, GuestFirewall, Level

from .context import ClusterContext
from .errors import ApiFailure
from .fwlog import Packet as LoggedPacket
from .fwlog import format_line
from .state import FileKey

API_PORT = 8006
SSH_PORT = 22


class Judge(Protocol):
    def judge(self, client_ip: str, node: str, port: int) -> str:
        """ACCEPT, DROP or REJECT for a new tcp connection from ``client_ip`` to ``node:port``."""


@dataclass(frozen=True)
class Judgement:
    action: str
    chain: str
    kind: str  # rule, policy, builtin, pass
    detail: str


def cluster_config(ctx: ClusterContext) -> ClusterConfig:
    """The whole configuration as the daemon would load it now."""
    store, topology = ctx.store, ctx.topology
    guests = {}
    for vmid, guest in topology.guests.items():
        key = FileKey.guest(vmid)
        if store.path(key).is_file():  # a guest without a file is not filtered
            guests[vmid] = GuestFirewall(vmid, Level.VM if guest.type == "qemu" else Level.CT, store.read(key))
    return ClusterConfig(
        cluster=store.read(FileKey.cluster()),
        hosts={node: store.read(FileKey.host(node)) for node in topology.nodes},
        guests=guests,
    )


class ConfigJudge:
    """Judges with the verdict engine against the current files; logs what it refuses."""

    def __init__(self, ctx: ClusterContext) -> None:
        self._ctx = ctx
        self._loaded: ClusterConfig | None = None  # the last configuration that could be loaded

    def judgement(self, client_ip: str, node: str, port: int) -> Judgement:
        ctx = self._ctx
        node_address = ctx.topology.nodes[node].address
        if client_ip == node_address:
            return Judgement(ACCEPT, "PVEFW-HOST-IN", "builtin", "local traffic (-i lo)")
        try:
            self._loaded = cluster_config(ctx)
        except ApiFailure as error:
            # pve-firewall's update loop logs a configuration it cannot load and keeps the ruleset
            # it applied last (PVE::Service::pve_firewall::run: an eval around update()).
            if self._loaded is None:
                return Judgement(ACCEPT, "-", "pass", f"no ruleset loaded yet: {error}")
        engine = VerdictEngine(self._loaded, Environment(ctx.topology.inventory, now=ctx.clock.now()))
        packet = Packet(source=client_ip, dest=node_address, proto="tcp", dport=port, sport=random.randint(32768, 60999))
        try:
            verdict = engine.evaluate(Endpoint.at_address(client_ip), Endpoint.host(node), packet)
        except VerdictError as error:
            print(f"pve-emulator: cannot judge {client_ip} -> {node}:{port}: {error}; accepting", file=sys.stderr)
            return Judgement(ACCEPT, "-", "pass", str(error))
        step = verdict.decided_by
        action = verdict.action if verdict.action in ("ACCEPT", "DROP", "REJECT") else ACCEPT
        return Judgement(action, step.chain if step else "-", step.kind if step else "pass", step.detail if step else "")

    def judge(self, client_ip: str, node: str, port: int) -> str:
        judgement = self.judgement(client_ip, node, port)
        if judgement.action != ACCEPT:
            self._log(client_ip, node, port, judgement)
        return judgement.action

    def _log(self, client_ip: str, node: str, port: int, judgement: Judgement) -> None:
        ctx = self._ctx
        host = ctx.store.read(FileKey.host(node))
        level = str(host.options.get("log_level_in") or "info")
        prefix = f"policy {judgement.action}: " if judgement.kind == "policy" else f"{judgement.action}: "
        packet = LoggedPacket(src=client_ip, dst=ctx.topology.nodes[node].address, dport=port)
        line = format_line(vmid=0, level="info" if level == "nolog" else level, chain=judgement.chain, prefix=prefix, packet=packet, epoch=ctx.clock.now())
        ctx.logs.append(node, [line])
