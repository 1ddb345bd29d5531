"""The lockout guard of every state-changing module: its options, their checks, and the one
call a module makes before its first write.

A change to the rules, options, security groups, IP sets or aliases of the datacenter or of a
node can decide whether the nodes accept the operator's new connections. Before writing it,
the module lays the planned change over the configuration it reads and runs the lockout
analysis; a change that takes an access away is refused with the report, unless
``allow_lockout`` is set.

The analysis (``_api.access_guard`` and the verdict engine under it, a third of the code a
module loads) is imported only when a change must be judged: a run that changes nothing, or
changes nothing that decides access, or runs while the datacenter firewall is off, never
loads it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._api.service import FirewallApi, Scope
from .._model.errors import FieldError, raise_if_errors
from .report import Report

if TYPE_CHECKING:
    from .._api.access_guard import Gathered
    from .._plan.config_change import ConfigChange

# The management ports: _engine.lockout.DEFAULT_PORTS, spelt out so that building the argument
# spec does not load the engine (a unit test keeps the two equal).
MANAGEMENT_PORTS = (8006, 22)

ACCESS_ARGS: dict[str, dict[str, Any]] = {
    "allow_lockout": {"type": "bool", "default": False},
    "lockout_clients": {"type": "list", "elements": "str", "default": []},
    "lockout_ports": {"type": "list", "elements": "int", "default": list(MANAGEMENT_PORTS)},
}


def checked_access(params: dict[str, Any]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The clients and ports of the options, every bad one named before any request."""
    errors: list[FieldError] = []
    clients = []
    for index, client in enumerate(params["lockout_clients"] or []):
        try:
            clients.append(str(ipaddress.ip_address(str(client).strip())))
        except ValueError:
            errors.append(FieldError(f"lockout_clients[{index}]", "lockout_clients", client, "not an IP address", "an IPv4 or IPv6 address"))
    ports = list(params["lockout_ports"] or [])
    for index, port in enumerate(ports):
        if not 1 <= port <= 65535:
            errors.append(FieldError(f"lockout_ports[{index}]", "lockout_ports", port, "not a TCP port", "1 to 65535"))
    if not ports:
        errors.append(FieldError("lockout_ports", "lockout_ports", ports, "no port to keep", "at least one port, e.g. [8006, 22]"))
    raise_if_errors(errors)
    return tuple(clients), tuple(dict.fromkeys(ports))


class AccessGuard:
    """Checks a module's planned change against the operator's access, once per run."""

    def __init__(self, params: dict[str, Any], report: Report) -> None:
        self.params = params
        self.allow = bool(params["allow_lockout"])
        self.report = report
        self._checked: tuple[tuple[str, ...], tuple[int, ...]] | None = None

    def validate(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The checked clients and ports; a module calls this with its other input checks."""
        if self._checked is None:
            self._checked = checked_access(self.params)
        return self._checked

    @staticmethod
    def filtering(api: FirewallApi) -> bool:
        """Whether the datacenter firewall is on: while it is off, no node filters anything (the
        host chains exist only while the cluster firewall is enabled: reference 5.2, FW:4365-4373)."""
        return bool(api.read_options(Scope("cluster")).items.get("enable"))

    def check(self, api: FirewallApi, change: ConfigChange) -> None:
        """Refuse ``change`` (before any write) when, after it, a client would not reach a node
        on a port, or the analysis cannot tell; the report goes into the result as ``lockout``."""
        # Imported here: the analysis and the engine load only for a change that must be judged.
        from .._api.access_guard import AccessView, LockoutRefused, analyse_access, report_dict  # pylint: disable=import-outside-toplevel

        report = analyse_access(api, change, AccessView(*self.validate()))
        self.report.values["lockout"] = report_dict(report)
        if not report.ok and not self.allow:
            raise LockoutRefused(report)

    def check_steps(self, api: FirewallApi, steps: Sequence[tuple[str, ConfigChange]], gathered: Gathered | None = None) -> None:
        """``check`` for every configuration a change passes through, in the order it is
        written: refused (before any write) at the first step after which a client would not
        reach a node; the report of that step, or of the last, goes into the result."""
        from .._api.access_guard import AccessView, LockoutRefused, analyse_stages, report_dict  # pylint: disable=import-outside-toplevel

        if not steps:
            return
        reports = analyse_stages(api, [change for _label, change in steps], AccessView(*self.validate()), gathered)
        failing = reports[-1] if not reports[-1].ok else None
        label = steps[len(reports) - 1][0]
        self.report.values["lockout"] = {**report_dict(reports[-1]), "steps_judged": len(reports), "step": label}
        if failing is not None and not self.allow:
            raise LockoutRefused(failing, label if len(reports) < len(steps) else None)

    def check_if_filtering(self, api: FirewallApi, change: ConfigChange) -> None:
        """``check``, unless the datacenter firewall is off (the change cannot lock anyone out)."""
        if self.filtering(api):
            self.check(api, change)
