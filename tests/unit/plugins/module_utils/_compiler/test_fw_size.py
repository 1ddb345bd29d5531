"""The size of a .fw file as PVE writes it, against pmxcfs' 1 MiB (memdb.h MEMDB_MAX_FILE_SIZE)."""

from __future__ import annotations

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_format import render_fw
from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_size import PMXCFS_MAX_FILE_SIZE, pve_path, rendered_size, size_problem
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import FileKind, FirewallFile, IPSet, IPSetEntry


def test_the_size_is_the_utf8_bytes_of_the_rendering_and_the_limit_is_one_mib() -> None:
    fw = FirewallFile(FileKind.CLUSTER, ipsets=(IPSet("s", "größe", (IPSetEntry("192.0.2.1"), IPSetEntry("10.0.0.0/8", comment="é"))),))
    assert rendered_size(fw) == len(render_fw(fw, canonical=False).encode("utf-8")) == len("[IPSET s] # größe\n\n192.0.2.1\n10.0.0.0/8 # é\n\n".encode())
    assert rendered_size(FirewallFile(FileKind.GUEST)) == 0
    assert PMXCFS_MAX_FILE_SIZE == 1_048_576


def test_exactly_the_limit_passes_one_byte_more_is_named_with_its_size() -> None:
    def with_comment(length: int) -> FirewallFile:
        return FirewallFile(FileKind.GUEST, ipsets=(IPSet("s", None, (IPSetEntry("192.0.2.1", comment="x" * length),)),))

    fixed = rendered_size(with_comment(0)) + len(" # ")
    assert size_problem(with_comment(PMXCFS_MAX_FILE_SIZE - fixed), "/etc/pve/firewall/100.fw") is None
    problem = size_problem(with_comment(PMXCFS_MAX_FILE_SIZE - fixed + 1), "/etc/pve/firewall/100.fw")
    assert problem is not None and problem.size == PMXCFS_MAX_FILE_SIZE + 1
    assert problem.message.startswith("/etc/pve/firewall/100.fw would be 1,048,577 bytes after this change, over the 1,048,576-byte limit")


def test_pve_paths() -> None:
    assert pve_path("cluster") == "/etc/pve/firewall/cluster.fw"
    assert pve_path("ct", 200) == "/etc/pve/firewall/200.fw"
    assert pve_path("node", node="pve1") == "/etc/pve/nodes/pve1/host.fw"
    assert pve_path("vnet", vnet="vnet1") == "/etc/pve/sdn/firewall/vnet1.fw"
