"""What every API module of the collection shares: options, connection, scope, checks, results.

The modules are thin: they declare their own options, convert input with ``_user_input``,
validate with the compiler, plan and write with ``_sync`` and report through ``Report``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Dict, NoReturn, Optional

from ansible.module_utils.basic import AnsibleModule, env_fallback

from .._compiler.addresses import is_alias_reference
from .._compiler.config_validation import ReferenceScope
from .._model.errors import FieldError, FirewallValidationError, raise_if_errors
from .._api.service import ApiCall, FirewallApi, Scope, ScopeError
from .._compiler.fw_format import ParsedFile, parse_fw, render_fw
from .._model.objects import FileKind, FirewallFile, Rule
from .._compiler.normalise import normalise_rule
from .._api.transport import ConnectionSettings, PveApiError, PveTransport
from .._compiler.rule_validation import References, check_rule
from .._api.sync import SyncError

CONNECTION_ARGS: Dict[str, Dict[str, Any]] = {
    "api_host": {"type": "str", "fallback": (env_fallback, ["PROXMOX_HOST"])},
    "api_port": {"type": "int", "default": 8006, "fallback": (env_fallback, ["PROXMOX_PORT"])},
    "api_user": {"type": "str", "fallback": (env_fallback, ["PROXMOX_USER"])},
    "api_password": {"type": "str", "no_log": True, "fallback": (env_fallback, ["PROXMOX_PASSWORD"])},
    "api_token_id": {"type": "str", "no_log": False, "fallback": (env_fallback, ["PROXMOX_TOKEN_ID"])},
    "api_token_secret": {"type": "str", "no_log": True, "fallback": (env_fallback, ["PROXMOX_TOKEN_SECRET"])},
    "validate_certs": {"type": "bool", "default": True, "fallback": (env_fallback, ["PROXMOX_VALIDATE_CERTS"])},
    "ca_path": {"type": "path", "fallback": (env_fallback, ["PROXMOX_CA_PATH"])},
    "api_timeout": {"type": "int", "default": 30},
}

LEVEL_CHOICES = ["cluster", "node", "vm", "ct", "vnet"]
SCOPE_ARGS: Dict[str, Dict[str, Any]] = {
    "level": {"type": "str", "default": "cluster", "choices": LEVEL_CHOICES},
    "node": {"type": "str"},
    "vmid": {"type": "int"},
    "vnet": {"type": "str"},
}


# One rule as users write it (PVE's key names, icmp_type for icmp-type); values are checked by
# the compiler, which names the field, the value and what PVE accepts.
RULE_SUBOPTIONS: Dict[str, Dict[str, Any]] = {
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


def unknown_names(option: str, what: str, asked: Sequence[Any], known: Sequence[Any]) -> list[FieldError]:
    """One error per asked name (node, guest id, vnet) the cluster does not have, naming the
    option, its position and the value, with what exists."""
    accepted = ", ".join(map(str, known)) or f"no {what} exists in this cluster"
    message = f"no such {what} in the cluster"
    return [FieldError(f"{option}[{index}]", option, value, message, accepted) for index, value in enumerate(asked) if value not in known]


def without_none(items: Optional[Sequence[Dict[str, Any]]]) -> list[Dict[str, Any]]:
    """Sub-option dicts without the keys Ansible filled with None (the user did not set them)."""
    return [{key: value for key, value in item.items() if value is not None} for item in items or []]


def argument_spec(*parts: Dict[str, Dict[str, Any]], scope: bool = True) -> Dict[str, Dict[str, Any]]:
    """Connection options, the scope options (unless ``scope`` is False) and the module's own."""
    spec: Dict[str, Dict[str, Any]] = {key: dict(value) for key, value in CONNECTION_ARGS.items()}
    if scope:
        spec.update({key: dict(value) for key, value in SCOPE_ARGS.items()})
    for part in parts:
        spec.update(part)
    return spec


class ModuleFailure(Exception):
    """A problem to report with fail_json: a message and the structured details."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


# What the collection's layers raise for a user to read; anything else is a bug and keeps
# its traceback.
EXPECTED_ERRORS = (FirewallValidationError, SyncError, PveApiError, ScopeError, ModuleFailure)


def error_dicts(errors: Iterable[FieldError]) -> list[dict[str, Any]]:
    return [{"location": e.location, "field": e.field, "value": e.value, "message": e.message, "accepted": e.accepted} for e in errors]


def fail(module: AnsibleModule, error: Exception, **result: Any) -> NoReturn:
    """Report any failure of the collection's layers with its details."""
    if isinstance(error, FirewallValidationError):
        module.fail_json(msg=str(error), errors=error_dicts(error.errors), **result)
    if isinstance(error, SyncError):
        module.fail_json(msg=str(error), commands=[str(call) for call in error.done], **result)
    if isinstance(error, PveApiError):
        module.fail_json(msg=str(error), status=error.status, api_errors=error.errors, **result)
    if isinstance(error, ModuleFailure):
        module.fail_json(msg=str(error), **{**result, **error.details})
    module.fail_json(msg=str(error), **result)


def run_and_exit(module: AnsibleModule, work: Callable[[], Dict[str, Any]]) -> NoReturn:
    """The end of every module's main(): the result, or a failure the user can act on."""
    try:
        result = work()
    except EXPECTED_ERRORS as error:
        fail(module, error)
    module.exit_json(**result)


def connect(module: AnsibleModule) -> FirewallApi:
    params = module.params
    settings = ConnectionSettings(
        host=params["api_host"],
        port=params["api_port"],
        user=params["api_user"],
        password=params["api_password"],
        token_id=params["api_token_id"],
        token_secret=params["api_token_secret"],
        validate_certs=params["validate_certs"],
        ca_path=params["ca_path"],
        timeout=float(params["api_timeout"]),
    )
    problems = settings.problems()
    if problems:
        module.fail_json(msg="; ".join(problems))
    return FirewallApi(PveTransport(settings))


def scope_from_params(api: FirewallApi, params: Dict[str, Any], allowed: Sequence[str] = tuple(LEVEL_CHOICES)) -> Scope:
    level = params["level"]
    if level not in allowed:
        raise ScopeError(f"level: '{level}' is not supported here (supported: {', '.join(allowed)})")
    extra = [key for key, wanted in (("vmid", ("vm", "ct")), ("vnet", ("vnet",))) if params.get(key) is not None and level not in wanted]
    if extra:
        raise ScopeError(f"{', '.join(extra)} cannot be used with level: {level}")
    return api.scope(level, params.get("node"), params.get("vmid"), params.get("vnet"))


# --------------------------------------------------------------------------------------------
# References a rule may make: read only the lists the rules need.


def _address_tokens(rule: Rule) -> list[str]:
    return [item.strip() for text in (rule.source, rule.dest) if text for item in text.split(",")]


def rule_references(api: FirewallApi, scope: Scope, rules: Iterable[Rule]) -> References:
    """What the rules may refer to at ``scope``: the datacenter's (and the guest's own) ipsets
    and aliases and the security groups, each list read only if some rule needs it."""
    rules = tuple(rules)
    tokens = [token for rule in rules for token in _address_tokens(rule)]
    wants_ipsets = any(token.startswith("+") for token in tokens)
    wants_aliases = any(is_alias_reference(token) for token in tokens if not token.startswith("+"))
    wants_groups = any(rule.type == "group" for rule in rules)
    cluster = Scope("cluster")
    cluster_file = FirewallFile(
        FileKind.CLUSTER,
        aliases=api.read_aliases(cluster).items if wants_aliases else (),
        ipsets=api.list_ipsets(cluster).items if wants_ipsets else (),
        groups=api.list_groups().items if wants_groups else (),
    )
    own = None
    if scope.level in ("vm", "ct") and (wants_aliases or wants_ipsets):
        own = FirewallFile(
            FileKind.GUEST,
            aliases=api.read_aliases(scope).items if wants_aliases else (),
            ipsets=api.list_ipsets(scope).items if wants_ipsets else (),
        )
    return ReferenceScope(cluster_file, own).references(check_groups=wants_groups)


def check_rules(rules: Sequence[Rule], scope_level: Any, refs: Optional[References], location: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, rule in enumerate(rules):
        errors += check_rule(rule, scope_level, location=f"{location}[{index}]", refs=refs).errors
    return errors


def check_written_rules(api: FirewallApi, scope: Scope, scope_level: Any, listed: Sequence[Rule], current: Sequence[Rule], location: str) -> list[FieldError]:
    """The reference checks of the listed rules a run may write: those not already in the
    list (``current``, as read) as they are. A rule that is there is written by no plan (PVE
    took it when it was made), so a run that finds every listed rule in place reads no
    reference list: a rerun costs one read. The rules' own checks ran offline before."""
    have = Counter(current)
    fresh: list[int] = []
    for index, rule in enumerate(listed):
        key = normalise_rule(rule)
        if have[key] > 0:
            have[key] -= 1
        else:
            fresh.append(index)
    if not fresh:
        return []
    refs = rule_references(api, scope, [listed[index] for index in fresh])
    errors: list[FieldError] = []
    for index in fresh:
        errors += check_rule(listed[index], scope_level, location=f"{location}[{index}]", refs=refs).errors
    return errors


# --------------------------------------------------------------------------------------------
# Results: one tracker feeds changed, diff, commands and before/after.


_SECTION = re.compile(r"^\s*\[", re.MULTILINE)
_LINE = re.compile(r"line (\d+)$")


def parse_running_config(text: str, kind: FileKind, header: Optional[str], checks: Callable[[ParsedFile], Iterable[FieldError]]) -> ParsedFile:
    """The ``.fw`` text of ``state: parsed``. Lines without a section get ``header``; every
    line PVE would refuse or skip, and every problem ``checks`` finds, fails the task naming
    its line in the text as given."""
    shift = 0
    if header and not _SECTION.search(text):
        text, shift = f"{header}\n{text}", 1
    parsed = parse_fw(text, kind, filename="running_config", lenient=True)
    errors = [*parsed.warnings, *checks(parsed)]
    raise_if_errors(replace(error, location=_LINE.sub(lambda found: f"line {int(found.group(1)) - shift}", error.location)) for error in errors)
    return parsed


def fw_text(kind: FileKind, **parts: Any) -> str:
    """The ``.fw`` text of just the given parts (rules, options, ipsets, groups, aliases)."""
    return render_fw(FirewallFile(kind, **parts))


class Report:
    """Collects what a module did (or would do) and builds its result."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.calls: list[ApiCall] = []
        self.before_text = ""
        self.after_text = ""
        self.values: Dict[str, Any] = {}

    def record(self, calls: Iterable[ApiCall], before_text: str = "", after_text: str = "") -> None:
        self.calls.extend(calls)
        self.before_text += before_text
        self.after_text += after_text

    @property
    def changed(self) -> bool:
        return bool(self.calls)

    def result(self, **values: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {"changed": self.changed, "commands": [str(call) for call in self.calls]}
        out.update(self.values)
        out.update(values)
        if self.module._diff:  # pylint: disable=protected-access
            out["diff"] = {"before": self.before_text, "after": self.after_text}
        return out
