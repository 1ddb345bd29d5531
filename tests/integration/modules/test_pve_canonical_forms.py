"""What the modules report is what PVE holds: refs name aliases lowercase (pve-firewall's
collect_refs), and a NIC line firewall_options changes is reported as PVE re-prints it."""

from __future__ import annotations

from conftest import ModuleRunner


def test_firewall_info_refs_name_aliases_as_pve_lists_them(cluster: ModuleRunner) -> None:
    cluster.api().post("/cluster/firewall/aliases", name="OfficeNet", cidr="192.0.2.0/24")
    refs = cluster.ok("firewall_info", levels=["cluster"], include=["aliases", "refs"])
    assert [item["name"] for item in refs["cluster"]["aliases"]] == ["OfficeNet"]  # the alias keeps its case
    assert [(item["name"], item["ref"]) for item in refs["cluster"]["refs"] if item["type"] == "alias"] == [("officenet", "officenet")]


def test_nics_after_is_the_container_line_pve_stores(cluster: ModuleRunner) -> None:
    path = "/nodes/pve2/lxc/201/config"
    result = cluster.ok("firewall_options", level="ct", vmid=201, nic_firewall=True)
    stored = cluster.api().get(path)["net0"]
    assert result["nics_after"] == {"net0": stored}
    assert stored == "name=eth0,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:00:C9:00,ip=10.0.0.201/24,type=veth"
