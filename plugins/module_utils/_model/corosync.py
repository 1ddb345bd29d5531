"""Cluster membership as the firewall sees it: corosync nodes and their link addresses.

pve-firewall opens udp 5404:5405 between the local node and every other node, on each link
(``ringN_addr``/``linkN``) separately, and to multicast destinations when the corosync
transport is ``udp`` (reference 5.2, FW:2959-2986). This module parses ``corosync.conf``
into that view. Link addresses that are host names instead of IP addresses are left out:
resolving them depends on the node's resolver, which is not available offline.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .errors import PveFirewallError

_LINK_KEY_RE = re.compile(r"ring(\d+)_addr")


@dataclass(frozen=True)
class CorosyncNode:
    name: str
    links: Mapping[int, str] = field(default_factory=dict)  # link number -> IP address

    def __post_init__(self) -> None:
        object.__setattr__(self, "links", MappingProxyType(dict(self.links)))

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.links.items()))))


@dataclass(frozen=True)
class Corosync:
    nodes: tuple[CorosyncNode, ...] = ()
    transport: str | None = None  # udp (multicast), udpu, knet; None: corosync's default (knet)

    @property
    def multicast(self) -> bool:
        return self.transport == "udp"

    def node(self, name: str) -> CorosyncNode | None:
        return next((node for node in self.nodes if node.name == name), None)

    def renamed(self, old: str, new: str) -> Corosync:
        """The membership with node ``old`` called ``new`` (PVE's tests rename 'proxself')."""
        nodes = tuple(CorosyncNode(new if node.name == old else node.name, node.links) for node in self.nodes)
        return Corosync(nodes, self.transport)


class CorosyncParseError(PveFirewallError, ValueError):
    pass


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _sections(text: str) -> list[tuple[tuple[str, ...], dict[str, str]]]:
    """Flatten corosync's ``name { key: value ... }`` syntax into (path, keys) per block."""
    found: list[tuple[tuple[str, ...], dict[str, str]]] = []
    path: list[str] = []
    values: list[dict[str, str]] = [{}]
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            path.append(line[:-1].strip())
            values.append({})
        elif line == "}":
            if not path:
                raise CorosyncParseError(f"corosync.conf line {number}: unbalanced '}}'")
            found.append((tuple(path), values.pop()))
            path.pop()
        elif ":" in line:
            key, value = line.split(":", 1)
            values[-1][key.strip()] = value.strip()
        else:
            raise CorosyncParseError(f"corosync.conf line {number}: cannot parse '{line}'")
    if path:
        raise CorosyncParseError("corosync.conf: missing '}' at the end")
    return found


def parse_corosync_conf(text: str) -> Corosync:
    """The node list (``nodelist { node { name, ringN_addr } }``) and ``totem.transport``."""
    nodes: list[CorosyncNode] = []
    transport = None
    for path, values in _sections(text):
        if path == ("nodelist", "node"):
            name = values.get("name")
            if not name:
                raise CorosyncParseError("corosync.conf: a node without a name")
            links = {}
            for key, value in values.items():
                match = _LINK_KEY_RE.fullmatch(key)
                if match and _is_ip(value):
                    links[int(match.group(1))] = value
            nodes.append(CorosyncNode(name, links))
        elif path == ("totem",):
            transport = values.get("transport")
    return Corosync(tuple(sorted(nodes, key=lambda node: node.name)), transport)
