"""The HTTP transport against the TLS emulator: one kept-alive connection, reads retried on a
connection error, writes never, and errors that carry PVE's message and field errors."""

from __future__ import annotations

import socket

import pytest
from conftest import ModuleRunner

from ansible_collections.pve.firewall.plugins.module_utils._api.transport import ConnectionSettings, Proxy, PveApiError, PveTransport
from ansible_collections.pve.firewall.tests.emulator.fixtures import PASSWORD, TOKEN, USER


def _transport(cluster: ModuleRunner, **overrides: object) -> PveTransport:
    options = cluster.connection
    settings = {
        "host": options["api_host"],
        "port": options["api_port"],
        "token_id": TOKEN.full_id,
        "token_secret": TOKEN.secret,
        "ca_path": options["ca_path"],
        "timeout": 5.0,
        **overrides,
    }
    return PveTransport(ConnectionSettings(**settings))  # type: ignore[arg-type]


def test_one_connection_serves_every_request_of_a_run(cluster: ModuleRunner) -> None:
    transport = _transport(cluster)
    ports = set()
    for _attempt in range(5):
        transport.request("GET", "/version")
        transport.request("POST", "/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "enable": 1})
        connection = transport._connection  # pylint: disable=protected-access
        assert connection is not None and connection.sock is not None
        ports.add(connection.sock.getsockname()[1])
    transport.close()
    assert len(ports) == 1
    assert transport.requests == 10 and transport.writes == 5


def test_a_read_is_retried_on_a_new_connection_after_a_reset(cluster: ModuleRunner) -> None:
    transport = _transport(cluster)
    cluster.api().post("/cluster/firewall/rules", type="in", action="DROP", enable=1)
    seq = cluster.seq()
    cluster.control.arm_fault(action="reset", nth=1, on="read", path="/cluster/firewall/rules")
    data = transport.request("GET", "/cluster/firewall/rules")
    assert [rule["action"] for rule in data] == ["DROP"]
    reads = [entry for entry in cluster.requests_since(seq) if entry["path"].endswith("/cluster/firewall/rules")]
    assert len(reads) == 2  # the reset one and the retry


def test_a_write_is_never_repeated(cluster: ModuleRunner) -> None:
    transport = _transport(cluster)
    transport.request("GET", "/version")
    seq = cluster.seq()
    cluster.control.arm_fault(action="reset", nth=1, on="write")
    with pytest.raises(PveApiError) as caught:
        transport.request("POST", "/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "enable": 1})
    assert caught.value.status == 0 and "connection" in caught.value.message
    assert len(cluster.writes_since(seq)) == 1
    assert cluster.api().get("/cluster/firewall/rules") == []


def test_errors_carry_pve_message_and_field_errors(cluster: ModuleRunner) -> None:
    transport = _transport(cluster)
    with pytest.raises(PveApiError) as caught:
        transport.request("POST", "/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "dport": "99999", "proto": "tcp"})
    error = caught.value
    assert error.status == 400 and "dport" in error.errors
    assert str(error).startswith("POST /cluster/firewall/rules: HTTP 400: Parameter verification failed.")
    with pytest.raises(PveApiError) as missing:
        transport.request("GET", "/cluster/firewall/rules/7")
    assert missing.value.status == 500 and "no rule at position 7" in str(missing.value)


def test_ticket_login_sends_the_csrf_token_on_writes(cluster: ModuleRunner) -> None:
    transport = _transport(cluster, token_id=None, token_secret=None, user=USER, password=PASSWORD)
    transport.request("POST", "/cluster/firewall/rules", {"type": "out", "action": "ACCEPT", "enable": 1})
    assert cluster.api().get("/cluster/firewall/rules")[0]["type"] == "out"


def test_credentials_never_appear_in_errors(cluster: ModuleRunner) -> None:
    secret = "definitely-not-the-secret-0000"
    transport = _transport(cluster, token_secret=secret)
    with pytest.raises(PveApiError) as caught:
        transport.request("GET", "/version")
    assert caught.value.status == 401 and secret not in str(caught.value)
    login = _transport(cluster, token_id=None, token_secret=None, user=USER, password=secret)
    with pytest.raises(PveApiError) as refused:
        login.request("GET", "/version")
    assert secret not in str(refused.value) and USER in str(refused.value)


def test_settings_problems_are_named_before_connecting() -> None:
    assert ConnectionSettings(host="").problems() == [
        "api_host is required (or PROXMOX_HOST)",
        "give api_token_id and api_token_secret, or api_user and api_password",
    ]
    assert ConnectionSettings(host="h", token_id="ansible", token_secret="s").problems() == [
        "api_token_id without '!' needs api_user (the token's owner, e.g. root@pam)"
    ]
    assert "s3cret" not in repr(ConnectionSettings(host="h", password="s3cret", token_secret="s3cret"))


def test_through_a_proxy_the_client_address_is_not_guessed(cluster: ModuleRunner) -> None:
    # the node sees the proxy's address, not this socket's: the lockout check must be told the clients
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    transport = _transport(cluster, proxy=Proxy("127.0.0.1", closed))
    assert transport.local_address() is None and transport.peer_address() is None
    with pytest.raises(PveApiError) as caught:
        transport.request("GET", "/version")
    assert f"through the proxy 127.0.0.1:{closed} failed" in str(caught.value)
