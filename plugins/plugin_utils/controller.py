# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller path of a module run: what ``AnsibleModule`` does around a run, done in the
controller's worker process without one.

``run_on_controller(spec, args, ...)`` takes the task's arguments as the module would receive
them, validates them with ``ArgumentSpecValidator`` (the checks ``AnsibleModule`` makes:
types, defaults, choices, ``fallback`` from the environment, required_if and the others), runs
``outcome()`` of ``module_utils._module_kit.runner`` (the code ``main()`` runs) with a
``ControllerModule``, and returns the result ``exit_json``/``fail_json`` would have printed:
``invocation``, ``warnings``, and every ``no_log`` value masked. It never writes to stdout and
never exits the process: a backend's ``exit_json``/``fail_json`` raise instead.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from typing import Any, NoReturn

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.json import Direction, get_module_decoder, get_module_encoder
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError

from ..module_utils._module_kit.runner import ModuleFailure, ModuleSpec, outcome

# Modules without metadata are sent their arguments, and send their result, in this profile.
PROFILE = "legacy"


class ControllerExit(Exception):
    """``exit_json`` or ``fail_json`` called on the controller: the result to return."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("module exit")
        self.result = result


class ControllerModule:
    """What a backend uses of its module (``report.ModuleContext``), on the controller."""

    def __init__(self, params: dict[str, Any], *, check_mode: bool, diff: bool, no_log_values: set[str]) -> None:
        self.params = params
        self.check_mode = check_mode
        self._diff = diff
        self.no_log_values = set(no_log_values)
        self.warnings: list[str] = []
        self.deprecations: list[dict[str, Any]] = []

    def warn(self, warning: str) -> None:
        self.warnings.append(warning)

    def deprecate(self, msg: str, version: str | None = None, date: str | None = None, collection_name: str | None = None) -> None:
        self.deprecations.append({"msg": msg, "version": version, "date": date, "collection_name": collection_name})

    def exit_json(self, **result: Any) -> NoReturn:
        raise ControllerExit(result)

    def fail_json(self, msg: str, **details: Any) -> NoReturn:
        raise ModuleFailure(str(msg), **details)

    def finish(self, result: Mapping[str, Any]) -> dict[str, Any]:
        """The result as ``AnsibleModule._return_formatted`` makes it: the invocation, the
        warnings, and every no_log value masked (booleans and None kept, as there); then sent
        through the JSON of a module result, so the types are those a module returns."""
        out = dict(result)
        out.setdefault("invocation", {"module_args": self.params})
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.deprecations:
            out["deprecations"] = list(self.deprecations)
        kept = {key: value for key, value in out.items() if value is None or isinstance(value, bool)}
        out = remove_values(out, self.no_log_values)
        out.update(kept)
        text = json.dumps(out, cls=get_module_encoder(PROFILE, Direction.MODULE_TO_CONTROLLER))
        return dict(json.loads(text, cls=get_module_decoder(PROFILE, Direction.MODULE_TO_CONTROLLER)))


def as_module_receives(args: Mapping[str, Any]) -> dict[str, Any]:
    """The task's arguments as a module reads them: through the JSON the controller sends a
    module (vaulted values decrypted, templating tags dropped, tuples made lists)."""
    text = json.dumps(dict(args), cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE))
    return dict(json.loads(text, cls=get_module_decoder(PROFILE, Direction.CONTROLLER_TO_MODULE)))


def run_on_controller(spec: ModuleSpec, args: Mapping[str, Any], *, name: str, check_mode: bool, diff: bool) -> dict[str, Any]:
    """One run of a module in this process; ``name`` is the module as the task names it (for
    the message on unsupported options, as ``AnsibleModule`` words it)."""
    params = as_module_receives(args)
    pending = spec.prepare(params)
    validation = ArgumentSpecValidator(spec.spec(), **spec.checks()).validate(params)
    # pylint: disable-next=protected-access  # AnsibleModule reads these the same way
    module = ControllerModule(validation.validated_parameters, check_mode=check_mode, diff=diff, no_log_values=validation._no_log_values)
    for both in validation._warnings:  # pylint: disable=protected-access
        module.warn(f"Both option {both['option']} and its alias {both['alias']} are set.")
    for deprecation in validation._deprecations:  # pylint: disable=protected-access
        module.deprecate(deprecation["msg"], deprecation.get("version"), deprecation.get("date"), deprecation.get("collection_name"))
    if validation.error_messages:
        message = validation.errors.msg
        if isinstance(validation.errors[0], UnsupportedError):
            message = f"Unsupported parameters for ({name}) module: {message}"
        return module.finish({"failed": True, "msg": message})
    try:
        result, _error = outcome(spec, module, pending)
    except ControllerExit as end:
        result = end.result
    except Exception as error:  # pylint: disable=broad-exception-caught
        # A bug: fail with its traceback (shown with -vvv), but never show a secret in it.
        result = {"failed": True, "msg": f"{type(error).__name__}: {error}", "exception": "".join(traceback.format_exception(error))}
    return module.finish(result)
