"""The firewall configuration as real ``.fw`` files, laid out like ``/etc/pve``.

=====================================  =================================
file                                   PVE path
=====================================  =================================
``<state>/firewall/cluster.fw``        ``/etc/pve/firewall/cluster.fw``
``<state>/nodes/<node>/host.fw``       ``/etc/pve/nodes/<node>/host.fw``
``<state>/firewall/<vmid>.fw``         ``/etc/pve/firewall/<vmid>.fw``
``<state>/sdn/firewall/<vnet>.fw``     ``/etc/pve/sdn/firewall/<vnet>.fw``
=====================================  =================================

Files are read the way PVE reads them (``parse_fw(..., lenient=True)``: unreadable lines are
skipped, a cluster ``enable`` timestamp expires by the emulator's clock) on every access, so a
hand edit is seen at once; a file PVE cannot load fails every request that reads it. Every
write re-renders the whole file as PVE's writer does (``render_fw(canonical=False)``: values as
stored, Perl-false fields dropped) and replaces it atomically; a file that renders empty is
deleted, and a rule type the writer dies on fails the write, as in PVE. A rendering over
pmxcfs' 1 MiB is refused as PVE refuses it (``FileTooLarge``), the file left as it was. Each
file has its own lock with PVE's 10 s timeout (``cfs_lock_firewall``), so writers serialise per
file like they do on pmxcfs; readers never wait.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import (
    FwFileUnreadable,
    FwWriteError,
    expire_enable,
    parse_fw,
    render_fw,
)
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_size import PMXCFS_MAX_FILE_SIZE
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile

from .errors import ApiFailure
from .knobs import Clock, Settings

# Where PVE's format_rules dies on a rule type it does not know (pve-firewall HEAD), for the
# "at FILE line N." Perl appends to a die message without a newline.
FORMAT_RULES_DIE_AT = "/usr/share/perl5/PVE/Firewall.pm line 3731"


@dataclass(frozen=True)
class FileKey:
    """One ``.fw`` file: its kind and the node, vmid or vnet it belongs to."""

    kind: FileKind
    name: str = ""

    @classmethod
    def cluster(cls) -> FileKey:
        return cls(FileKind.CLUSTER)

    @classmethod
    def host(cls, node: str) -> FileKey:
        return cls(FileKind.HOST, node)

    @classmethod
    def guest(cls, vmid: int) -> FileKey:
        return cls(FileKind.GUEST, str(vmid))

    @classmethod
    def vnet(cls, vnet: str) -> FileKey:
        return cls(FileKind.VNET, vnet)

    @property
    def lock_name(self) -> str:
        """PVE's lock scope: cluster, host-<node>, vm-<vmid>, vnet-<vnet>."""
        prefix = {FileKind.CLUSTER: "cluster", FileKind.HOST: "host-", FileKind.GUEST: "vm-", FileKind.VNET: "vnet-"}[self.kind]
        return prefix + self.name

    @property
    def relpath(self) -> Path:
        if self.kind is FileKind.CLUSTER:
            return Path("firewall/cluster.fw")
        if self.kind is FileKind.HOST:
            return Path("nodes") / self.name / "host.fw"
        if self.kind is FileKind.GUEST:
            return Path("firewall") / f"{self.name}.fw"
        return Path("sdn/firewall") / f"{self.name}.fw"


def key_for_relpath(relpath: str) -> FileKey | None:
    """The file a state-relative path names, or None when it is no firewall file."""
    parts = Path(relpath).parts
    match parts:
        case ("firewall", "cluster.fw"):
            return FileKey.cluster()
        case ("firewall", name) if name.endswith(".fw") and name[:-3].isdigit():
            return FileKey.guest(int(name[:-3]))
        case ("nodes", node, "host.fw"):
            return FileKey.host(node)
        case ("sdn", "firewall", name) if name.endswith(".fw"):
            return FileKey.vnet(name[:-3])
    return None


def too_large_message(relpath: Path | str) -> str:
    """PVE's error for a file over the limit. pve-common's ``file_set_contents`` (PVE::File) writes
    ``<file>.tmp.<pid>`` and dies ``unable to write '<tmp>' - $!`` when ``syswrite`` fails;
    pmxcfs' ``memdb_write`` (pve-cluster memdb.c) fails with EFBIG ("File too large") once
    ``offset + count`` exceeds ``MEMDB_MAX_FILE_SIZE``. The firewall's cfs lock re-raises a
    handler's error as it is (pve-cluster ``$cfs_lock``), so the API answers a plain 500."""
    return f"unable to write '/etc/pve/{Path(relpath).as_posix()}.tmp.{os.getpid()}' - File too large"


def check_file_size(relpath: Path | str, text: str) -> None:
    """Refuse a file pmxcfs would refuse, before anything is written (the old file stays)."""
    if len(text.encode("utf-8")) > PMXCFS_MAX_FILE_SIZE:
        raise ApiFailure(too_large_message(relpath))


@dataclass(frozen=True)
class _Cached:
    stamp: tuple[int, int, int]
    fw: FirewallFile


class FileStore:
    def __init__(self, root: Path, clock: Clock, settings: Settings) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._settings = settings
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._cache: dict[Path, _Cached] = {}

    def path(self, key: FileKey) -> Path:
        return self.root / key.relpath

    # -- reading ---------------------------------------------------------------------------

    def read(self, key: FileKey) -> FirewallFile:
        """The file as PVE's parser sees it now (missing: empty; one PVE cannot load: its 500)."""
        return expire_enable(self._parsed(key), self._clock.now())

    def _parsed(self, key: FileKey) -> FirewallFile:
        path = self.path(key)
        try:
            stat = path.stat()
            stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            cached = self._cache.get(path)
            if cached is not None and cached.stamp == stamp:
                return cached.fw
            with path.open(encoding="utf-8", errors="replace", newline="") as handle:  # no newline translation: PVE ends lines at \n only
                text = handle.read()
        except OSError:
            return FirewallFile(key.kind)
        try:
            fw = parse_fw(text, key.kind, filename=str(key.relpath), lenient=True, expire=False).file
        except FwFileUnreadable as error:
            raise ApiFailure(error.pve_message) from error
        self._cache[path] = _Cached(stamp, fw)
        return fw

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def locked(self, key: FileKey) -> Iterator[None]:
        """Hold the file's lock; PVE's timeout error when it cannot be had in time."""
        with self._locks_guard:
            lock = self._locks.setdefault(key.lock_name, threading.Lock())
        if not lock.acquire(timeout=self._settings.lock_timeout):
            raise ApiFailure(f"cfs-lock 'firewall-{key.lock_name}' error: got lock request timeout")
        try:
            yield
        finally:
            lock.release()

    def write(self, key: FileKey, fw: FirewallFile) -> None:
        """Re-render the whole file; an empty rendering deletes it (caller holds the lock)."""
        try:
            text = render_fw(fw, canonical=False)
        except FwWriteError as error:
            raise ApiFailure(f"{error} at {FORMAT_RULES_DIE_AT}.\n") from error
        check_file_size(key.relpath, text)
        self.write_text(key.relpath, text)

    def write_text(self, relpath: Path | str, text: str) -> None:
        path = self.root / relpath
        if not text:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    # -- raw access for the control API --------------------------------------------------------

    def files(self) -> list[str]:
        return sorted(str(path.relative_to(self.root)) for path in self.root.rglob("*.fw") if path.is_file())

    def read_text(self, relpath: str) -> str | None:
        path = self.root / relpath
        if not path.is_file():
            return None
        with path.open(encoding="utf-8", newline="") as handle:
            return handle.read()

    def wipe(self) -> None:
        for relpath in self.files():
            (self.root / relpath).unlink(missing_ok=True)
        self._cache.clear()
