"""What a simulation evaluates: the configuration, the inventory and the corosync membership.

The configuration comes from exactly one source: the cluster itself (``source: live``, read
through the API), a directory of ``.fw`` files, their texts, or structured data. Offline and
without an inventory, the fixed environment of PVE's test suite is used, so that the
upstream test zones work as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .._api.service import FanOut, FirewallApi
from .._compiler.config_validation import validate_config
from .._compiler.fw_dir import LoadedConfig, config_from_texts, load_fw_dir
from .._compiler.inventory_input import inventory_from_user
from .._compiler.user_input import file_from_user
from .._engine import test_suite_env
from .._engine.sdn import may_name_sdn_sets, sdn_from_data
from .._model.corosync import Corosync, CorosyncNode, CorosyncParseError, parse_corosync_conf
from .._model.errors import FieldError
from .._model.inventory import Guest, Inventory
from .._model.objects import ClusterConfig, FileKind, FirewallFile, GuestFirewall, Level
from .errors import SimulationError

TEXT_OPTIONS = ("cluster_fw", "host_fw", "hosts_fw", "guests_fw")
# The offline sources; with source=live the configuration comes from the cluster instead.
FILE_SOURCES = ("fw_dir", "config", *TEXT_OPTIONS)
CONFIG_KEYS = ("cluster", "hosts", "guests")


@dataclass(frozen=True)
class Loaded:
    """The configuration, the inventory it applies to, and what PVE would ignore in it."""

    config: ClusterConfig
    inventory: Inventory
    warnings: tuple[str, ...] = ()


def load(params: Mapping[str, Any], api: FirewallApi | None, fan_out: FanOut | None = None) -> Loaded:
    """The inventory and configuration the parameters name; ``api`` is the connection with
    source live, else None; ``fan_out`` runs its reads of different files at once."""
    inventory = load_inventory(params["inventory"], api, fan_out)
    loaded = _configuration(params, inventory, api, fan_out)
    ignored = tuple(f"PVE ignores this: {error}" for error in validate_config(loaded.config))
    return Loaded(loaded.config, inventory, loaded.warnings + ignored)


def load_inventory(data: Mapping[str, Any] | None, api: FirewallApi | None, fan_out: FanOut | None = None) -> Inventory:
    """The given inventory (its ``sdn`` key: what the +sdn/ sets are generated from), else the
    cluster's with source live, else PVE's test environment."""
    if data is None:
        return test_suite_env.INVENTORY if api is None else api.inventory(fan_out=fan_out)
    rest = {key: value for key, value in data.items() if key != "sdn"}
    sdn, sdn_errors = sdn_from_data(data.get("sdn"), "sdn")
    inventory, errors = inventory_from_user(rest)
    if inventory is None or sdn_errors:
        raise SimulationError.listing("inventory", [*errors, *sdn_errors])
    return replace(inventory, sdn=sdn)


def with_sdn(config: ClusterConfig, inventory: Inventory, api: FirewallApi | None) -> Inventory:
    """With source live, the cluster's SDN configuration when a rule may name one of its sets
    and the inventory does not give it (a few requests: the vnets, their subnets, the IPAM)."""
    if api is None or inventory.sdn is not None or not may_name_sdn_sets(config):
        return inventory
    return replace(inventory, sdn=api.sdn())


def load_corosync(params: Mapping[str, Any], inventory: Inventory, api: FirewallApi | None) -> Corosync | None:
    """The given corosync.conf, PVE's test membership with the test inventory, else every
    inventory node on link 0."""
    text = params["corosync_conf"]
    if text is not None:
        try:
            return parse_corosync_conf(text)
        except CorosyncParseError as error:
            raise SimulationError(f"corosync_conf: {error}") from None
    if params["inventory"] is None and api is None:
        return test_suite_env.COROSYNC
    nodes = tuple(CorosyncNode(node.name, {0: node.address.split("/")[0]}) for node in inventory.nodes.values())
    return Corosync(nodes, "knet")


def _configuration(params: Mapping[str, Any], inventory: Inventory, api: FirewallApi | None, fan_out: FanOut | None = None) -> LoadedConfig:
    if api is not None:
        return LoadedConfig(_live(api, fan_out))
    if params["fw_dir"]:
        try:
            return load_fw_dir(params["fw_dir"], inventory)
        except (OSError, ValueError) as error:
            raise SimulationError(f"fw_dir: {error}") from None
    if params["config"] is not None:
        return _structured(params["config"], inventory)
    return _texts(params, inventory)


def _live(api: FirewallApi, fan_out: FanOut | None = None) -> ClusterConfig:
    """Every firewall of the cluster. Guests are read where the cluster runs them, also when
    the simulated inventory is the user's."""
    guests = {vmid: Guest(vmid, guest_type, node) for vmid, guest_type, node in api.guests()}
    return api.gather(Inventory(guests=guests), fan_out=fan_out)


def _texts(params: Mapping[str, Any], inventory: Inventory) -> LoadedConfig:
    hosts = dict(params["hosts_fw"] or {})
    if params["host_fw"] is not None:
        if len(inventory.nodes) != 1:
            raise SimulationError("host_fw needs exactly one inventory node; use hosts_fw to name the node")
        hosts[next(iter(inventory.nodes))] = params["host_fw"]
    guests = {_vmid(key, "guests_fw"): text for key, text in (params["guests_fw"] or {}).items()}
    return config_from_texts(params["cluster_fw"], hosts, guests, inventory)


def _vmid(key: object, option: str) -> int:
    if not str(key).isdigit():
        raise SimulationError(f"{option}: '{key}' is not a guest id")
    return int(str(key))


def _structured(data: Mapping[str, Any], inventory: Inventory) -> LoadedConfig:
    """The configuration in the shape the other modules take, every problem reported at once."""
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise SimulationError(f"config: unknown keys {', '.join(unknown)} ({', '.join(CONFIG_KEYS)})")
    errors: list[FieldError] = []

    def convert(kind: FileKind, value: object, location: str) -> FirewallFile:
        fw, problems = file_from_user(kind, value or {}, location)
        errors.extend(problems)
        return fw or FirewallFile(kind)

    cluster = convert(FileKind.CLUSTER, data.get("cluster"), "config.cluster")
    hosts = {str(node): convert(FileKind.HOST, value, f"config.hosts.{node}") for node, value in (data.get("hosts") or {}).items()}
    guests = {}
    for key, value in (data.get("guests") or {}).items():
        vmid = _vmid(key, "config.guests")
        guest = inventory.guest(vmid)
        level = Level.CT if guest is not None and guest.type == "lxc" else Level.VM
        guests[vmid] = GuestFirewall(vmid, level, convert(FileKind.GUEST, value, f"config.guests.{vmid}"))
    if errors:
        raise SimulationError.listing("config", errors)
    return LoadedConfig(ClusterConfig(cluster, hosts, guests))
