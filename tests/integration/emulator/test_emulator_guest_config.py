"""Guest configs: PUT .../config for the NIC lines of VMs and containers, PVE's format checks,
digest, delete, and the cluster the verdict engine sees following the firewall flag."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from emulator_helpers import MODIFIED, assert_failure, assert_param_error

from ansible_collections.pve.firewall.plugins.module_utils._engine.verdict import Endpoint, Environment, Packet, VerdictEngine
from ansible_collections.pve.firewall.tests.emulator.client import ApiClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import READ_ONLY_TOKEN, RunningEmulator, start_process, stop_process
from ansible_collections.pve.firewall.tests.emulator.lockout import cluster_config
from ansible_collections.pve.firewall.tests.emulator.topology import DEFAULT_TOPOLOGY, TopologyError, topology_from_data

VM = "/nodes/pve1/qemu/100/config"
CT = "/nodes/pve1/lxc/200/config"
REALISTIC = "virtio=BC:24:11:00:64:00,bridge=vmbr0,firewall=1,tag=10,rate=12.5,queues=4"


def _nics(config: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in config.items() if key.startswith("net")}


def test_a_nic_line_is_stored_as_pve_prints_it(api: ApiClient) -> None:
    """qemu-server stores print_net(parse_net(value)): model=MAC first, then the keys sorted."""
    before = api.get(VM)
    unsorted = "virtio=BC:24:11:00:64:00,bridge=vmbr0,tag=10,rate=12.5,queues=4,firewall=0"
    assert api.put(VM, net0=unsorted, digest=before["digest"]) is None
    after = api.get(VM)
    assert after["net0"] == "virtio=BC:24:11:00:64:00,bridge=vmbr0,firewall=0,queues=4,rate=12.5,tag=10" and after["net1"] == before["net1"]
    assert after["digest"] != before["digest"]
    assert {key: after[key] for key in ("name", "tags")} == {"name": "web1", "tags": "web"}


def test_a_stale_digest_is_refused_and_changes_nothing(api: ApiClient) -> None:
    stale = api.get(VM)["digest"]
    api.put(VM, net1="e1000=BC:24:11:00:64:01,bridge=vmbr1")
    current = api.get(VM)
    assert_failure(api.call("PUT", VM, {"net0": "virtio=BC:24:11:00:64:00,bridge=vmbr0", "digest": stale}), MODIFIED.rstrip("\n"))
    assert api.get(VM) == current
    api.put(VM, net0="virtio=BC:24:11:00:64:00,bridge=vmbr0", digest=current["digest"])  # the fresh one passes


def test_delete_removes_lines_and_a_new_nic_gets_a_mac(api: ApiClient) -> None:
    api.put(VM, delete="net1")
    assert set(_nics(api.get(VM))) == {"net0"}
    api.put(VM, delete="net1")  # not set: PVE only warns
    api.put(VM, net3="virtio,bridge=vmbr0,firewall=1")
    api.put(VM, net4="model=e1000,bridge=vmbr2")
    config = api.get(VM)
    assert config["net3"] == "virtio=BC:24:11:00:64:03,bridge=vmbr0,firewall=1"
    assert config["net4"] == "e1000=BC:24:11:00:64:04,bridge=vmbr2"  # the key alias joins model and MAC
    api.put(CT, net1="name=eth1,bridge=vmbr0,ip=dhcp,firewall=on")
    assert api.get(CT)["net1"] == "name=eth1,bridge=vmbr0,firewall=1,hwaddr=BC:24:11:00:C8:01,ip=dhcp,type=veth"


@pytest.mark.parametrize(
    ("path", "line", "message"),
    [
        (VM, "virtio=BC:24:11:00:64:00,bridge=vmbr0,speed=10", "invalid format - invalid key in comma-separated list property: speed\n"),
        (VM, "virtio=BC:24:11:00:64:00,tag=4095", "invalid format - tag: value must have a maximum value of 4094\n"),
        (VM, "virtio=BC:24:11:00:64:00,tag=0", "invalid format - tag: value must have a minimum value of 1\n"),
        (VM, "virtio=BC:24:11:00:64:00,firewall=2", "invalid format - firewall: type check ('boolean') failed - got '2'\n"),
        (VM, "virtio=BC:24:11:00:64:00,queues=65", "invalid format - queues: value must have a maximum value of 64\n"),
        (VM, "virtio=BC:24:11:00:64:00,rate=fast", "invalid format - rate: type check ('number') failed - got 'fast'\n"),
        (VM, "virtio=BC:24:11:00:64:00,mtu=70000", "invalid format - mtu: value must have a maximum value of 65520\n"),
        (VM, "virtio=BC:24:11:00:64:00,link_down=maybe", "invalid format - link_down: type check ('boolean') failed - got 'maybe'\n"),
        (VM, "bridge=vmbr0", "invalid format - model: property is missing and it is not optional\n"),
        (
            VM,
            "rtl9999,bridge=vmbr0",
            "invalid format - model: value 'rtl9999' does not have a value in the enumeration "
            "'e1000, e1000-82540em, e1000-82544gc, e1000-82545em, e1000e, i82551, i82557b, i82559er, ne2k_isa, ne2k_pci, pcnet, rtl8139, virtio, vmxnet3'\n",
        ),
        (VM, "virtio=01:24:11:00:64:00", "invalid format - macaddr: value '01:24:11:00:64:00' does not look like a valid unicast MAC address\n"),
        (VM, "virtio,virtio", "invalid format - duplicate key in comma-separated list property: model\n"),
        (VM, "virtio,bridge=vmbr0,bridge=vmbr1", "invalid format - duplicate key in comma-separated list property: bridge\n"),
        (VM, "virtio,bridge=", "invalid format - missing key in comma-separated list property\n"),
        (CT, "bridge=vmbr0,hwaddr=BC:24:11:00:C8:00", "invalid format - name: property is missing and it is not optional\n"),
        (CT, "name=eth0,queues=4", "invalid format - invalid key in comma-separated list property: queues\n"),
        (CT, "name=eth0,type=macvlan", "invalid format - type: value 'macvlan' does not have a value in the enumeration 'veth'\n"),
        (CT, "name=eth0,ip=10.0.0.5", "invalid format - ip: value '10.0.0.5' is neither an IPv4 address in CIDR notation nor 'dhcp' or 'manual'\n"),
        (CT, "name=eth0,gw=fe80::1", "invalid format - gw: value does not look like a valid IPv4 address\n"),
        (CT, "name=eth0,mtu=63", "invalid format - mtu: value must have a minimum value of 64\n"),
        (CT, "eth0,bridge=vmbr0", "invalid format - value without key, but schema does not define a default key\n"),
    ],
)
def test_nic_lines_are_checked_like_pve(api: ApiClient, path: str, line: str, message: str) -> None:
    before = api.get(path)
    assert_param_error(api.call("PUT", path, {"net0": line}), "net0", message)
    assert api.get(path) == before


def test_booleans_follow_parse_boolean_and_realistic_lines_pass(api: ApiClient) -> None:
    api.put(VM, net0="virtio=BC:24:11:00:64:00,bridge=vmbr0,firewall=yes,link_down=off,mtu=1,trunks=10;20-30")
    api.put(CT, net0="name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:C8:00,ip=10.0.0.200/24,gw=10.0.0.1,ip6=auto,firewall=1,tag=10,rate=5,mtu=1500,type=veth")
    api.put(VM, net1=REALISTIC)
    assert api.get(VM)["net1"] == "virtio=BC:24:11:00:64:00,bridge=vmbr0,firewall=1,queues=4,rate=12.5,tag=10"


def test_other_parameters_and_delete_names(api: ApiClient) -> None:
    assert_param_error(api.call("PUT", VM, {"memory": 2048}), "memory", "property is not defined in schema and the schema does not allow additional properties")
    assert_param_error(
        api.call("PUT", VM, {"net32": "virtio"}), "net32", "property is not defined in schema and the schema does not allow additional properties"
    )
    assert_param_error(api.call("PUT", VM, {"delete": "net0", "net0": "virtio"}), "delete", "you can't use '-net0' and -delete net0' at the same time")
    assert_param_error(api.call("PUT", CT, {"delete": "memory"}), "delete", "unknown option 'memory'")
    assert_param_error(api.call("PUT", VM, {"digest": "x" * 41}), "digest", "value may only be 40 characters long")
    assert_failure(api.call("PUT", VM, {}), "no options specified")


def test_unknown_guests_and_read_only_tokens(pve: RunningEmulator, api: ApiClient) -> None:
    assert_failure(api.call("PUT", "/nodes/pve2/qemu/100/config", {"net0": "virtio"}), "Configuration file 'nodes/pve2/qemu-server/100.conf' does not exist")
    assert_failure(api.call("PUT", "/nodes/pve1/lxc/100/config", {"net0": "name=eth0"}), "Configuration file 'nodes/pve1/lxc/100.conf' does not exist")
    response = pve.api(token=READ_ONLY_TOKEN).call("PUT", VM, {"net0": "virtio"})
    assert (response.status, response.message) == (403, "Permission check failed (/vms/100, VM.Config.Network)\n")


def _guest_verdict(pve: RunningEmulator, vmid: int, nic: str = "net0") -> Any:
    """A new tcp/22 connection from outside to the guest, as the engine sees the cluster now."""
    assert pve.emulator is not None
    ctx = pve.emulator.ctx
    engine = VerdictEngine(cluster_config(ctx), Environment(ctx.topology.inventory, now=ctx.clock.now()))
    packet = Packet(source="198.51.100.7", dest="10.0.0.200", proto="tcp", dport=22, sport=40000)
    return engine.evaluate(Endpoint.outside(ctx.topology.guests[vmid].node), Endpoint.guest(vmid, nic), packet)


def test_the_engine_follows_the_firewall_flag(pve: RunningEmulator, api: ApiClient) -> None:
    api.put("/cluster/firewall/options", enable=1)
    api.put("/nodes/pve1/lxc/200/firewall/options", enable=1, policy_in="DROP")
    assert _guest_verdict(pve, 200).action == "DROP"
    line = api.get(CT)["net0"]
    assert line.endswith(",firewall=1")
    api.put(CT, net0=line.removesuffix(",firewall=1"))
    assert pve.emulator is not None and not pve.emulator.ctx.topology.guests[200].nics[0].firewall
    unfiltered = _guest_verdict(pve, 200)
    assert unfiltered.action == "ACCEPT" and "firewall=1" in unfiltered.explain()
    api.put(CT, net0=line)
    assert _guest_verdict(pve, 200).action == "DROP"
    assert pve.emulator.ctx.topology.guests[200].nics[0].ip == "10.0.0.200/24"


def test_a_reset_brings_back_the_topology_lines(pve: RunningEmulator, api: ApiClient) -> None:
    original = api.get(VM)
    api.put(VM, net0=REALISTIC, delete="net1")
    assert pve.emulator is not None
    pve.emulator.reset()
    assert api.get(VM) == original
    assert pve.emulator.ctx.topology is pve.emulator.ctx.base_topology


def test_topology_nics_take_extra_properties_and_whole_lines(make_pve_emulator: Callable[..., RunningEmulator]) -> None:
    data = {
        **DEFAULT_TOPOLOGY,
        "guests": [
            {
                "vmid": 300,
                "type": "qemu",
                "node": "pve1",
                "nics": [
                    {"config": REALISTIC, "ip": "10.0.0.30/24"},
                    {"ip": "10.0.0.31/24", "firewall": False, "extra": "rate=10,queues=4"},
                ],
            },
            {"vmid": 301, "type": "lxc", "node": "pve2", "nics": [{"config": "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:01:2D:00,ip=dhcp,type=veth"}]},
        ],
    }
    running = make_pve_emulator(topology=topology_from_data(data))
    api = running.api()
    assert _nics(api.get("/nodes/pve1/qemu/300/config")) == {"net0": REALISTIC, "net1": "virtio=BC:24:11:01:2C:01,bridge=vmbr0,firewall=0,rate=10,queues=4"}
    assert api.get("/nodes/pve2/lxc/301/config")["net0"] == "name=eth0,bridge=vmbr0,hwaddr=BC:24:11:01:2D:00,ip=dhcp,type=veth"
    assert running.emulator is not None
    guests = running.emulator.ctx.topology.guests
    first, second = guests[300].nics
    assert (first.firewall, first.tag, first.mac, first.ip, second.firewall) == (True, 10, "BC:24:11:00:64:00", "10.0.0.30/24", False)
    assert (guests[301].nics[0].firewall, guests[301].nics[0].ip) == (False, None)


@pytest.mark.parametrize(
    ("nic", "message"),
    [
        ({"config": "virtio=BC:24:11:00:64:00,speed=10"}, "guest 300: net0: invalid format - invalid key in comma-separated list property: speed"),
        ({"extra": "firewall=1"}, "guest 300: net0: invalid format - duplicate key in comma-separated list property: firewall"),
    ],
)
def test_bad_topology_lines_are_refused(nic: dict[str, Any], message: str) -> None:
    with pytest.raises(TopologyError, match=message):
        topology_from_data({"nodes": ["pve1"], "guests": [{"vmid": 300, "nics": [nic]}]})


def test_the_command_line_topology_takes_nic_lines(tmp_path: Path) -> None:
    topology = tmp_path / "topology.yml"
    topology.write_text(f"nodes: [alpha]\nguests:\n  - {{vmid: 4000, nics: [{{config: '{REALISTIC}'}}]}}\n")
    process, running = start_process(tmp_path / "state", "--topology", str(topology))
    try:
        assert running.api().get("/nodes/alpha/qemu/4000/config")["net0"] == REALISTIC
    finally:
        running.close_clients()
        stop_process(process)
