"""Which rules and ipset entries use an IP set or an alias, read through the API.

PVE deletes IP sets and aliases without looking for references (reference 1.4, 1.5); a rule
that names a deleted set or alias is then skipped at compile time with a warning, so traffic
changes silently. The modules look here first and refuse to delete an object in use.

Lookup follows PVE's resolution (reference 2.2): at a guest, ``+name`` and ``name`` mean the
guest's own set or alias when it has one, else the datacenter's; ``dc/`` and ``guest/`` pin
the level. Nodes, vnets and security groups have no sets or aliases of their own, so their
references always mean the datacenter's. No Ansible imports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Optional, Union

from .._compiler.addresses import AddressError, AliasRef, IPSetRef, parse_address_spec
from .._model.objects import Rule
from .service import FirewallApi, Scope

Ref = Union[IPSetRef, AliasRef]  # noqa: UP007
Kind = Union[type[IPSetRef], type[AliasRef]]  # noqa: UP007
# (field, text, the reference's level prefix) of one reference found.
Found = tuple[str, str, Optional[str]]  # noqa: UP045


def _reference(text: str | None, kind: Kind, name: str) -> Ref | None:
    """The reference ``text`` makes to the object ``name`` (lowercase) of ``kind``, if any."""
    if not text:
        return None
    try:
        spec = parse_address_spec(text.strip())
    except AddressError:
        return None
    if isinstance(spec, (IPSetRef, AliasRef)) and isinstance(spec, kind) and spec.name.lower() == name:
        return spec
    return None


def _rule_hits(rules: tuple[Rule, ...], kind: Kind, name: str) -> Iterator[tuple[int, Found]]:
    for index, rule in enumerate(rules):
        for field_name in ("source", "dest"):
            text = getattr(rule, field_name)
            ref = _reference(text, kind, name)
            if ref is not None:
                yield index, (field_name, str(text), ref.scope)


class _Finder:
    """Collects the places that use one object, as text a user can act on."""

    def __init__(self, api: FirewallApi, kind: Kind, name: str) -> None:
        self.api = api
        self.kind = kind
        self.name = name.lower()
        self.places: list[str] = []

    def rules(self, label: str, path: str, counts: Callable[[str | None], bool]) -> None:
        for index, (field_name, text, scope) in _rule_hits(self.api.read_rules(path).items, self.kind, self.name):
            if counts(scope):
                self.places.append(f"{label} rules[{index}] ({field_name} '{text}')")

    def entries(self, label: str, scope: Scope, counts: Callable[[str | None], bool]) -> None:
        """ipset entries naming the alias (only aliases can appear in entries)."""
        for ipset in self.api.list_ipsets(scope).items:
            for entry in self.api.read_entries(scope, ipset.name).items:
                ref = _reference(entry.cidr, AliasRef, self.name)
                if ref is not None and counts(ref.scope):
                    self.places.append(f"{label} ipset '{ipset.name}' entry '{('!' if entry.nomatch else '') + entry.cidr}'")


def _own_level(prefix: str) -> Callable[[str | None], bool]:
    return lambda scope: scope in (None, prefix)


def _find(api: FirewallApi, scope: Scope, kind: Kind, name: str, guest_has_own: Callable[[Scope], bool]) -> list[str]:
    finder = _Finder(api, kind, name)
    with_entries = kind is AliasRef
    if scope.level != "cluster":
        finder.rules(scope.label, scope.rules_path(), _own_level("guest"))
        if with_entries:
            finder.entries(scope.label, scope, _own_level("guest"))
        return finder.places
    cluster = Scope("cluster")
    datacenter = _own_level("dc")
    finder.rules("cluster", cluster.rules_path(), datacenter)
    if with_entries:
        finder.entries("cluster", cluster, datacenter)
    for group in api.list_groups().items:
        finder.rules(f"security group '{group.name}'", cluster.rules_path(group.name), datacenter)
    for node in api.node_names():
        finder.rules(f"node {node}", Scope("node", node).rules_path(), datacenter)
    for guest in api.guest_scopes():
        counts = _guest_counts(guest, guest_has_own)
        finder.rules(guest.label, guest.rules_path(), counts)
        if with_entries:
            finder.entries(guest.label, guest, counts)
    for vnet in api.vnet_names():
        finder.rules(f"vnet {vnet}", Scope("vnet", vnet=vnet).rules_path(), datacenter)
    return finder.places


def _guest_counts(guest: Scope, guest_has_own: Callable[[Scope], bool]) -> Callable[[str | None], bool]:
    """Whether a reference at ``guest`` means the datacenter's object: a bare name does only
    when the guest has no object of its own, which is read once, when such a reference turns up."""
    known: dict[str, bool] = {}

    def counts(prefix: str | None) -> bool:
        if prefix == "dc":
            return True
        if prefix is not None:
            return False
        if "own" not in known:
            known["own"] = guest_has_own(guest)
        return not known["own"]

    return counts


def ipset_users(api: FirewallApi, scope: Scope, name: str) -> list[str]:
    """Rules that use the IP set ``name`` of ``scope`` (cluster: anywhere in the cluster)."""
    lowered = name.lower()
    return _find(api, scope, IPSetRef, name, lambda guest: any(ipset.name == lowered for ipset in api.list_ipsets(guest).items))


def alias_users(api: FirewallApi, scope: Scope, name: str) -> list[str]:
    """Rules and ipset entries that use the alias ``name`` of ``scope`` (cluster: anywhere)."""
    lowered = name.lower()
    return _find(api, scope, AliasRef, name, lambda guest: any(alias.name.lower() == lowered for alias in api.read_aliases(guest).items))
