"""What every hop of the verdict engine reads: the configuration with its IP sets, compiled
rule lists and references built once and kept, so that one engine answers many questions
without compiling again; the files and options a chain is generated from; and the protocol
numbers the built-in exceptions test."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .._compiler.rule_validation import References
from .._model.inventory import Node
from .._model.objects import ClusterConfig, FileKind, FirewallFile, OptionValue, Rule
from .addrset import AddressSet
from .matchers import PacketView, RuleContext, RuleIndex, SetLibrary, compile_rules, effective_option, option_flag, references
from .sdn import sdn_sets
from .verdict_places import known_node
from .verdict_types import Environment

TCP, UDP, IGMP, ICMPV6 = 6, 17, 2, 58

_NDP_TYPES = {133: "router-solicitation", 134: "router-advertisement", 135: "neighbor-solicitation", 136: "neighbor-advertisement"}
_EMPTY_HOST = FirewallFile(FileKind.HOST)


def policy_name(options: Mapping[str, OptionValue], level: str, key: str) -> str:
    """The policy an option names (its default when unset), upper case."""
    return str(effective_option(options, level, key)).upper()


def ndp_type(options: Mapping[str, OptionValue], level: str, view: PacketView) -> str | None:
    """The neighbor discovery message the packet is, when the ``ndp`` option lets such messages through."""
    if view.version == 6 and option_flag(options, level, "ndp") and view.proto == ICMPV6 and view.icmp:
        return _NDP_TYPES.get(view.icmp[0])
    return None


@dataclass
class HopContext:
    """The configuration of one engine as its hops read it; compiled rule lists are cached."""

    config: ClusterConfig
    environment: Environment
    sets: SetLibrary = field(init=False)
    nft_sets: SetLibrary = field(init=False)  # the same sets as proxmox-firewall builds them
    broadcasts: frozenset[int] = field(init=False)  # the nodes' IPv4 broadcast addresses
    sdn_names: frozenset[str] | None = field(init=False)  # the +sdn/ sets; None: SDN unknown
    _indexes: dict[tuple[object, ...], RuleIndex] = field(init=False, default_factory=dict)
    _references: dict[int, References] = field(init=False, default_factory=dict)
    _management_sets: dict[tuple[str, int, bool], AddressSet] = field(init=False, default_factory=dict)
    _backends: dict[str, bool] = field(init=False, default_factory=dict)  # node -> runs nftables

    def __post_init__(self) -> None:
        inventory = self.environment.inventory
        guests = {vmid: (guest_fw.file, inventory.guest(vmid)) for vmid, guest_fw in self.config.guests.items()}
        sdn = sdn_sets(inventory.sdn) if inventory.sdn is not None else None
        self.sdn_names = frozenset(sdn) if sdn is not None else None
        self.sets = SetLibrary(self.config.cluster, guests, sdn=sdn)
        self.nft_sets = SetLibrary(self.config.cluster, guests, nft=True, sdn=sdn)
        self.broadcasts = frozenset(
            int(network.broadcast_address)
            for network in (self.local_network(node) for node in inventory.nodes.values())
            if network is not None and network.version == 4 and network.prefixlen < 31
        )

    # -- files and options ----------------------------------------------------------------

    def node(self, name: str) -> Node:
        return known_node(self.environment.inventory, name)

    def host_file(self, node: str) -> FirewallFile:
        return self.config.hosts.get(node) or _EMPTY_HOST

    def guest_file(self, vmid: int) -> FirewallFile | None:
        guest = self.config.guests.get(vmid)
        return guest.file if guest else None

    def local_network(self, node: Node) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        """The cluster alias ``local_network``, else the node's (reference 5.2). Without a
        routing table the node's network must be given; failing that only the node's own
        address counts (a conservative choice: it never grants access PVE would not)."""
        alias = self.config.cluster.alias("local_network")
        for text in (alias.cidr if alias else None, node.local_network):
            if text:
                try:
                    return ipaddress.ip_network(text, strict=False)
                except ValueError:
                    continue
        try:
            return ipaddress.ip_network(ipaddress.ip_interface(node.address).ip)
        except ValueError:
            return None

    def nftables(self, node: str) -> bool:
        found = self._backends.get(node)
        if found is None:
            found = self._backends[node] = option_flag(self.host_file(node).options, "host", "nftables")
        return found

    # -- compiled once ----------------------------------------------------------------------

    def refs(self, own: FirewallFile | None) -> References:
        key = id(own)
        if key not in self._references:
            self._references[key] = references(self.config.cluster, own, self.sdn_names)
        return self._references[key]

    def rule_index(
        self, key: tuple[object, ...], rules: Sequence[Rule], context: RuleContext, view: PacketView, direction: str, location: str, *, nft: bool = False
    ) -> RuleIndex:
        """The compiled, indexed rules of one list for a family and direction (cached); ``nft``:
        with the sets as proxmox-firewall builds them."""
        cache_key = (*key, view.version, direction, nft)
        if cache_key not in self._indexes:
            entries = compile_rules(rules, context, view.version, self.nft_sets if nft else self.sets, location=location)
            self._indexes[cache_key] = RuleIndex.build(entries, direction)
        return self._indexes[cache_key]

    def management_set(self, node: str, version: int, *, nft: bool = False) -> AddressSet:
        """The cluster ipset ``management`` as the node sees it (with its local network); ``nft``:
        as proxmox-firewall builds it (firewall.rs create_management_ipset: the set's entries
        plus the alias local_network or else the node's own networks; nomatch subtracts)."""
        key = (node, version, nft)
        if key not in self._management_sets:
            library = SetLibrary(self.config.cluster, {}, self.local_network(self.node(node)), nft=nft)
            self._management_sets[key] = library.ipset(0, "management", version)
        return self._management_sets[key]
