"""PVE's configuration digests (reference 1.0, FW:1233-1281).

Both are SHA-1 hex over ``key ":" value "\\n"`` lines with keys byte-sorted: an object digest
over one mapping (options), a list digest over every entry in list order (rules, entries,
aliases, group and ipset lists). Undefined and non-scalar values (``errors``) are skipped;
``pos`` and ``digest`` are added after hashing and so never part of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

EMPTY_DIGEST = hashlib.sha1(b"").hexdigest()
_NOT_HASHED = frozenset({"pos", "digest"})


def _scalar_text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list, tuple)):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _feed(sha: hashlib._Hash, entry: Mapping[str, object]) -> None:
    for key in sorted(entry, key=lambda name: name.encode()):
        if key in _NOT_HASHED:
            continue
        text = _scalar_text(entry[key])
        if text is not None:
            sha.update(f"{key}:{text}\n".encode())


def object_digest(data: Mapping[str, object]) -> str:
    sha = hashlib.sha1()
    _feed(sha, data)
    return sha.hexdigest()


def list_digest(entries: Iterable[Mapping[str, object]]) -> str:
    sha = hashlib.sha1()
    for entry in entries:
        _feed(sha, entry)
    return sha.hexdigest()


def with_digest(entries: list[dict[str, object]], *, positions: bool = False) -> list[dict[str, object]]:
    """Copy the list digest into every entry (and ``pos`` when asked), as PVE's GET does."""
    digest = list_digest(entries)
    out = []
    for index, entry in enumerate(entries):
        item = {**entry, "digest": digest}
        if positions:
            item["pos"] = index
        out.append(item)
    return out
