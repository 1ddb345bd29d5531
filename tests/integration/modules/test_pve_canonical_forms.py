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


# -- issue 15: what the modules send, PVE takes and stores as meant, so a rerun changes nothing


def test_an_alias_with_a_zero_prefix_is_sent_as_pve_takes_it_and_then_left_alone(cluster: ModuleRunner) -> None:
    """PVE takes '10.0.0.1/00' and stores it so, but refuses '10.0.0.1/0' (FW clean_cidr)."""
    for name, cidr in (("everything", "10.0.0.1/00"), ("world", "0.0.0.0/0"), ("world6", "fd00::1/000")):
        cluster.ok("alias", name=name, cidr=cidr)
        cluster.unchanged("alias", name=name, cidr=cidr)
    stored = {item["name"]: item["cidr"] for item in cluster.api().get("/cluster/firewall/aliases")}
    assert stored == {"everything": "10.0.0.1/00", "world": "0.0.0.0/0", "world6": "fd00::1/000"}


def test_ipv6_spellings_net_ip_cannot_read_are_sent_in_the_form_it_can(cluster: ModuleRunner) -> None:
    """Net::IP 1.26 fails on a leading or trailing '::' that stands for one group; the modules
    send the canonical form ('1:2:3:4:5:6:7:0'), which PVE reads, and then leave it alone."""
    spelled = "2001:db8:1:2:3:4:5::"
    rule = {"type": "in", "action": "ACCEPT", "source": spelled}
    cluster.ok("firewall_rule", rules=[rule])
    cluster.unchanged("firewall_rule", rules=[rule])
    cluster.ok("ipset", name="v6hosts", entries=[spelled])
    cluster.unchanged("ipset", name="v6hosts", entries=[spelled])
    cluster.ok("alias", name="v6host", cidr=spelled)
    cluster.unchanged("alias", name="v6host", cidr=spelled)
    api = cluster.api()
    assert api.call("POST", "/cluster/firewall/aliases", {"name": "raw", "cidr": spelled}).status == 400  # as written, PVE refuses it
    assert api.get("/cluster/firewall/rules")[0]["source"] == "2001:db8:1:2:3:4:5:0"
    assert [item["cidr"] for item in api.get("/cluster/firewall/ipset/v6hosts")] == ["2001:db8:1:2:3:4:5:0"]
    assert api.get("/cluster/firewall/aliases/v6host")["cidr"] == "2001:db8:1:2:3:4:5:0"


def test_rules_may_name_the_sets_sdn_generates(cluster: ModuleRunner) -> None:
    """Four per vnet (vnet2 has no subnet and still has them); PVE's API verifies them."""
    wanted = [
        {"type": "in", "action": "ACCEPT", "source": "+sdn/vnet1-all"},
        {"type": "in", "action": "DROP", "dest": "+sdn/vnet2-dhcp"},
        {"type": "forward", "action": "ACCEPT", "source": "+sdn/vnet1-no-gateway"},
    ]
    cluster.ok("firewall_rule", rules=wanted, state="overridden")
    cluster.unchanged("firewall_rule", rules=wanted, state="overridden")
    assert [rule.get("source") or rule.get("dest") for rule in cluster.api().get("/cluster/firewall/rules")] == [
        "+sdn/vnet1-all",
        "+sdn/vnet2-dhcp",
        "+sdn/vnet1-no-gateway",
    ]


def test_a_group_rule_is_what_pve_writes_and_stays(cluster: ModuleRunner) -> None:
    cluster.ok("security_group", name="web", rules=[{"type": "in", "action": "ACCEPT", "macro": "HTTPS"}])
    wanted = [{"type": "group", "action": "web", "iface": "net0", "comment": "web tier"}]
    cluster.ok("firewall_rule", level="vm", vmid=100, rules=wanted)
    cluster.unchanged("firewall_rule", level="vm", vmid=100, rules=wanted)
    assert "GROUP web -i net0 # web tier\n" in (cluster.control.read_file("firewall/100.fw") or "")


def test_conntrack_helpers_are_removed_by_reset_and_that_stays(cluster: ModuleRunner) -> None:
    node = {"level": "node", "node": "pve1"}
    cluster.ok("firewall_options", **node, options={"nf_conntrack_helpers": ["ftp", "sip"]})
    cluster.unchanged("firewall_options", **node, options={"nf_conntrack_helpers": "sip,ftp"})
    cluster.ok("firewall_options", **node, reset=["nf_conntrack_helpers"])
    cluster.unchanged("firewall_options", **node, reset=["nf_conntrack_helpers"])
    assert "nf_conntrack_helpers" not in cluster.api().get("/nodes/pve1/firewall/options")
