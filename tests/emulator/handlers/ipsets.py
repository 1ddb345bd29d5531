"""IP sets of the cluster and of guests (reference 1.4): the set list, entries, one entry."""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import (
    AliasRef,
    canonical_ipset_cidr,
    is_alias_reference,
    parse_address_spec,
    parse_ip_or_cidr,
)
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FirewallFile, IPSet, IPSetEntry

from ..context import Call
from ..digests import list_digest
from ..errors import ApiFailure, param_error
from ..routes import Handler
from ..targets import TargetResolver
from ..views import entries_view, named_list_view, stored_cidr
from .common import Transaction, alias_lookup, check_digest, modify, pve_ip_or_cidr_or_alias_problem, refuse_formats


def _find(fw: FirewallFile, name: str) -> IPSet | None:
    return next((ipset for ipset in fw.ipsets if ipset.name == name), None)


def _require(fw: FirewallFile, name: str) -> IPSet:
    ipset = _find(fw, name)
    if ipset is None:
        raise ApiFailure(f"no such IPSet '{name}'")
    return ipset


def _save_set(txn: Transaction, old: IPSet, new: IPSet | None) -> None:
    """Write the file with ``old`` replaced by ``new`` (or removed when ``new`` is None)."""
    sets = [new if item is old else item for item in txn.fw.ipsets]
    txn.save(replace(txn.fw, ipsets=tuple(item for item in sets if item is not None)))


def _set_list(fw: FirewallFile) -> list[dict[str, object]]:
    return named_list_view("name", ((ipset.name, ipset.comment) for ipset in fw.ipsets))


def list_ipsets(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> list[dict[str, object]]:
        return _set_list(call.ctx.store.read(resolve(call).key))

    return handler


def create_ipset(resolve: TargetResolver) -> Handler:
    """Create, or with ``rename`` (the old name) rename / edit the comment."""

    def handler(call: Call) -> None:
        params = call.params
        name, old, comment = params["name"], params.get("rename"), params.get("comment")
        with modify(call, resolve(call).key) as txn:
            fw = txn.fw
            if old is None:
                if _find(fw, name) is not None:
                    raise param_error("name", f"IPSet '{name}' already exists")
                txn.save(replace(fw, ipsets=(*fw.ipsets, IPSet(name, comment or None))))
                return
            check_digest(list_digest(_set_list(fw)), params.get("digest"))
            existing = _find(fw, old)
            if existing is None:
                raise param_error("name", f"IPSet '{old}' does not exist")
            if old != name and _find(fw, name) is not None:
                raise param_error("name", f"IPSet '{name}' does already exist")
            new_comment = (comment or None) if comment is not None else existing.comment
            _save_set(txn, existing, replace(existing, name=name, comment=new_comment))

    return handler


def delete_ipset(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> None:
        name = call.params["name"]
        with modify(call, resolve(call).key) as txn:
            ipset = _require(txn.fw, name)
            if ipset.entries and not call.params.get("force"):
                raise ApiFailure(f"IPSet '{name}' is not empty")
            _save_set(txn, ipset, None)

    return handler


def _entries(call: Call, resolve: TargetResolver, fw: FirewallFile, ipset: IPSet) -> list[dict[str, object]]:
    return entries_view(ipset.entries, alias_lookup(call, resolve(call), fw))


def list_entries(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> list[dict[str, object]]:
        fw = call.ctx.store.read(resolve(call).key)
        return _entries(call, resolve, fw, _require(fw, call.params["name"]))

    return handler


def _new_cidr(call: Call, resolve: TargetResolver, fw: FirewallFile, cidr: str) -> str:
    """An alias must resolve; an address gets its host bits cleared and /32, /128 dropped."""
    if is_alias_reference(cidr):
        spec = parse_address_spec(cidr)
        assert isinstance(spec, AliasRef)
        if not alias_lookup(call, resolve(call), fw)(spec):
            raise ApiFailure(f"no such alias '{spec.name}'")
        return cidr
    if parse_ip_or_cidr(cidr).prefixlen == 0:
        raise param_error("cidr", "a zero prefix is not allowed in ipset entries")
    return canonical_ipset_cidr(cidr)


# The cidr parameter's format (IPorCIDRorAlias), checked on its own (common.py).
_CIDR_FORMAT = {"cidr": pve_ip_or_cidr_or_alias_problem}


def add_entry(resolve: TargetResolver) -> Handler:
    """POST: no digest parameter; duplicates of the normalised cidr are refused."""

    def handler(call: Call) -> None:
        params = call.params
        refuse_formats(params, _CIDR_FORMAT)
        with modify(call, resolve(call).key) as txn:
            ipset = _require(txn.fw, params["name"])
            cidr = _new_cidr(call, resolve, txn.fw, params["cidr"])
            if any(stored_cidr(entry.cidr) == cidr for entry in ipset.entries):
                raise param_error("cidr", f"address '{cidr}' already exists")
            entry = IPSetEntry(cidr, bool(params.get("nomatch")), params.get("comment") or None)
            _save_set(txn, ipset, replace(ipset, entries=(*ipset.entries, entry)))

    return handler


def _entry_index(ipset: IPSet, cidr: str) -> int | None:
    """Exact string match against the stored (normalised) cidr."""
    return next((index for index, entry in enumerate(ipset.entries) if stored_cidr(entry.cidr) == cidr), None)


def get_entry(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> dict[str, object]:
        refuse_formats(call.params, _CIDR_FORMAT)
        fw = call.ctx.store.read(resolve(call).key)
        ipset = _require(fw, call.params["name"])
        index = _entry_index(ipset, call.params["cidr"])
        if index is None:
            raise param_error("cidr", "no such IP/Network")
        return _entries(call, resolve, fw, ipset)[index]

    return handler


def update_entry(resolve: TargetResolver) -> Handler:
    """PUT replaces both ``nomatch`` and ``comment``: what is not sent is cleared."""

    def handler(call: Call) -> None:
        params = call.params
        refuse_formats(params, _CIDR_FORMAT)
        with modify(call, resolve(call).key) as txn:
            ipset = _require(txn.fw, params["name"])
            if params.get("digest"):  # the list digest costs a pass over every entry: only when checked
                check_digest(list_digest(_entries(call, resolve, txn.fw, ipset)), params["digest"])
            index = _entry_index(ipset, params["cidr"])
            if index is None:
                raise param_error("cidr", "no such IP/Network")
            entries = list(ipset.entries)
            entries[index] = IPSetEntry(entries[index].cidr, bool(params.get("nomatch")), params.get("comment") or None)
            _save_set(txn, ipset, replace(ipset, entries=tuple(entries)))

    return handler


def delete_entry(resolve: TargetResolver) -> Handler:
    """DELETE of an entry that is not there succeeds."""

    def handler(call: Call) -> None:
        params = call.params
        refuse_formats(params, _CIDR_FORMAT)
        with modify(call, resolve(call).key) as txn:
            ipset = _require(txn.fw, params["name"])
            if params.get("digest"):  # the list digest costs a pass over every entry: only when checked
                check_digest(list_digest(_entries(call, resolve, txn.fw, ipset)), params["digest"])
            entries = tuple(entry for entry in ipset.entries if stored_cidr(entry.cidr) != params["cidr"])
            _save_set(txn, ipset, replace(ipset, entries=entries))

    return handler
