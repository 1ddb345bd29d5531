# Copyright: pve.firewall contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of the collection's action plugins: run a module on the controller when the task
runs there, else as a module where the task runs.

The modules only talk to the PVE API. A task that runs on the controller (the ``local``
connection: ``hosts: localhost``, ``connection: local``, ``delegate_to: localhost``) runs the
module's code in the worker process through ``controller.run_on_controller``: no module
payload, no new interpreter. Every other task runs the module as Ansible always does, e.g. on
a jump host that can reach the API, and so do these (the module path):

* ``async`` tasks (the async wrapper needs a module process);
* ``become`` (the module would run as another user, with that user's files and environment);
* ``PVE_FIREWALL_EXECUTION=module`` in the controller's environment (``auto``, the default,
  chooses as above).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ..module_utils._module_kit.runner import ModuleSpec
from .controller import run_on_controller

# The environment variable that chooses the path; its values
EXECUTION_SWITCH = "PVE_FIREWALL_EXECUTION"
AUTO, MODULE = "auto", "module"
MODULES_PACKAGE = "ansible_collections.pve.firewall.plugins.modules"

display = Display()


def module_spec(name: str) -> ModuleSpec:
    """The ``SPEC`` of ``plugins/modules/<name>.py``: the options are kept in one place."""
    spec = importlib.import_module(f"{MODULES_PACKAGE}.{name}").SPEC
    if not isinstance(spec, ModuleSpec):
        raise TypeError(f"{MODULES_PACKAGE}.{name}.SPEC is no ModuleSpec")
    return spec


@contextmanager
def environment(variables: Mapping[str, Any]) -> Iterator[None]:
    """The task's ``environment`` over this process's own while the module runs here, as the
    module process would have it (env_fallback, HTTPS_PROXY); restored afterwards."""
    saved = {name: os.environ.get(name) for name in variables}
    try:
        os.environ.update({str(name): str(value) for name, value in variables.items()})
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ModuleAction(ActionBase):  # type: ignore[misc]  # ActionBase is untyped
    """Runs the module ``module_name`` on the controller or where the task runs."""

    module_name = ""  # set by each action plugin: the module of the same name
    _supports_check_mode = True
    _supports_async = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Ansible's strategy loads the action plugin's class in its own process before it
        # forks the task's worker; importing the module here makes every worker inherit it
        # (and what it imports) instead of importing it anew for each task.
        super().__init_subclass__(**kwargs)
        if cls.module_name:
            module_spec(cls.module_name)

    def module_path_reason(self) -> str | None:
        """Why this task runs the module as a module (None: it runs on the controller)."""
        switch = os.environ.get(EXECUTION_SWITCH, AUTO).strip().lower() or AUTO
        if switch not in (AUTO, MODULE):
            raise AnsibleActionFail(f"{EXECUTION_SWITCH}={switch!r} is none of {AUTO}, {MODULE}")
        if switch == MODULE:
            return f"{EXECUTION_SWITCH}={MODULE}"
        if self._task.async_val:
            return "async"
        if self._connection.transport != "local":
            return f"connection {self._connection.transport}"
        if self._play_context.become:
            return "become"
        return None

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp  # no longer has any effect
        reason = self.module_path_reason()
        host = self._play_context.remote_addr
        if reason is not None:
            display.vvv(f"pve.firewall.{self.module_name}: module path ({reason})", host=host)
            wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
            result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return dict(result)
        display.vvv(f"pve.firewall.{self.module_name}: controller path", host=host)
        variables: dict[str, Any] = {}
        self._compute_environment_string(variables)
        with environment(variables):
            outcome = run_on_controller(
                module_spec(self.module_name), self._task.args, name=self._task.action, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff)
            )
        return dict(merge_hash(result, outcome))
