"""Run the collection's modules in this process against an emulator, as Ansible would.

``run_module(name, args)`` calls ``plugins/modules/<name>.py``'s ``main()`` with the
arguments patched in (``_ansible_check_mode`` and ``_ansible_diff`` from ``check`` and
``diff``) and returns the JSON result the module printed; a failed module returns its result
too (``failed`` is set). ``module_connection(running, node)`` gives the connection options
that reach a running emulator with the test token and its CA. The module tests
(``tests/integration/modules/conftest.py``) and the module benchmark share these, so a module
run costs no Python start-up.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
from typing import Any

from .fixtures import TOKEN, RunningEmulator


def module_connection(running: RunningEmulator, node: str | None = None) -> dict[str, Any]:
    """The connection options of ``node``'s API (default: the first node), token auth."""
    host, port, _ssh = running.node_host(node)
    return {
        "api_host": host,
        "api_port": port,
        "api_token_id": TOKEN.full_id,
        "api_token_secret": TOKEN.secret,
        "ca_path": running.ca,
    }


def run_module(module: str, args: dict[str, Any], *, check: bool = False, diff: bool = False) -> dict[str, Any]:
    """The result of one in-process run of ``pve.firewall.<module>`` with ``args``."""
    from ansible.module_utils.testing import patch_module_args

    mod = importlib.import_module(f"ansible_collections.pve.firewall.plugins.modules.{module}")
    out = io.StringIO()
    with patch_module_args({**args, "_ansible_check_mode": check, "_ansible_diff": diff}), contextlib.redirect_stdout(out):
        try:
            mod.main()
        except SystemExit:
            pass  # exit_json and fail_json end with sys.exit, the result is on stdout
        else:
            raise RuntimeError(f"{module}.main() returned without exit_json or fail_json")
    return json.loads(out.getvalue())
