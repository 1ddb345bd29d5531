"""The fixed environment of PVE's firewall test suite (reference 6.1-6.2).

PVE's simulator (``test/fwtester.pl``) evaluates every test directory against one node
(172.16.1.2, ``local_network`` 172.16.1.0/24), a fixed set of guests and a 4-node corosync
membership. The conformance runner uses it for every test directory, and the offline
``firewall_simulate`` module when no inventory is given. The zone notation the tests name
endpoints in is in ``endpoints``.
"""

from __future__ import annotations

from .._model.corosync import Corosync, CorosyncNode
from .._model.inventory import Guest, Inventory, Nic, Node
from .verdict_types import Environment

NODE = "proxself"
HOST_ADDRESS = "172.16.1.2"
LOCAL_NETWORK = "172.16.1.0/24"
# The zones a test without 'from' or 'to' is run from or to (reference 6.2).
EXPANSION_ZONES = ("host", "outside", "nfvm", "vm100", "ct200")


def _qemu(vmid: int, *nics: tuple[str, str]) -> Guest:
    return Guest(vmid, "qemu", NODE, tuple(Nic(f"net{index}", bridge, mac, firewall=True) for index, (bridge, mac) in enumerate(nics)))


def _lxc(vmid: int, bridge: str, mac: str, ip: str) -> Guest:
    return Guest(vmid, "lxc", NODE, (Nic("net0", bridge, mac, firewall=True, ip=ip),))


INVENTORY = Inventory(
    nodes={NODE: Node(NODE, HOST_ADDRESS, LOCAL_NETWORK)},
    guests={
        guest.vmid: guest
        for guest in (
            _qemu(100, ("vmbr0", "0E:0B:38:B8:B3:21"), ("vmbr1", "0E:0B:38:B9:B4:21"), ("vmbr2", "0E:0B:38:BA:B4:21")),
            _qemu(101, ("vmbr0", "0E:0B:38:B8:B3:22")),
            _qemu(110, ("vmbr1", "0E:0B:38:B8:B4:21")),
            _lxc(200, "vmbr0", "0E:18:24:41:2C:43", "10.0.200.1/24"),
            _lxc(201, "vmbr0", "0E:18:24:41:2C:44", "10.0.200.2/24"),
        )
    },
)

# The membership of the suite's corosync.conf: four nodes on two rings, multicast transport.
COROSYNC = Corosync(
    nodes=tuple(CorosyncNode(name, {0: f"172.16.1.{last}", 1: f"172.16.2.{last}"}) for name, last in (("prox1", 11), ("prox2", 12), ("prox3", 3), (NODE, 2))),
    transport="udp",
)


def environment(inventory: Inventory = INVENTORY, corosync: Corosync | None = COROSYNC, now: float | None = None) -> Environment:
    return Environment(inventory=inventory, corosync=corosync, now=now)
