"""Small HTTP clients for tests and benchmarks: the PVE API (token or ticket) and the control
API. Standard library only; one keep-alive connection per client (one client per thread).
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    body: Any

    @property
    def data(self) -> Any:
        return self.body.get("data") if isinstance(self.body, dict) else None

    @property
    def errors(self) -> dict[str, str]:
        return (self.body.get("errors") or {}) if isinstance(self.body, dict) else {}

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


class ApiCallError(Exception):
    def __init__(self, method: str, path: str, response: Response) -> None:
        super().__init__(f"{method} {path}: {response.status} {response.reason} {response.errors or ''}")
        self.response = response


class _Connection:
    """A reusable HTTP(S) connection to one base URL, re-opened when the server closed it."""

    def __init__(self, base_url: str, *, ca: str | None = None, timeout: float = 10.0, source_address: str | None = None) -> None:
        url = urlsplit(base_url)
        self.scheme, self.host, self.port = url.scheme, url.hostname or "127.0.0.1", url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self.timeout = timeout
        self.source = (source_address, 0) if source_address else None
        self.context = ssl.create_default_context(cafile=ca) if self.scheme == "https" else None
        self._conn: http.client.HTTPConnection | None = None

    def _open(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self.context is not None:
                self._conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, source_address=self.source, context=self.context)
            else:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout, source_address=self.source)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def send(self, method: str, path: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        reused = self._conn is not None
        conn = self._open()
        try:
            conn.request(method, self.prefix + path, body=body, headers=dict(headers))
            raw = conn.getresponse()
            payload = raw.read()
        except (http.client.RemoteDisconnected, BrokenPipeError):
            self.close()
            if not reused:
                raise
            # the server closed an idle kept-alive connection before reading: send again
            return self.send(method, path, body, headers)
        except BaseException:
            self.close()
            raise
        if raw.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload.decode(errors="replace")
        return Response(raw.status, raw.reason, parsed)


class ApiClient:
    """PVE API client: ``get``/``post``/``put``/``delete`` return ``data`` or raise ApiCallError;
    ``call`` returns the whole Response."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        ca: str | None = None,
        timeout: float = 10.0,
        source_address: str | None = None,
    ) -> None:
        self._http = _Connection(base_url, ca=ca, timeout=timeout, source_address=source_address)
        self._headers: dict[str, str] = {"Authorization": f"PVEAPIToken={token}"} if token else {}
        self._csrf: str | None = None

    def close(self) -> None:
        self._http.close()

    def login(self, username: str, password: str) -> dict[str, Any]:
        answer = self.call("POST", "/access/ticket", {"username": username, "password": password})
        if answer.status != 200:
            raise ApiCallError("POST", "/access/ticket", answer)
        data = answer.data
        self._headers = {"Cookie": f"PVEAuthCookie={quote(data['ticket'], safe='')}"}
        self._csrf = data["CSRFPreventionToken"]
        return data

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None, *, as_json: bool = False, csrf: bool = True) -> Response:
        headers = dict(self._headers)
        if self._csrf and csrf and method != "GET":
            headers["CSRFPreventionToken"] = self._csrf
        body = None
        if method in ("GET", "DELETE"):
            path = f"{path}?{urlencode(params)}" if params else path
        elif as_json:
            body, headers["Content-Type"] = json.dumps(params or {}).encode(), "application/json"
        else:
            body, headers["Content-Type"] = urlencode(params or {}).encode(), "application/x-www-form-urlencoded"
        return self._http.send(method, path, body, headers)

    def _data(self, method: str, path: str, params: Mapping[str, Any] | None) -> Any:
        response = self.call(method, path, params)
        if response.status != 200:
            raise ApiCallError(method, path, response)
        return response.data

    def get(self, path: str, **params: Any) -> Any:
        return self._data("GET", path, params)

    def post(self, path: str, **params: Any) -> Any:
        return self._data("POST", path, params)

    def put(self, path: str, **params: Any) -> Any:
        return self._data("PUT", path, params)

    def delete(self, path: str, **params: Any) -> Any:
        return self._data("DELETE", path, params)


class ControlClient:
    """The emulator's ``/_emulator`` API (see control.py)."""

    def __init__(self, control_url: str, *, timeout: float = 10.0) -> None:
        self._http = _Connection(control_url, timeout=timeout)

    def _call(self, method: str, path: str, payload: Any = None, *, raw: bytes | None = None) -> Any:
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else None)
        response = self._http.send(method, path, body, {"Content-Type": "application/json"})
        if response.status != 200:
            raise RuntimeError(f"control {method} {path}: {response.status} {response.body}")
        return response.data

    def close(self) -> None:
        self._http.close()

    def status(self) -> dict[str, Any]:
        return self._call("GET", "/status")

    def schema(self) -> list[dict[str, Any]]:
        return self._call("GET", "/schema")

    def requests(self, since: int = 0) -> dict[str, Any]:
        return self._call("GET", f"/requests?since={since}")

    def reset_requests(self) -> None:
        self._call("DELETE", "/requests")

    def settings(self, **values: Any) -> dict[str, Any]:
        return self._call("PUT", "/settings", values) if values else self._call("GET", "/settings")

    def arm_fault(self, **fault: Any) -> list[dict[str, Any]]:
        return self._call("POST", "/faults", fault)

    def faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def advance_clock(self, seconds: float) -> dict[str, float]:
        return self._call("POST", "/clock", {"advance": seconds})

    def reset_clock(self) -> None:
        self._call("DELETE", "/clock")

    def add_log(self, node: str, *, lines: list[str] | None = None, entries: list[dict[str, Any]] | None = None) -> int:
        return int(self._call("POST", f"/log/{node}", {"lines": lines or [], "entries": entries or []})["added"])

    def log(self, node: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/log/{node}")

    def files(self) -> list[str]:
        return self._call("GET", "/files")

    def read_file(self, relpath: str) -> str | None:
        response = self._http.send("GET", f"/files/{relpath}", None, {})
        return response.data["text"] if response.status == 200 else None

    def write_file(self, relpath: str, text: str) -> None:
        self._call("PUT", f"/files/{relpath}", raw=text.encode())

    def judge(self, client: str, node: str, port: int = 8006) -> dict[str, Any]:
        return self._call("POST", "/judge", {"client": client, "node": node, "port": port})

    def reset(self) -> None:
        self._call("POST", "/reset")


def probe(host: str, port: int, *, source_address: str | None = None, timeout: float = 1.0) -> str:
    """What a new TCP connection gets: 'open' (an answer arrives), 'closed' (closed unanswered),
    'refused' (RST) or 'timeout' (dropped)."""
    try:
        with socket.create_connection((host, port), timeout=timeout, source_address=(source_address, 0) if source_address else None) as sock:
            sock.sendall(b"GET /api2/json/version HTTP/1.1\r\nHost: x\r\n\r\n")
            return "open" if sock.recv(1) else "closed"
    except (ConnectionRefusedError, ConnectionResetError):
        return "refused"
    except TimeoutError:
        return "timeout"
