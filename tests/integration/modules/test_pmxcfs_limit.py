"""pmxcfs refuses a file over 1 MiB: the ipset module and firewall_simulate's ``changes`` (and
with it safe_rollout's preflight) refuse a change whose file would exceed it before the first
write, naming the file, its size after the change and the limit. The size is exact: a change
that fills the file to exactly 1 MiB passes, one byte more is refused."""

from __future__ import annotations

from pathlib import Path

from conftest import ModuleRunner, run_playbook

from ansible_collections.pve.firewall.plugins.module_utils._compiler.fw_size import PMXCFS_MAX_FILE_SIZE

CLUSTER_FW = "/etc/pve/firewall/cluster.fw"
HEADER = "[IPSET blocklist]\n\n"


def filled(size: int, name: str = "filler") -> str:
    """A cluster.fw of exactly ``size`` bytes: one set of /32 hosts, a comment making up the rest."""
    header, lines, total, index = f"[IPSET {name}]\n\n", [], 0, 0
    budget = size - len(header) - 1
    while budget - total > 40:
        line = f"10.{index >> 16}.{(index >> 8) & 255}.{index & 255}\n"
        lines.append(line)
        total += len(line)
        index += 1
    last = f"11.0.0.1 # {'x' * (budget - total - len('11.0.0.1 # ') - 1)}\n"
    text = header + "".join(lines) + last + "\n"
    assert len(text.encode()) == size
    return text


def entries(count: int) -> list[str]:
    return [f"172.16.{index >> 8}.{index & 255}" for index in range(count)]


def section_size(listed: list[str]) -> int:
    return len(HEADER) + sum(len(entry) + 1 for entry in listed) + 1


def test_ipset_fills_the_file_to_the_limit_and_refuses_one_byte_more_before_any_write(cluster: ModuleRunner) -> None:
    wanted = entries(20)
    cluster.control.write_file("firewall/cluster.fw", filled(PMXCFS_MAX_FILE_SIZE - section_size(wanted)))
    seq = cluster.seq()
    cluster.ok("ipset", name="blocklist", entries=wanted)
    assert len(cluster.control.read_file("firewall/cluster.fw").encode()) == PMXCFS_MAX_FILE_SIZE  # type: ignore[union-attr]
    assert len(cluster.writes_since(seq)) == 21  # the set and its 20 entries

    for check in (True, False):
        seq = cluster.seq()
        result = cluster.run("ipset", check=check, name="blocklist", entries=[*wanted, "192.0.2.1"])
        assert result.get("failed") and cluster.writes_since(seq) == []
        size = PMXCFS_MAX_FILE_SIZE + len("192.0.2.1\n")
        assert (result["file"], result["file_size"], result["file_size_limit"]) == (CLUSTER_FW, size, PMXCFS_MAX_FILE_SIZE)
        assert f"{CLUSTER_FW} would be {size:,} bytes" in result["msg"] and "1,048,576-byte limit" in result["msg"]

    # swapping one entry for a shorter one shrinks the file: no read of the rest, written
    seq = cluster.seq()
    cluster.ok("ipset", name="blocklist", entries=[*wanted[:-1], "1.2.3.4"])
    assert not [entry for entry in cluster.requests_since(seq) if entry["path"].endswith("/ipset/filler")]


def test_a_new_set_that_does_not_fit_is_not_even_created(cluster: ModuleRunner) -> None:
    cluster.control.write_file("firewall/cluster.fw", filled(PMXCFS_MAX_FILE_SIZE - 100))
    result = cluster.fails("ipset", name="blocklist", entries=entries(10))
    assert result["file_size"] == PMXCFS_MAX_FILE_SIZE - 100 + section_size(entries(10))
    assert cluster.api().get("/cluster/firewall/ipset") == [{"name": "filler", "digest": cluster.api().get("/cluster/firewall/ipset")[0]["digest"]}]


def test_a_set_too_large_on_its_own_and_a_guest_file(cluster: ModuleRunner) -> None:
    many = [{"cidr": address, "comment": "c" * 250} for address in entries(4_500)]  # about 265 bytes a line
    result = cluster.fails("ipset", level="vm", vmid=100, name="big", entries=many)
    assert result["file"] == "/etc/pve/firewall/100.fw" and result["file_size"] > PMXCFS_MAX_FILE_SIZE


def test_firewall_simulate_refuses_a_tree_whose_file_would_be_too_large(cluster: ModuleRunner) -> None:
    cluster.control.write_file("firewall/cluster.fw", filled(PMXCFS_MAX_FILE_SIZE - 50))
    tree = {"cluster": {"ipsets": [{"name": "blocklist", "entries": entries(10)}]}}
    result = cluster.fails("firewall_simulate", source="live", changes=tree)
    assert "changes.cluster" in result["msg"] and f"{CLUSTER_FW} would be" in result["msg"] and "1,048,576-byte limit" in result["msg"]
    # the same set fits when the file has room
    cluster.control.write_file("firewall/cluster.fw", filled(PMXCFS_MAX_FILE_SIZE - section_size(entries(10))))
    cluster.ok("firewall_simulate", source="live", changes=tree)


def test_safe_rollout_preflight_refuses_it_before_any_write(cluster: ModuleRunner, tmp_path: Path) -> None:
    cluster.control.write_file("firewall/cluster.fw", filled(PMXCFS_MAX_FILE_SIZE - 50))
    tree = {"cluster": {"ipsets": [{"name": "blocklist", "entries": entries(10)}]}}
    seq = cluster.seq()
    variables = {"safe_rollout_tree": tree, "safe_rollout_snapshot_dir": str(tmp_path / "snapshots")}
    task = {"name": "roll out", "ansible.builtin.include_role": {"name": "pve.firewall.safe_rollout"}, "vars": variables}
    completed = run_playbook(tmp_path, [task], cluster.env)[0]
    assert completed.returncode != 0
    assert f"{CLUSTER_FW} would be" in completed.stdout and "1,048,576-byte limit" in completed.stdout
    assert cluster.writes_since(seq) == []
