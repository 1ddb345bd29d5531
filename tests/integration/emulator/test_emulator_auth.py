"""Authentication: API tokens, tickets with CSRF protection, 401 and read-only 403."""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.tests.emulator.auth import Token
from ansible_collections.pve.firewall.tests.emulator.client import ApiClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import PASSWORD, READ_ONLY_TOKEN, TOKEN, USER, RunningEmulator

RULES = "/cluster/firewall/rules"
NEW_RULE = {"type": "in", "action": "ACCEPT", "enable": 1}


def test_a_token_reads_and_writes(pve: RunningEmulator) -> None:
    api = pve.api(token=TOKEN)
    api.post(RULES, **NEW_RULE)
    assert len(api.get(RULES)) == 1


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "No ticket"),
        (f"PVEAPIToken={TOKEN.full_id}=wrong-secret", "invalid token value!"),
        ("PVEAPIToken=nobody@pam!x=secret", "invalid token value!"),
        ("Bearer abc", "invalid token value!"),
    ],
)
def test_missing_or_bad_credentials_get_401(pve: RunningEmulator, header: str | None, reason: str) -> None:
    client = pve.api(token=None)
    if header:
        client._headers = {"Authorization": header}
    response = client.call("GET", RULES)
    assert (response.status, response.reason) == (401, reason)
    assert response.data is None


def test_a_read_only_token_reads_but_every_write_is_403(pve: RunningEmulator) -> None:
    reader = pve.api(token=READ_ONLY_TOKEN)
    assert reader.get(RULES) == []
    for method, path, params, denied in (
        ("POST", RULES, NEW_RULE, "(/, Sys.Modify)"),
        ("PUT", "/nodes/pve2/firewall/options", {"enable": 1}, "(/nodes/pve2, Sys.Modify)"),
        ("POST", "/nodes/pve1/qemu/100/firewall/rules", NEW_RULE, "(/vms/100, VM.Config.Network)"),
        ("PUT", "/cluster/sdn/vnets/vnet1/firewall/options", {"enable": 1}, "(/sdn/zones/zone1/vnet1, SDN.Allocate)"),
        ("DELETE", "/cluster/firewall/groups/web", {}, "(/, Sys.Modify)"),
    ):
        response = reader.call(method, path, params)
        assert (response.status, response.reason) == (403, f"Permission check failed {denied}"), (method, path)
    assert pve.api().get(RULES) == []


def test_a_ticket_needs_the_csrf_token_on_writes(pve: RunningEmulator) -> None:
    client = pve.api(token=None)
    login = client.login(USER, PASSWORD)
    assert login["username"] == USER and login["ticket"].startswith(f"PVE:{USER}:")
    assert client.get(RULES) == []
    client.post(RULES, **NEW_RULE)
    response = client.call("POST", RULES, NEW_RULE, csrf=False)
    assert (response.status, response.reason) == (401, "Permission denied - invalid csrf token")
    assert client.call("GET", RULES, csrf=False).status == 200  # reads need no CSRF token
    assert len(client.get(RULES)) == 1


def test_a_ticket_login_takes_the_realm_separately_and_renews_with_the_ticket(pve: RunningEmulator) -> None:
    name, realm = USER.split("@")
    first = pve.api(token=None).call("POST", "/access/ticket", {"username": name, "realm": realm, "password": PASSWORD})
    assert first.status == 200 and first.data["username"] == USER
    renewed = pve.api(token=None).call("POST", "/access/ticket", {"username": USER, "password": first.data["ticket"]})
    assert renewed.status == 200 and renewed.data["username"] == USER


def test_a_bad_password_gets_401(pve: RunningEmulator) -> None:
    response = pve.api(token=None).call("POST", "/access/ticket", {"username": USER, "password": "wrong"})
    assert (response.status, response.reason) == (401, "authentication failure")
    missing = pve.api(token=None).call("POST", "/access/ticket", {"username": USER})
    assert missing.status == 400 and missing.errors == {"password": "property is missing and it is not optional"}


def test_a_ticket_expires_after_two_hours_of_the_emulator_clock(pve: RunningEmulator) -> None:
    client = pve.api(token=None)
    client.login(USER, PASSWORD)
    pve.control.advance_clock(7300)
    response = client.call("GET", RULES)
    assert (response.status, response.reason) == (401, "invalid PVE ticket")


def test_a_forged_ticket_is_refused(pve: RunningEmulator) -> None:
    client = pve.api(token=None)
    ticket = client.login(USER, PASSWORD)["ticket"]
    client._headers = {"Cookie": f"PVEAuthCookie={ticket.replace(USER, 'admin@pve')}"}
    assert client.call("GET", RULES).status == 401


def test_tokens_parse_from_the_command_line_format() -> None:
    token = Token.parse("automation@pve!ansible=5f1c-22")
    assert (token.user, token.token_id, token.secret, token.header()) == ("automation@pve", "ansible", "5f1c-22", "PVEAPIToken=automation@pve!ansible=5f1c-22")
    with pytest.raises(ValueError, match="USER@REALM!ID=SECRET"):
        Token.parse("no-realm!x=y")


def test_json_bodies_are_accepted_like_form_bodies(pve: RunningEmulator) -> None:
    api: ApiClient = pve.api()
    response = api.call("POST", RULES, {"type": "in", "action": "ACCEPT", "enable": True, "dport": 22, "proto": "tcp"}, as_json=True)
    assert response.status == 200
    rule = api.get(f"{RULES}/0")
    assert (rule["enable"], rule["dport"]) == (1, "22")
