"""The control API under ``/_emulator/`` (not part of PVE's tree; JSON in and out, no auth).

=========================================  ====================================================
``GET  /_emulator/status``                 nodes, addresses, ports, TLS CA, clock, settings
``GET  /_emulator/schema``                 the emulated API tree with every parameter
``GET|DELETE /_emulator/requests``         the request log (``?since=SEQ``) / reset it
``GET|PUT /_emulator/settings``            ``latency`` (s, a round trip), ``lock_timeout`` (s), ``judging``
``GET|POST|DELETE /_emulator/faults``      the fault plan (see ``knobs.Fault``)
``GET|POST|DELETE /_emulator/clock``       ``{"advance": s}`` or ``{"set": epoch}`` / reset
``GET|POST|DELETE /_emulator/log/<node>``  firewall log lines (``lines`` or ``entries``)
``GET /_emulator/files[/<path>]``          state files; ``PUT`` (raw text) and ``DELETE`` too
``POST /_emulator/judge``                  ``{client, node, port}``: what a connection would get
``POST /_emulator/reset``                  empty state, logs, request log, faults, clock
=========================================  ====================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_size import PMXCFS_MAX_FILE_SIZE

from .fwlog import Packet, format_line
from .knobs import Fault
from .lockout import API_PORT
from .state import key_for_relpath, too_large_message

if TYPE_CHECKING:
    from .app import Emulator

PREFIX = "/_emulator"


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        data = json.loads(body)
    except ValueError as error:
        raise ControlError(400, f"body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "body must be a JSON object")
    return data


def _safe_relpath(text: str) -> str:
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts or not text:
        raise ControlError(400, f"bad state path '{text}'")
    return str(path)


class ControlApi:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle(self, method: str, path: str, query: Mapping[str, str], body: bytes) -> tuple[int, Any]:
        """``(status, JSON value)``; ``path`` starts with /_emulator."""
        parts = [part for part in path[len(PREFIX) :].split("/") if part]
        if not parts:
            return 200, {"data": sorted(self._routes())}
        route = self._routes().get(parts[0])
        if route is None:
            return 404, {"message": f"no control endpoint '{parts[0]}'"}
        try:
            return 200, {"data": route(method, "/".join(parts[1:]), query, body)}
        except ControlError as error:
            return error.status, {"message": error.message}
        except (ValueError, TypeError, KeyError) as error:
            return 400, {"message": str(error)}

    def _routes(self) -> dict[str, Callable[[str, str, Mapping[str, str], bytes], Any]]:
        return {
            "status": self._status,
            "schema": self._schema,
            "requests": self._requests,
            "settings": self._settings,
            "faults": self._faults,
            "clock": self._clock,
            "log": self._log,
            "files": self._files,
            "judge": self._judge,
            "reset": self._reset,
        }

    @staticmethod
    def _only(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise ControlError(405, f"method {method} not allowed here (use {', '.join(allowed)})")

    def _status(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "GET")
        return self.emulator.status()

    def _schema(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "GET")
        return self.emulator.router.schema()

    def _requests(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "GET", "DELETE")
        log = self.emulator.request_log
        if method == "DELETE":
            log.reset()
            return None
        return log.snapshot(int(query.get("since", 0)))

    def _settings(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "GET", "PUT")
        if method == "PUT":
            self.emulator.settings.update(_json_body(body))
        return asdict(self.emulator.settings)

    def _faults(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "GET", "POST", "DELETE")
        plan = self.emulator.faults
        if method == "POST":
            plan.arm(Fault(**_json_body(body)))
        elif method == "DELETE":
            plan.clear()
        return plan.pending()

    def _clock(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "GET", "POST", "DELETE")
        clock = self.emulator.clock
        if method == "POST":
            data = _json_body(body)
            if "advance" in data:
                clock.advance(float(data["advance"]))
            elif "set" in data:
                clock.set(float(data["set"]))
            else:
                raise ControlError(400, "give 'advance' (seconds) or 'set' (epoch)")
        elif method == "DELETE":
            clock.reset()
        return {"now": clock.now(), "offset": clock.offset}

    def _log(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "GET", "POST", "DELETE")
        logs = self.emulator.ctx.logs
        node = rest or None
        if node is not None and node not in self.emulator.ctx.topology.nodes:
            raise ControlError(404, f"no node '{node}'")
        if method == "DELETE":
            logs.clear(node)
            return None
        if node is None:
            raise ControlError(400, "name the node: /_emulator/log/<node>")
        if method == "POST":
            data = _json_body(body)
            lines = [str(line) for line in data.get("lines", [])]
            lines += [self._entry_line(node, entry) for entry in data.get("entries", [])]
            logs.append(node, lines)
            return {"added": len(lines)}
        return logs.query(node, limit=0)[1]

    def _entry_line(self, node: str, entry: Mapping[str, Any]) -> str:
        """A structured entry in pvefw-logger's format (defaults: a dropped SYN to the API)."""
        packet = Packet(
            src=str(entry.get("src", "192.0.2.10")),
            dst=str(entry.get("dst", self.emulator.ctx.topology.nodes[node].address)),
            proto=str(entry.get("proto", "TCP")).upper(),
            sport=int(entry.get("sport", 40000)),
            dport=int(entry.get("dport", API_PORT)),
            iface_in=str(entry.get("iface", "vmbr0")),
        )
        action = str(entry.get("action", "DROP"))
        prefix = str(entry.get("prefix", f"policy {action}: " if entry.get("policy", True) else f"{action}: "))
        vmid = int(entry.get("vmid", 0))
        chain = str(entry.get("chain", "PVEFW-HOST-IN" if vmid == 0 else f"tap{vmid}i0-IN"))
        epoch = float(entry.get("time", self.emulator.clock.now()))
        return format_line(vmid=vmid, level=str(entry.get("level", "info")), chain=chain, prefix=prefix, packet=packet, epoch=epoch)

    def _files(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        store = self.emulator.ctx.store
        if not rest:
            self._only(method, "GET")
            return store.files()
        relpath = _safe_relpath(rest)
        key = key_for_relpath(relpath)
        if key is None:
            raise ControlError(400, f"'{relpath}' is not a firewall file path")
        if method == "GET":
            text = store.read_text(relpath)
            if text is None:
                raise ControlError(404, f"no file '{relpath}'")
            return {"path": relpath, "text": text}
        self._only(method, "PUT", "DELETE")
        text = "" if method == "DELETE" else body.decode("utf-8")
        if len(text.encode("utf-8")) > PMXCFS_MAX_FILE_SIZE:  # a hand edit of /etc/pve fails the same way
            raise ControlError(413, too_large_message(relpath))
        with store.locked(key):
            store.write_text(relpath, text)
        return {"path": relpath}

    def _judge(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "POST")
        data = _json_body(body)
        node = str(data["node"])
        if node not in self.emulator.ctx.topology.nodes:
            raise ControlError(404, f"no node '{node}'")
        return asdict(self.emulator.judge.judgement(str(data["client"]), node, int(data.get("port", API_PORT))))

    def _reset(self, method: str, rest: str, query: Mapping[str, str], body: bytes) -> Any:
        self._only(method, "POST")
        self.emulator.reset()
        return None
