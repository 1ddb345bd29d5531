"""A configuration read from a directory of ``.fw`` files, the way pve-firewall reads them.

Layout: ``cluster.fw``; the host file as ``host.fw`` (for the one node of a test directory)
or ``nodes/<node>/host.fw`` (as under /etc/pve); ``<vmid>.fw`` per guest; VNet files as
``sdn/firewall/<vnet>.fw``. Files are read as PVE reads them (``parse_fw`` lenient, no
newline translation): a line PVE skips is skipped and reported as a warning, never fatal; a
file PVE cannot load at all raises ``FwFileUnreadable``.
A guest's level (vm or ct) comes from the inventory; guests it does not know count as VMs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .._model.inventory import Inventory
from .._model.objects import ClusterConfig, FileKind, FirewallFile, GuestFirewall, Level
from .fw_format import parse_fw

_GUEST_FILE_RE = re.compile(r"([1-9][0-9]{2,8})\.fw")


@dataclass(frozen=True)
class LoadedConfig:
    config: ClusterConfig
    warnings: tuple[str, ...] = ()


def _parse(text: str, kind: FileKind, name: str, warnings: list[str]) -> FirewallFile:
    # a cluster enable timestamp stays as written: the verdict engine and the audit judge it at
    # their own time (cluster_enable_state), as PVE does when it reads the file
    parsed = parse_fw(text, kind, filename=name, lenient=True, expire=False)
    warnings.extend(str(warning) for warning in parsed.warnings)
    return parsed.file


def _read(path: Path, kind: FileKind, warnings: list[str]) -> FirewallFile:
    # newline="": no newline translation, PVE ends lines at \n only and keeps a \r in its line
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return _parse(handle.read(), kind, str(path), warnings)


def config_from_texts(
    cluster: str | None,
    hosts: Mapping[str, str] | None = None,
    guests: Mapping[int, str] | None = None,
    inventory: Inventory | None = None,
) -> LoadedConfig:
    """The same from file contents (``hosts``: node -> host.fw text, ``guests``: vmid -> text)."""
    warnings: list[str] = []
    cluster_fw = _parse(cluster, FileKind.CLUSTER, "cluster.fw", warnings) if cluster else FirewallFile(FileKind.CLUSTER)
    host_files = {node: _parse(text, FileKind.HOST, f"{node} host.fw", warnings) for node, text in (hosts or {}).items()}
    guest_files = {
        int(vmid): GuestFirewall(int(vmid), _guest_level(int(vmid), inventory), _parse(text, FileKind.GUEST, f"{vmid}.fw", warnings))
        for vmid, text in (guests or {}).items()
    }
    return LoadedConfig(ClusterConfig(cluster_fw, host_files, guest_files), tuple(warnings))


def _guest_level(vmid: int, inventory: Inventory | None) -> Level:
    guest = inventory.guest(vmid) if inventory else None
    return Level.CT if guest is not None and guest.type == "lxc" else Level.VM


def load_fw_dir(directory: Path | str, inventory: Inventory | None = None, node: str | None = None) -> LoadedConfig:
    """Read ``directory``. A plain ``host.fw`` belongs to ``node`` (default: the inventory's
    only node); ``nodes/<node>/host.fw`` files name their node themselves."""
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    warnings: list[str] = []
    cluster_path = root / "cluster.fw"
    cluster = _read(cluster_path, FileKind.CLUSTER, warnings) if cluster_path.is_file() else FirewallFile(FileKind.CLUSTER)
    hosts: dict[str, FirewallFile] = {}
    for host_path in sorted(root.glob("nodes/*/host.fw")):
        hosts[host_path.parent.name] = _read(host_path, FileKind.HOST, warnings)
    plain_host = root / "host.fw"
    if plain_host.is_file():
        owner = node or _only_node(inventory, plain_host)
        hosts[owner] = _read(plain_host, FileKind.HOST, warnings)
    guests: dict[int, GuestFirewall] = {}
    for guest_path in sorted(root.iterdir()):
        match = _GUEST_FILE_RE.fullmatch(guest_path.name)
        if match and guest_path.is_file():
            vmid = int(match.group(1))
            guests[vmid] = GuestFirewall(vmid, _guest_level(vmid, inventory), _read(guest_path, FileKind.GUEST, warnings))
    vnets = {path.stem: _read(path, FileKind.VNET, warnings) for path in sorted(root.glob("sdn/firewall/*.fw"))}
    return LoadedConfig(ClusterConfig(cluster, hosts, guests, vnets), tuple(warnings))


def _only_node(inventory: Inventory | None, path: Path) -> str:
    nodes = sorted(inventory.nodes) if inventory else []
    if len(nodes) != 1:
        raise ValueError(f"{path}: a plain host.fw needs exactly one node in the inventory (found {len(nodes)}); use nodes/<node>/host.fw")
    return nodes[0]
