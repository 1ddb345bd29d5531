"""The PVE firewall API as a service: scopes, typed reads and the write calls (reference 1).

The second layer of the client. It speaks in the compiler's model (rules, entries, aliases,
options) and in ``ApiCall`` values, so that modules plan with the compiler and show the calls
they make or would make. Everything read goes through ``_api_mapping`` and so compares equal
to normalised user input. No Ansible imports beyond the transport's.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar, Union

from .._compiler.api_mapping import ApiCall, alias_from_api, group_from_api, ipset_entry_from_api, ipset_from_api, options_from_api, rule_from_api
from .._model.errors import PveFirewallError
from .._model.inventory import Guest, Inventory, Nic, Node, Sdn, Subnet, Vnet
from .._model.levels import GUEST_LEVEL_NAMES, LEVEL_NAMES, ScopeLevel
from .._model.objects import Alias, ClusterConfig, FileKind, FirewallFile, GuestFirewall, IPSet, IPSetEntry, Level, OptionValue, Rule, SecurityGroup
from .transport import PveApiError, PveTransport, path_of

T = TypeVar("T")
Params = dict[str, Union[str, int]]  # noqa: UP007

LEVELS = LEVEL_NAMES
GROUPS_PATH = "/cluster/firewall/groups"
FILE_PARTS = ("options", "rules", "aliases", "ipsets", "groups")
# Runs independent reads, each given a client, and returns their results in order: one after
# the other on this client (FirewallApi.each), or over a pool of connections at once.
FanOut = Callable[[Sequence[Callable[["FirewallApi"], Any]]], "list[Any]"]


class ScopeError(PveFirewallError, ValueError):
    """A scope that names no firewall (missing node, unknown guest, wrong level)."""


@dataclass(frozen=True)
class Scope:
    """One firewall of the cluster: the datacenter, a node, a guest or an SDN vnet."""

    level: str
    node: str | None = None
    vmid: int | None = None
    vnet: str | None = None

    @property
    def kind(self) -> ScopeLevel:
        return ScopeLevel(self.level)

    @property
    def base(self) -> str:
        if self.level == "cluster":
            return "/cluster/firewall"
        if self.level == "node":
            return path_of("nodes", str(self.node), "firewall")
        if self.kind.is_guest:
            return path_of("nodes", str(self.node), self.kind.guest_type, str(self.vmid), "firewall")
        return path_of("cluster", "sdn", "vnets", str(self.vnet), "firewall")

    @property
    def label(self) -> str:
        return {"cluster": "cluster", "node": f"node {self.node}", "vnet": f"vnet {self.vnet}"}.get(self.level, f"{self.level} {self.vmid}")

    @property
    def rule_level(self) -> Level:
        return self.kind.rule_level

    @property
    def file_kind(self) -> FileKind:
        return self.kind.file_kind

    @property
    def option_level(self) -> str:
        return self.kind.option_level

    @property
    def has_sets(self) -> bool:
        return self.kind.has_sets

    @property
    def config_path(self) -> str:
        """The guest's configuration (its NICs carry the firewall flag)."""
        if not self.kind.is_guest:
            raise ValueError(f"{self.label} has no guest config")
        return path_of("nodes", str(self.node), self.kind.guest_type, str(self.vmid), "config")

    # The API paths of this firewall's parts: the only place that spells them.

    def rules_path(self, group: str | None = None) -> str:
        return f"{self.base}/groups/{path_of(group)[1:]}" if group else f"{self.base}/rules"

    @property
    def options_path(self) -> str:
        return f"{self.base}/options"

    def aliases_path(self, name: str | None = None) -> str:
        return f"{self.base}/aliases{path_of(name) if name else ''}"

    def ipsets_path(self, name: str | None = None) -> str:
        return f"{self.base}/ipset{path_of(name) if name else ''}"

    def entry_path(self, name: str, cidr: str) -> str:
        return f"{self.ipsets_path(name)}{path_of(cidr, keep_slash=True)}"

    @property
    def log_path(self) -> str:
        return f"{self.base}/log"

    @property
    def refs_path(self) -> str:
        return f"{self.base}/refs"


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """What one GET returned, with the digest a write planned from it must carry."""

    items: T
    digest: str | None = None


@dataclass(frozen=True)
class GuestResource:
    """One guest of /cluster/resources: where it runs, its name and tags."""

    vmid: int
    type: str  # qemu or lxc
    node: str
    name: str = ""
    tags: tuple[str, ...] = ()

    @property
    def level(self) -> str:
        return ScopeLevel.of_guest_type(self.type).value

    @property
    def scope(self) -> Scope:
        return Scope(self.level, self.node, self.vmid)


def _digest(data: Any) -> str | None:
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0].get("digest")
    if isinstance(data, dict):
        return data.get("digest")
    return None


_NIC_KEY = re.compile(r"net\d+")


def nic_from_config(name: str, text: str, guest_type: str) -> Nic:
    """A ``netN`` line of a guest config (qemu ``virtio=MAC,bridge=..``, lxc ``name=eth0,hwaddr=..``)."""
    values: dict[str, str] = {}
    model = "veth"
    mac = ""
    for part in text.split(","):
        key, _sep, value = part.partition("=")
        values[key.strip()] = value.strip()
    if guest_type == "qemu":
        for key, value in values.items():
            if re.fullmatch(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}", value):
                model, mac = key, value
                break
    else:
        mac = values.get("hwaddr", "")
    ip = values.get("ip") if values.get("ip") not in (None, "dhcp", "manual") else None
    ip6 = values.get("ip6") if values.get("ip6") not in (None, "dhcp", "auto", "manual") else None
    tag = values.get("tag")
    return Nic(
        name=name,
        bridge=values.get("bridge", ""),
        mac=mac,
        firewall=values.get("firewall") == "1",
        ip=ip,
        ip6=ip6,
        model=model,
        tag=int(tag) if tag and tag.isdigit() else None,
    )


def guest_tags(text: Any) -> tuple[str, ...]:
    """PVE's tag list (``web;prod``; older versions also split on commas and spaces)."""
    return tuple(tag for tag in re.split(r"[;, ]+", str(text or "")) if tag)


def serving_node(status: Iterable[Mapping[str, Any]]) -> str | None:
    """The node that answered /cluster/status (``local: 1``)."""
    return next((str(item["name"]) for item in status if item.get("type") == "node" and str(item.get("local")) == "1"), None)


class FirewallApi:
    """Typed access to every firewall endpoint through one transport."""

    def __init__(self, transport: PveTransport) -> None:
        self.transport = transport

    def __enter__(self) -> FirewallApi:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.transport.close()

    # -- plumbing --------------------------------------------------------------------------

    def get(self, path: str, **params: str | int) -> Any:
        return self.transport.request("GET", path, params)

    def send(self, call: ApiCall, digest: str | None = None) -> Any:
        params = dict(call.params)
        if digest:
            params["digest"] = digest
        return self.transport.request(call.method, call.path, params)

    # -- scopes ------------------------------------------------------------------------------

    def guest_node(self, vmid: int, level: str) -> str:
        """The node a guest runs on now, from /cluster/resources (so migrated guests are found)."""
        for resource in self.resources():
            if resource.vmid != vmid:
                continue
            if resource.level != level:
                raise ScopeError(f"vmid {vmid} is a {resource.type} guest: use level: {resource.level}")
            return resource.node
        raise ScopeError(f"vmid {vmid}: no such guest in the cluster (/cluster/resources lists none)")

    def scope(self, level: str, node: str | None = None, vmid: int | None = None, vnet: str | None = None) -> Scope:
        """A checked scope; a guest's node is looked up when not given."""
        if level not in LEVELS:
            raise ScopeError(f"level: '{level}' is not one of {', '.join(LEVELS)}")
        if level == "node" and not node:
            raise ScopeError("level node needs node")
        if level in GUEST_LEVEL_NAMES:
            if vmid is None:
                raise ScopeError(f"level {level} needs vmid")
            return Scope(level, node or self.guest_node(vmid, level), vmid)
        if level == "vnet":
            if not vnet:
                raise ScopeError("level vnet needs vnet")
            return Scope(level, vnet=vnet)
        return Scope(level, node if level == "node" else None)

    # -- rules -------------------------------------------------------------------------------

    def read_rules(self, path: str) -> Snapshot[tuple[Rule, ...]]:
        data = self.get(path) or []
        return Snapshot(tuple(rule_from_api(item) for item in data), _digest(data))

    @staticmethod
    def rule_problems(data: Iterable[Mapping[str, Any]]) -> list[str]:
        """Rules PVE keeps from a hand-edited file although they are invalid (``errors``)."""
        return [f"rules[{item.get('pos')}]: {item['errors']}" for item in data if item.get("errors")]

    # -- options -----------------------------------------------------------------------------

    def read_options(self, scope: Scope) -> Snapshot[dict[str, OptionValue]]:
        data = self.get(scope.options_path) or {}
        return Snapshot(options_from_api(scope.option_level, data), _digest(data))

    # -- ipsets ------------------------------------------------------------------------------

    def list_ipsets(self, scope: Scope) -> Snapshot[tuple[IPSet, ...]]:
        """The sets without their entries (name and comment)."""
        data = self.get(scope.ipsets_path()) or []
        return Snapshot(tuple(ipset_from_api(item) for item in data), _digest(data))

    def read_entries(self, scope: Scope, name: str) -> Snapshot[tuple[IPSetEntry, ...]]:
        data = self.get(scope.ipsets_path(name)) or []
        return Snapshot(tuple(ipset_entry_from_api(item) for item in data), _digest(data))

    # -- aliases -----------------------------------------------------------------------------

    def read_aliases(self, scope: Scope) -> Snapshot[tuple[Alias, ...]]:
        data = self.get(scope.aliases_path()) or []
        return Snapshot(tuple(alias_from_api(item) for item in data), _digest(data))

    # -- groups ------------------------------------------------------------------------------

    def list_groups(self) -> Snapshot[tuple[SecurityGroup, ...]]:
        data = self.get(GROUPS_PATH) or []
        return Snapshot(tuple(group_from_api(item) for item in data), _digest(data))

    # -- refs and macros ---------------------------------------------------------------------

    def refs(self, scope: Scope) -> list[dict[str, Any]]:
        return list(self.get(scope.refs_path) or [])

    def macros(self) -> list[dict[str, Any]]:
        return sorted(self.get("/cluster/firewall/macros") or [], key=lambda item: str(item.get("macro")))

    # -- firewall logs -------------------------------------------------------------------

    def read_log(self, scope: Scope, **params: int) -> tuple[int, list[dict[str, Any]]]:
        """``(total, [{n, t}])`` of a node's or guest's log as PVE answers (reference 1.7):
        ``total`` counts every matching line, the placeholder "no content" line included."""
        answer = self.transport.answer("GET", scope.log_path, params) or {}
        return int(answer.get("total") or 0), list(answer.get("data") or [])

    # -- whole files ---------------------------------------------------------------------

    def read_file(self, scope: Scope, parts: Iterable[str] | None = None) -> FirewallFile:
        """Everything one level holds, as the compiler's file model; with ``parts`` (of
        options, rules, aliases, ipsets, groups) only those are read, the rest stays empty."""
        return self.read_files([scope], parts)[0]

    def read_files(self, scopes: Sequence[Scope], parts: Iterable[str] | None = None, fan_out: FanOut | None = None) -> list[FirewallFile]:
        """The files of ``scopes``, as ``read_file`` reads each, in two rounds of reads that
        ``fan_out`` runs at once: every list of every file (options, rules, aliases, IP sets,
        groups), then the entries of every IP set and the rules of every group."""
        wanted = frozenset(FILE_PARTS if parts is None else parts)
        run = fan_out or self.each
        lists: list[tuple[int, str, Callable[[FirewallApi], Snapshot[Any]]]] = []
        for index, scope in enumerate(scopes):
            if "options" in wanted:
                lists.append((index, "options", partial(FirewallApi.read_options, scope=scope)))
            if "rules" in wanted:
                lists.append((index, "rules", partial(FirewallApi.read_rules, path=scope.rules_path())))
            if scope.has_sets and "aliases" in wanted:
                lists.append((index, "aliases", partial(FirewallApi.read_aliases, scope=scope)))
            if scope.has_sets and "ipsets" in wanted:
                lists.append((index, "ipsets", partial(FirewallApi.list_ipsets, scope=scope)))
            if scope.level == "cluster" and "groups" in wanted:
                lists.append((index, "groups", FirewallApi.list_groups))
        found: list[dict[str, Any]] = [{} for _scope in scopes]
        for (index, part, _read), snapshot in zip(lists, run([read for _index, _part, read in lists])):
            found[index][part] = snapshot.items
        cluster = Scope("cluster")
        members: list[tuple[int, str, str, Callable[[FirewallApi], Snapshot[Any]]]] = []
        for index, scope in enumerate(scopes):
            members += [(index, "ipsets", item.name, partial(FirewallApi.read_entries, scope=scope, name=item.name)) for item in found[index].get("ipsets", ())]
            members += [
                (index, "groups", item.name, partial(FirewallApi.read_rules, path=cluster.rules_path(item.name))) for item in found[index].get("groups", ())
            ]
        filled: dict[tuple[int, str, str], Any] = {}
        for (index, part, name, _read), snapshot in zip(members, run([read for *_key, read in members])):
            filled[(index, part, name)] = snapshot.items
        files = []
        for index, scope in enumerate(scopes):
            parts_of = found[index]
            ipsets = tuple(IPSet(item.name, item.comment, filled[(index, "ipsets", item.name)]) for item in parts_of.get("ipsets", ()))
            groups = tuple(SecurityGroup(item.name, item.comment, filled[(index, "groups", item.name)]) for item in parts_of.get("groups", ()))
            files.append(FirewallFile(scope.file_kind, parts_of.get("options", {}), parts_of.get("aliases", ()), ipsets, parts_of.get("rules", ()), groups))
        return files

    # -- inventory -----------------------------------------------------------------------

    def node_names(self) -> list[str]:
        return sorted(str(item["node"]) for item in self.get("/nodes") or [])

    def resources(self) -> list[GuestResource]:
        """Every guest as /cluster/resources lists it, by vmid."""
        found = []
        for item in self.get("/cluster/resources", type="vm") or []:
            if item.get("type") in ("qemu", "lxc") and item.get("vmid") is not None:
                found.append(GuestResource(int(item["vmid"]), str(item["type"]), str(item["node"]), str(item.get("name") or ""), guest_tags(item.get("tags"))))
        return sorted(found, key=lambda resource: resource.vmid)

    def guests(self) -> list[tuple[int, str, str]]:
        """(vmid, qemu|lxc, node) of every guest."""
        return [(resource.vmid, resource.type, resource.node) for resource in self.resources()]

    def guest_scopes(self) -> list[Scope]:
        return [resource.scope for resource in self.resources()]

    def interfaces(self, node: str) -> list[dict[str, Any]]:
        """A node's network interfaces (GET /nodes/{node}/network)."""
        return list(self.get(path_of("nodes", node, "network")) or [])

    def vnet_names(self) -> list[str]:
        return sorted(str(item["vnet"]) for item in self.get("/cluster/sdn/vnets") or [])

    def sdn(self) -> Sdn:
        """What the +sdn/ sets are generated from, as the firewall reads it: the running SDN
        configuration's vnets and their subnets (``running=1``: the firewall reads
        /etc/pve/sdn/.running-config) and the guests' entries of the PVE IPAM (pve-network
        API2/Network/SDN/Ipams.pm ``ipamindex``; a cluster without the PVE IPAM has none)."""
        vnets = {}
        for item in self.get("/cluster/sdn/vnets", running=1) or []:
            name = str(item["vnet"])
            subnets = tuple(_subnet(raw) for raw in self.get(path_of("cluster", "sdn", "vnets", name, "subnets"), running=1) or [] if raw.get("cidr"))
            vnets[name] = Vnet(name, str(item.get("zone") or ""), subnets)
        try:
            entries = self.get("/cluster/sdn/ipams/pve/status") or []
        except PveApiError:
            entries = []
        ipam: dict[int, list[str]] = {}
        for entry in entries:
            if entry.get("vmid") is not None and entry.get("ip"):
                ipam.setdefault(int(entry["vmid"]), []).append(str(entry["ip"]))
        return Sdn(vnets, {vmid: tuple(addresses) for vmid, addresses in sorted(ipam.items())})

    def guest_config(self, vmid: int, guest_type: str, node: str) -> Guest:
        config = self.get(Scope(ScopeLevel.of_guest_type(guest_type).value, node, vmid).config_path) or {}
        nics = tuple(
            nic_from_config(key, str(value), guest_type) for key, value in sorted(config.items(), key=lambda kv: (len(kv[0]), kv[0])) if _NIC_KEY.fullmatch(key)
        )
        tags = guest_tags(config.get("tags"))
        return Guest(vmid, guest_type, node, nics, str(config.get("name") or config.get("hostname") or ""), tags)

    def cluster_status(self) -> list[dict[str, Any]]:
        return list(self.get("/cluster/status") or [])

    def each(self, reads: Sequence[Callable[[FirewallApi], Any]]) -> list[Any]:
        """The reads one after the other on this client (the sequential ``FanOut``)."""
        return [read(self) for read in reads]

    def node_addresses(self, status: list[dict[str, Any]] | None = None, fan_out: FanOut | None = None) -> dict[str, Node]:
        """Nodes with the address /cluster/status gives (read unless given) and the network it lies in."""
        listed = _status_nodes(self.cluster_status() if status is None else status)
        networks = (fan_out or self.each)([partial(FirewallApi.local_network, node=name, address=address) for name, address in listed])
        return {name: Node(name, address, network) for (name, address), network in zip(listed, networks)}

    def local_network(self, node: str, address: str) -> str | None:
        """The network of the interface holding the node's address (PVE's local_network)."""
        try:
            interfaces = self.interfaces(node)
        except PveApiError:
            return None
        for interface in interfaces:
            for key in ("cidr", "cidr6"):
                text = interface.get(key)
                if not text:
                    continue
                network = ipaddress.ip_interface(str(text))
                if str(network.ip) == address:
                    return str(network.network)
        return None

    def inventory(self, fan_out: FanOut | None = None, guests: Collection[int] | None = None) -> Inventory:
        """The nodes and guests; ``fan_out`` runs the per-guest and per-node reads; ``guests``:
        the only guests whose config is read (the others are listed as ``unread``)."""
        run = fan_out or self.each
        # two rounds: the guest list and the cluster status, then each guest's config and each
        # node's network
        listed, status = run([FirewallApi.guests, FirewallApi.cluster_status])
        read = [(vmid, kind, node) for vmid, kind, node in listed if guests is None or vmid in guests]
        nodes = _status_nodes(status)
        found = run(
            [
                *(partial(FirewallApi.guest_config, vmid=vmid, guest_type=kind, node=node) for vmid, kind, node in read),
                *(partial(FirewallApi.local_network, node=name, address=address) for name, address in nodes),
            ]
        )
        configs, networks = found[: len(read)], found[len(read) :]
        unread = frozenset(vmid for vmid, _kind, _node in listed) - {vmid for vmid, _kind, _node in read}
        addresses = {name: Node(name, address, network) for (name, address), network in zip(nodes, networks)}
        return Inventory(addresses, {guest.vmid: guest for guest in configs}, unread=unread)

    def gather(
        self, inventory: Inventory, *, nodes: Iterable[str] | None = None, vnets: bool | Iterable[str] = True, fan_out: FanOut | None = None
    ) -> ClusterConfig:
        """The whole cluster's firewall configuration, read through the API: the datacenter,
        the nodes (``nodes``, default all), the guests of ``inventory`` and the vnets (all,
        none if ``vnets`` is False - their rules filter forwarded traffic only - or the ones
        named); ``fan_out`` runs the reads of the files."""
        # the node and vnet lists at once when both are to be read
        listings: list[Callable[[FirewallApi], list[str]]] = []
        if nodes is None:
            listings.append(FirewallApi.node_names)
        if vnets is True:
            listings.append(FirewallApi.vnet_names)
        listed = iter((fan_out or self.each)(listings))
        node_names = next(listed) if nodes is None else list(nodes)
        vnet_names = list(vnets) if not isinstance(vnets, bool) else (next(listed) if vnets else [])
        guests = sorted(inventory.guests.items())
        guest_levels = [ScopeLevel.of_guest_type(guest.type) for _vmid, guest in guests]
        scopes = [
            Scope("cluster"),
            *(Scope("node", node) for node in node_names),
            *(Scope(level.value, guest.node, vmid) for (vmid, guest), level in zip(guests, guest_levels)),
            *(Scope("vnet", vnet=vnet) for vnet in vnet_names),
        ]
        files = iter(self.read_files(scopes, fan_out=fan_out))
        cluster = next(files)
        hosts = {node: next(files) for node in node_names}
        guest_files = {vmid: GuestFirewall(vmid, level.rule_level, next(files)) for (vmid, _guest), level in zip(guests, guest_levels)}
        return ClusterConfig(cluster, hosts, guest_files, {vnet: next(files) for vnet in vnet_names})


def _status_nodes(status: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(name, address) of each node /cluster/status lists with an address."""
    return [(str(item["name"]), str(item["ip"])) for item in status if item.get("type") == "node" and item.get("ip")]


def _subnet(raw: Mapping[str, Any]) -> Subnet:
    """A subnet as GET /cluster/sdn/vnets/{vnet}/subnets returns it: ``dhcp-range`` holds
    ``{start-address, end-address}`` objects (Subnets.pm get_dhcp_ranges)."""
    ranges = []
    for item in raw.get("dhcp-range") or []:
        if isinstance(item, str):
            item = dict(part.split("=", 1) for part in item.split(",") if "=" in part)
        first, last = item.get("start-address"), item.get("end-address")
        if first and last:
            ranges.append((str(first), str(last)))
    gateway = raw.get("gateway")
    return Subnet(str(raw["cidr"]), str(gateway) if gateway else None, tuple(ranges))
