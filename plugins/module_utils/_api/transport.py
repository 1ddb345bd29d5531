"""HTTP transport to the Proxmox VE API: one kept-alive HTTPS connection per module run.

The first layer of the client (transport, then the firewall API service in ``_firewall_api``,
then the modules). TLS settings come from ``ansible.module_utils.urls.make_context``, so
certificate checks behave as in every other Ansible HTTP client (on by default, ``ca_path``
for a private CA). The connection itself is ``http.client``'s, because ``urls.Request`` opens
a new connection (and TLS handshake) for every request; a module that plans fifty writes
would pay fifty handshakes.

Authentication is an API token (``Authorization: PVEAPIToken=...``) or a user and password
(``POST /access/ticket``, then the ticket cookie, plus the CSRF token on writes). Reads are
retried on connection errors (refused, reset, closed); writes never are, since a write that
reached the server must not be repeated. Errors carry PVE's message and its per-field
``errors`` map, never a credential.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import quote, urlencode

from .._model.errors import PveFirewallError

try:
    from ansible.module_utils.urls import make_context
except ImportError:  # pragma: no cover - ansible-core is a requirement of the collection
    make_context = None

API_PREFIX = "/api2/json"
READ_METHODS = frozenset({"GET"})
READ_RETRIES = 2
Params = dict[str, Union[str, int]]  # noqa: UP007
# Connection problems a read may be retried after, on a new connection.
_RETRYABLE = (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected)


class PveApiError(PveFirewallError):
    """A failed API call: HTTP status (0 when no answer came), PVE's message, field errors."""

    def __init__(self, method: str, path: str, status: int, message: str, errors: Mapping[str, str] | None = None) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.message = message.strip()
        self.errors: dict[str, str] = {str(key): str(value).strip() for key, value in (errors or {}).items()}
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f"{self.method} {self.path}"
        text = f"{where}: HTTP {self.status}: {self.message}" if self.status else f"{where}: {self.message}"
        if self.errors:
            text += " (" + "; ".join(f"{key}: {value}" for key, value in sorted(self.errors.items())) + ")"
        return text

    def result_details(self) -> dict[str, Any]:
        return {"status": self.status, "api_errors": self.errors}

    @property
    def is_digest_conflict(self) -> bool:
        """PVE's answer to a write planned from an outdated read (a 500, not a 409)."""
        return "detected modified configuration" in self.message


@dataclass(frozen=True)
class ConnectionSettings:
    """Where the API is and how to log in. Secrets are kept out of ``repr``."""

    host: str
    port: int = 8006
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token_id: str | None = None
    token_secret: str | None = field(default=None, repr=False)
    validate_certs: bool = True
    ca_path: str | None = None
    timeout: float = 30.0

    def token_header(self) -> str | None:
        """``PVEAPIToken=user@realm!name=secret``; ``token_id`` may be the name or the full id."""
        if not (self.token_id and self.token_secret):
            return None
        full_id = self.token_id if "!" in self.token_id else f"{self.user}!{self.token_id}"
        return f"PVEAPIToken={full_id}={self.token_secret}"

    def problems(self) -> list[str]:
        """What keeps these settings from working, before any connection is made."""
        found = []
        if not self.host:
            found.append("api_host is required (or PROXMOX_HOST)")
        if self.token_id or self.token_secret:
            if not (self.token_id and self.token_secret):
                found.append("api_token_id and api_token_secret go together")
            elif "!" not in self.token_id and not self.user:
                found.append("api_token_id without '!' needs api_user (the token's owner, e.g. root@pam)")
        elif not (self.user and self.password):
            found.append("give api_token_id and api_token_secret, or api_user and api_password")
        return found


def path_of(*segments: str | int, keep_slash: bool = False) -> str:
    """An API path from segments, each quoted (an ipset entry's cidr keeps its '/')."""
    safe = "/{}" if keep_slash else "{}"  # braces: placeholders in offline plans
    return "/" + "/".join(quote(str(segment), safe=safe) for segment in segments)


class PveTransport:
    """Requests against one PVE node's API; ``request`` returns the ``data`` of the answer."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._connection: http.client.HTTPSConnection | None = None
        self._auth_headers: dict[str, str] | None = None
        self._csrf: str | None = None
        self.requests = 0  # counted for benchmarks and tests
        self.writes = 0

    # -- connection ----------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        settings = self.settings
        cafile = capath = None
        if settings.ca_path:
            if os.path.isdir(settings.ca_path):
                capath = settings.ca_path
            else:
                cafile = settings.ca_path
        if make_context is None:  # pragma: no cover
            context = ssl.create_default_context(cafile=cafile, capath=capath)
        else:
            context = make_context(cafile=cafile, capath=capath, validate_certs=settings.validate_certs)
        return context

    def _open(self) -> http.client.HTTPSConnection:
        if self._connection is None:
            self._connection = http.client.HTTPSConnection(self.settings.host, self.settings.port, timeout=self.settings.timeout, context=self._context())
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _socket(self) -> socket.socket | None:
        connection = self._open()
        if connection.sock is None:
            connection.connect()
        return connection.sock

    def local_address(self) -> str | None:
        """The address this client's connection comes from, as the node sees it (no NAT)."""
        sock = self._socket()
        return None if sock is None else str(sock.getsockname()[0])

    def peer_address(self) -> str | None:
        """The node address this client's connection goes to."""
        sock = self._socket()
        return None if sock is None else str(sock.getpeername()[0])

    # -- authentication ------------------------------------------------------------------

    def _headers(self, write: bool) -> dict[str, str]:
        if self._auth_headers is None:
            token = self.settings.token_header()
            if token is not None:
                self._auth_headers = {"Authorization": token}
            else:
                self._login()
        headers = dict(self._auth_headers or {})
        if write and self._csrf:
            headers["CSRFPreventionToken"] = self._csrf
        return headers

    def _login(self) -> None:
        body = urlencode({"username": self.settings.user or "", "password": self.settings.password or ""})
        status, reason, answer = self._exchange("POST", "/access/ticket", body, {"Content-Type": "application/x-www-form-urlencoded"})
        data = answer.get("data") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(data, dict) or "ticket" not in data:
            message = (answer.get("message") if isinstance(answer, dict) else None) or reason or "authentication failure"
            raise PveApiError("POST", "/access/ticket", status, f"login as {self.settings.user} failed: {message}")
        self._auth_headers = {"Cookie": "PVEAuthCookie=" + quote(str(data["ticket"]), safe="")}
        self._csrf = str(data.get("CSRFPreventionToken") or "") or None

    # -- requests ------------------------------------------------------------------------

    def _exchange(self, method: str, path: str, body: str | None, headers: Mapping[str, str]) -> tuple[int, str, Any]:
        """One HTTP exchange; connection problems raise PveApiError with status 0."""
        attempts = 1 + (READ_RETRIES if method in READ_METHODS else 0)
        for attempt in range(attempts):
            try:
                connection = self._open()
                connection.request(method, API_PREFIX + path, body=body, headers={"Accept": "application/json", **headers})
                response = connection.getresponse()
                raw = response.read()
                break
            except _RETRYABLE as error:
                self.close()
                if attempt + 1 < attempts:
                    continue
                raise PveApiError(method, path, 0, f"connection to {self.settings.host}:{self.settings.port} failed: {error}") from None
            except ssl.SSLError as error:
                self.close()
                hint = " (set ca_path to the cluster's CA, or validate_certs: false)" if "CERTIFICATE_VERIFY_FAILED" in str(error) else ""
                raise PveApiError(method, path, 0, f"TLS error talking to {self.settings.host}:{self.settings.port}: {error.reason or error}{hint}") from None
            except TimeoutError:
                self.close()
                raise PveApiError(method, path, 0, f"no answer from {self.settings.host}:{self.settings.port} within {self.settings.timeout:g} s") from None
            except OSError as error:
                self.close()
                raise PveApiError(method, path, 0, f"connection to {self.settings.host}:{self.settings.port} failed: {error}") from None
        if response.will_close:
            self.close()
        try:
            answer = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            answer = None
        return response.status, response.reason, answer

    def request(self, method: str, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        answer = self.answer(method, path, params)
        return answer.get("data") if isinstance(answer, dict) else None

    def answer(self, method: str, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The whole JSON answer: ``data`` and what PVE sets beside it (``total`` of a log)."""
        write = method not in READ_METHODS
        headers = self._headers(write)
        encoded = urlencode({key: str(value) for key, value in (params or {}).items()})
        body: str | None = None
        target = path
        if method in ("POST", "PUT"):
            body = encoded
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif encoded:
            target = f"{path}?{encoded}"
        self.requests += 1
        if write:
            self.writes += 1
        status, reason, answer = self._exchange(method, target, body, headers)
        if status != 200:
            message, errors = reason, None
            if isinstance(answer, dict):
                message = str(answer.get("message") or reason)
                errors = answer.get("errors") if isinstance(answer.get("errors"), dict) else None
            raise PveApiError(method, path, status, message, errors)
        return answer
