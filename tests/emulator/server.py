"""The transports: each node's API (HTTP or HTTPS) and SSH banner listeners, and the
control listener.

Node listeners judge every new connection (when judging is on) before reading a byte:
ACCEPT serves it, REJECT closes it with a TCP RST, DROP holds it open unanswered so that
the client times out. API requests pass the test knobs (fault plan, latency, request log)
and go to the dispatcher; ``/_emulator/`` goes to the control API on every listener.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import StreamRequestHandler, ThreadingTCPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from .control import PREFIX as CONTROL_PREFIX
from .dispatch import ApiRequest, ApiResponse
from .lockout import API_PORT, SSH_PORT

if TYPE_CHECKING:
    from .app import Emulator

API_PREFIX = "/api2/json"
SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"
DROP_HOLD_SECONDS = 120.0  # how long a dropped connection is held unanswered


def reset_connection(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER with a zero timeout)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class _Judged:
    """Mixin for socketserver servers: judge each accepted connection first."""

    emulator: Emulator
    node: str
    service_port: int

    def _init_judged(self) -> None:
        self._held: list[tuple[float, socket.socket]] = []
        self._held_lock = threading.Lock()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if not self.emulator.settings.judging:
            return True
        action = self.emulator.judge.judge(client_address[0], self.node, self.service_port)
        if action == "ACCEPT":
            return True
        if action == "REJECT":
            reset_connection(request)
        else:
            self._hold(request)
        return False

    def _hold(self, sock: socket.socket) -> None:
        now = time.monotonic()
        with self._held_lock:
            expired = [held for held in self._held if now - held[0] > DROP_HOLD_SECONDS]
            self._held = [held for held in self._held if held not in expired] + [(now, sock)]
        for _deadline, old in expired:
            old.close()

    def shutdown_request(self, request: Any) -> None:
        if getattr(request, "_closed", False) or any(held is request for _deadline, held in self._held):
            return
        super().shutdown_request(request)  # type: ignore[misc]

    def release_held(self) -> None:
        with self._held_lock:
            held, self._held = self._held, []
        for _deadline, sock in held:
            sock.close()


class ApiServer(_Judged, ThreadingHTTPServer):
    """One node's API listener."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], emulator: Emulator, node: str | None, tls: ssl.SSLContext | None) -> None:
        self.emulator = emulator
        self.node = node or ""
        self.service_port = API_PORT
        self.tls = tls
        self._init_judged()
        super().__init__(address, ApiHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return not self.node or super().verify_request(request, client_address)  # the control listener is never judged

    def finish_request(self, request: Any, client_address: Any) -> None:
        # headers and body go out in separate writes: without this, Nagle's algorithm and
        # the client's delayed ACK add 40 ms to every answer
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        latency = self.emulator.settings.latency
        if latency and self.node:
            # A new connection costs round trips before its first request: TCP's handshake,
            # and TLS's (1.3: one more). Without them parallel connections would come free.
            time.sleep(latency * (2 if self.tls is not None else 1))
        if self.tls is not None:
            request.settimeout(30)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                request.close()
                return
        super().finish_request(request, client_address)

    def server_close(self) -> None:
        self.release_held()
        super().server_close()


class SshServer(_Judged, ThreadingTCPServer):
    """Stands in for sshd: sends the banner, reads the client's, closes."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator, node: str) -> None:
        self.emulator = emulator
        self.node = node
        self.service_port = SSH_PORT
        self._init_judged()
        super().__init__(address, SshHandler)

    def server_close(self) -> None:
        self.release_held()
        super().server_close()


class SshHandler(StreamRequestHandler):
    timeout = 5

    def handle(self) -> None:
        try:
            self.wfile.write(SSH_BANNER)
            self.wfile.flush()
            self.rfile.readline(256)
        except OSError:
            pass


def _params(query: str, body: bytes, content_type: str) -> dict[str, object]:
    """Query and body parameters merged (body wins), form-encoded or JSON."""
    params: dict[str, object] = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        if content_type.startswith("application/json"):
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("a JSON body must be an object")
            params.update({key: value for key, value in data.items() if value is not None})
        else:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version
    timeout = 120  # idle keep-alive connections
    server: ApiServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        if self.server.emulator.verbose:
            sys.stderr.write(f"pve-emulator [{self.server.node or 'control'}] {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        self._serve()

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self._body()
        if url.path.startswith(CONTROL_PREFIX):
            status, payload = self.server.emulator.control.handle(self.command, url.path, dict(parse_qsl(url.query)), body)
            self._send(status, "OK" if status == 200 else "Error", payload)
        elif url.path.startswith(API_PREFIX + "/") and self.server.node:
            self._api(url.path[len(API_PREFIX) :], url.query, body)
        else:
            self._send(501, "Not Implemented", {"data": None, "message": f"Method '{self.command} {url.path}' not implemented\n"})

    def _api(self, path: str, query: str, body: bytes) -> None:
        emulator = self.server.emulator
        started = time.time()
        generation = emulator.generation
        fault = emulator.faults.next_fault(self.command, path)
        if emulator.settings.latency:
            time.sleep(emulator.settings.latency)
        if fault is not None and fault.action == "reset":
            emulator.request_log.record(self.server.node, self.client_address[0], self.command, path, 0, started)
            self.close_connection = True
            reset_connection(self.connection)
            return
        # A stalled request is carried out after the pause even when its client gave up
        # waiting, as PVE finishes a request it has received: a write that timed out lands late.
        late = fault is not None and fault.action == "stall"
        if fault is not None and late:
            time.sleep(fault.seconds)
        if emulator.generation != generation:  # the emulator was reset meanwhile: not this cluster's request
            self.close_connection = True
            return
        if fault is not None and fault.action == "error":
            response = ApiResponse(fault.status, fault.message, {"data": None, "message": fault.message + "\n"})
        else:
            try:
                params = _params(query, body, self.headers.get("Content-Type", ""))
            except ValueError as error:
                response = ApiResponse(400, "Bad Request", {"data": None, "message": f"{error}\n"})
            else:
                headers = dict(self.headers.items())
                response = emulator.dispatcher.handle(ApiRequest(self.command, path, params, headers, self.server.node))
        # logged before answering, so that a client that got its answer finds it in the log
        emulator.request_log.record(self.server.node, self.client_address[0], self.command, path, response.status, started)
        try:
            self._send(response.status, response.reason, response.body, response.headers)
        except OSError:
            if not late:
                raise
            self.close_connection = True  # the client that timed out has closed its end

    def _send(self, status: int, reason: str, payload: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status, reason)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "max-age=0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
