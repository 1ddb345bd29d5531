"""The third switch: the ``firewall`` flag of a guest's network devices.

PVE filters a guest only when the datacenter firewall is on, the guest's own firewall is on,
and the NIC's config line (``net0: virtio=BC:24:11:..,bridge=vmbr0,firewall=1``) carries
``firewall=1``. This module reads the guest's ``netN`` lines, changes only their ``firewall``
key and writes the changed lines back in one PUT of the guest config with its digest.

Only the ``firewall`` part of a line is touched: it is split on commas into its parts, and
turning the flag on replaces a false value in place (``firewall=0`` becomes ``firewall=1``) or
appends ``,firewall=1``. Turning it off removes the part, as PVE's GUI does (PVE writes the
flag only when it is set, so a line without it is the usual form of "off"); a ``firewall=0``
already there means off and is left alone. Everything else (``rate=12.5,queues=4``, a key PVE
adds in a later release) is kept. A line that changes is then predicted as PVE stores it
(``pve_printed``): PVE parses the value it is given and prints it again in its own key order,
so the lines after a write, and the diff, are what PVE holds. A line whose flag is already
right is not written and stays as it is.

No Ansible imports: the module glue lives in ``_module_kit``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .._compiler.api_mapping import ApiCall
from .service import FirewallApi, Scope, Snapshot
from .sync import SyncError, SyncResult, sync_object

NIC_KEY = re.compile(r"net(\d+)")
FIREWALL = "firewall"
# pve-common's parse_boolean, which PVE applies to a boolean given with its key
_TRUE = re.compile(r"1|on|yes|true", re.IGNORECASE)

NicLines = dict[str, str]


def nic_order(name: str) -> tuple[int, str]:
    found = NIC_KEY.fullmatch(name)
    return (int(found.group(1)) if found else 1 << 30, name)


@dataclass(frozen=True)
class NicLine:
    """One ``netN`` value as its comma-separated parts, each kept as written."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> NicLine:
        return cls(tuple(text.split(",")))

    @property
    def text(self) -> str:
        return ",".join(self.parts)

    @staticmethod
    def key_of(part: str) -> str | None:
        """The key of a ``key=value`` part (PVE: ``^([^=]+)=(.+)$``); None for a bare value."""
        key, sep, value = part.partition("=")
        return key if sep and key and value else None

    def _flag_index(self) -> int | None:
        return next((index for index, part in enumerate(self.parts) if self.key_of(part) == FIREWALL), None)

    @property
    def firewall(self) -> bool:
        index = self._flag_index()
        return index is not None and bool(_TRUE.fullmatch(self.parts[index].partition("=")[2]))

    def with_firewall(self, enabled: bool) -> NicLine:
        """The line with the flag set or cleared; the same line when it already says so."""
        if self.firewall == enabled:
            return self
        index = self._flag_index()
        if enabled:
            if index is None:
                return NicLine(self.parts + (f"{FIREWALL}=1",))
            return NicLine(self.parts[:index] + (f"{FIREWALL}=1",) + self.parts[index + 1 :])
        if index is None:  # cannot happen: a line without the flag is off
            return self
        return NicLine(self.parts[:index] + self.parts[index + 1 :])


def set_firewall(text: str, enabled: bool) -> str:
    """``text`` with only its ``firewall`` key changed (see the module docstring)."""
    return NicLine.parse(text).with_firewall(enabled).text


# qemu-server's NIC models (QemuServer/Network.pm $nic_model_list): as a key, a model is the
# keyAlias of ``model`` and its value is ``macaddr`` (``virtio=BC:24:11:..``).
QEMU_MODELS = frozenset("e1000 e1000-82540em e1000-82544gc e1000-82545em e1000e i82551 i82557b i82559er ne2k_isa ne2k_pci pcnet rtl8139 virtio vmxnet3".split())
# Boolean keys of the NIC formats, which parse_property_string passes through parse_boolean.
BOOLEAN_KEYS = frozenset(("firewall", "link_down", "host-managed"))
_FALSE = re.compile(r"0|off|no|false", re.IGNORECASE)


def pve_printed(text: str, guest_type: str) -> str:
    """The line as PVE stores it when it is written: parsed and printed again.

    qemu-server's ``update_vm_api`` stores ``print_net(parse_net(value))``
    (QemuServer/Network.pm), pve-container's ``update_pct_config`` stores
    ``print_lxc_network(parse_lxc_network(value))`` (LXC/Config.pm, which sets ``type=veth``).
    Both print with pve-common's ``print_property_string``: the default key first (qemu's
    ``model``, joined with ``macaddr`` as ``virtio=MAC``), then the required keys sorted (lxc's
    ``name``), then every other key sorted; booleans as ``parse_boolean`` reads them. A line
    without a MAC gets a random one from PVE, which cannot be predicted: it is kept as is."""
    values: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key = NicLine.key_of(part)
        if key is None:  # a bare value is qemu's default key, the model; lxc has none
            if guest_type != "qemu":
                return text
            values["model"] = part
            continue
        value = part.partition("=")[2]
        if guest_type == "qemu" and key in QEMU_MODELS:
            values["model"], key = key, "macaddr"
        if key in BOOLEAN_KEYS:
            value = "1" if _TRUE.fullmatch(value) else "0" if _FALSE.fullmatch(value) else value
        values[key] = value
    if guest_type == "qemu":
        if "model" not in values or "macaddr" not in values:
            return text
        first = [f"{values.pop('model')}={values.pop('macaddr')}"]
    else:
        if "name" not in values or "hwaddr" not in values:
            return text
        values["type"] = "veth"
        first = [f"name={values.pop('name')}"]
    return ",".join(first + [f"{key}={value}" for key, value in sorted(values.items())])


def planned_lines(lines: Mapping[str, str], enabled: bool, names: Iterable[str] | None = None, guest_type: str = "qemu") -> NicLines:
    """Every NIC line as it will be: the flag set or cleared on ``names`` (default all), each
    line that changes as PVE will store it."""
    wanted = set(lines) if names is None else set(names)

    def planned(text: str) -> str:
        changed = set_firewall(text, enabled)
        return text if changed == text else pve_printed(changed, guest_type)

    return {name: planned(text) if name in wanted else text for name, text in lines.items()}


def unknown_nics(lines: Mapping[str, str], names: Iterable[str]) -> list[str]:
    return [name for name in names if name not in lines]


def read_nic_lines(api: FirewallApi, scope: Scope) -> Snapshot[NicLines]:
    """The guest's ``netN`` lines in NIC order, with the config digest a write must carry."""
    config = api.get(scope.config_path) or {}
    lines = {str(key): str(value) for key, value in config.items() if NIC_KEY.fullmatch(str(key))}
    ordered = {name: lines[name] for name in sorted(lines, key=nic_order)}
    digest = config.get("digest")
    return Snapshot(ordered, str(digest) if digest else None)


def nic_call(scope: Scope, before: Mapping[str, str], after: Mapping[str, str]) -> ApiCall | None:
    """One PUT of the lines that change, or None when none does."""
    changed = {name: text for name, text in after.items() if before.get(name) != text}
    return ApiCall("PUT", scope.config_path, changed) if changed else None


def diff_text(lines: Mapping[str, str], path: str) -> str:
    """The lines as they read in the guest config, for a diff (a comment names the file)."""
    if not lines:
        return ""
    return f"# {path}\n" + "".join(f"{name}: {text}\n" for name, text in lines.items())


def sync_nic_firewall(
    api: FirewallApi,
    scope: Scope,
    enabled: bool,
    names: Sequence[str] | None,
    *,
    check_mode: bool,
    first: Snapshot[NicLines] | None = None,
) -> SyncResult[NicLines]:
    """Set or clear the flag on ``names`` (default every NIC) with one PUT carrying the
    config digest; another writer's change in between is read and planned on top of."""

    def plan(lines: NicLines) -> tuple[NicLines, ApiCall | None]:
        missing = unknown_nics(lines, names or ())
        if missing:  # removed by another writer since the names were checked
            raise SyncError(f"{scope.label} has no NIC {', '.join(missing)} any more (changed meanwhile)")
        after = planned_lines(lines, enabled, names, scope.kind.guest_type)
        return after, nic_call(scope, lines, after)

    return sync_object(lambda: read_nic_lines(api, scope), plan, api.send, check_mode=check_mode, label=f"the NICs of {scope.label}", first=first)
