"""Model values to PVE API request parameters and back (reference 1.2-1.6).

What PVE returns goes through the normaliser, so it compares equal to what a user wrote.
Writes follow PVE's quirks: booleans are 0/1, a new rule carries ``enable`` explicitly (POST
stores it disabled otherwise), cleared rule fields go into ``delete`` (never ``delete=enable``,
which would enable the rule), and an ipset entry or alias PUT always sends every field because
PVE replaces them all.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from .._model.list_operations import CreateItem, ListOperation, MoveItem, UpdateItem
from .._model.objects import Alias, IPSet, IPSetEntry, OptionValue, Rule, SecurityGroup
from .normalise import normalise_alias, normalise_ipset_cidr, normalise_rule, optional_text
from .options import api_option_value, normalise_option

ApiParams = dict[str, Union[str, int]]  # noqa: UP007


@dataclass(frozen=True)
class ApiCall:
    """One API request a module makes or would make (the ``commands`` it returns)."""

    method: str
    path: str
    params: Mapping[str, str | int] = field(default_factory=dict)

    def __str__(self) -> str:
        shown = " ".join(f"{key}={shlex.quote(str(value))}" for key, value in self.params.items() if key != "digest")
        return f"{self.method} {self.path}" + (f" {shown}" if shown else "")


def rule_call(path: str, op: ListOperation[Rule]) -> ApiCall:
    """The request that carries out one planned operation on the rule list at ``path``."""
    if isinstance(op, CreateItem):
        return ApiCall("POST", path, rule_to_api(op.item))
    if isinstance(op, UpdateItem):
        return ApiCall("PUT", f"{path}/{op.pos}", rule_update_params(op.before, op.after))
    if isinstance(op, MoveItem):
        return ApiCall("PUT", f"{path}/{op.pos}", {"moveto": op.moveto})
    return ApiCall("DELETE", f"{path}/{op.pos}")


# Model attribute -> API parameter, for every optional rule field.
RULE_API_FIELDS: tuple[tuple[str, str], ...] = (
    ("macro", "macro"),
    ("iface", "iface"),
    ("source", "source"),
    ("dest", "dest"),
    ("proto", "proto"),
    ("dport", "dport"),
    ("sport", "sport"),
    ("icmp_type", "icmp-type"),
    ("log", "log"),
    ("comment", "comment"),
)
# Keys in API answers that are not part of the object.
_API_META_KEYS = frozenset({"pos", "digest", "ipversion", "errors"})


def _flag(value: object) -> bool:
    return str(value) not in ("0", "", "False", "None")


def rule_to_api(rule: Rule) -> ApiParams:
    """Parameters of a POST that creates ``rule`` (enable always explicit)."""
    params: ApiParams = {"type": rule.type, "action": rule.action, "enable": int(rule.enable)}
    for attr, key in RULE_API_FIELDS:
        value = getattr(rule, attr)
        if value is not None:
            params[key] = value
    return params


def rule_update_params(before: Rule, after: Rule) -> ApiParams:
    """Parameters of the PUT that turns ``before`` into ``after`` in place."""
    params: ApiParams = {}
    if before.type != after.type:
        params["type"] = after.type
    if before.action != after.action:
        params["action"] = after.action
    if before.enable != after.enable:
        params["enable"] = int(after.enable)
    cleared = []
    for attr, key in RULE_API_FIELDS:
        old, new = getattr(before, attr), getattr(after, attr)
        if new is None and old is not None:
            cleared.append(key)
        elif new != old:
            params[key] = new
    if cleared:
        params["delete"] = ",".join(cleared)
    return params


def rule_from_api(data: Mapping[str, Any]) -> Rule:
    """A rule as GET returns it (``pos``, ``digest``, ``ipversion``, ``errors`` dropped)."""
    values = {attr: (None if data.get(key) is None else str(data[key])) for attr, key in RULE_API_FIELDS}
    return normalise_rule(
        Rule(
            type=str(data.get("type", "")),
            action=str(data.get("action", "")),
            enable=_flag(data.get("enable", 1)),
            **values,
        )
    )


def ipset_entry_to_api(entry: IPSetEntry) -> ApiParams:
    """POST parameters for a new entry (PVE has no digest here)."""
    params: ApiParams = {"cidr": entry.cidr}
    if entry.nomatch:
        params["nomatch"] = 1
    if entry.comment:
        params["comment"] = entry.comment
    return params


def ipset_entry_update_params(entry: IPSetEntry) -> ApiParams:
    """PUT replaces both ``nomatch`` and ``comment``: always send both."""
    return {"nomatch": int(entry.nomatch), "comment": entry.comment or ""}


def ipset_entry_from_api(data: Mapping[str, Any]) -> IPSetEntry:
    # What normalise_ipset_entry gives, built once: sets of tens of thousands of entries are read.
    return IPSetEntry(normalise_ipset_cidr(str(data["cidr"])), _flag(data.get("nomatch", 0)), optional_text(data.get("comment")))


def ipset_from_api(data: Mapping[str, Any], entries: Iterable[Mapping[str, Any]] = ()) -> IPSet:
    return IPSet(str(data["name"]).lower(), optional_text(data.get("comment")), tuple(map(ipset_entry_from_api, entries)))


def named_object_params(name_key: str, name: str, comment: str | None) -> ApiParams:
    """POST parameters that create an ipset (``name``) or a group (``group``)."""
    params: ApiParams = {name_key: name}
    if comment:
        params["comment"] = comment
    return params


def comment_update_params(name_key: str, name: str, comment: str | None) -> ApiParams:
    """Comment-only update of an ipset or group: PVE's rename to the same name."""
    return {name_key: name, "rename": name, "comment": comment or ""}


def alias_to_api(alias: Alias) -> ApiParams:
    params: ApiParams = {"name": alias.name, "cidr": alias.cidr}
    if alias.comment:
        params["comment"] = alias.comment
    return params


def alias_update_params(alias: Alias) -> ApiParams:
    """PUT requires ``cidr`` and replaces the comment; the name goes in the path."""
    return {"cidr": alias.cidr, "comment": alias.comment or ""}


def alias_from_api(data: Mapping[str, Any]) -> Alias:
    return normalise_alias(Alias(str(data["name"]), str(data["cidr"]), optional_text(data.get("comment"))))


def group_from_api(data: Mapping[str, Any], rules: Iterable[Mapping[str, Any]] = ()) -> SecurityGroup:
    return SecurityGroup(str(data["group"]).lower(), optional_text(data.get("comment")), tuple(map(rule_from_api, rules)))


def options_from_api(level: str, data: Mapping[str, Any]) -> dict[str, OptionValue]:
    """Options as GET returns them (only set keys; ``digest`` dropped), canonical values.

    A value PVE holds but this collection does not know is kept as text rather than lost.
    """
    options: dict[str, OptionValue] = {}
    for key, raw in data.items():
        if key in _API_META_KEYS:
            continue
        value, errors = normalise_option(level, key, raw, location=f"{level} options")
        options[key] = raw if errors or value is None else value
    return options


def options_to_api(level: str, changed: Mapping[str, OptionValue], delete: Iterable[str] = ()) -> ApiParams:
    params: ApiParams = {key: api_option_value(level, key, value) for key, value in changed.items()}
    cleared = sorted(delete)
    if cleared:
        params["delete"] = ",".join(cleared)
    return params


def with_digest(params: ApiParams, digest: str | None) -> ApiParams:
    """Attach the digest of the read a write was planned from (PVE checks it if given)."""
    return {**params, "digest": digest} if digest else dict(params)
