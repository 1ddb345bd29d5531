"""Which ``.fw`` file an endpoint works on, resolved from its path parameters.

Unknown nodes, guests and vnets fail the way PVE fails for them (HTTP 500 messages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Guest
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Level

from .context import Call
from .errors import ApiFailure
from .state import FileKey

_CONFIG_DIRS = {"qemu": "qemu-server", "lxc": "lxc"}


@dataclass(frozen=True)
class Target:
    key: FileKey
    level: Level  # the rule_env of the file's [RULES]
    option_level: str  # the options table: cluster, host, vm or vnet
    guest: Guest | None = None

    @property
    def has_own_refs(self) -> bool:
        """Guest files have their own aliases and ipsets; the others see only the cluster's."""
        return self.guest is not None


TargetResolver = Callable[[Call], Target]


def cluster_target(call: Call) -> Target:
    return Target(FileKey.cluster(), Level.CLUSTER, "cluster")


def check_node(call: Call) -> str:
    node = call.params["node"]
    if node not in call.ctx.topology.nodes:
        raise ApiFailure(f"hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known")
    return node


def host_target(call: Call) -> Target:
    return Target(FileKey.host(check_node(call)), Level.HOST, "host")


def guest_target(guest_type: str) -> TargetResolver:
    """Resolver for /nodes/{node}/qemu|lxc/{vmid}/...: the guest must be that type on that node."""

    def resolve(call: Call) -> Target:
        node = check_node(call)
        vmid = int(call.params["vmid"])
        guest = call.ctx.topology.guests.get(vmid)
        if guest is None or guest.node != node or guest.type != guest_type:
            raise ApiFailure(f"Configuration file 'nodes/{node}/{_CONFIG_DIRS[guest_type]}/{vmid}.conf' does not exist")
        return Target(FileKey.guest(vmid), Level.VM if guest_type == "qemu" else Level.CT, "vm", guest)

    return resolve


def vnet_target(call: Call) -> Target:
    vnet = call.params["vnet"]
    if vnet not in call.ctx.topology.vnets:
        raise ApiFailure("invalid vnet specified")
    return Target(FileKey.vnet(vnet), Level.VNET, "vnet")
