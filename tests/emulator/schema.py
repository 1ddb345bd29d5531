"""Parameter validation as PVE's JSONSchema does it before a handler runs (reference 1.0).

Per property, in PVE's order: type, format, pattern, maxLength, minLength, minimum/maximum,
enum; only the first failure of a property is reported. Missing required and unknown
properties are reported too. All failures of one call come back together as HTTP 400.

Format validators give PVE's messages (``invalid format - ...``). Addresses are checked by the
emulator's own port of what PVE runs (FW parse_address_list and pve_verify_ip_or_cidr over
Net::IP, in handlers.common), not by the compiler, so that a test through the emulator holds
the compiler to PVE rather than to itself; the other formats reuse the compiler's parsers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.pve.firewall.plugins.module_utils._compiler.options import CONNTRACK_HELPERS, normalise_option
from ansible_collections.pve.firewall.plugins.module_utils._reference.icmp_types import icmp_type_names
from ansible_collections.pve.firewall.plugins.module_utils._reference.netbase import protocol_number, service_port

from .errors import ParamError
from .handlers.common import pve_address_spec_problem, pve_ip_or_cidr_or_alias_problem, pve_ip_or_cidr_problem
from .nics import NicFormatError, check_nic

_INTEGER_RE = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class Param:
    """One parameter of one endpoint, with the facts PVE's schema gives it."""

    type: str  # string | integer | boolean
    optional: bool = True
    format: str | Mapping[str, Any] | None = None
    pattern: str | None = None
    max_length: int | None = None
    min_length: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple[str, ...] | None = None
    default: object = None
    description: str = ""

    def as_schema(self) -> dict[str, object]:
        """The parameter in the api-viewer's JSON shape (what ``/_emulator/schema`` shows)."""
        out: dict[str, object] = {"type": self.type}
        if self.optional:
            out["optional"] = 1
        for key, value in (
            ("format", self.format),
            ("pattern", self.pattern),
            ("maxLength", self.max_length),
            ("minLength", self.min_length),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("default", self.default),
        ):
            if value is not None:
                out[key] = dict(value) if isinstance(value, Mapping) else value
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.description:
            out["description"] = self.description
        return out


class FormatError(ValueError):
    """The full message PVE reports for a value its format rejects."""


def _invalid(message: str) -> FormatError:
    return FormatError(f"invalid format - {message}")


# -- format validators ------------------------------------------------------------------------


def _emulated(check: Callable[[str], str | None]) -> Callable[[str], None]:
    """A format check of the emulator's own (None when PVE takes the value, else its message)."""

    def validate(value: str) -> None:
        problem = check(value) if value != "" else None
        if problem is not None:
            raise _invalid(problem)

    return validate


def _port_spec(value: str, *, icmp_names: frozenset[str]) -> None:
    """pve-fw-dport-spec / pve-fw-sport-spec (FW parse_port_name_number_or_range): items as
    written, without trimming; numbers of ASCII digits, ranges, service names, and for dport
    ICMP type names, which no number may accompany."""
    if value == "":
        return
    items = value.split(",")
    while items and items[-1] == "":
        items.pop()
    if ",".join(items) != value:
        raise _invalid("extraneous commas in list")
    numbers, icmp = 0, False
    for item in items:
        ranged = re.fullmatch(r"([0-9]+):([0-9]+)", item)
        if ranged:
            first, last = ranged.groups()
            for port in (first, last):
                if int(port) > 65535:
                    raise _invalid(f"invalid port '{port}'")
            if int(first) > int(last):
                raise _invalid(f"backwards range '{first}:{last}' not allowed, did you mean '{last}:{first}'?")
            numbers += 2
        elif re.fullmatch(r"[0-9]+", item):
            if int(item) > 65535:
                raise _invalid(f"invalid port '{item}'")
            numbers += 1
        elif item in icmp_names:
            icmp = True
        elif service_port(item) is None:
            raise _invalid(f"invalid port '{item}'")
    if icmp and numbers:
        raise _invalid("ICMP ports not allowed in port range")
    if numbers > 15:
        raise _invalid("too many entries in port list (> 15 numbers)")


_ICMP_NAMES = frozenset(icmp_type_names(4)) | frozenset(icmp_type_names(6))


def _protocol(value: str) -> None:
    if value != "" and protocol_number(value) is None:
        raise _invalid(f"unknown protocol '{value}'")


def _icmp_type(value: str) -> None:
    if value != "" and value not in _ICMP_NAMES:
        raise _invalid(f"invalid icmp-type value '{value}'")


_IFACE_RE = re.compile(r"[a-z][a-z0-9_]{1,20}(?:[:.]\d+)?", re.IGNORECASE)


def _iface(value: str) -> None:
    if not _IFACE_RE.fullmatch(value):
        raise _invalid(f"invalid network interface name '{value}'")


_CONFIGID_RE = re.compile(r"[a-z][a-z0-9_-]+", re.IGNORECASE)


def split_list(value: str) -> list[str]:
    """pve-common's split_list: items separated by commas, semicolons or whitespace."""
    return [item for item in re.split(r"[,;\s]+", value) if item]


def _configid_list(value: str) -> None:
    for item in split_list(value):
        if not _CONFIGID_RE.fullmatch(item):
            raise _invalid(f"invalid configuration ID '{item}'")


_NODE_RE = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")


def _node(value: str) -> None:
    if not _NODE_RE.fullmatch(value):
        raise _invalid("value does not look like a valid node name")


def _vmid(value: str) -> None:
    if not re.fullmatch(r"[1-9][0-9]{2,8}", value):
        raise _invalid("value does not look like a valid VM ID")


def _vnet_id(value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9]*[a-z0-9]", value, re.IGNORECASE):
        raise _invalid(f"vnet ID '{value}' contains illegal characters")
    if len(value) > 8:
        raise _invalid(f"vnet ID '{value}' can't be more length than 8 characters")


def _conntrack_helpers(value: str) -> None:
    """FW pve_fw_verify_conntrack_helper: Perl's split drops trailing empty items, so a list
    that does not join back ('ftp,') has extraneous commas; every item must be a helper."""
    items = value.split(",")
    while items and items[-1] == "":
        items.pop()
    if ",".join(items) != value:
        raise _invalid("extraneous commas in list")
    for item in items:
        if item not in CONNTRACK_HELPERS:
            raise _invalid(f"unknown helper {item}")


def _log_ratelimit(value: str) -> None:
    errors = normalise_option("cluster", "log_ratelimit", value, location="log_ratelimit")[1]
    if errors:
        raise FormatError(errors[0].message)


def _guest_nic(guest_type: str) -> Callable[[str], None]:
    """pve-qm-net and the container's netN: property strings (``nics``)."""

    def check(value: str) -> None:
        try:
            check_nic(guest_type, value)
        except NicFormatError as error:
            raise _invalid(str(error)) from None

    return check


FORMATS: Mapping[str, Callable[[str], None]] = {
    "pve-fw-addr-spec": _emulated(pve_address_spec_problem),
    "pve-fw-dport-spec": lambda value: _port_spec(value, icmp_names=_ICMP_NAMES),
    "pve-fw-sport-spec": lambda value: _port_spec(value, icmp_names=frozenset()),
    "pve-fw-protocol-spec": _protocol,
    "pve-fw-icmp-type-spec": _icmp_type,
    "pve-iface": _iface,
    "IPorCIDR": _emulated(pve_ip_or_cidr_problem),
    "IPorCIDRorAlias": _emulated(pve_ip_or_cidr_or_alias_problem),
    "pve-configid-list": _configid_list,
    "pve-node": _node,
    "pve-vmid": _vmid,
    "pve-sdn-vnet-id": _vnet_id,
    "pve-fw-conntrack-helper": _conntrack_helpers,
    "pve-qm-net": _guest_nic("qemu"),
    "pve-lxc-network": _guest_nic("lxc"),
}


def _check_format(param: Param, value: str) -> None:
    if param.format is None:
        return
    if isinstance(param.format, Mapping):  # a property string: log_ratelimit is the only one
        _log_ratelimit(value)
        return
    FORMATS[param.format](value)


# -- the checks ---------------------------------------------------------------------------


def _as_text(value: object) -> str:
    """A JSON value as Perl would see it: true/false as 1/0, numbers as their digits."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _type_problem(kind: str, text: str) -> str | None:
    if kind == "integer" and not _INTEGER_RE.fullmatch(text):
        return f"type check ('integer') failed - got '{text}'" if text else "type check ('integer') failed - got empty string"
    if kind == "boolean" and text not in ("0", "1"):
        return f"type check ('boolean') failed - got '{text}'" if text else "type check ('boolean') failed - got empty string"
    return None


def _format_message(error: FormatError) -> str:
    """pve-common's check_prop reports ``invalid format - $@``: the format's ``die`` text, which
    ends with a newline (every format verifier dies with "...\\n"), so the message does too."""
    return f"{error}\n"


def check_value(param: Param, text: str) -> str | None:
    """The first problem of one value, in PVE's order (None when it is valid)."""
    problem = _type_problem(param.type, text)
    if problem:
        return problem
    if param.type == "string":
        try:
            _check_format(param, text)
        except FormatError as error:
            return _format_message(error)
        if param.pattern is not None and not re.fullmatch(param.pattern, text):
            return "value does not match the regex pattern"
        if param.max_length is not None and len(text) > param.max_length:
            return f"value may only be {param.max_length} characters long"
        if param.min_length is not None and len(text) < param.min_length:
            return f"value must be at least {param.min_length} characters long"
    else:
        if param.type == "integer" and param.format is not None:
            try:
                _check_format(param, text)
            except FormatError as error:
                return _format_message(error)
        number = int(text)
        if param.minimum is not None and number < param.minimum:
            return f"value must have a minimum value of {param.minimum}"
        if param.maximum is not None and number > param.maximum:
            return f"value must have a maximum value of {param.maximum}"
    if param.enum is not None and text not in param.enum:
        return f"value '{text}' does not have a value in the enumeration '{', '.join(param.enum)}'"
    return None


def validate(params: Mapping[str, Param], raw: Mapping[str, object]) -> dict[str, Any]:
    """Checked and typed values (integers and booleans as int), or ParamError with every problem."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        param = params.get(name)
        if param is None:
            errors[name] = "property is not defined in schema and the schema does not allow additional properties"
            continue
        text = _as_text(value)
        problem = check_value(param, text)
        if problem:
            errors[name] = problem
        else:
            values[name] = int(text) if param.type in ("integer", "boolean") else text
    for name, param in params.items():
        if not param.optional and name not in raw:
            errors[name] = "property is missing and it is not optional"
    if errors:
        raise ParamError(errors)
    return values
