"""The PVE firewall macros (reference 2.6, 2.7 and 4) and their IPv6 variants.

A macro expands a rule into one rule per template; the rule's own proto/dport/sport may only
repeat a template's value. The 86 macros come from PVE's macro table (``_macros_data``,
generated). PVE keeps a second, IPv6 table (FW:212-232) that this module adds by hand:

* ``Ping`` and ``Trcrt`` use ``icmpv6`` instead of ``icmp`` when the IPv6 ruleset is compiled.
* ``NeighborDiscovery`` and ``DHCPv6`` exist only in the IPv6 table: PVE lists them with the
  others (they are among the 86) but skips them when compiling the IPv4 ruleset.

Fields of :class:`Macro`:

``rules``
    The macro's definition as PVE's macro table lists it. PVE verifies a rule whose IP family
    is unknown against these templates, and compiles the IPv4 ruleset from them (when 4 is in
    ``families``). For an IPv6-only macro these are its IPv6 templates.
``ipv6_rules``
    The templates PVE uses for the IPv6 ruleset (and to verify a rule known to be IPv6):
    equal to ``rules`` unless the macro has an IPv6 variant.
``families``
    The rulesets the macro expands in: ``{4, 6}``, or ``{6}`` for IPv6-only macros. No macro
    is IPv4-only.

:meth:`Macro.rules_for` picks the right templates for a family (or for an unknown one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .macros_data import MACRO_TABLE


@dataclass(frozen=True)
class MacroRule:
    """One rule template of a macro; ``dport`` of an ICMP template is an ICMP type name."""

    proto: str | None
    dport: str | None = None
    sport: str | None = None


@dataclass(frozen=True)
class Macro:
    name: str
    description: str
    rules: tuple[MacroRule, ...]
    ipv6_rules: tuple[MacroRule, ...]
    families: frozenset[int]

    def rules_for(self, family: int | None) -> tuple[MacroRule, ...]:
        """The templates PVE expands for a rule of this IP family (None: family unknown)."""
        if family is None:
            return self.rules
        if family == 6:
            return self.ipv6_rules
        if family == 4:
            return self.rules if 4 in self.families else ()
        raise ValueError(f"IP family must be 4 or 6, not {family!r}")


# PVE's IPv6 macro table (FW:212-232, reference 2.7 and 4). Macros also in MACRO_TABLE get
# these templates for IPv6; the others exist for IPv6 only.
_IPV6_TABLE: Mapping[str, tuple[MacroRule, ...]] = {
    "Ping": (MacroRule("icmpv6", "echo-request"),),
    "Trcrt": (MacroRule("udp", "33434:33524"), MacroRule("icmpv6", "echo-request")),
    "NeighborDiscovery": (
        MacroRule("icmpv6", "router-solicitation"),
        MacroRule("icmpv6", "router-advertisement"),
        MacroRule("icmpv6", "neighbor-solicitation"),
        MacroRule("icmpv6", "neighbor-advertisement"),
    ),
    "DHCPv6": (MacroRule("udp", "546:547", "546:547"),),
}
_IPV6_ONLY = frozenset({"NeighborDiscovery", "DHCPv6"})


def _build() -> dict[str, Macro]:
    macros: dict[str, Macro] = {}
    for name, (description, templates) in MACRO_TABLE.items():
        rules = tuple(MacroRule(proto, dport, sport) for proto, dport, sport in templates)
        ipv6_only = name in _IPV6_ONLY
        macros[name] = Macro(
            name=name,
            description=description,
            rules=rules,
            ipv6_rules=_IPV6_TABLE.get(name, rules),
            families=frozenset({6}) if ipv6_only else frozenset({4, 6}),
        )
    return macros


# Canonical name -> macro, in the order of PVE's macro table.
MACROS: Mapping[str, Macro] = MappingProxyType(_build())

_BY_LOWER_NAME: Mapping[str, str] = MappingProxyType({name.lower(): name for name in MACROS})


def canonical_macro_name(name: str) -> str | None:
    """PVE's spelling of a macro name given in any case (``ssh`` -> ``SSH``); None if unknown."""
    return _BY_LOWER_NAME.get(name.lower())
