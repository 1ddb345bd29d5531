"""The emulator's SDN reads (subnets, PVE IPAM) and the SDN sets of its refs list, and the
collection's reading of them (FirewallApi.sdn) over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._api.service import FirewallApi
from ansible_collections.pve.firewall.plugins.module_utils._api.transport import ConnectionSettings, PveTransport
from ansible_collections.pve.firewall.plugins.module_utils._engine.sdn import sdn_sets
from ansible_collections.pve.firewall.plugins.module_utils._model.inventory import Subnet
from ansible_collections.pve.firewall.plugins.module_utils._module_kit.references import sdn_ipsets
from ansible_collections.pve.firewall.tests.emulator.client import ApiCallError
from ansible_collections.pve.firewall.tests.emulator.fixtures import TOKEN, RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import TopologyError, topology_from_data

TOPOLOGY: dict[str, Any] = {
    "nodes": [{"name": "pve1"}],
    "guests": [{"vmid": 100, "type": "qemu", "node": "pve1", "name": "web", "nics": [{"bridge": "vnet1"}]}],
    "vnets": [
        {
            "name": "vnet1",
            "zone": "zone1",
            "subnets": [
                {"cidr": "10.10.0.0/24", "gateway": "10.10.0.1", "dhcp_ranges": ["10.10.0.100-10.10.0.200"]},
                {"cidr": "fd10::/64", "gateway": "fd10::1"},
            ],
        },
        {"name": "vnet2", "zone": "zone1"},
    ],
    "ipam": {100: ["10.10.0.50", "fd10::50"]},
}


@pytest.fixture
def sdn_pve(make_pve_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return make_pve_emulator(topology=topology_from_data(TOPOLOGY), tls=True)


def test_subnets_are_served_as_pve_network_shows_them(sdn_pve: RunningEmulator) -> None:
    subnets = sdn_pve.api().get("/cluster/sdn/vnets/vnet1/subnets", running=1)
    assert [(item["subnet"], item["cidr"], item.get("gateway")) for item in subnets] == [
        ("zone1-10.10.0.0-24", "10.10.0.0/24", "10.10.0.1"),
        ("zone1-fd10::-64", "fd10::/64", "fd10::1"),
    ]
    assert subnets[0]["dhcp-range"] == [{"start-address": "10.10.0.100", "end-address": "10.10.0.200"}]
    assert sdn_pve.api().get("/cluster/sdn/vnets/vnet2/subnets") == []


def test_unknown_vnet_and_other_ipams_fail_as_pve_does(sdn_pve: RunningEmulator) -> None:
    with pytest.raises(ApiCallError, match="does not exist"):
        sdn_pve.api().get("/cluster/sdn/vnets/vnet9/subnets")
    with pytest.raises(ApiCallError, match="only PVE IPAM"):
        sdn_pve.api().get("/cluster/sdn/ipams/netbox/status")


def test_ipam_status_lists_gateways_and_guests(sdn_pve: RunningEmulator) -> None:
    entries = sdn_pve.api().get("/cluster/sdn/ipams/pve/status")
    assert sorted((entry["ip"], entry.get("vmid"), entry.get("gateway"), entry["vnet"]) for entry in entries) == [
        ("10.10.0.1", None, 1, "vnet1"),
        ("10.10.0.50", 100, None, "vnet1"),
        ("fd10::1", None, 1, "vnet1"),
        ("fd10::50", 100, None, "vnet1"),
    ]
    guest = next(entry for entry in entries if entry.get("vmid") == 100)
    assert guest["mac"].startswith("BC:24:11") and guest["hostname"] == "web" and guest["subnet"] == "10.10.0.0/24"


def test_refs_list_the_ipam_sets_after_the_vnet_sets(sdn_pve: RunningEmulator) -> None:
    refs = [item["name"] for item in sdn_pve.api().get("/cluster/firewall/refs", type="ipset") if item["scope"] == "sdn"]
    assert refs[-1] == "guest-ipam-100" and refs[:4] == ["vnet1-all", "vnet1-gateway", "vnet1-no-gateway", "vnet1-dhcp"]
    assert len(refs) == 9


def test_the_collection_reads_what_the_sets_are_generated_from(sdn_pve: RunningEmulator) -> None:
    host, port, _ssh = sdn_pve.node_host()
    settings = ConnectionSettings(host=host, port=port, token_id=TOKEN.full_id, token_secret=TOKEN.secret, ca_path=str(sdn_pve.ca), timeout=5.0)
    api = FirewallApi(PveTransport(settings))
    sdn = api.sdn()
    assert sdn.vnets["vnet1"].subnets[0] == Subnet("10.10.0.0/24", "10.10.0.1", (("10.10.0.100", "10.10.0.200"),))
    assert sdn.vnets["vnet2"].subnets == ()
    assert sdn.ipam == {100: ("10.10.0.50", "fd10::50")}
    refs = {str(item["name"]) for item in sdn_pve.api().get("/cluster/firewall/refs") if item["scope"] == "sdn"}
    assert set(sdn_sets(sdn)) == refs
    # the reference checks of the rule modules hold +sdn/ names to the same list
    assert sdn_ipsets(api) == refs and "guest-ipam-100" in refs


def test_a_rule_may_name_a_guest_ipam_set_of_the_ipam(sdn_pve: RunningEmulator) -> None:
    api = sdn_pve.api()
    api.post("/cluster/firewall/rules", type="in", action="ACCEPT", source="+sdn/guest-ipam-100", enable=1)
    with pytest.raises(ApiCallError, match="no such ipset 'guest-ipam-101'"):
        api.post("/cluster/firewall/rules", type="in", action="ACCEPT", source="+sdn/guest-ipam-101", enable=1)


def test_topology_refuses_ipam_addresses_outside_every_subnet() -> None:
    with pytest.raises(TopologyError, match="in no subnet"):
        topology_from_data({**TOPOLOGY, "ipam": {100: ["192.0.2.1"]}})
