"""The argument specs the modules share: connection, scope and one rule as users write it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule, env_fallback

from .._compiler.user_input import rule_lines_as_mappings
from .._model.errors import FieldError, FirewallValidationError
from .._model.levels import LEVEL_NAMES

CONNECTION_ARGS: dict[str, dict[str, Any]] = {
    "api_host": {"type": "str", "fallback": (env_fallback, ["PROXMOX_HOST"])},
    "api_port": {"type": "int", "default": 8006, "fallback": (env_fallback, ["PROXMOX_PORT"])},
    "api_user": {"type": "str", "fallback": (env_fallback, ["PROXMOX_USER"])},
    "api_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["PROXMOX_PASSWORD"])},
    "api_token_id": {"type": "str", "no_log": False, "fallback": (env_fallback, ["PROXMOX_TOKEN_ID"])},
    "api_token_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["PROXMOX_TOKEN_SECRET"])},
    "validate_certs": {"type": "bool", "default": True, "fallback": (env_fallback, ["PROXMOX_VALIDATE_CERTS"])},
    "ca_path": {"type": "path", "fallback": (env_fallback, ["PROXMOX_CA_PATH"])},
    "api_timeout": {"type": "int", "default": 30, "fallback": (env_fallback, ["PROXMOX_API_TIMEOUT"])},
}

LEVEL_CHOICES = list(LEVEL_NAMES)
SCOPE_ARGS: dict[str, dict[str, Any]] = {
    "level": {"type": "str", "default": "cluster", "choices": LEVEL_CHOICES},
    "node": {"type": "str"},
    "vmid": {"type": "int"},
    "vnet": {"type": "str"},
}

# One rule as users write it (PVE's key names, icmp_type for icmp-type); values are checked by
# the compiler, which names the field, the value and what PVE accepts.
RULE_SUBOPTIONS: dict[str, dict[str, Any]] = {
    "type": {"type": "str", "required": True},
    "action": {"type": "str", "required": True},
    "macro": {"type": "str"},
    "iface": {"type": "str"},
    "source": {"type": "str"},
    "dest": {"type": "str"},
    "proto": {"type": "str"},
    "dport": {"type": "str"},
    "sport": {"type": "str"},
    "icmp_type": {"type": "str"},
    "log": {"type": "str"},
    "enable": {"type": "bool", "default": True},
    "comment": {"type": "str"},
}


class RulesModule(AnsibleModule):  # type: ignore[misc]  # AnsibleModule is untyped
    """The AnsibleModule of a module with a ``rules`` option, which also takes ``.fw`` rule lines.

    A string item is one rule line: it becomes the mapping it stands for before the argument
    spec checks the list (which would otherwise answer Ansible's "dictionary requested"). An
    item that is no rule line, or a string for the whole list, fails the module naming it and
    its position, before any request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.rule_line_errors: list[FieldError] = []
        super().__init__(*args, **kwargs)
        if self.rule_line_errors:
            error = FirewallValidationError(self.rule_line_errors)
            self.fail_json(msg=str(error), **error.result_details())

    def _load_params(self) -> None:
        super()._load_params()
        if "rules" in self.params:
            self.params["rules"], self.rule_line_errors = rule_lines_as_mappings(self.params["rules"])


def argument_spec(*parts: dict[str, dict[str, Any]], scope: bool = True) -> dict[str, dict[str, Any]]:
    """Connection options, the scope options (unless ``scope`` is False) and the module's own."""
    spec: dict[str, dict[str, Any]] = {key: dict(value) for key, value in CONNECTION_ARGS.items()}
    if scope:
        spec.update({key: dict(value) for key, value in SCOPE_ARGS.items()})
    for part in parts:
        spec.update(part)
    return spec


def without_none(items: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Sub-option dicts without the keys Ansible filled with None (the user did not set them)."""
    return [{key: value for key, value in item.items() if value is not None} for item in items or []]
