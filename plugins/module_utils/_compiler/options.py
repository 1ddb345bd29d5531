"""The firewall options of each level: their specs, validation, canonical form and .fw syntax.

Levels are the option tables of reference 1.6: ``cluster``, ``host``, ``vm`` (guests; CTs use
the same table) and ``vnet``. The API keys, types, enums, bounds and defaults come from the PVE
API schema (``_options_data``, generated); this module adds what the schema does not say: the
file-only keys, the kinds of the string options, and PVE's effective defaults.

Canonical values (what :func:`normalise_option` returns, so equal settings compare equal):

* booleans: ``bool``. Accepted input: ``True``/``False``, ``0``/``1`` and ``'0'``/``'1'``
  (what the API and the files use); ``'yes'``, ``'true'`` and ``2`` are rejected as PVE does.
* integers: ``int`` (from ``int`` or decimal text; ``bool`` is rejected). The cluster ``enable``
  is an integer, not a boolean: a value > 1 means "enable with a 60 s auto-revert" (reference
  5.4) and the file then holds a timestamp.
* enums (policies): the enum's spelling, whatever the case of the input (the file parser
  accepts any case and stores uppercase; the API wants uppercase).
* log levels: lowercase. An empty value (a file's ``log_level_in:``) means the same as
  ``nolog`` to PVE and becomes ``'nolog'``.
* ``nf_conntrack_helpers``: the validated helper names, without duplicates, sorted and
  comma-joined (``'sip,ftp,ftp'`` -> ``'ftp,sip'``); ``''`` stays ``''``. A list is accepted too.
  (Users may not ask for ``''`` nor for a cluster ``enable`` above 1: see
  :func:`unkept_value_problem`.)
* ``log_ratelimit``: every key written out, missing ones filled with their defaults, in the
  order PVE prints property strings (default key first, then sorted):
  ``'1'``, ``'enable=1'`` and ``'enable=yes,rate=1/second'`` all become
  ``'enable=1,burst=5,rate=1/second'``. A mapping ``{enable, rate, burst}`` is accepted too.
* file-only ``ips_queues``: ``'N'`` or ``'N:M'`` without leading zeros; ``layer2_protocols``:
  validated ethertype names, de-duplicated and sorted.

Parsing a ``.fw`` ``[OPTIONS]`` line (:func:`parse_option_line`) follows PVE's file grammar
(reference 3.3, FW parse_*fw_option) exactly: keys are case-insensitive, except the cluster's
``log_ratelimit`` whose regex has no ``/i``; a value the grammar rejects (``dhcp: yes``, a vnet
``log_level_forward:`` without a level, helpers PVE's check refuses) gives PVE's message. A
line PVE keeps is never rejected here. Booleans, integers and enums valid for the API are
returned in canonical form (equal to what PVE stores); text values (log levels, helpers,
``log_ratelimit``, ``ips_queues``, ``layer2_protocols``) as PVE stores them, so a file's
``log_level_in:`` reads as ''; :func:`normalise_option` (and ``normalise_file``) give their
canonical form. A value the API would refuse is returned as PVE stores it (an ``int`` for
digits, the text otherwise), e.g. ``nf_conntrack_max: 100`` (below the API minimum) or the
cluster ``policy_forward: REJECT`` (the file accepts it, the API does not). The cluster
``enable`` timestamp is returned as written; applying the 60 s expiry is the caller's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from types import MappingProxyType

from .._model.errors import FieldError, PveFirewallError
from .._model.objects import LOG_LEVELS, Level, OptionValue
from .._reference.netbase import ETHERTYPES, ethertype_known
from .._reference.options_data import LOG_RATELIMIT_FORMAT, SCHEMA_OPTIONS

# Option kinds.
KIND_BOOLEAN = "boolean"
KIND_INTEGER = "integer"
KIND_ENUM = "enum"
KIND_LOGLEVEL = "loglevel"
KIND_PROPERTY = "property"  # log_ratelimit: a property string
KIND_HELPERS = "helpers"  # nf_conntrack_helpers: a list of conntrack helper names
KIND_QUEUES = "queues"  # ips_queues (file only): N or N:M
KIND_ETHERTYPES = "ethertypes"  # layer2_protocols (file only): a list of ethertype names

OPTION_LEVELS = ("cluster", "host", "vm", "vnet")


@dataclass(frozen=True)
class OptionSpec:
    """One option of one level.

    ``default`` is the schema's default; ``effective_default`` is what PVE does when the key is
    not set (None where that is not known), which differs for e.g. the guest ``dhcp``
    (schema 0, DHCP allowed unless set to 0) and the policies (no schema default).
    ``api`` is False for keys only a ``.fw`` file can set.
    """

    name: str
    kind: str
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    default: OptionValue | None = None
    api: bool = True
    description: str = ""
    effective_default: OptionValue | None = None


# Conntrack helpers PVE can load: name -> (protocol, port, IP families) (reference 2.9).
CONNTRACK_HELPERS: Mapping[str, tuple[str, int, frozenset[int]]] = MappingProxyType(
    {
        "amanda": ("udp", 10080, frozenset({4, 6})),
        "ftp": ("tcp", 21, frozenset({4, 6})),
        "irc": ("tcp", 6667, frozenset({4})),
        "netbios-ns": ("udp", 137, frozenset({4})),
        "pptp": ("tcp", 1723, frozenset({4})),
        "sane": ("tcp", 6566, frozenset({4, 6})),
        "sip": ("udp", 5060, frozenset({4, 6})),
        "snmp": ("udp", 161, frozenset({4})),
        "tftp": ("udp", 69, frozenset({4, 6})),
    }
)

# Keys a .fw file accepts that the API cannot set (reference 1.6, FW:3253-3314).
_FILE_ONLY: Mapping[str, tuple[OptionSpec, ...]] = {
    "host": (OptionSpec("protection_limit", KIND_INTEGER, minimum=0, api=False, description="Accepted in host.fw only"),),
    "vm": (
        OptionSpec(
            "ips",
            KIND_BOOLEAN,
            api=False,
            description="Send accepted incoming guest traffic to an IPS through NFQUEUE",
            effective_default=False,
        ),
        OptionSpec("ips_queues", KIND_QUEUES, api=False, description="NFQUEUE number N or range N:M for ips"),
        OptionSpec(
            "layer2_protocols",
            KIND_ETHERTYPES,
            api=False,
            description="Ethertypes the guest's ebtables filter lets through",
        ),
    ),
}

# What PVE does for an unset key where that differs from the schema default (reference 1.6, 5).
_EFFECTIVE_DEFAULTS: Mapping[str, Mapping[str, OptionValue]] = {
    "cluster": {
        "policy_in": "DROP",
        "policy_out": "ACCEPT",
        "log_ratelimit": "enable=1,burst=5,rate=1/second",
    },
    "host": {
        "nosmurfs": True,
        "log_level_in": "nolog",
        "log_level_out": "nolog",
        "log_level_forward": "nolog",
        "tcp_flags_log_level": "nolog",
        "smurf_log_level": "nolog",
    },
    "vm": {
        "dhcp": True,
        "radv": False,
        "ipfilter": False,
        "policy_in": "DROP",
        "policy_out": "ACCEPT",
        "log_level_in": "nolog",
        "log_level_out": "nolog",
    },
    "vnet": {"log_level_forward": "nolog"},
}

# Facts the short schema descriptions leave out.
_DESCRIPTION_NOTES: Mapping[tuple[str, str], str] = {
    ("cluster", "enable"): "0 off, 1 on, > 1 on with a 60 s auto-revert (stored as a timestamp)",
    ("vm", "dhcp"): "DHCP is allowed unless set to 0, whatever the schema default says",
    ("host", "nftables"): "hands the node to proxmox-firewall",
}


def _schema_kind(key: str, facts: Mapping[str, object]) -> str:
    if isinstance(facts.get("format"), dict):
        return KIND_PROPERTY
    if facts.get("format") == "pve-fw-conntrack-helper":
        return KIND_HELPERS
    if facts["type"] in (KIND_BOOLEAN, KIND_INTEGER):
        return str(facts["type"])
    if "enum" in facts:
        return KIND_LOGLEVEL if tuple(facts["enum"]) == LOG_LEVELS else KIND_ENUM  # type: ignore[arg-type]
    raise ValueError(f"option {key}: no kind for schema {facts}")


def _short(description: object) -> str:
    return str(description).split(". ", maxsplit=1)[0].rstrip(".")


def _schema_spec(level: str, key: str, facts: Mapping[str, object]) -> OptionSpec:
    kind = _schema_kind(key, facts)
    default = facts.get("default")
    if default is not None and kind == KIND_BOOLEAN:
        default = bool(default)
    description = _short(facts.get("description", ""))
    note = _DESCRIPTION_NOTES.get((level, key))
    effective = _EFFECTIVE_DEFAULTS.get(level, {}).get(key, default)
    return OptionSpec(
        name=key,
        kind=kind,
        enum=tuple(facts.get("enum", ())),  # type: ignore[arg-type]
        minimum=facts.get("minimum"),  # type: ignore[arg-type]
        maximum=facts.get("maximum"),  # type: ignore[arg-type]
        default=default,  # type: ignore[arg-type]
        description=f"{description}; {note}" if note else description,
        effective_default=effective,  # type: ignore[arg-type]
    )


def _build_specs() -> dict[str, Mapping[str, OptionSpec]]:
    specs: dict[str, Mapping[str, OptionSpec]] = {}
    for level in OPTION_LEVELS:
        table = {key: _schema_spec(level, key, facts) for key, facts in SCHEMA_OPTIONS[level].items()}
        table.update((spec.name, spec) for spec in _FILE_ONLY.get(level, ()))
        specs[level] = MappingProxyType(dict(sorted(table.items())))
    return specs


# Level name -> key -> spec.
OPTION_SPECS: Mapping[str, Mapping[str, OptionSpec]] = MappingProxyType(_build_specs())

_LEVEL_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "cluster": "cluster",
        "dc": "cluster",
        "datacenter": "cluster",
        "host": "host",
        "node": "host",
        "vm": "vm",
        "ct": "vm",
        "qemu": "vm",
        "lxc": "vm",
        "guest": "vm",
        "vnet": "vnet",
    }
)


def option_level(level: Level | str) -> str:
    """The options table of a level or file kind: Level.CT/VM and 'guest' -> 'vm', 'node' -> 'host'."""
    name = level.value if isinstance(level, Enum) else level
    try:
        return _LEVEL_NAMES[name]
    except KeyError:
        raise ValueError(f"level {name!r} has no options (valid: {', '.join(OPTION_LEVELS)})") from None


def option_spec(level: Level | str, key: str) -> OptionSpec | None:
    return OPTION_SPECS[option_level(level)].get(key)


# ---------------------------------------------------------------------------------------------
# Normalisation: one function per kind; each returns the canonical value or raises _Invalid.


class _Invalid(PveFirewallError, ValueError):
    """PVE's message for an invalid value."""


_INTEGER_RE = re.compile(r"[+-]?[0-9]+")
_UNICODE_INTEGER_RE = re.compile(r"[+-]?\d+")  # Perl's \d on a decoded string, as pve-common's check_type
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")  # Perl's lc on bytes
_QUEUES_RE = re.compile(r"([0-9]+)(?::([0-9]+))?")


def _type_failure(type_name: str, value: object) -> _Invalid:
    if isinstance(value, str) and not value.strip():
        return _Invalid(f"type check ('{type_name}') failed - got empty string")
    return _Invalid(f"type check ('{type_name}') failed - got '{value}'")


def _perl_split(pattern: str, text: str) -> list[str]:
    """Perl's split: empty leading and inner fields stay, empty trailing ones go."""
    parts = re.split(pattern, text) if text else []
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _list_items(value: object) -> list[str] | None:
    """Items of a list option given as text (split by the caller) or as a list of strings."""
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return list(value)
    return None


def _boolean(spec: OptionSpec, value: object) -> OptionValue:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value in ("0", "1"):
        return value == "1"
    raise _type_failure("boolean", value)


def _integer(spec: OptionSpec, value: object) -> OptionValue:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER_RE.fullmatch(value):
        number = int(value)
    elif isinstance(value, str) and _UNICODE_INTEGER_RE.fullmatch(value):
        # measured: pve-common's type check reads any Unicode digits, Perl then takes the text
        # for 0 and the .fw parsers read [0-9] only, so the value is stored and lost
        raise _Invalid(
            f"PVE's API takes '{value}' (its check reads any Unicode digits), but PVE takes it for the number 0 "
            "and its .fw parser drops the line: write it in ASCII digits"
        )
    else:
        raise _type_failure("integer", value)
    if spec.minimum is not None and number < spec.minimum:
        raise _Invalid(f"value must have a minimum value of {spec.minimum}")
    if spec.maximum is not None and number > spec.maximum:
        raise _Invalid(f"value must have a maximum value of {spec.maximum}")
    return number


def _enum(spec: OptionSpec, value: object) -> OptionValue:
    if isinstance(value, str):
        for choice in spec.enum:
            if choice.lower() == value.lower():
                return choice
    raise _Invalid(f"value '{value}' does not have a value in the enumeration '{', '.join(spec.enum)}'")


def _loglevel(spec: OptionSpec, value: object) -> OptionValue:
    # PVE treats an empty level like nolog (FW get_option_log_level).
    return "nolog" if value == "" else _enum(spec, value)


def helpers_problem(text: str) -> str | None:
    """PVE's check of a helper list, for the API's format and the host.fw line alike
    (FW pve_fw_verify_conntrack_helper): a comma without a helper on both sides, or an unknown
    helper, and the value is refused (the API) or the line skipped (parse_hostfw_option)."""
    items = _perl_split(",", text)
    if ",".join(items) != text:
        return "extraneous commas in list"
    unknown = next((item for item in items if item not in CONNTRACK_HELPERS), None)
    return None if unknown is None else f"unknown helper {unknown}"


def _helpers(spec: OptionSpec, value: object) -> OptionValue:
    items = _list_items(value)
    if items is None:
        if not isinstance(value, str):
            raise _type_failure("string", value)
        problem = helpers_problem(value)
        if problem:
            raise _Invalid(f"invalid format - {problem}")
        items = _perl_split(",", value)
    for item in items:
        if item not in CONNTRACK_HELPERS:
            raise _Invalid(f"invalid format - unknown helper {item}")
    return ",".join(sorted(set(items)))


def _queues(spec: OptionSpec, value: object) -> OptionValue:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    match = _QUEUES_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise _Invalid(f"can't parse option '{spec.name}: {value}'")
    first, last = match.groups()
    return str(int(first)) if last is None else f"{int(first)}:{int(last)}"


def _ethertypes(spec: OptionSpec, value: object) -> OptionValue:
    items = _list_items(value)
    if items is None:
        if not isinstance(value, str):
            raise _Invalid(f"can't parse option '{spec.name}: {value}'")
        items = _perl_split(r"\s*,\s*", value)
    if not items:
        raise _Invalid(f"can't parse option '{spec.name}: {value}'")
    for item in items:
        if not _pve_ethertype_known(item):
            raise _Invalid(f"unknown ethernet protocol type: {item}")
    return ",".join(sorted(set(items)))


def _pve_ethertype_known(item: str) -> bool:
    """FW verify_ethertype looks the item up in what parse_protocol_file read from
    /etc/ethertypes, whose pattern takes a line's number with \\d+: a line with a hexadecimal
    number (IPv6 86DD, PPP 880B, ...) is not read, so neither its name nor its number is known."""
    number = ETHERTYPES.get(item)
    if number is not None:
        return number.isdigit()
    return item.isdigit() and item.isascii() and ethertype_known(item)


# -- property strings (PVE::JSONSchema parse_property_string and check_object) --

_PERL_TRUE = re.compile(r"1|on|yes|true", re.IGNORECASE)
_PERL_FALSE = re.compile(r"0|off|no|false", re.IGNORECASE)
_DUPLICATE_KEY = "invalid format - duplicate key in comma-separated list property: "


def _property_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)  # the API receives it as text
    if isinstance(value, Mapping):
        parts = []
        for key, item in value.items():
            if item is None:
                continue
            text = ("1" if item else "0") if isinstance(item, bool) else str(item)
            parts.append(f"{key}={text}")
        return ",".join(parts)
    raise _type_failure("string", value)


def _parse_boolean(prop: Mapping[str, object], item: str) -> str:
    """pve-common parse_boolean on a boolean property's value: 1/on/yes/true and 0/off/no/false
    in any case; anything else is left for the type check to refuse."""
    if prop.get("type") != KIND_BOOLEAN:
        return item
    return "1" if _PERL_TRUE.fullmatch(item) else "0" if _PERL_FALSE.fullmatch(item) else item


def _parse_property_string(schema: Mapping[str, Mapping[str, object]], text: str) -> dict[str, str]:
    default_key = next((key for key, prop in schema.items() if prop.get("default_key")), None)
    found: dict[str, str] = {}
    for part in _perl_split(",", text):
        if not part.strip():
            continue
        keyed = re.fullmatch(r"([^=]+)=(.+)", part, re.DOTALL)
        if keyed:
            key, item = keyed.groups()
            if key in found:
                raise _Invalid(_DUPLICATE_KEY + key)
            if key not in schema:
                raise _Invalid(f"invalid format - invalid key in comma-separated list property: {key}")
            found[key] = _parse_boolean(schema[key], item)
        elif "=" not in part:
            if default_key is None:
                raise _Invalid("invalid format - value without key, but schema does not define a default key")
            if default_key in found:
                raise _Invalid(_DUPLICATE_KEY + default_key)
            # parse_boolean runs on the bare default-key value as well (pve-common
            # parse_property_string), so 'yes' and 'off' are a log_ratelimit
            found[default_key] = _parse_boolean(schema[default_key], part)
        else:
            raise _Invalid("invalid format - missing key in comma-separated list property")
    for key, prop in schema.items():
        if key in found:
            problem = _property_value_problem(prop, found[key])
            if problem:
                raise _Invalid(f"invalid format - {key}: {problem}")
        elif not prop.get("optional"):
            raise _Invalid(f"invalid format - {key}: property is missing and it is not optional")
    return found


def _property_value_problem(prop: Mapping[str, object], item: str) -> str | None:
    kind = prop.get("type")
    if kind == KIND_BOOLEAN and item not in ("0", "1"):
        return str(_type_failure("boolean", item))
    if kind == KIND_INTEGER:
        if not _INTEGER_RE.fullmatch(item):
            return str(_type_failure("integer", item))
        minimum = prop.get("minimum")
        if isinstance(minimum, int) and int(item) < minimum:
            return f"value must have a minimum value of {minimum}"
    pattern = prop.get("pattern")
    if isinstance(pattern, str) and not re.fullmatch(pattern, item):
        return "value does not match the regex pattern"
    return None


def _print_property_string(schema: Mapping[str, Mapping[str, object]], found: Mapping[str, str]) -> str:
    default_keys = [key for key, prop in schema.items() if prop.get("default_key")]
    parts = []
    for key in default_keys + sorted(key for key in schema if key not in default_keys):
        item = found.get(key, schema[key].get("default"))
        if item is None:
            continue
        if schema[key].get("type") == KIND_INTEGER:
            item = int(str(item))
        parts.append(f"{key}={item}")
    return ",".join(parts)


def _log_ratelimit(spec: OptionSpec, value: object) -> OptionValue:
    found = _parse_property_string(LOG_RATELIMIT_FORMAT, _property_text(value))
    return _print_property_string(LOG_RATELIMIT_FORMAT, found)


_NORMALISERS: Mapping[str, Callable[[OptionSpec, object], OptionValue]] = {
    KIND_BOOLEAN: _boolean,
    KIND_INTEGER: _integer,
    KIND_ENUM: _enum,
    KIND_LOGLEVEL: _loglevel,
    KIND_HELPERS: _helpers,
    KIND_PROPERTY: _log_ratelimit,
    KIND_QUEUES: _queues,
    KIND_ETHERTYPES: _ethertypes,
}


def accepted_values(spec: OptionSpec) -> str:
    """What a user may give for this option, in words."""
    if spec.kind == KIND_BOOLEAN:
        return "0 or 1 (true/false)"
    if spec.kind == KIND_INTEGER:
        if spec.minimum is not None and spec.maximum is not None:
            return f"an integer from {spec.minimum} to {spec.maximum}"
        return f"an integer >= {spec.minimum}" if spec.minimum is not None else "an integer"
    if spec.kind == KIND_ENUM:
        return "one of " + ", ".join(spec.enum) + " (any case)"
    if spec.kind == KIND_LOGLEVEL:
        return "one of " + ", ".join(spec.enum)
    if spec.kind == KIND_HELPERS:
        return "a comma-separated list of " + ", ".join(CONNTRACK_HELPERS) + ", or ''"
    if spec.kind == KIND_PROPERTY:
        return "[enable=]<0|1>[,burst=<integer >= 0>][,rate=<N>/<second|minute|hour|day>]"
    if spec.kind == KIND_QUEUES:
        return "a queue number N or a range N:M"
    return "a comma-separated list of /etc/ethertypes names known to PVE, e.g. IPv4, ARP, 802_1Q"


def normalise_option(level: Level | str, key: str, value: object, *, location: str) -> tuple[OptionValue | None, list[FieldError]]:
    """The canonical value of an option (see the module docstring), or the problems with it.

    ``value`` may come from a user, the API or a ``.fw`` file. ``None`` means "not set" and
    gives ``(None, [])``. On a problem the value is None and there is one FieldError carrying
    PVE's message.
    """
    table = OPTION_SPECS[option_level(level)]
    spec = table.get(key)
    if spec is None:
        return None, [FieldError(location, key, value, f"no such option '{key}'", ", ".join(table))]
    if value is None:
        return None, []
    try:
        canonical = _NORMALISERS[spec.kind](spec, value)
    except _Invalid as problem:
        return None, [FieldError(location, key, value, str(problem), accepted_values(spec))]
    unread = _unreadable_integer(option_level(level), key, canonical)
    return (None, [FieldError(location, key, value, unread, accepted_values(spec) + ", at least 0")]) if unread else (canonical, [])


def unkept_value_problem(level: Level | str, key: str, value: OptionValue) -> tuple[str, str] | None:
    """Why PVE would not keep a valid canonical value as given, and what to give instead; None
    when it does. Checked on what users ask for, not on what PVE returns (which holds e.g. the
    cluster's auto-revert timestamp as it is).

    * the cluster ``enable`` above 1: PVE stores the time instead (FW API2 Cluster set_options)
      and pve-firewall turns the firewall off again 60 s later unless it is set to 1 in time
      (FW update, reference 5.4): an admin who writes 2 gets a firewall that switches itself
      off, and a rerun compares 2 with a timestamp and writes again.
    * ``nf_conntrack_helpers: ''``: the API stores the empty value (FW API2 Host set_options),
      but ``parse_hostfw_option`` wants at least one character and drops the line: the key
      reads back unset, which means no helpers too, and a rerun writes '' again. Removing the
      key says the same and stays.
    """
    name = option_level(level)
    if name == "cluster" and key == "enable" and isinstance(value, int) and not isinstance(value, bool) and value > 1:
        return (
            "PVE stores a cluster enable above 1 as the time of the write and turns the firewall off 60 s later (FW API2 Cluster set_options, FW update)",
            "0 or 1 (true/false); firewall_options' arm_auto_revert arms PVE's auto-revert",
        )
    if key == "nf_conntrack_helpers" and value == "":
        return (
            "PVE's API stores an empty nf_conntrack_helpers, but its .fw parser (FW parse_hostfw_option) needs a value and drops the line",
            "one or more of " + ", ".join(CONNTRACK_HELPERS) + "; for none, leave the key unset (firewall_options: reset: [nf_conntrack_helpers])",
        )
    return None


# The function of PVE's that reads each level's [OPTIONS] lines (reference 3.3).
_OPTION_PARSERS: Mapping[str, str] = {
    "cluster": "parse_clusterfw_option",
    "host": "parse_hostfw_option",
    "vm": "parse_vmfw_option",
    "vnet": "parse_vnetfw_option",
}


def _unreadable_integer(level: str, key: str, value: OptionValue) -> str | None:
    """A negative integer the API takes (no minimum in its schema) for a key whose file line
    PVE reads as digits only: stored, then skipped on every read, so the option is lost."""
    if isinstance(value, bool) or not isinstance(value, int) or value >= 0 or _FILE_SYNTAX[level].get(key) is not _DIGITS:
        return None
    return f"PVE's API stores {value}, but its .fw parser (FW {_OPTION_PARSERS[level]}) reads digits only and drops the line"


# ---------------------------------------------------------------------------------------------
# .fw [OPTIONS] lines


@dataclass(frozen=True)
class _Syntax:
    """How PVE's file parser reads one key's value: regex with one group, and what it stores."""

    pattern: str
    store: Callable[[str | None], OptionValue]
    ignore_case: bool = True
    # PVE's check of the stored value while parsing: a message makes it skip the line
    problem: Callable[[str], str | None] | None = None


_BOOL01 = _Syntax(r"(0|1)", lambda text: int(text or 0))
_DIGITS = _Syntax(r"(\d+)", lambda text: int(text or 0))
_LOGLEVEL = _Syntax(rf"(?:({'|'.join(LOG_LEVELS)})\s*)?", lambda text: (text or "").lower())
_LOGLEVEL_REQUIRED = _Syntax(rf"({'|'.join(LOG_LEVELS)})", lambda text: (text or "").lower())  # FW parse_vnetfw_option
_POLICY3 = _Syntax(r"(ACCEPT|DROP|REJECT)", lambda text: (text or "").upper())
_POLICY2 = _Syntax(r"(ACCEPT|DROP)", lambda text: (text or "").upper())
_LIST = _Syntax(r"(\S+)", lambda text: text or "")  # PVE: (((\S+)[,]?)+), i.e. any non-space run
# FW parse_hostfw_option: the list lowercased, then pve_fw_verify_conntrack_helper
_HELPERS = _Syntax(r"(\S+)", lambda text: (text or "").translate(_ASCII_LOWER), problem=helpers_problem)
_QUEUES = _Syntax(r"(\d+(?::\d+)?)", lambda text: text or "")
_RATELIMIT = _Syntax(r"(\S+)", lambda text: text or "", ignore_case=False)  # no /i in PVE


def _keys(syntax: _Syntax, *keys: str) -> dict[str, _Syntax]:
    return dict.fromkeys(keys, syntax)


# Level -> key -> syntax, from FW parse_clusterfw_option, parse_hostfw_option,
# parse_vmfw_option and parse_vnetfw_option (reference 3.3).
_FILE_SYNTAX: Mapping[str, Mapping[str, _Syntax]] = {
    "cluster": {
        "enable": _DIGITS,
        "ebtables": _BOOL01,
        **_keys(_POLICY3, "policy_in", "policy_out", "policy_forward"),
        "log_ratelimit": _RATELIMIT,
    },
    "host": {
        **_keys(
            _BOOL01,
            "enable",
            "nosmurfs",
            "tcpflags",
            "ndp",
            "log_nf_conntrack",
            "nf_conntrack_allow_invalid",
            "protection_synflood",
            "nftables",
        ),
        **_keys(_LOGLEVEL, "log_level_in", "log_level_out", "log_level_forward", "tcp_flags_log_level", "smurf_log_level"),
        "nf_conntrack_helpers": _HELPERS,
        **_keys(
            _DIGITS,
            "nf_conntrack_max",
            "nf_conntrack_tcp_timeout_established",
            "nf_conntrack_tcp_timeout_syn_recv",
            "protection_synflood_rate",
            "protection_synflood_burst",
            "protection_limit",
        ),
    },
    "vm": {
        **_keys(_BOOL01, "enable", "dhcp", "ndp", "radv", "macfilter", "ipfilter", "ips"),
        **_keys(_LOGLEVEL, "log_level_in", "log_level_out"),
        **_keys(_POLICY3, "policy_in", "policy_out"),
        "ips_queues": _QUEUES,
        "layer2_protocols": _LIST,
    },
    "vnet": {"enable": _DIGITS, "policy_forward": _POLICY2, "log_level_forward": _LOGLEVEL_REQUIRED},
}


def _line_regex(key: str, syntax: _Syntax) -> re.Pattern[str]:
    flags = re.ASCII | (re.IGNORECASE if syntax.ignore_case else 0)
    return re.compile(rf"{re.escape(key)}:\s*{syntax.pattern}\s*", flags)


@lru_cache(maxsize=8)  # per level; compiled when a file's options are first parsed: most runs parse none
def _line_regexes(level: str) -> tuple[tuple[str, re.Pattern[str], _Syntax], ...]:
    return tuple((key, _line_regex(key, syntax), syntax) for key, syntax in _FILE_SYNTAX[level].items())


# Kinds whose value a file holds as text: read as PVE stores it, not in canonical form.
_KEPT_AS_STORED = frozenset({KIND_LOGLEVEL, KIND_PROPERTY, KIND_HELPERS, KIND_QUEUES, KIND_ETHERTYPES})


def parse_option_line(level: Level | str, line: str, *, location: str) -> tuple[str, OptionValue] | FieldError:
    """``(key, value)`` of one ``[OPTIONS]`` line, or PVE's error (see the module docstring)."""
    name = option_level(level)
    text = line.strip(" \t\r\n")
    for key, regex, syntax in _line_regexes(name):
        match = regex.fullmatch(text)
        if match is None:
            continue
        stored = syntax.store(match.group(1))
        known = OPTION_SPECS[name][key]
        skipped = syntax.problem(str(stored)) if syntax.problem else None
        if skipped:
            return FieldError(location, key, text, skipped, accepted_values(known))
        value, errors = normalise_option(name, key, stored, location=location)
        if not errors:
            # text values are kept as PVE stores them ('' for a log level, a property string
            # as written); normalise_file gives their canonical form
            return key, stored if value is None or known.kind in _KEPT_AS_STORED else value
        if known.kind == KIND_ETHERTYPES:
            # PVE checks ethertypes while parsing and skips the line (FW verify_ethertype).
            return FieldError(location, key, text, errors[0].message, errors[0].accepted)
        return key, stored
    typed_key = text.split(":", 1)[0].strip().lower() if ":" in text else ""
    spec = OPTION_SPECS[name].get(typed_key)
    accepted = accepted_values(spec) if spec else f"a {name} option key: " + ", ".join(_FILE_SYNTAX[name])
    return FieldError(location, typed_key or "options", text, f"can't parse option '{text}'", accepted)


# ---------------------------------------------------------------------------------------------
# Output


def _known_spec(level: Level | str, key: str) -> OptionSpec:
    spec = option_spec(level, key)
    if spec is None:
        raise KeyError(f"no such option '{key}' at level {option_level(level)}")
    return spec


def render_option_value(level: Level | str, key: str, value: OptionValue) -> str:
    """The value as a ``.fw`` file writes it (booleans as 0/1)."""
    _known_spec(level, key)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def api_option_value(level: Level | str, key: str, value: OptionValue) -> str | int:
    """The value as the options PUT takes it (booleans as 0/1); file-only keys are refused."""
    if not _known_spec(level, key).api:
        raise ValueError(f"option '{key}' can only be set in the .fw file, not through the API")
    if isinstance(value, bool):
        return int(value)
    return value
