"""The argument specs the modules share: connection, scope and one rule as users write it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# common.parameters, not basic: the controller path validates without an AnsibleModule
from ansible.module_utils.common.parameters import env_fallback

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

# The option of the modules whose results hold long lists (report.Report.lists): the full
# ``before`` and ``after`` also above report.FULL_LIST_LIMIT items.
RETURN_FULL_ARGS: dict[str, dict[str, Any]] = {"return_full": {"type": "bool", "default": False}}


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
