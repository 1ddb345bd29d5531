"""The emulator as one object: state, topology, auth, knobs and the listeners of every node.

``Emulator(config).start()`` serves in background threads (in-process use: fixtures,
benchmarks); ``pve_emulator.py`` wraps it in a command line that runs until a signal.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .auth import Auth, Token
from .context import ClusterContext
from .control import ControlApi
from .dispatch import Dispatcher
from .endpoints import build_endpoints
from .fwlog import FirewallLog
from .knobs import Clock, FaultPlan, RequestLog, Settings
from .lockout import ConfigJudge
from .routes import Router
from .server import ApiServer, SshServer
from .state import FileStore
from .tls import TlsFiles, make_tls
from .topology import Topology, consecutive_addresses, default_topology

DEFAULT_USER = "root@pam"
DEFAULT_PASSWORD = "emulator"


@dataclass(frozen=True)
class EmulatorConfig:
    state_dir: Path
    topology: Topology = field(default_factory=default_topology)
    tls: bool = False
    tokens: tuple[Token, ...] = ()
    users: tuple[tuple[str, str], ...] = ((DEFAULT_USER, DEFAULT_PASSWORD),)
    listen_base: str | None = None  # None: the node addresses of the topology
    port: int = 8006  # 0: a free port (the same on every node)
    ssh_port: int = 2222  # 0: a free port; -1: no SSH listeners
    control_host: str = "127.0.0.1"
    control_port: int = 0  # 0: a free port
    judging: bool = True  # the lockout simulation
    latency: float = 0.0
    verbose: bool = False


@dataclass(frozen=True)
class NodeEndpoint:
    node: str
    host: str
    api_port: int
    ssh_port: int | None
    scheme: str

    @property
    def api_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.api_port}/api2/json"


def _bind_same_port(addresses: list[str], port: int, make: Any, attempts: int = 20) -> list[Any]:
    """Bind one server per address on one port; with port 0 find one free on all addresses."""
    for _attempt in range(attempts if port == 0 else 1):
        servers: list[Any] = []
        try:
            first = make((addresses[0], port))
            servers.append(first)
            chosen = first.server_address[1]
            servers += [make((address, chosen)) for address in addresses[1:]]
            return servers
        except OSError:
            for server in servers:
                server.server_close()
            if port != 0:
                raise
    raise OSError(f"no common free port on {', '.join(addresses)}")


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        addresses = consecutive_addresses(config.listen_base, len(config.topology.nodes)) if config.listen_base else None
        topology = config.topology.with_addresses(addresses) if addresses else config.topology
        self.clock = Clock()
        self.settings = Settings(latency=config.latency, judging=config.judging)
        self.faults = FaultPlan()
        self.request_log = RequestLog()
        # Bumped by reset: a request still waiting out a stall from before is for a cluster
        # that no longer exists, so it is dropped rather than landing in the next test's state.
        self.generation = 0
        self.verbose = config.verbose
        state_dir = Path(config.state_dir)
        self.ctx = ClusterContext(FileStore(state_dir, self.clock, self.settings), topology, self.clock, FirewallLog(state_dir / "log"))
        tokens = list(config.tokens)
        self.auth = Auth(self.clock, dict(config.users), tokens)
        self.router = Router(build_endpoints())
        self.dispatcher = Dispatcher(self.router, self.ctx, self.auth)
        self.control = ControlApi(self)
        self.judge = ConfigJudge(self.ctx)
        self.tls_files: TlsFiles | None = None
        self.endpoints: list[NodeEndpoint] = []
        self.control_url = ""
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Emulator:
        config, nodes = self.config, self.ctx.topology.nodes
        if config.tls:
            self.tls_files = make_tls(Path(config.state_dir), addresses=[node.address for node in nodes.values()], names=list(nodes))
        tls_context = self.tls_files.server_context() if self.tls_files else None
        names, addresses = list(nodes), [node.address for node in nodes.values()]
        try:
            api = _bind_same_port(addresses, config.port, lambda address: ApiServer(address, self, names[addresses.index(address[0])], tls_context))
            ssh = (
                []
                if config.ssh_port < 0
                else _bind_same_port(addresses, config.ssh_port, lambda address: SshServer(address, self, names[addresses.index(address[0])]))
            )
            control = ApiServer((config.control_host, config.control_port), self, None, None)
        except OSError:
            self.stop()
            raise
        self._servers = [*api, *ssh, control]
        scheme = "https" if tls_context else "http"
        self.endpoints = [
            NodeEndpoint(name, server.server_address[0], server.server_address[1], ssh[index].server_address[1] if ssh else None, scheme)
            for index, (name, server) in enumerate(zip(names, api))
        ]
        self.control_url = f"http://{control.server_address[0]}:{control.server_address[1]}{'/_emulator'}"
        for server in self._servers:
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name=f"pve-emulator {server.server_address}"
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- knobs ----------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to an empty cluster: files, guest configs, logs, request log, faults, clock, settings."""
        self.generation += 1
        self.ctx.store.wipe()
        self.ctx.configs.reset()
        self.ctx.logs.clear()
        self.request_log.reset()
        self.faults.clear()
        self.clock.reset()
        self.settings.update({"latency": self.config.latency, "lock_timeout": 10.0, "judging": self.config.judging})

    def status(self) -> dict[str, Any]:
        topology = self.ctx.topology
        return {
            "nodes": [asdict(endpoint) | {"api_url": endpoint.api_url} for endpoint in self.endpoints],
            "control_url": self.control_url,
            "ca": str(self.tls_files.ca) if self.tls_files else None,
            "fingerprint": self.tls_files.fingerprint if self.tls_files else None,
            "state_dir": str(self.ctx.store.root),
            "guests": [{"vmid": guest.vmid, "type": guest.type, "node": guest.node, "name": guest.name} for guest in topology.guests.values()],
            "vnets": [{"vnet": vnet.name, "zone": vnet.zone} for vnet in topology.vnets.values()],
            "clock": {"now": self.clock.now(), "offset": self.clock.offset},
            "settings": asdict(self.settings),
            "users": sorted(self.auth.users),
            "tokens": [{"id": token.full_id, "read_only": token.read_only} for token in self.auth.tokens],
        }
