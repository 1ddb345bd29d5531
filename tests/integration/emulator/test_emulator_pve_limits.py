"""What the emulator does as PVE does at its edges: pmxcfs' 1 MiB per file, refs' lowercase
alias names, and the newline at the end of a format check's message."""

from __future__ import annotations

import os

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_size import PMXCFS_MAX_FILE_SIZE
from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, ControlClient

IPSET = "/cluster/firewall/ipset"
TOO_LARGE = f"unable to write '/etc/pve/firewall/cluster.fw.tmp.{os.getpid()}' - File too large"


def _filler(size: int) -> str:
    """A cluster.fw of exactly ``size`` bytes: one set of /32 hosts, a comment making up the rest."""
    header, lines, total = "[IPSET big]\n\n", [], 0
    budget = size - len(header) - 1  # the blank line that ends the section
    index = 0
    while budget - total > 40:
        line = f"10.{index >> 16}.{(index >> 8) & 255}.{index & 255}\n"
        lines.append(line)
        total += len(line)
        index += 1
    rest = budget - total
    last = f"11.0.0.1 # {'x' * (rest - len('11.0.0.1 # ') - 1)}\n"
    text = header + "".join(lines) + last + "\n"
    assert len(text.encode()) == size
    return text


def test_a_write_over_one_mib_fails_as_pve_fails_and_changes_nothing(api: ApiClient, control: ControlClient) -> None:
    # 11 bytes below the limit: "12.0.0.1/32" is stored as "12.0.0.1\n" (9 bytes), then the file is full
    control.write_file("firewall/cluster.fw", _filler(PMXCFS_MAX_FILE_SIZE - 9))
    api.post(f"{IPSET}/big", cidr="12.0.0.1")
    full = control.read_file("firewall/cluster.fw")
    assert full is not None and len(full.encode()) == PMXCFS_MAX_FILE_SIZE  # exactly 1 MiB is stored (memdb_write: > max fails)

    response = api.call("POST", f"{IPSET}/big", {"cidr": "12.0.0.2"})
    if TOO_LARGE not in response.message:  # the emulator runs in another process: its pid in the name
        assert response.message.startswith("unable to write '/etc/pve/firewall/cluster.fw.tmp.")
    assert response.status == 500 and response.message.endswith("' - File too large\n")
    assert response.errors == {}
    assert control.read_file("firewall/cluster.fw") == full
    # a write that shrinks the file still passes
    api.delete(f"{IPSET}/big/12.0.0.1")


def test_a_guest_file_over_the_limit_fails_too(api: ApiClient, control: ControlClient) -> None:
    text = _filler(PMXCFS_MAX_FILE_SIZE)
    control.write_file("firewall/100.fw", text)
    response = api.call("POST", "/nodes/pve1/qemu/100/firewall/ipset/big", {"cidr": "12.0.0.2"})
    assert response.status == 500 and "'/etc/pve/firewall/100.fw.tmp." in response.message and response.message.endswith("File too large\n")
    assert control.read_file("firewall/100.fw") == text


def test_the_control_api_refuses_a_file_pmxcfs_could_not_hold(control: ControlClient) -> None:
    with pytest.raises(RuntimeError, match="413.*File too large"):
        control.write_file("firewall/cluster.fw", _filler(PMXCFS_MAX_FILE_SIZE + 1))
    assert control.read_file("firewall/cluster.fw") is None


def test_refs_name_aliases_lowercase_as_pve_keys_them(api: ApiClient) -> None:
    api.post("/cluster/firewall/aliases", name="MyNet", cidr="192.0.2.0/24", comment="mixed case")
    api.post("/nodes/pve1/qemu/100/firewall/aliases", name="GuestNet", cidr="198.51.100.0/24")
    dc = [item for item in api.get("/cluster/firewall/refs") if item["type"] == "alias"]
    assert dc == [{"type": "alias", "name": "mynet", "ref": "mynet", "scope": "dc", "comment": "mixed case"}]
    guest = {(item["scope"], item["name"], item["ref"]) for item in api.get("/nodes/pve1/qemu/100/firewall/refs", type="alias")}
    assert guest == {("dc", "mynet", "mynet"), ("guest", "guestnet", "guestnet")}
    # the alias itself keeps its case
    assert [item["name"] for item in api.get("/cluster/firewall/aliases")] == ["MyNet"]


def test_a_format_message_ends_with_a_newline_others_do_not(api: ApiClient) -> None:
    response = api.call("POST", "/cluster/firewall/rules", {"type": "in", "action": "ACCEPT", "source": "10.0.0.300", "enable": "maybe"})
    assert response.status == 400
    assert response.errors == {
        "source": "invalid format - invalid IP address: Invalid quad in IP address 10.0.0.300 - 300\n",
        "enable": "type check ('integer') failed - got 'maybe'",  # enable is an integer there
    }
    nic = api.call("PUT", "/nodes/pve1/qemu/100/config", {"net0": "virtio,tag=0"})
    assert nic.errors == {"net0": "invalid format - tag: value must have a minimum value of 1\n"}
