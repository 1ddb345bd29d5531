"""Guest NIC property strings (``netN`` of a guest config) as qemu-server and pve-container
define them: parsing, PVE's format checks, MAC completion, and the inventory ``Nic`` they give.

qemu (``pve-qm-net``): ``model`` is the default key and may carry the MAC as its value
(``virtio=BC:24:11:..`` is ``model=virtio,macaddr=BC:24:11:..``); ``bridge``, ``firewall``,
``link_down``, ``mtu``, ``queues``, ``rate``, ``tag``, ``trunks``. lxc: ``name`` (required),
``bridge``, ``hwaddr``, ``ip``/``gw``, ``ip6``/``gw6``, ``firewall``, ``link_down``, ``mtu``,
``rate``, ``tag``, ``trunks``, ``type`` (veth). Parsing follows pve-common's
``parse_property_string``: booleans given with a key go through ``parse_boolean``, unknown
keys fail before any value is checked.

A line given in the topology is kept as written (a hand-edited config); a line written
through the API is stored as PVE stores it, re-printed in PVE's key order (``stored_nic``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Nic

NIC_KEY = re.compile(r"net(\d+)")
MAX_NICS = 32  # qemu-server's MAX_NETS and pve-container's MAX_LXC_NETWORKS
MAC_PREFIX = "BC:24:11"  # PVE's default mac_prefix (datacenter.cfg)
QEMU_MODELS = (
    "e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b", "i82559er",
    "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3",
)  # fmt: skip
_TRUE = re.compile(r"1|on|yes|true", re.IGNORECASE)
_FALSE = re.compile(r"0|off|no|false", re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?")
_UNICAST_MAC = re.compile(r"[0-9a-f][02468ace](:[0-9a-f]{2}){5}", re.IGNORECASE)
_BRIDGE = re.compile(r"[-_.\w\d]+")
_TRUNKS = r"\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*"


class NicFormatError(ValueError):
    """What PVE's format check says about a NIC string (without ``invalid format - ``)."""


def _mac_address(value: str) -> str | None:
    if not _UNICAST_MAC.fullmatch(value):
        return f"value '{value}' does not look like a valid unicast MAC address"
    return None


def _bridge(value: str) -> str | None:
    return None if _BRIDGE.fullmatch(value) else f"invalid bridge ID '{value}'"


def _ipv4_config(value: str) -> str | None:
    if value in ("dhcp", "manual"):
        return None
    try:
        if "/" in value and ipaddress.ip_interface(value).version == 4:
            return None
    except ValueError:
        pass
    return f"value '{value}' is neither an IPv4 address in CIDR notation nor 'dhcp' or 'manual'"


def _ipv6_config(value: str) -> str | None:
    if value in ("auto", "dhcp", "manual"):
        return None
    try:
        if "/" in value and ipaddress.ip_interface(value).version == 6:
            return None
    except ValueError:
        pass
    return f"value '{value}' is neither an IPv6 address in CIDR notation nor 'auto', 'dhcp' or 'manual'"


def _address(version: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        try:
            if ipaddress.ip_address(value).version == version:
                return None
        except ValueError:
            pass
        return f"value does not look like a valid IPv{version} address"

    return check


@dataclass(frozen=True)
class Prop:
    """One key of a NIC string, with the facts of PVE's format."""

    type: str  # string, integer, number, boolean
    optional: bool = True
    default_key: bool = False
    minimum: float | None = None
    maximum: float | None = None
    enum: tuple[str, ...] | None = None
    pattern: str | None = None
    check: Callable[[str], str | None] | None = None


QEMU_NET: Mapping[str, Prop] = {
    "model": Prop("string", optional=False, default_key=True, enum=QEMU_MODELS),
    "macaddr": Prop("string", check=_mac_address),
    "bridge": Prop("string", check=_bridge),
    "queues": Prop("integer", minimum=0, maximum=64),
    "rate": Prop("number", minimum=0),
    "tag": Prop("integer", minimum=1, maximum=4094),
    "trunks": Prop("string", pattern=_TRUNKS),
    "firewall": Prop("boolean"),
    "link_down": Prop("boolean"),
    "mtu": Prop("integer", minimum=1, maximum=65520),
}

LXC_NET: Mapping[str, Prop] = {
    "name": Prop("string", optional=False, pattern=r"[-_.\w\d]+"),
    "bridge": Prop("string", check=_bridge),
    "hwaddr": Prop("string", check=_mac_address),
    "mtu": Prop("integer", minimum=64, maximum=65535),
    "ip": Prop("string", check=_ipv4_config),
    "gw": Prop("string", check=_address(4)),
    "ip6": Prop("string", check=_ipv6_config),
    "gw6": Prop("string", check=_address(6)),
    "firewall": Prop("boolean"),
    "link_down": Prop("boolean"),
    "tag": Prop("integer", minimum=1, maximum=4094),
    "trunks": Prop("string", pattern=_TRUNKS),
    "rate": Prop("number", minimum=0),
    "type": Prop("string", enum=("veth",)),
}

FORMATS: Mapping[str, Mapping[str, Prop]] = {"qemu": QEMU_NET, "lxc": LXC_NET}


@dataclass(frozen=True)
class ParsedNic:
    """A NIC string split into its parts (as written) and its values (aliases resolved)."""

    parts: tuple[str, ...]
    values: Mapping[str, str]


def _value_problem(prop: Prop, value: str) -> str | None:
    """pve-common's check_prop for one value: type, check, pattern, bounds, enum."""
    if prop.type == "boolean" and value not in ("0", "1"):
        return f"type check ('boolean') failed - got '{value}'"
    if prop.type == "integer" and not _INTEGER.fullmatch(value):
        return f"type check ('integer') failed - got '{value}'"
    if prop.type == "number" and not _NUMBER.fullmatch(value):
        return f"type check ('number') failed - got '{value}'"
    if prop.check is not None:
        problem = prop.check(value)
        if problem:
            return problem
    if prop.pattern is not None and not re.fullmatch(prop.pattern, value):
        return "value does not match the regex pattern"
    if _NUMBER.fullmatch(value):
        if prop.maximum is not None and float(value) > prop.maximum:
            return f"value must have a maximum value of {prop.maximum:g}"
        if prop.minimum is not None and float(value) < prop.minimum:
            return f"value must have a minimum value of {prop.minimum:g}"
    if prop.enum is not None and value not in prop.enum:
        return f"value '{value}' does not have a value in the enumeration '{', '.join(prop.enum)}'"
    return None


def parse_nic(guest_type: str, text: str) -> ParsedNic:
    """The NIC string's parts and values, or NicFormatError with PVE's message."""
    schema = FORMATS[guest_type]
    default_key = next((key for key, prop in schema.items() if prop.default_key), None)
    values: dict[str, str] = {}
    parts = tuple(part for part in text.split(",") if part.strip())
    for part in parts:
        keyed = re.fullmatch(r"([^=]+)=(.+)", part, re.DOTALL)
        if keyed:
            key, value = keyed.groups()
            if key in values:
                raise NicFormatError(f"duplicate key in comma-separated list property: {key}")
            if guest_type == "qemu" and key in QEMU_MODELS:  # keyAlias: virtio=MAC is model=virtio,macaddr=MAC
                if "model" in values:
                    raise NicFormatError("key alias 'model' is already defined")
                values["model"] = key
                key = "macaddr"
                if key in values:
                    raise NicFormatError(f"duplicate key in comma-separated list property: {key}")
            if key not in schema:
                raise NicFormatError(f"invalid key in comma-separated list property: {key}")
            if schema[key].type == "boolean":
                value = "1" if _TRUE.fullmatch(value) else "0" if _FALSE.fullmatch(value) else value
            values[key] = value
        elif "=" not in part:
            if default_key is None:
                raise NicFormatError("value without key, but schema does not define a default key")
            if default_key in values:
                raise NicFormatError(f"duplicate key in comma-separated list property: {default_key}")
            values[default_key] = part
        else:
            raise NicFormatError("missing key in comma-separated list property")
    for key, prop in schema.items():
        if key in values:
            problem = _value_problem(prop, values[key])
            if problem:
                raise NicFormatError(f"{key}: {problem}")
        elif not prop.optional:
            raise NicFormatError(f"{key}: property is missing and it is not optional")
    return ParsedNic(parts, values)


def check_nic(guest_type: str, text: str) -> None:
    parse_nic(guest_type, text)


def generated_mac(vmid: int, index: int) -> str:
    """A MAC under PVE's default prefix, unique per guest and NIC."""
    return f"{MAC_PREFIX}:{(vmid >> 8) & 0xFF:02X}:{vmid & 0xFF:02X}:{index:02X}"


def stored_nic(guest_type: str, text: str, mac: str) -> str:
    """The line as PVE stores a ``netN`` it is given: parsed, completed and re-printed.

    qemu-server's ``update_vm_api`` (API2/Qemu.pm) runs ``parse_net`` (QemuServer/Network.pm:
    a missing ``macaddr`` is generated) and ``print_net``; pve-container's
    ``update_pct_config`` (LXC/Config.pm) runs ``parse_lxc_network`` (sets ``type`` to veth, a
    missing ``hwaddr`` is generated) and ``print_lxc_network``. Both print with pve-common's
    ``print_property_string`` (JSONSchema.pm): the default key first (qemu's model, joined
    with the MAC through its key alias: ``virtio=MAC``), then the required keys sorted (lxc's
    ``name``), then every other key sorted; booleans as parsed (``firewall=on`` is ``1``)."""
    values = dict(parse_nic(guest_type, text).values)
    schema = FORMATS[guest_type]
    if guest_type == "qemu":
        values.setdefault("macaddr", mac)
        first = [f"{values.pop('model')}={values.pop('macaddr')}"]
    else:
        values.setdefault("hwaddr", mac)
        values["type"] = "veth"
        first = []
    required = sorted(key for key in values if not schema[key].optional)
    rest = sorted(key for key in values if key not in required)
    return ",".join(first + [f"{key}={values[key]}" for key in required + rest])


def nic_from_text(name: str, guest_type: str, text: str, *, ip: str | None = None, ip6: str | None = None) -> Nic:
    """The inventory NIC a valid string describes. A qemu NIC's addresses are not in its
    config (the guest sets them), so they are given; a container's come from ``ip``/``ip6``."""
    values = parse_nic(guest_type, text).values
    if guest_type == "lxc":
        ip = values.get("ip") if values.get("ip") not in (None, "dhcp", "manual") else None
        ip6 = values.get("ip6") if values.get("ip6") not in (None, "auto", "dhcp", "manual") else None
    mac = values.get("macaddr" if guest_type == "qemu" else "hwaddr", "")
    tag = values.get("tag")
    return Nic(
        name=name,
        bridge=values.get("bridge", ""),
        mac=mac.upper(),
        firewall=values.get("firewall") == "1",
        ip=ip,
        ip6=ip6,
        model=values.get("model", "veth") if guest_type == "qemu" else "veth",
        tag=int(tag) if tag is not None else None,
    )


def nic_text(guest_type: str, nic: Nic) -> str:
    """A topology NIC as the guest config writes it (qemu: model=MAC; lxc: name=ethN,hwaddr=MAC)."""
    if guest_type == "qemu":
        parts = [f"{nic.model}={nic.mac}", f"bridge={nic.bridge}"]
    else:
        parts = [f"name=eth{nic.index}", f"bridge={nic.bridge}", f"hwaddr={nic.mac}"]
        parts += [f"ip={nic.ip}"] if nic.ip else []
        parts += [f"ip6={nic.ip6}"] if nic.ip6 else []
    parts += [f"firewall={int(nic.firewall)}"]
    parts += [f"tag={nic.tag}"] if nic.tag is not None else []
    return ",".join(parts)
