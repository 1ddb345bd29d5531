"""Connection options as users expect them: HTTPS_PROXY and NO_PROXY as ansible.module_utils.urls
reads them, PROXMOX_API_TIMEOUT, a clear word on a missing ca_path or an untrusted certificate,
and api_host refused with a scheme or a port (IPv6 literals still work).

The proxy is a small CONNECT proxy in a thread on 127.0.0.1 in front of the emulator; it counts
the tunnels it opened and the Proxy-Authorization each one came with. An IPv6 forwarder on ::1
stands in for a node reached by an IPv6 address.
"""

from __future__ import annotations

import base64
import selectors
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner

from ansible_collections.pve.firewall.plugins.module_utils._api.transport import Proxy, proxy_from_environment
from ansible_collections.pve.firewall.tests.emulator.tls import make_tls

READ = "firewall_info"
READ_ARGS: dict[str, Any] = {"levels": ["cluster"], "include": ["options"]}
PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


def _pipe(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    with selectors.DefaultSelector() as selector:
        selector.register(one, selectors.EVENT_READ, other)
        selector.register(other, selectors.EVENT_READ, one)
        while True:
            for key, _events in selector.select(timeout=30):
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)


class _Relay(socketserver.ThreadingTCPServer):
    """A CONNECT proxy (``target`` None) or a forwarder to ``target``."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, listen: tuple[str, int], target: tuple[str, int] | None = None, credentials: str | None = None) -> None:
        self.address_family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self.target = target
        self.credentials = credentials
        self.tunnels: list[str] = []  # the CONNECT targets, one per tunnel opened
        self.authorizations: list[str | None] = []
        self.refused = 0
        super().__init__(listen, _RelayHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _RelayHandler(socketserver.BaseRequestHandler):
    server: _Relay

    def handle(self) -> None:
        client: socket.socket = self.request
        target = self.server.target or self._tunnel_target(client)
        if target is None:
            return
        with socket.create_connection(target, timeout=30) as upstream:
            if self.server.target is None:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(client, upstream)

    def _tunnel_target(self, client: socket.socket) -> tuple[str, int] | None:
        reader = client.makefile("rb")  # the client sends nothing after the headers until it has the answer
        method, authority, _version = reader.readline().decode("latin-1").split()
        headers = {}
        while line := reader.readline().decode("latin-1").strip():
            name, _colon, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        authorization = headers.get("proxy-authorization")
        expected = self.server.credentials
        if method != "CONNECT" or (expected is not None and authorization != "Basic " + base64.b64encode(expected.encode()).decode()):
            self.server.refused += 1
            client.sendall(b'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n')
            return None
        self.server.tunnels.append(authority)
        self.server.authorizations.append(authorization)
        host, _colon, port = authority.rpartition(":")
        return host.strip("[]"), int(port)


@contextmanager
def relay(listen: str = "127.0.0.1", target: tuple[str, int] | None = None, credentials: str | None = None) -> Iterator[_Relay]:
    server = _Relay((listen, 0), target, credentials)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without any proxy variable of the machine the tests run on."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def emulator_netloc(cluster: ModuleRunner) -> str:
    return f"{cluster.connection['api_host']}:{cluster.connection['api_port']}"


# -- HTTPS_PROXY and NO_PROXY -------------------------------------------------------------


def test_https_proxy_carries_a_run_through_one_tunnel(cluster: ModuleRunner, no_proxy_env: pytest.MonkeyPatch) -> None:
    with relay() as proxy:
        no_proxy_env.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        seq = cluster.seq()
        cluster.ok(READ, **READ_ARGS)
        rules = [{"type": "in", "action": "ACCEPT", "dport": "22", "proto": "tcp"}]
        written = cluster.ok("firewall_rule", rules=rules)
        assert written["changed"] is True
    # one kept-alive connection per module run, each through its own tunnel to the node
    assert proxy.tunnels == [emulator_netloc(cluster)] * 2 and proxy.authorizations == [None, None]
    assert len(cluster.writes_since(seq)) >= 1


def test_proxy_credentials_come_from_the_url(cluster: ModuleRunner, no_proxy_env: pytest.MonkeyPatch) -> None:
    with relay(credentials="deploy:p@ss w0rd") as proxy:
        no_proxy_env.setenv("https_proxy", f"http://deploy:p%40ss%20w0rd@127.0.0.1:{proxy.port}")
        cluster.ok(READ, **READ_ARGS)
        assert proxy.tunnels == [emulator_netloc(cluster)]
        assert proxy.authorizations == ["Basic " + base64.b64encode(b"deploy:p@ss w0rd").decode()]
        no_proxy_env.setenv("https_proxy", f"http://deploy:wrong-proxy-pw@127.0.0.1:{proxy.port}")
        refused = cluster.fails(READ, **READ_ARGS)
    assert proxy.refused == 1
    assert "407 Proxy Authentication Required" in refused["msg"] and f"through the proxy 127.0.0.1:{proxy.port}" in refused["msg"]
    assert "wrong-proxy-pw" not in str(refused)


def test_lower_case_https_proxy_wins_as_in_urllib(cluster: ModuleRunner, no_proxy_env: pytest.MonkeyPatch) -> None:
    with relay() as proxy:
        no_proxy_env.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # discard port: unused, else the run fails
        no_proxy_env.setenv("https_proxy", f"127.0.0.1:{proxy.port}")  # no scheme: http, as urllib takes it
        cluster.ok(READ, **READ_ARGS)
    assert proxy.tunnels == [emulator_netloc(cluster)]


@pytest.mark.parametrize("variable", ["NO_PROXY", "no_proxy"])
@pytest.mark.parametrize("pattern", ["exact", "exact with port", "suffix", "star", "in a list"])
def test_no_proxy_bypasses_the_proxy(cluster: ModuleRunner, no_proxy_env: pytest.MonkeyPatch, variable: str, pattern: str) -> None:
    host = str(cluster.connection["api_host"])
    value = {
        "exact": host,
        "exact with port": emulator_netloc(cluster),
        "suffix": "." + host.split(".", 1)[1],  # textual suffix, as urllib matches it
        "star": "*",
        "in a list": f"example.org, {host} ,.example.net",
    }[pattern]
    with relay() as proxy:
        no_proxy_env.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
        no_proxy_env.setenv(variable, value)
        cluster.ok(READ, **READ_ARGS)
    assert proxy.tunnels == []


def test_no_proxy_names_hosts_and_suffixes(no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "http://proxy.example.net:3128")
    cases = {
        "example.org": ["pve1.example.org", "example.org"],
        ".example.org": ["pve1.example.org"],
        "pve1.example.org": ["pve1.example.org"],
        "PVE1.Example.Org": ["pve1.example.org"],
        "*": ["pve1.example.org", "10.0.0.1", "::1"],
        "10.0.0.1": ["10.0.0.1"],
        "::1": ["::1"],
    }
    for no_proxy, bypassed in cases.items():
        no_proxy_env.setenv("NO_PROXY", no_proxy)
        for host in bypassed:
            assert proxy_from_environment(host, 8006) is None, (no_proxy, host)
    no_proxy_env.setenv("NO_PROXY", "example.org,10.0.0.1")
    for host in ("pve1.notexample.org", "example.org.evil.net", "10.0.0.10", "pve1.example.net"):
        assert proxy_from_environment(host, 8006) == Proxy("proxy.example.net", 3128), host


def test_proxy_url_forms(no_proxy_env: pytest.MonkeyPatch) -> None:
    assert Proxy.parse("http://proxy:3128") == Proxy("proxy", 3128)
    assert Proxy.parse("proxy") == Proxy("proxy", 80)
    assert Proxy.parse("https://proxy") == Proxy("proxy", 443)  # spoken to in plain HTTP, as urllib does
    assert Proxy.parse("http://[fd00::3]:3128/") == Proxy("fd00::3", 3128)
    with_user = Proxy.parse("http://me:s%3Acret@proxy:3128")
    assert with_user == Proxy("proxy", 3128, "me", "s:cret") and with_user.authorization() == "Basic " + base64.b64encode(b"me:s:cret").decode()
    assert "s:cret" not in repr(with_user)
    with pytest.raises(ValueError, match="a socks5:// proxy is not supported"):
        Proxy.parse("socks5://me:hidden-pw@proxy:1080")
    with pytest.raises(ValueError, match="HTTPS_PROXY is not a proxy URL") as bad_port:
        Proxy.parse("http://me:hidden-pw@proxy:port")
    assert "hidden-pw" not in str(bad_port.value)


def test_a_bad_proxy_url_fails_before_any_request(cluster: ModuleRunner, no_proxy_env: pytest.MonkeyPatch) -> None:
    no_proxy_env.setenv("HTTPS_PROXY", "socks5://me:hidden-pw@127.0.0.1:1080")
    seq = cluster.seq()
    result = cluster.fails(READ, **READ_ARGS)
    assert "HTTPS_PROXY: a socks5:// proxy is not supported" in result["msg"] and "hidden-pw" not in str(result)
    assert cluster.requests_since(seq) == []


# -- api_host, api_timeout ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "hint"),
    [
        ("https://pve1:8006", "api_host: pve1 and api_port: 8006"),
        ("pve1:8006", "api_host: pve1 and api_port: 8006"),
        ("pve1.example.org:8006", "api_host: pve1.example.org and api_port: 8006"),
        ("[::1]:8006", "api_host: ::1 and api_port: 8006"),
        ("https://[fd00::1]/", "api_host: fd00::1"),
        ("pve1/api2/json", "api_host: pve1"),
        ("pve1\n", ""),
    ],
)
def test_api_host_with_scheme_or_port_is_refused(cluster: ModuleRunner, host: str, hint: str) -> None:
    seq = cluster.seq()
    result = cluster.fails(READ, **READ_ARGS, api_host=host)
    assert f"api_host: {host!r} must be a host name or address alone, without scheme, port or path" in result["msg"]
    assert hint in result["msg"]
    assert cluster.requests_since(seq) == []


def test_api_host_with_user_information_is_refused_without_showing_it(cluster: ModuleRunner) -> None:
    result = cluster.fails(READ, **READ_ARGS, api_host="root:pw-in-host@pve1")
    assert "api_host must not hold user information" in result["msg"] and "pw-in-host" not in result["msg"]


@pytest.mark.parametrize("host", ["::1", "[::1]"])
def test_ipv6_literals_reach_the_node(cluster: ModuleRunner, no_proxy_env: pytest.MonkeyPatch, host: str) -> None:
    target = (str(cluster.connection["api_host"]), int(cluster.connection["api_port"]))
    with relay("::1", target) as forwarder:
        seq = cluster.seq()
        # the emulator's certificate names no IPv6 address; the path to the node is what counts here
        cluster.ok(READ, **READ_ARGS, api_host=host, api_port=forwarder.port, validate_certs=False)
        assert cluster.requests_since(seq) != []
        with relay() as proxy:  # and through a proxy, whose CONNECT line needs the brackets
            no_proxy_env.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
            cluster.ok(READ, **READ_ARGS, api_host=host, api_port=forwarder.port, validate_certs=False)
    assert proxy.tunnels == [f"[::1]:{forwarder.port}"]


def test_api_timeout_falls_back_to_proxmox_api_timeout(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXMOX_API_TIMEOUT", "1")
    cluster.control.arm_fault(action="stall", on="read", seconds=3, path="/cluster/firewall/options")
    result = cluster.fails(READ, **READ_ARGS)
    assert "within 1 s" in result["msg"]


# -- certificates -------------------------------------------------------------------------


def test_a_missing_ca_path_is_named(cluster: ModuleRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "pve-root-ca.pem"
    seq = cluster.seq()
    result = cluster.fails(READ, **READ_ARGS, ca_path=str(missing))
    assert f"ca_path: '{missing}' does not exist" in result["msg"] and "Errno" not in result["msg"]
    assert cluster.requests_since(seq) == []
    # without verification a CA is of no use, so a stale ca_path does not stop the run
    cluster.ok(READ, **READ_ARGS, ca_path=str(missing), validate_certs=False)


def test_a_ca_path_without_certificates_is_named(cluster: ModuleRunner, tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    result = cluster.fails(READ, **READ_ARGS, ca_path=str(not_pem))
    assert f"ca_path: cannot load CA certificates from '{not_pem}'" in result["msg"]


def test_certificates_are_verified_by_default_with_a_way_out_named(cluster: ModuleRunner, tmp_path: Path) -> None:
    args = {key: value for key, value in cluster.connection.items() if key != "ca_path"}
    untrusted = cluster.run(READ, connection=False, **args, **READ_ARGS)
    assert untrusted["failed"] is True
    assert "TLS error talking to" in untrusted["msg"] and "the certificate is not trusted" in untrusted["msg"]
    assert "give ca_path" in untrusted["msg"] and "validate_certs: false" in untrusted["msg"]
    other = make_tls(tmp_path / "other", addresses=[], names=["other"])
    wrong_ca = cluster.run(READ, connection=False, **args, **READ_ARGS, ca_path=str(other.ca))
    assert wrong_ca["failed"] is True
    assert f"ca_path '{other.ca}' does not hold the CA that signed the node's certificate" in wrong_ca["msg"]


def test_a_ca_path_directory_of_plain_pem_files_is_read_like_urls_does(cluster: ModuleRunner, tmp_path: Path) -> None:
    # OpenSSL's own capath needs a c_rehash index; ansible.module_utils.urls reads every file.
    args = {key: value for key, value in cluster.connection.items() if key != "ca_path"}
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    (trusted / "notes.txt").write_text("not a certificate\n")
    (trusted / "pve-root-ca.pem").write_text(Path(cluster.connection["ca_path"]).read_text())
    cluster.ok(READ, **args, **READ_ARGS, ca_path=str(trusted))
    other = make_tls(tmp_path / "other", addresses=[], names=["other"])
    untrusted = tmp_path / "untrusted"
    untrusted.mkdir()
    (untrusted / "ca.pem").write_text(other.ca.read_text())
    result = cluster.run(READ, connection=False, **args, **READ_ARGS, ca_path=str(untrusted))
    assert result["failed"] is True and f"ca_path '{untrusted}' does not hold the CA" in result["msg"]
