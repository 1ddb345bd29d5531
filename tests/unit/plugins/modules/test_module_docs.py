"""Every module's documentation renders with ansible-doc, and every API module takes the
shared connection options with their PROXMOX_* fallbacks and secrets kept out of logs."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[4]
MODULES = sorted(path.stem for path in (REPO_ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")
ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")
SECRETS = ("api_password", "api_token_secret")
ENVIRONMENT = {
    "api_host": "PROXMOX_HOST",
    "api_port": "PROXMOX_PORT",
    "api_user": "PROXMOX_USER",
    "api_password": "PROXMOX_PASSWORD",
    "api_token_id": "PROXMOX_TOKEN_ID",
    "api_token_secret": "PROXMOX_TOKEN_SECRET",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict]:
    if not ANSIBLE_DOC.exists():
        pytest.skip(f"ansible-doc is not installed beside {sys.executable}")
    command = [str(ANSIBLE_DOC), "-t", "module", "-j", *(f"pve.firewall.{name}" for name in MODULES)]
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO_ROOT / ".build"), ANSIBLE_NOCOLOR="1")
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders(rendered: dict[str, dict], name: str) -> None:
    doc = rendered[f"pve.firewall.{name}"]
    assert doc["doc"]["short_description"] and doc["doc"]["options"]
    assert doc["examples"].strip() and doc["return"]


def _spec(name: str) -> dict[str, dict]:
    """The module's argument spec, taken from the AnsibleModule its main() builds."""
    from ansible.module_utils import basic

    module = importlib.import_module(f"ansible_collections.pve.firewall.plugins.modules.{name}")
    captured: dict[str, dict] = {}

    class Captured(Exception):
        pass

    def capture(self, argument_spec, **kwargs):  # noqa: ANN001, ANN202 - AnsibleModule's signature
        captured.update(argument_spec)
        raise Captured

    original = basic.AnsibleModule.__init__
    basic.AnsibleModule.__init__ = capture
    try:
        with pytest.raises(Captured):
            module.main()
    finally:
        basic.AnsibleModule.__init__ = original
    return captured


API_MODULES = [name for name in MODULES if name != "firewall_simulate"]


@pytest.mark.parametrize("name", API_MODULES)
def test_connection_options_fall_back_to_the_environment(name: str) -> None:
    spec = _spec(name)
    for option, variable in ENVIRONMENT.items():
        assert variable in spec[option]["fallback"][1], (name, option)
    for option in SECRETS:
        assert spec[option]["no_log"] is True, (name, option)
    assert spec["validate_certs"]["default"] is True
