"""Aliases of the cluster and of guests (reference 1.5). Names are looked up
case-insensitively; the stored name keeps the case it was sent with."""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.pve.firewall.plugins.module_utils._model.objects import Alias, FirewallFile

from ..context import Call
from ..digests import list_digest
from ..errors import param_error
from ..routes import Handler
from ..targets import TargetResolver
from ..views import alias_view, aliases_view
from .common import check_digest, modify, pve_ip_or_cidr_problem, refuse_formats

# The cidr parameter's format (IPorCIDR), checked on its own (common.py): '10.0.0.1/0' and
# 'fe80::1%eth0' are refused, '10.0.0.1/00' is stored as given.
_CIDR_FORMAT = {"cidr": pve_ip_or_cidr_problem}


def _find(fw: FirewallFile, name: str) -> Alias | None:
    return fw.alias(name)  # case-insensitive, as PVE looks aliases up


def _without(fw: FirewallFile, alias: Alias | None) -> tuple[Alias, ...]:
    return tuple(item for item in fw.aliases if item is not alias)


def list_aliases(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> list[dict[str, object]]:
        return aliases_view(call.ctx.store.read(resolve(call).key).aliases)

    return handler


def create_alias(resolve: TargetResolver) -> Handler:
    """POST: no digest; the cidr is stored exactly as given."""

    def handler(call: Call) -> None:
        params = call.params
        refuse_formats(params, _CIDR_FORMAT)
        with modify(call, resolve(call).key) as txn:
            if _find(txn.fw, params["name"]) is not None:
                raise param_error("name", f"alias '{params['name']}' already exists")
            alias = Alias(params["name"], params["cidr"], params.get("comment") or None)
            txn.save(replace(txn.fw, aliases=(*txn.fw.aliases, alias)))

    return handler


def get_alias(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> dict[str, object]:
        alias = _find(call.ctx.store.read(resolve(call).key), call.params["name"])
        if alias is None:
            raise param_error("name", "no such alias")
        return alias_view(alias)

    return handler


def update_alias(resolve: TargetResolver) -> Handler:
    """PUT needs ``cidr`` and replaces the whole entry (an omitted comment is removed)."""

    def handler(call: Call) -> None:
        params = call.params
        refuse_formats(params, _CIDR_FORMAT)
        with modify(call, resolve(call).key) as txn:
            check_digest(list_digest(aliases_view(txn.fw.aliases)), params.get("digest"))
            alias = _find(txn.fw, params["name"])
            if alias is None:
                raise param_error("name", "no such alias")
            name = params.get("rename") or params["name"]
            if params.get("rename") is not None:
                clash = _find(txn.fw, name)
                if clash is not None and clash is not alias:
                    raise param_error("name", f"alias '{name}' already exists")
            updated = Alias(name, params["cidr"], params.get("comment") or None)
            txn.save(replace(txn.fw, aliases=(*_without(txn.fw, alias), updated)))

    return handler


def delete_alias(resolve: TargetResolver) -> Handler:
    """DELETE of a missing alias succeeds; references are not checked."""

    def handler(call: Call) -> None:
        with modify(call, resolve(call).key) as txn:
            check_digest(list_digest(aliases_view(txn.fw.aliases)), call.params.get("digest"))
            alias = _find(txn.fw, call.params["name"])
            if alias is not None:
                txn.save(replace(txn.fw, aliases=_without(txn.fw, alias)))
            else:
                txn.save(txn.fw)

    return handler
