"""Helpers every handler family shares: digest checks, reference views, file transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import AliasRef
from ansible_collections.pve.firewall.plugins.module_utils._compiler.rule_validation import References
from ansible_collections.pve.firewall.plugins.module_utils._engine.matchers import references
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile

from ..context import Call
from ..errors import MODIFIED, ApiFailure
from ..state import FileKey
from ..targets import Target
from ..views import alias_family


def check_digest(current: str, given: str | None) -> None:
    """PVE's assert_if_modified: fails only when both digests are non-empty and differ."""
    if current and given and current != given:
        raise ApiFailure(MODIFIED)


def cluster_file(call: Call) -> FirewallFile:
    return call.ctx.store.read(FileKey.cluster())


def refs_for(call: Call, target: Target, fw: FirewallFile) -> References:
    """What rules of ``target`` may refer to: the datacenter's sets and aliases, plus the
    guest's own for a guest file (``fw`` is the target's file as just read)."""
    cluster = fw if target.key.kind is FileKind.CLUSTER else cluster_file(call)
    # PVE's API verifies references without their dc/ or guest/ scope (reference 2.2 item 5)
    return replace(references(cluster, fw if target.has_own_refs else None), scope_checked=False)


def alias_lookup(call: Call, target: Target, fw: FirewallFile) -> Callable[[AliasRef], bool]:
    """Whether an alias reference resolves where ``fw`` lives (dc/ and guest/ honoured)."""
    cluster = fw if target.key.kind is FileKind.CLUSTER else cluster_file(call)
    own = fw if target.has_own_refs else None

    def known(ref: AliasRef) -> bool:
        def has(where: FirewallFile | None) -> bool:
            alias = where.alias(ref.name) if where else None
            return alias is not None and alias_family(alias.cidr) is not None

        if ref.scope == "dc":
            return has(cluster)
        if ref.scope == "guest":
            return has(own)
        return has(own) or has(cluster)

    return known


@dataclass
class Transaction:
    """A locked read-modify-write of one file; ``save`` re-renders it."""

    call: Call
    key: FileKey
    fw: FirewallFile

    def save(self, fw: FirewallFile) -> None:
        self.call.ctx.store.write(self.key, fw)  # may refuse (too large): then nothing changed
        self.fw = fw


@contextmanager
def modify(call: Call, key: FileKey) -> Iterator[Transaction]:
    with call.ctx.store.locked(key):
        yield Transaction(call, key, call.ctx.store.read(key))
