"""HTTP transport to the Proxmox VE API: one kept-alive HTTPS connection per module run.

The first layer of the client (transport, then the firewall API service in ``service``, then
the modules). TLS settings follow ``ansible.module_utils.urls.make_context``, so certificate
checks behave as in every other Ansible HTTP client (on by default, ``ca_path`` for a private
CA: a PEM file, or a directory whose PEM files are all read), but the context is built with the
standard library: importing ``urls`` (and the cryptography it pulls in) cost every task about
60 ms. The connection itself is ``http.client``'s, because ``urls.Request`` opens a new
connection (and TLS handshake) for every request; a module that plans fifty writes would pay
fifty handshakes.

Authentication is an API token (``Authorization: PVEAPIToken=...``) or a user and password
(``POST /access/ticket``, then the ticket cookie, plus the CSRF token on writes). Reads are
retried on connection errors (refused, reset, closed); writes never are, since a write that
reached the server must not be repeated. Errors carry PVE's message and its per-field
``errors`` map, never a credential: settings are checked before the first request (a token id
of PVE's form, no whitespace or control character in a header value), and every message the
transport raises is scrubbed of each form a secret may take.

An HTTP proxy named by ``https_proxy``/``HTTPS_PROXY`` is used as ``ansible.module_utils.urls``
(urllib) uses it: a CONNECT tunnel, basic auth from the proxy URL's user information, and
``no_proxy``/``NO_PROXY`` (host suffixes, exact hosts, ``*``) to bypass it. TLS runs end to end
through the tunnel, so the node's certificate is checked as without a proxy.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import re
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Union
from urllib.parse import quote, unquote, urlencode, urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]  # in urllib, not in typeshed

from .._model.errors import PveFirewallError

API_PREFIX = "/api2/json"
READ_METHODS = frozenset({"GET"})
READ_RETRIES = 2
Params = dict[str, Union[str, int]]  # noqa: UP007
# Connection problems a read may be retried after, on a new connection.
_RETRYABLE = (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError, BrokenPipeError, http.client.RemoteDisconnected)
# PVE's grammar (PVE::Auth::Plugin): user_regex, then realm_regex for the realm and a token's name.
_PVE_NAME = r"[A-Za-z][A-Za-z0-9.\-_]+"
_PVE_USER = rf"[^\s:/]+@{_PVE_NAME}"
_TOKEN_ID = re.compile(rf"{_PVE_USER}!{_PVE_NAME}")
# What a header value may carry safely: printable ASCII without spaces (PVE's secrets are UUIDs).
_HEADER_SAFE = re.compile(r"[!-~]+")
HIDDEN = "<hidden>"  # not Ansible's ******** mask, so a scrubbed message is told apart from one Ansible masked
CA_HINT = "give ca_path (the cluster's CA: a copy of /etc/pve/pve-root-ca.pem from a node) or set validate_certs: false"


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
        where = f"{self.method} {self.path}: " if self.method else ""  # no method: before any request (loading the CA)
        text = f"{where}HTTP {self.status}: {self.message}" if self.status else f"{where}{self.message}"
        if self.errors:
            text += " (" + "; ".join(f"{key}: {value}" for key, value in sorted(self.errors.items())) + ")"
        return text

    def result_details(self) -> dict[str, Any]:
        return {"status": self.status, "api_errors": self.errors}

    @property
    def is_digest_conflict(self) -> bool:
        """PVE's answer to a write planned from an outdated read (a 500, not a 409)."""
        return "detected modified configuration" in self.message


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced, the longest first (so no part of one is left)."""
    for secret in sorted({value for value in secrets if value}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text


_PEM_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def pem_certificates_in(directory: str) -> str:
    """Every PEM certificate in the files of a directory, as ``urls.get_ca_certs`` collects them
    (no ``c_rehash`` index needed, unlike OpenSSL's own ``capath``)."""
    found: list[str] = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                found += _PEM_CERTIFICATE.findall(handle.read())
    return "\n".join(found)


def tls_context(*, cafile: str | None, capath: str | None, validate_certs: bool) -> ssl.SSLContext:
    """The context ``urls.make_context`` builds, from the standard library alone: the system's CA
    store plus ``cafile`` or the certificates of ``capath``; no checks without ``validate_certs``."""
    context = ssl.create_default_context(cafile=cafile)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif capath and not cafile:
        certificates = pem_certificates_in(capath)
        if certificates:
            context.load_verify_locations(cadata=certificates)
    return context


def bracketed(host: str) -> str:
    """A host for ``host:port``: an IPv6 literal in brackets."""
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy that tunnels the connection with CONNECT; its credentials stay out of ``repr``."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str, variable: str = "HTTPS_PROXY") -> Proxy:
        """``[http://][user[:password]@]host[:port]``; like urllib, an https:// proxy is spoken to in
        plain HTTP too. The URL is never shown whole: it may hold a password."""
        parts = urlsplit(url.strip() if "://" in url else f"http://{url.strip()}")
        form = "http://[user:password@]host:port"
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{variable}: a {parts.scheme}:// proxy is not supported; give an HTTP proxy, {form}")
        try:
            port = parts.port
        except ValueError:
            port = -1
        if not parts.hostname or port == -1:
            raise ValueError(f"{variable} is not a proxy URL of the form {form}")
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(parts.hostname, port or (443 if parts.scheme == "https" else 80), username, password)

    @property
    def netloc(self) -> str:
        return f"{bracketed(self.host)}:{self.port}"

    def authorization(self) -> str | None:
        """``Proxy-Authorization`` from the URL's user information, as urllib sends it."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def secrets(self) -> tuple[str, ...]:
        return tuple(value for value in (self.password, self.authorization(), self.password and quote(self.password, safe="")) if value)


def proxy_from_environment(host: str, port: int) -> Proxy | None:
    """The proxy ``ansible.module_utils.urls`` would use for ``https://host:port``: urllib's reading
    of https_proxy/HTTPS_PROXY (lower case first) and no_proxy/NO_PROXY. ValueError for a bad URL."""
    proxies = getproxies_environment()
    url = proxies.get("https")
    # urllib matches NO_PROXY against host:port and the bare host; an IPv6 literal is tried both ways
    if not url or any(proxy_bypass_environment(name, proxies) for name in (f"{bracketed(host)}:{port}", host, bracketed(host))):
        return None
    variable = next((name for name in ("https_proxy", "HTTPS_PROXY") if os.environ.get(name) == url), "HTTPS_PROXY")
    return Proxy.parse(url, variable)


def _unsafe(value: str) -> bool:
    """Whitespace, a control or a non-ASCII character: nothing a header value may carry."""
    return _HEADER_SAFE.fullmatch(value) is None


def _host_problem(host: str) -> str | None:
    """Why ``host`` is not a bare host name or address (a scheme, a port, a path), if it is not."""
    if not host:
        return "api_host is required (or PROXMOX_HOST)"
    if "@" in host:  # user information may hold a password: not shown
        return "api_host must not hold user information (user@host); give api_user and api_password, or an API token"
    if host.startswith("["):  # an IPv6 literal, perhaps with a port after it
        try:
            plain = host.endswith("]") and ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            plain = False
    else:  # one ':' is a port; more are an IPv6 literal
        plain = host.count(":") != 1 and not any(char.isspace() or not char.isprintable() or char in "/?#[]" for char in host)
    if plain:
        return None
    hint = ""
    try:
        parts = urlsplit(host if "://" in host else f"//{host}")
        if parts.hostname:
            hint = f"; api_host: {parts.hostname}" + (f" and api_port: {parts.port}" if parts.port else "")
    except ValueError:
        pass
    return f"api_host: {host!r} must be a host name or address alone, without scheme, port or path (the API is https on api_port){hint}"


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
    proxy: Proxy | None = None

    @property
    def address(self) -> str:
        """The host as a socket takes it: an IPv6 literal without its brackets."""
        return self.host[1:-1] if self.host.startswith("[") and self.host.endswith("]") else self.host

    @property
    def netloc(self) -> str:
        """``host:port`` for messages and the CONNECT line."""
        return f"{bracketed(self.address)}:{self.port}"

    def with_environment_proxy(self) -> ConnectionSettings:
        """These settings with the proxy the environment names for the node; ValueError for a bad proxy URL."""
        return replace(self, proxy=proxy_from_environment(self.address, self.port))

    def full_token_id(self) -> str | None:
        """``user@realm!name``; ``token_id`` may be the name (of ``user``'s token) or the full id."""
        if not self.token_id:
            return None
        return self.token_id if "!" in self.token_id else f"{self.user}!{self.token_id}"

    def token_header(self) -> str | None:
        """``PVEAPIToken=user@realm!name=secret``."""
        if not (self.token_id and self.token_secret):
            return None
        return f"PVEAPIToken={self.full_token_id()}={self.token_secret}"

    def secrets(self) -> tuple[str, ...]:
        """Every form a secret may take in a message: as given and stripped, the whole token id
        when it is not an id (a pasted ``id=secret`` or ``id secret``), and the proxy's password."""
        found = [self.password, self.token_secret]
        token_id = self.token_id or ""
        if "=" in token_id or (token_id and _unsafe(token_id)):
            found += [token_id, *re.split(r"[=\s]+", token_id)[1:]]
        found += [value.strip() for value in found if value]
        return tuple(value for value in found if value) + (self.proxy.secrets() if self.proxy else ())

    def _token_id_problem(self) -> str | None:
        """What is wrong with the token id; the value is never shown: a malformed id may hold the secret."""
        token_id = self.token_id or ""
        if "=" in token_id:
            return "api_token_id holds a whole token (it contains '='): give the part before '=' as api_token_id, the part after it as api_token_secret"
        if _unsafe(token_id):
            return "api_token_id contains whitespace or a control character (a trailing newline from a file or variable?)"
        if "!" not in token_id and not self.user:
            return "api_token_id without '!' needs api_user (the token's owner, e.g. root@pam)"
        if _TOKEN_ID.fullmatch(self.full_token_id() or "") is None:
            return (
                "api_token_id must be user@realm!tokenname, or the token name alone with api_user as user@realm"
                " (a realm and a token name start with a letter, then letters, digits, '.', '-' or '_')"
            )
        return None

    def problems(self) -> list[str]:
        """What keeps these settings from working, before any connection is made. No message
        shows a secret, nor a token id that is not one."""
        found = [problem for problem in (_host_problem(self.host),) if problem]
        if not 0 < self.port < 65536:
            found.append(f"api_port: {self.port} is not a port (1-65535)")
        if self.timeout <= 0:
            found.append(f"api_timeout: {self.timeout:g} must be at least 1 second")
        if self.validate_certs and self.ca_path and not os.path.exists(self.ca_path):
            found.append(f"ca_path: '{self.ca_path}' does not exist; {CA_HINT}")
        if self.token_id or self.token_secret:
            if self.token_id:  # even alone: a whole token pasted here must be named
                found += [problem for problem in (self._token_id_problem(),) if problem]
            if not (self.token_id and self.token_secret) and "=" not in (self.token_id or ""):
                found.append("api_token_id and api_token_secret go together")
            if self.token_secret and _unsafe(self.token_secret):
                found.append(
                    "api_token_secret contains whitespace, a control or a non-ASCII character (a trailing newline from a file or variable?);"
                    " PVE's token secrets are UUIDs"
                )
        elif not (self.user and self.password):
            found.append("give api_token_id and api_token_secret, or api_user and api_password")
        return found


def path_of(*segments: str | int, keep_slash: bool = False) -> str:
    """An API path from segments, each quoted (an ipset entry's cidr keeps its '/')."""
    safe = "/{}" if keep_slash else "{}"  # braces: placeholders in offline plans
    return "/" + "/".join(quote(str(segment), safe=safe) for segment in segments)


class _TunnelledConnection(http.client.HTTPSConnection):
    """HTTPS to the node through a proxy's CONNECT tunnel. http.client's own ``set_tunnel`` writes
    an IPv6 target without brackets (before Python 3.12), so the tunnel is opened here."""

    def __init__(self, host: str, port: int, proxy: Proxy, *, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self.proxy = proxy
        self.tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self.proxy.host, self.proxy.port), self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does: small requests go out at once
            target = f"{bracketed(self.host)}:{self.port}"
            lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
            authorization = self.proxy.authorization()
            if authorization:
                lines.append(f"Proxy-Authorization: {authorization}")
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            answer = http.client.HTTPResponse(sock, method="CONNECT")
            try:
                answer.begin()  # the status line and headers; nothing follows before the TLS handshake
            finally:
                answer.close()
            if answer.status != 200:
                raise OSError(f"the proxy refused the tunnel: {answer.status} {answer.reason}")
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


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

    @property
    def where(self) -> str:
        """The node, and the proxy in between, for messages."""
        proxy = self.settings.proxy
        return self.settings.netloc + (f" through the proxy {proxy.netloc}" if proxy else "")

    def _error(self, method: str, path: str, status: int, message: str, errors: Mapping[str, str] | None = None) -> PveApiError:
        """A PveApiError without any form of a secret in it, whatever the message quotes."""
        secrets = self.settings.secrets()
        clean = {str(key): scrub(str(value), secrets) for key, value in (errors or {}).items()}
        return PveApiError(method, path, status, scrub(message, secrets), clean)

    def _context(self) -> ssl.SSLContext:
        settings = self.settings
        cafile = capath = None
        if settings.ca_path and settings.validate_certs:  # without verification, a CA is of no use
            if os.path.isdir(settings.ca_path):
                capath = settings.ca_path
            else:
                cafile = settings.ca_path
        try:
            return tls_context(cafile=cafile, capath=capath, validate_certs=settings.validate_certs)
        except (OSError, ssl.SSLError) as error:
            reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or type(error).__name__
            raise self._error("", "", 0, f"ca_path: cannot load CA certificates from '{settings.ca_path}' ({reason}); {CA_HINT}") from None

    def _open(self) -> http.client.HTTPSConnection:
        if self._connection is None:
            settings = self.settings
            if settings.proxy is None:
                self._connection = http.client.HTTPSConnection(settings.address, settings.port, timeout=settings.timeout, context=self._context())
            else:
                self._connection = _TunnelledConnection(settings.address, settings.port, settings.proxy, timeout=settings.timeout, context=self._context())
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
        """The address this client's connection comes from, as the node sees it (no NAT);
        None through a proxy, since the node then sees the proxy's."""
        if self.settings.proxy is not None:
            return None
        sock = self._socket()
        return None if sock is None else str(sock.getsockname()[0])

    def peer_address(self) -> str | None:
        """The node address this client's connection goes to; None through a proxy."""
        if self.settings.proxy is not None:
            return None
        sock = self._socket()
        return None if sock is None else str(sock.getpeername()[0])

    # -- authentication ------------------------------------------------------------------

    def _headers(self, method: str, path: str) -> dict[str, str]:
        if self._auth_headers is None:
            problems = self.settings.problems()  # checked by the modules already; no bad value goes into a header
            if problems:
                raise self._error(method, path, 0, "; ".join(problems))
            token = self.settings.token_header()
            if token is not None:
                self._auth_headers = {"Authorization": token}
            else:
                self._login()
        headers = dict(self._auth_headers or {})
        if method not in READ_METHODS and self._csrf:
            headers["CSRFPreventionToken"] = self._csrf
        return headers

    def _login(self) -> None:
        body = urlencode({"username": self.settings.user or "", "password": self.settings.password or ""})
        status, reason, answer = self._exchange("POST", "/access/ticket", body, {"Content-Type": "application/x-www-form-urlencoded"})
        data = answer.get("data") if isinstance(answer, dict) else None
        if status != 200 or not isinstance(data, dict) or "ticket" not in data:
            message = (answer.get("message") if isinstance(answer, dict) else None) or reason or "authentication failure"
            raise self._error("POST", "/access/ticket", status, f"login as {self.settings.user} failed: {message}")
        self._auth_headers = {"Cookie": "PVEAuthCookie=" + quote(str(data["ticket"]), safe="")}
        self._csrf = str(data.get("CSRFPreventionToken") or "") or None

    # -- requests ------------------------------------------------------------------------

    def _exchange(self, method: str, path: str, body: str | None, headers: Mapping[str, str]) -> tuple[int, str, Any]:
        """One HTTP exchange; connection problems raise PveApiError with status 0. No exception's
        own text is passed on where it could quote a header (http.client's "Invalid header value")."""
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
                raise self._error(method, path, 0, f"connection to {self.where} failed: {error}") from None
            except ssl.SSLCertVerificationError as error:
                self.close()
                raise self._error(method, path, 0, f"TLS error talking to {self.where}: {self._untrusted(error)}") from None
            except ssl.SSLError as error:
                self.close()
                raise self._error(method, path, 0, f"TLS error talking to {self.where}: {error.reason or error}") from None
            except TimeoutError:
                self.close()
                raise self._error(method, path, 0, f"no answer from {self.where} within {self.settings.timeout:g} s") from None
            except OSError as error:
                self.close()
                raise self._error(method, path, 0, f"connection to {self.where} failed: {error}") from None
            except ValueError:  # its text would quote the header value, a credential perhaps
                self.close()
                raise self._error(method, path, 0, f"request to {self.where} not sent: a header or the path holds a character HTTP refuses") from None
            except http.client.HTTPException as error:
                self.close()
                raise self._error(method, path, 0, f"no valid HTTP answer from {self.where} ({type(error).__name__})") from None
        if response.will_close:
            self.close()
        try:
            answer = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            answer = None
        return response.status, response.reason, answer

    def _untrusted(self, error: ssl.SSLCertVerificationError) -> str:
        """Why the node's certificate was refused, and what to do about it."""
        detail = str(error.verify_message or error.reason or "certificate verify failed").rstrip(".")
        if "mismatch" in detail:
            return f"{detail}; give api_host as a name or address the certificate holds, or set validate_certs: false"
        if self.settings.ca_path:
            return f"{detail}; ca_path '{self.settings.ca_path}' does not hold the CA that signed the node's certificate, or set validate_certs: false"
        return f"the certificate is not trusted ({detail}); {CA_HINT}"

    def request(self, method: str, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        answer = self.answer(method, path, params)
        return answer.get("data") if isinstance(answer, dict) else None

    def answer(self, method: str, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The whole JSON answer: ``data`` and what PVE sets beside it (``total`` of a log)."""
        write = method not in READ_METHODS
        headers = self._headers(method, path)
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
            raise self._error(method, path, status, message, errors)
        return answer
