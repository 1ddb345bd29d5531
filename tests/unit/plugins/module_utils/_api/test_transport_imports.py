"""The transport builds its TLS context from the standard library: importing
``ansible.module_utils.urls`` (and the cryptography it pulls in) cost every task about 60 ms."""

from __future__ import annotations

import ssl
import subprocess
import sys
from pathlib import Path

from ansible_collections.pve.firewall.plugins.module_utils._api.transport import pem_certificates_in, tls_context

BUILD_DIR = Path(__file__).resolve().parents[5] / ".build"


def test_the_transport_does_not_import_ansible_urls() -> None:
    probe = (
        "import sys; import ansible_collections.pve.firewall.plugins.module_utils._api.transport; "
        "print(sorted(name for name in sys.modules if name == 'ansible.module_utils.urls' or name.startswith('cryptography')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=BUILD_DIR, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_without_validate_certs_nothing_is_checked() -> None:
    context = tls_context(cafile=None, capath=None, validate_certs=False)
    assert context.verify_mode == ssl.CERT_NONE and context.check_hostname is False


def test_certificate_checks_are_on_by_default() -> None:
    context = tls_context(cafile=None, capath=None, validate_certs=True)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True


def test_every_pem_certificate_of_a_directory_is_collected(tmp_path: Path) -> None:
    block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    (tmp_path / "a.pem").write_text(f"junk\n{block}\n{block.replace('AAAA', 'BBBB')}\n")
    (tmp_path / "b.crt").write_text(block.replace("AAAA", "CCCC"))
    (tmp_path / "sub").mkdir()
    assert pem_certificates_in(str(tmp_path)).count("BEGIN CERTIFICATE") == 3
