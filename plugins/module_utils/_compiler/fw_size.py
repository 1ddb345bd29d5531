"""The size limit of a ``.fw`` file on Proxmox VE's cluster file system.

``/etc/pve`` is pmxcfs, and pmxcfs refuses a file larger than 1 MiB: pve-cluster's
``memdb.h`` defines ``MEMDB_MAX_FILE_SIZE`` as ``1024 * 1024`` and ``memdb_write``
(``memdb.c``) fails a write whose ``offset + count`` exceeds it with ``EFBIG``, so a file of
exactly 1 MiB is still stored. Every firewall API write re-renders and rewrites the whole
file (pve-firewall's ``save_clusterfw_conf`` / ``save_vmfw_conf`` through pve-common's
``file_set_contents``), so ``cluster.fw``, with every datacenter IP set and security group,
and each guest's ``<vmid>.fw`` must stay under it after every write.

The size is the UTF-8 byte length of the file as PVE's writer prints it (``render_fw`` with
values as given, the emulator's and PVE's layout), so a change can be refused before the
first request instead of failing half-way with PVE's ``File too large``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._model.errors import PveFirewallError
from .._model.objects import FirewallFile
from .fw_format import render_fw

# pve-cluster memdb.h MEMDB_MAX_FILE_SIZE; memdb_write fails only above it (offset + count > max)
PMXCFS_MAX_FILE_SIZE = 1024 * 1024


def rendered_size(fw: FirewallFile) -> int:
    """Bytes of the file PVE writes for ``fw`` (0: PVE deletes an empty file)."""
    return len(render_fw(fw, canonical=False).encode("utf-8"))


@dataclass(frozen=True)
class FileTooLarge:
    """A file whose rendering would exceed the limit: where PVE keeps it and its size."""

    path: str
    size: int
    limit: int = PMXCFS_MAX_FILE_SIZE

    @property
    def message(self) -> str:
        return (
            f"{self.path} would be {self.size:,} bytes after this change, over the {self.limit:,}-byte limit of"
            " Proxmox VE's cluster file system (pmxcfs refuses a larger file): nothing was written; split the entries"
            " over several IP sets (or guests) or merge them (aggregate)"
        )


def size_problem(fw: FirewallFile, path: str, limit: int = PMXCFS_MAX_FILE_SIZE) -> FileTooLarge | None:
    """The problem when ``fw`` rendered is over ``limit`` bytes, else None."""
    size = rendered_size(fw)
    return FileTooLarge(path, size, limit) if size > limit else None


class FileTooLargeError(PveFirewallError):
    """A change refused before any write because a file would exceed pmxcfs' limit."""

    def __init__(self, problem: FileTooLarge) -> None:
        super().__init__(problem.message)
        self.problem = problem

    def result_details(self) -> dict[str, Any]:
        return {"file": self.problem.path, "file_size": self.problem.size, "file_size_limit": self.problem.limit}


def pve_path(level: str, vmid: int | None = None, node: str | None = None, vnet: str | None = None) -> str:
    """Where PVE keeps the firewall file of a level (pve-firewall's ``$pvefw_conf_dir`` files)."""
    if level == "cluster":
        return "/etc/pve/firewall/cluster.fw"
    if level == "node":
        return f"/etc/pve/nodes/{node}/host.fw"
    if level == "vnet":
        return f"/etc/pve/sdn/firewall/{vnet}.fw"
    return f"/etc/pve/firewall/{vmid}.fw"
