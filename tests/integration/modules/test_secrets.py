"""No secret leaks, whatever fails: a token pasted whole into api_token_id, a token id or a secret
with a trailing newline, a wrong secret (401), a wrong password, an unreachable node, a TLS
failure and a module's own validation failure.

Each kind runs as a task of one ansible-playbook run at verbosity 3 (``-vvv``, through
ANSIBLE_VERBOSITY), with ``--diff`` and ANSIBLE_LOG_PATH set; stdout, stderr and the log file
must not hold the token secret, the password or the wrong ones tried. Every task must also have
failed for the reason its case names, so that each error path was really taken.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_playbook

from ansible_collections.pve.firewall.plugins.module_utils._api.transport import HIDDEN, ConnectionSettings, PveApiError, PveTransport, scrub
from ansible_collections.pve.firewall.tests.emulator.fixtures import PASSWORD, TOKEN, USER

WRONG_SECRET = "0bad5ec7-0000-4000-8000-5ec7e7000001"
WRONG_PASSWORD = "not-the-password-5ec7e7"
SECRETS = (TOKEN.secret, PASSWORD, WRONG_SECRET, WRONG_PASSWORD)
READ = "pve.firewall.firewall_info"
READ_ARGS = {"levels": ["cluster"], "include": ["options"]}


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def failure_cases(cluster: ModuleRunner) -> list[tuple[str, str, dict[str, Any], str]]:
    """``(case, module, args, words of the failure)``: every way a run with credentials can fail."""
    node = {"api_host": cluster.connection["api_host"], "api_port": cluster.connection["api_port"]}
    trusted = {**node, "ca_path": cluster.pve.ca}
    token = {**trusted, "api_token_id": TOKEN.full_id, "api_token_secret": TOKEN.secret}
    whole = f"{TOKEN.full_id}={TOKEN.secret}"
    return [
        ("whole token as the id", READ, {**trusted, "api_token_id": whole}, "api_token_id holds a whole token"),
        ("whole token as the id, secret too", READ, {**token, "api_token_id": whole}, "api_token_id holds a whole token"),
        ("id and secret with a space", READ, {**token, "api_token_id": f"{TOKEN.full_id} {TOKEN.secret}"}, "api_token_id contains whitespace"),
        ("id with a trailing newline", READ, {**token, "api_token_id": TOKEN.full_id + "\n"}, "api_token_id contains whitespace"),
        ("id without a realm", READ, {**token, "api_token_id": "root!ci"}, "api_token_id must be user@realm!tokenname"),
        ("secret with a trailing newline", READ, {**token, "api_token_secret": TOKEN.secret + "\n"}, "api_token_secret contains whitespace"),
        ("secret with a trailing CRLF", READ, {**token, "api_token_secret": TOKEN.secret + "\r\n"}, "api_token_secret contains whitespace"),
        ("wrong secret", READ, {**token, "api_token_secret": WRONG_SECRET}, "HTTP 401"),
        ("wrong password", READ, {**trusted, "api_user": USER, "api_password": WRONG_PASSWORD}, "login as root@pam failed"),
        ("password with a trailing newline", READ, {**trusted, "api_user": USER, "api_password": PASSWORD + "\n"}, "login as root@pam failed"),
        ("unreachable node", READ, {**token, "api_host": "127.0.0.1", "api_port": closed_port()}, "connection to 127.0.0.1"),
        ("untrusted certificate", READ, {**node, "api_token_id": TOKEN.full_id, "api_token_secret": TOKEN.secret}, "the certificate is not trusted"),
        ("module validation", "pve.firewall.firewall_rule", {**token, "rules": [{"type": "sideways", "action": "ACCEPT"}]}, "type='sideways'"),
    ]


def test_no_failure_shows_a_secret_anywhere(cluster: ModuleRunner, tmp_path: Path) -> None:
    cases = failure_cases(cluster)
    args_of = {"pve.firewall.firewall_info": READ_ARGS, "pve.firewall.firewall_rule": {}}
    tasks = [{"name": name, module: {**args_of[module], **args}, "ignore_errors": True} for name, module, args, _words in cases]
    log = tmp_path / "ansible.log"
    completed, results = run_playbook(tmp_path, tasks, {"ANSIBLE_VERBOSITY": "3", "ANSIBLE_LOG_PATH": str(log)}, diff=True)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert "invocation" in completed.stdout and log.exists()  # verbosity 3: module arguments and results are shown
    assert len(results) == len(cases)
    for (name, _module, _args, words), result in zip(cases, results):
        assert result.get("failed") is True, f"{name}: {result}"
        assert words in result["msg"], f"{name}: {result['msg']}"
        assert "********" not in result["msg"], f"{name}: Ansible had to mask the message: {result['msg']}"
    for where, text in (("stdout", completed.stdout), ("stderr", completed.stderr), ("ansible.log", log.read_text())):
        for secret in SECRETS:
            leaks = [line for line in text.splitlines() if secret in line]
            assert not leaks, f"{where} shows a secret: {leaks[:3]}"


# -- the transport on its own, without Ansible's masking ----------------------------------


def _settings(cluster: ModuleRunner, **overrides: Any) -> ConnectionSettings:
    options = cluster.connection
    base: dict[str, Any] = {"host": options["api_host"], "port": options["api_port"], "ca_path": options["ca_path"], "timeout": 5.0}
    return ConnectionSettings(**{**base, **overrides})


@pytest.mark.parametrize(
    "credentials",
    [
        {"token_id": f"{TOKEN.full_id}={TOKEN.secret}", "token_secret": TOKEN.secret},
        {"token_id": TOKEN.full_id + "\n", "token_secret": TOKEN.secret},
        {"token_id": TOKEN.full_id, "token_secret": TOKEN.secret + "\n"},
        {"token_id": "ci", "user": "root@pam\r\nX-Injected: 1", "token_secret": TOKEN.secret},
    ],
)
def test_the_transport_refuses_a_bad_header_value_without_quoting_it(cluster: ModuleRunner, credentials: dict[str, str]) -> None:
    seq = cluster.seq()
    transport = PveTransport(_settings(cluster, **credentials))
    with pytest.raises(PveApiError) as caught:
        transport.request("GET", "/version")
    assert TOKEN.secret not in str(caught.value) and "Invalid header value" not in str(caught.value)
    assert "api_token_" in str(caught.value)
    assert cluster.requests_since(seq) == []


def test_settings_name_every_credential_problem_without_the_value() -> None:
    def problems(**credentials: Any) -> str:
        return "; ".join(ConnectionSettings(host="pve1", **credentials).problems())

    pasted = problems(token_id="root@pam!ci=" + TOKEN.secret)
    assert pasted.startswith("api_token_id holds a whole token") and "go together" not in pasted and TOKEN.secret not in pasted
    assert "api_token_id must be user@realm!tokenname" in problems(token_id="root@pam!1ci", token_secret=TOKEN.secret)
    assert "api_token_id must be user@realm!tokenname" in problems(token_id="ci", user="root", token_secret=TOKEN.secret)
    assert "api_token_secret contains whitespace" in problems(token_id=TOKEN.full_id, token_secret=f" {TOKEN.secret}")
    assert "api_token_secret contains whitespace" in problems(token_id=TOKEN.full_id, token_secret=TOKEN.secret[:-1] + "é")
    assert problems(token_id=TOKEN.full_id, token_secret=TOKEN.secret) == ""
    assert problems(token_id="ci", user="root@pam", token_secret=TOKEN.secret) == ""
    assert problems(user="root@pam", password=" spaces and ünïcode are fine in a password\n") == ""


def test_secrets_cover_every_form_a_secret_may_take() -> None:
    settings = ConnectionSettings(host="pve1", token_id=f"{TOKEN.full_id}={TOKEN.secret}\n", token_secret="x\n", password="pw ")
    text = f"b'PVEAPIToken={TOKEN.full_id}={TOKEN.secret}' x\n pw, {TOKEN.secret}"
    cleaned = scrub(text, settings.secrets())
    assert TOKEN.secret not in cleaned and "pw" not in cleaned and HIDDEN in cleaned
    # a well-formed token id is no secret, and is not hidden
    assert TOKEN.full_id not in ConnectionSettings(host="pve1", token_id=TOKEN.full_id, token_secret="s").secrets()
