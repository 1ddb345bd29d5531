"""The start and end of every module run: connect, check the scope, exit or fail."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule

from .._api.service import FirewallApi, Scope, ScopeError
from .._api.transport import ConnectionSettings, PveTransport
from .._model.errors import PveFirewallError
from .arguments import LEVEL_CHOICES
from .report import Report


class ModuleFailure(PveFirewallError):
    """A problem to report with fail_json: a message and the structured details."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def result_details(self) -> dict[str, Any]:
        return dict(self.details)


def fail(module: AnsibleModule, error: PveFirewallError, **result: Any) -> NoReturn:
    """Report any failure of the collection's layers with its details."""
    module.fail_json(msg=str(error), **{**result, **error.result_details()})
    raise AssertionError("fail_json returned")  # it exits; this tells the type checker


def run_and_exit(module: AnsibleModule, work: Callable[[], dict[str, Any]], report: Report | None = None) -> NoReturn:
    """The end of every module's main(): the result, or a failure the user can act on (with
    the values ``report`` gathered so far). Any other exception is a bug and keeps its traceback."""
    try:
        result = work()
    except PveFirewallError as error:
        fail(module, error, **(report.values if report else {}))
    module.exit_json(**result)
    raise AssertionError("exit_json returned")  # it exits; this tells the type checker


def connect(module: AnsibleModule) -> FirewallApi:
    """The API client of the connection options; every problem with them fails the module
    before the first request, without showing a secret."""
    params = module.params
    settings = ConnectionSettings(
        host=params["api_host"] or "",
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
    try:  # HTTPS_PROXY and NO_PROXY where the module runs, as ansible.module_utils.urls reads them
        settings = settings.with_environment_proxy()
    except ValueError as error:
        problems.append(str(error))
    # Ansible masks the no_log values as given; a secret with a stray newline, or pasted into
    # api_token_id, also shows up in other forms (stripped, split off the id).
    module.no_log_values.update(settings.secrets())
    if problems:
        module.fail_json(msg="; ".join(problems))
    return FirewallApi(PveTransport(settings))


def scope_from_params(api: FirewallApi, params: dict[str, Any], allowed: Sequence[str] = tuple(LEVEL_CHOICES)) -> Scope:
    level = params["level"]
    if level not in allowed:
        raise ScopeError(f"level: '{level}' is not supported here (supported: {', '.join(allowed)})")
    extra = [key for key, wanted in (("vmid", ("vm", "ct")), ("vnet", ("vnet",))) if params.get(key) is not None and level not in wanted]
    if extra:
        raise ScopeError(f"{', '.join(extra)} cannot be used with level: {level}")
    return api.scope(level, params.get("node"), params.get("vmid"), params.get("vnet"))
