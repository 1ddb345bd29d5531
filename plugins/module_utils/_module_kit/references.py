"""Checks of a module's input against what the cluster holds, reading only what they need:
the references rules make, names a cluster does not have, objects still in use."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from .._api.service import FirewallApi, Scope
from .._compiler.addresses import is_alias_reference
from .._compiler.config_validation import ReferenceScope
from .._compiler.normalise import normalise_rule
from .._compiler.rule_validation import References, check_rule
from .._model.errors import FieldError
from .._model.objects import FileKind, FirewallFile, Rule
from .runner import ModuleFailure


def unknown_names(option: str, what: str, asked: Sequence[Any], known: Sequence[Any]) -> list[FieldError]:
    """One error per asked name (node, guest id, vnet) the cluster does not have, naming the
    option, its position and the value, with what exists."""
    accepted = ", ".join(map(str, known)) or f"no {what} exists in this cluster"
    message = f"no such {what} in the cluster"
    return [FieldError(f"{option}[{index}]", option, value, message, accepted) for index, value in enumerate(asked) if value not in known]


def _address_tokens(rule: Rule) -> list[str]:
    return [item.strip() for text in (rule.source, rule.dest) if text for item in text.split(",")]


def rule_references(api: FirewallApi, scope: Scope, rules: Iterable[Rule]) -> References:
    """What the rules may refer to at ``scope``: the datacenter's (and the guest's own) ipsets
    and aliases, the security groups and the SDN sets, each list read only if some rule needs it."""
    rules = tuple(rules)
    tokens = [token for rule in rules for token in _address_tokens(rule)]
    wants_ipsets = any(token.startswith("+") for token in tokens)
    # a set without scope may be an SDN one too, but is looked up there last: only +sdn/ reads them
    wants_sdn = any(token.startswith("+sdn/") for token in tokens)
    wants_aliases = any(is_alias_reference(token) for token in tokens if not token.startswith("+"))
    wants_groups = any(rule.type == "group" for rule in rules)
    cluster = Scope("cluster")
    cluster_file = FirewallFile(
        FileKind.CLUSTER,
        aliases=api.read_aliases(cluster).items if wants_aliases else (),
        ipsets=api.list_ipsets(cluster).items if wants_ipsets else (),
        groups=api.list_groups().items if wants_groups else (),
    )
    own = None
    if scope.level in ("vm", "ct") and (wants_aliases or wants_ipsets):
        own = FirewallFile(
            FileKind.GUEST,
            aliases=api.read_aliases(scope).items if wants_aliases else (),
            ipsets=api.list_ipsets(scope).items if wants_ipsets else (),
        )
    return ReferenceScope(cluster_file, own, sdn_ipsets=sdn_ipsets(api) if wants_sdn else None).references(check_groups=wants_groups)


def sdn_ipsets(api: FirewallApi) -> frozenset[str]:
    """The IP sets PVE's SDN generates (scope ``sdn`` of the datacenter's refs list, which
    PVE::API2::Firewall::Cluster get_refs fills from the running SDN configuration and the
    IPAM: the four sets of each vnet and ``guest-ipam-<vmid>``), by name as PVE looks them
    up: exactly."""
    return frozenset(str(item["name"]) for item in api.refs(Scope("cluster")) if item.get("type") == "ipset" and item.get("scope") == "sdn")


def check_rules(rules: Sequence[Rule], scope_level: Any, refs: References | None, location: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, rule in enumerate(rules):
        errors += check_rule(rule, scope_level, location=f"{location}[{index}]", refs=refs).errors
    return errors


def check_written_rules(api: FirewallApi, scope: Scope, scope_level: Any, listed: Sequence[Rule], current: Sequence[Rule], location: str) -> list[FieldError]:
    """The reference checks of the listed rules a run may write: those not already in the
    list (``current``, as read) as they are. A rule that is there is written by no plan (PVE
    took it when it was made), so a run that finds every listed rule in place reads no
    reference list: a rerun costs one read. The rules' own checks ran offline before."""
    have = Counter(current)
    fresh: list[int] = []
    for index, rule in enumerate(listed):
        key = normalise_rule(rule)
        if have[key] > 0:
            have[key] -= 1
        else:
            fresh.append(index)
    if not fresh:
        return []
    refs = rule_references(api, scope, [listed[index] for index in fresh])
    errors: list[FieldError] = []
    for index in fresh:
        errors += check_rule(listed[index], scope_level, location=f"{location}[{index}]", refs=refs).errors
    return errors


def still_used(what: str, places: Sequence[str], *, users: tuple[str, str] = ("rule", "rules"), key: str = "used_by") -> ModuleFailure:
    """The refusal to remove ``what`` while ``places`` use it; nothing was written. ``users``
    names what uses it (one, many), ``key`` the result key that lists the places."""
    count = len(places)
    noun = users[0] if count == 1 else users[1]
    return ModuleFailure(
        f"{what} is still used by {count} {noun}: {'; '.join(places)}; remove or change those first (nothing was written)",
        **{key: list(places)},
    )
