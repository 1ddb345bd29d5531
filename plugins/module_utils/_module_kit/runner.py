"""The start and end of every module run: connect, check the scope, exit or fail.

A module runs along one of two paths, both over the same ``ModuleSpec`` and ``outcome()``:

* the module path: ``main()`` calls ``run_module(SPEC)``; an ``AnsibleModule`` validates the
  options and prints the result (the module runs where the task runs, as any module does);
* the controller path: the action plugin of the same name (``plugins/action``) validates the
  options with ``ArgumentSpecValidator`` and calls ``outcome()`` in the controller's worker
  process, with no payload and no new interpreter, when the task runs on the controller.

So everything that decides what a run does and reports lives here and below; the two adapters
only validate, mask and hand the result over.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, Optional, Union

from .._api.service import FirewallApi, Scope, ScopeError
from .._api.transport import ConnectionSettings, PveTransport
from .._model.errors import FieldError, FirewallValidationError, PveFirewallError
from .arguments import LEVEL_CHOICES
from .report import ModuleContext, Report

# required_if entries: (option, value, requirements) or (option, value, requirements, is_one_of)
RequiredIf = Union[tuple[str, Any, Sequence[str]], tuple[str, Any, Sequence[str], bool]]  # noqa: UP007


class ModuleFailure(PveFirewallError):
    """A problem to report with fail_json: a message and the structured details."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def result_details(self) -> dict[str, Any]:
        return dict(self.details)


@dataclass(frozen=True)
class Run:
    """One started run: the work that returns the result, and the report whose values a
    failure carries (the writes made before it)."""

    work: Callable[[], dict[str, Any]]
    report: Optional[Report] = None  # noqa: UP045

    @classmethod
    def of(cls, runner: Any) -> Run:
        """The run of a module class with ``run()`` and ``report``."""
        return cls(runner.run, runner.report)


@dataclass(frozen=True)
class ModuleSpec:
    """What both execution paths know of a module: its options, the checks between them (as
    ``AnsibleModule`` takes them), and how a run starts. The module file holds it as ``SPEC``."""

    argument_spec: Mapping[str, Mapping[str, Any]]
    start: Callable[[ModuleContext], Run]
    mutually_exclusive: Sequence[Sequence[str]] = ()
    required_if: Sequence[RequiredIf] = ()
    required_by: Mapping[str, Union[str, Sequence[str]]] = field(default_factory=dict)  # noqa: UP007
    # the items of ``rules`` may be .fw rule lines, turned into mappings before validation
    rule_lines: bool = False

    def checks(self) -> dict[str, Any]:
        """The keyword arguments of ``AnsibleModule`` and ``ArgumentSpecValidator`` besides
        the spec: only those a module has (validate-modules refuses a None for them)."""
        given = {
            "mutually_exclusive": [list(group) for group in self.mutually_exclusive],
            "required_if": list(self.required_if),
            "required_by": dict(self.required_by),
        }
        return {key: value for key, value in given.items() if value}

    def spec(self) -> dict[str, Any]:
        """A fresh copy of the argument spec (validators and AnsibleModule may write to it)."""
        return {name: dict(option) for name, option in self.argument_spec.items()}

    def prepare(self, params: dict[str, Any]) -> list[FieldError]:
        """Turn the raw options into what the argument spec checks (``rules`` items given as
        rule lines become mappings); the problems found, reported once the spec has passed."""
        if not self.rule_lines or "rules" not in params:
            return []
        # Imported here: the .fw line reader (and the .fw format under it) only for modules whose
        # rules may be written as lines.
        from .._compiler.user_input import rule_lines_as_mappings  # pylint: disable=import-outside-toplevel

        params["rules"], errors = rule_lines_as_mappings(params["rules"])
        return list(errors)


def outcome(spec: ModuleSpec, module: ModuleContext, pending: Sequence[FieldError] = ()) -> tuple[dict[str, Any], Optional[PveFirewallError]]:  # noqa: UP045
    """The one run of a module behind both paths: its result, or, when it failed, the failure's
    result (``failed``, ``msg`` and the details, with the values the report gathered so far)
    and the error. ``pending``: input problems found before the argument spec was checked.
    Any other exception is a bug and keeps its traceback."""
    report = None
    try:
        raise_pending(pending)
        run = spec.start(module)
        report = run.report
        return run.work(), None
    except PveFirewallError as error:
        values = report.values if report else {}
        return {**values, **error.result_details(), "failed": True, "msg": str(error)}, error


def raise_pending(pending: Sequence[FieldError]) -> None:
    if pending:
        raise FirewallValidationError(list(pending))


def run_module(spec: ModuleSpec) -> NoReturn:
    """``main()`` of every module: the module path, through ``AnsibleModule``."""
    # Imported here: only this path builds an AnsibleModule; the controller path never needs it.
    from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel

    pending: list[FieldError] = []

    class SpecModule(AnsibleModule):  # type: ignore[misc]  # AnsibleModule is untyped
        def _load_params(self) -> None:
            super()._load_params()
            pending.extend(spec.prepare(self.params))

    module = SpecModule(argument_spec=spec.spec(), supports_check_mode=True, **spec.checks())
    run_and_exit(module, spec, pending)


def run_and_exit(module: Any, spec: ModuleSpec, pending: Sequence[FieldError] = ()) -> NoReturn:
    """Exit with the result or fail with the failure of ``outcome()``."""
    result, error = outcome(spec, module, pending)
    if error is None:
        module.exit_json(**result)
    failure = {key: value for key, value in result.items() if key not in ("failed", "msg")}
    # the error's own traceback, shown as before when the user asks for tracebacks
    module.fail_json(msg=result["msg"], exception="".join(traceback.format_exception(error)), **failure)
    raise AssertionError("fail_json returned")  # it exits; this tells the type checker


def connect(module: ModuleContext) -> FirewallApi:
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
        raise ModuleFailure("; ".join(problems))
    return FirewallApi(PveTransport(settings))


def scope_from_params(api: FirewallApi, params: dict[str, Any], allowed: Sequence[str] = tuple(LEVEL_CHOICES)) -> Scope:
    level = params["level"]
    if level not in allowed:
        raise ScopeError(f"level: '{level}' is not supported here (supported: {', '.join(allowed)})")
    extra = [key for key, wanted in (("vmid", ("vm", "ct")), ("vnet", ("vnet",))) if params.get(key) is not None and level not in wanted]
    if extra:
        raise ScopeError(f"{', '.join(extra)} cannot be used with level: {level}")
    return api.scope(level, params.get("node"), params.get("vmid"), params.get("vnet"))
