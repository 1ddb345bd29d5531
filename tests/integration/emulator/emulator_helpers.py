"""Helpers of the emulator tests (rules are labelled by their comment)."""

from __future__ import annotations

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, Response

RULES = "/cluster/firewall/rules"
MODIFIED = "detected modified configuration - file changed by other user? Try again.\n"


def comments(api: ApiClient, path: str = RULES) -> list[str]:
    """The comments of a rule list in order."""
    return [rule.get("comment", "") for rule in api.get(path)]


def post_labelled(api: ApiClient, *labels: str, path: str = RULES) -> None:
    """Create enabled rules so that the list reads ``labels`` top to bottom."""
    for label in reversed(labels):
        api.post(path, type="in", action="ACCEPT", proto="tcp", dport="22", comment=label, enable=1)


def assert_param_error(response: Response, param: str, message: str) -> None:
    assert response.status == 400, (response.status, response.body)
    assert response.message == "Parameter verification failed.\n"
    assert response.errors == {param: message}


def assert_failure(response: Response, message: str) -> None:
    assert response.status == 500, (response.status, response.body)
    assert response.message == message + "\n"
    assert response.reason == message
