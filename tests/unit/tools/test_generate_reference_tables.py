"""The embedded tables are what tools/generate_reference_tables.py makes from their sources."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

NETBASE_VERSION = "6.5"  # Debian 13's netbase, which the embedded tables were generated from


@pytest.fixture(scope="module")
def generator(repo_root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_reference_tables", repo_root / "tools" / "generate_reference_tables.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def reference_dir(shared_dir: Path) -> Path:
    path = shared_dir / "reference"
    if not (path / "pve-firewall-macros.json").exists() or not (path / "pve-api-firewall-schema.json").exists():
        pytest.skip(f"{path} lacks the PVE reference JSON files the tables are generated from")
    return path


def _embedded(repo_root: Path, name: str) -> str:
    return (repo_root / "plugins" / "module_utils" / "_reference" / name).read_text(encoding="utf-8")


def test_macro_table_is_up_to_date(generator: ModuleType, reference_dir: Path, repo_root: Path):
    assert generator.render_macros(reference_dir) == _embedded(repo_root, "macros_data.py")


def test_option_table_is_up_to_date(generator: ModuleType, reference_dir: Path, repo_root: Path):
    assert generator.render_options(reference_dir) == _embedded(repo_root, "options_data.py")


@pytest.fixture(scope="module")
def netbase_deb(generator: ModuleType) -> Path:
    """Debian 13's netbase package, fetched from the Debian archive once into .build/."""
    try:
        return generator.fetch_netbase()
    except OSError as error:
        pytest.skip(f"cannot fetch {generator.NETBASE_DEB.url} ({error}); the netbase tables are checked where it can")


def test_netbase_tables_are_up_to_date(generator: ModuleType, netbase_deb: Path, repo_root: Path):
    assert generator.render_netbase(generator.read_netbase(netbase_deb)) == _embedded(repo_root, "netbase_data.py")


def test_netbase_tables_come_from_debian_13(repo_root: Path):
    # PVE 9 runs on Debian 13: what netbase 6.5 added must be there (6.4 lacks all four).
    namespace: dict[str, object] = {}
    exec(_embedded(repo_root, "netbase_data.py"), namespace)  # noqa: S102 - our own generated module
    assert namespace["NETBASE_SOURCE"].startswith(f"Debian netbase {NETBASE_VERSION} ")
    assert {"coap", "coaps"} <= set(namespace["SERVICE_PORTS"])
    assert {"SLOW", "EtherCAT"} <= set(namespace["ETHERTYPE_NUMBERS"])


def test_a_netbase_package_with_another_digest_is_refused(generator: ModuleType, netbase_deb: Path, tmp_path: Path):
    tampered = tmp_path / netbase_deb.name
    tampered.write_bytes(netbase_deb.read_bytes() + b"\n")
    with pytest.raises(ValueError, match="SHA-256"):
        generator.read_netbase(tampered)


def test_check_mode_reports_a_stale_module(generator: ModuleType, reference_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    args = ["--reference", str(reference_dir), "--output", str(tmp_path), "--only", "macros"]
    assert generator.main([*args, "--check"]) == 1
    assert "macros_data.py" in capsys.readouterr().err
    assert generator.main(args) == 0
    assert generator.main([*args, "--check"]) == 0


def test_netbase_is_read_with_pves_regular_expressions(generator: ModuleType, tmp_path: Path):
    (tmp_path / "protocols").write_text("# comment\ntcp\t6\tTCP\t\t# transmission\nbad line\nicmp 1 ICMP\n")
    (tmp_path / "services").write_text("ssh\t\t22/tcp\nhttp\t80/tcp\twww\t# web\nhttp 80/udp\nrtmp 1/ddp\n")
    (tmp_path / "ethertypes").write_text("IPv4\t0800\tip ip4\t# IP\nIPv6\t86DD\tip6\n")
    namespace: dict[str, object] = {}
    exec(generator.render_netbase(generator.read_netbase(tmp_path)), namespace)  # noqa: S102 - our own generated module
    assert namespace["PROTOCOL_NUMBERS"] == {"tcp": 6, "icmp": 1}
    assert namespace["PROTOCOL_ALIAS_NAMES"] == {"ICMP": "icmp", "TCP": "tcp"}
    assert namespace["SERVICE_PORTS"] == {"ssh": {"tcp": 22}, "http": {"tcp": 80, "udp": 80}}
    assert namespace["SERVICE_ALIAS_NAMES"] == {"www": "http"}
    assert namespace["ETHERTYPE_NUMBERS"] == {"IPv4": "0800", "IPv6": "86DD"}
    assert namespace["NETBASE_SOURCE"] == ", ".join(str(tmp_path / name) for name in ("protocols", "services", "ethertypes"))
