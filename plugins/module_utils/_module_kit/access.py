"""The lockout guard of every state-changing module: its options, their checks, and the one
call a module makes before its first write.

A change to the rules, options, security groups, IP sets or aliases of the datacenter or of a
node can decide whether the nodes accept the operator's new connections. Before writing it,
the module lays the planned change over the configuration it reads and runs the lockout
analysis; a change that takes an access away is refused with the report, unless
``allow_lockout`` is set.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from .._api.access_guard import AccessView, LockoutRefused, analyse_access, report_dict
from .._api.service import FirewallApi, Scope
from .._engine.lockout import DEFAULT_PORTS
from .._model.errors import FieldError, raise_if_errors
from .._plan.config_change import ConfigChange
from .report import Report

ACCESS_ARGS: dict[str, dict[str, Any]] = {
    "allow_lockout": {"type": "bool", "default": False},
    "lockout_clients": {"type": "list", "elements": "str", "default": []},
    "lockout_ports": {"type": "list", "elements": "int", "default": list(DEFAULT_PORTS)},
}


def access_view(params: dict[str, Any]) -> AccessView:
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
    return AccessView(tuple(clients), tuple(dict.fromkeys(ports)))


class AccessGuard:
    """Checks a module's planned change against the operator's access, once per run."""

    def __init__(self, params: dict[str, Any], report: Report) -> None:
        self.params = params
        self.allow = bool(params["allow_lockout"])
        self.report = report
        self._view: AccessView | None = None

    def validate(self) -> AccessView:
        """The checked clients and ports; a module calls this with its other input checks."""
        if self._view is None:
            self._view = access_view(self.params)
        return self._view

    @staticmethod
    def filtering(api: FirewallApi) -> bool:
        """Whether the datacenter firewall is on: while it is off, no node filters anything (the
        host chains exist only while the cluster firewall is enabled: reference 5.2, FW:4365-4373)."""
        return bool(api.read_options(Scope("cluster")).items.get("enable"))

    def check(self, api: FirewallApi, change: ConfigChange) -> None:
        """Refuse ``change`` (before any write) when, after it, a client would not reach a node
        on a port, or the analysis cannot tell; the report goes into the result as ``lockout``."""
        report = analyse_access(api, change, self.validate())
        self.report.values["lockout"] = report_dict(report)
        if not report.ok and not self.allow:
            raise LockoutRefused(report)

    def check_if_filtering(self, api: FirewallApi, change: ConfigChange) -> None:
        """``check``, unless the datacenter firewall is off (the change cannot lock anyone out)."""
        if self.filtering(api):
            self.check(api, change)
