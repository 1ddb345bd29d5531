"""The guests' configs as they are now: the ``netN`` lines the config API serves and changes.

The topology the emulator starts with gives each guest its NICs and their config lines. A
config write replaces lines; the guest's inventory NICs are then derived from the new lines,
so the verdict engine and the lockout judge see a NIC lose or gain ``firewall=1`` at once
(as PVE re-plugs a running guest's tap device into or out of its firewall bridge). A reset
brings back the topology's lines.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from types import MappingProxyType

from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Guest, Inventory

from .nics import NIC_KEY, nic_from_text
from .topology import Topology


def _nic_order(name: str) -> int:
    return int(name[3:])


class GuestConfigs:
    """The current ``netN`` lines of every guest, and the topology that follows from them."""

    def __init__(self, base: Topology) -> None:
        self._base = base
        self._lock = threading.Lock()
        self._lines: dict[int, dict[str, str]] = {}
        self.topology = base
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._lines = {vmid: self._base.nic_lines(vmid) for vmid in self._base.guests}
            self.topology = self._base

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise config writes (PVE's per-guest config lock)."""
        with self._lock:
            yield

    def nic_lines(self, vmid: int) -> dict[str, str]:
        return dict(self._lines.get(vmid, {}))

    def config(self, guest: Guest) -> dict[str, object]:
        """The config GET shows (without its digest): name, tags, the NIC lines."""
        config: dict[str, object] = {"name" if guest.type == "qemu" else "hostname": guest.name}
        if guest.tags:
            config["tags"] = ";".join(guest.tags)
        config.update(self.nic_lines(guest.vmid))
        return config

    def replace_nics(self, vmid: int, lines: Mapping[str, str]) -> None:
        """Store the guest's new NIC lines (valid, complete) and derive its NICs (lock held)."""
        ordered = {name: lines[name] for name in sorted(lines, key=_nic_order) if NIC_KEY.fullmatch(name)}
        guest = self.topology.guests[vmid]
        before = {nic.name: nic for nic in guest.nics}
        nics = []
        for name, text in ordered.items():
            old = before.get(name)  # a VM's addresses live in the guest, not in its config
            nics.append(nic_from_text(name, guest.type, text, ip=old.ip if old else None, ip6=old.ip6 if old else None))
        self._lines[vmid] = ordered
        guests = dict(self.topology.guests)
        guests[vmid] = replace(guest, nics=tuple(nics))
        configs = dict(self.topology.nic_configs)
        configs[vmid] = MappingProxyType(dict(ordered))
        inventory = Inventory(nodes=self.topology.inventory.nodes, guests=MappingProxyType(guests))
        self.topology = replace(self.topology, inventory=inventory, nic_configs=MappingProxyType(configs))
