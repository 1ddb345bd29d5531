"""The fleet example: pve.firewall.harden over the inventory of docs/examples/fleet, three
emulated clusters at once (--forks 3), each with a token of its own.

The example (inventory.yml, group_vars/) is copied as it is; the test changes only what points
at real machines: each host's API address, port and CA, and the ports the rollout verifies,
which the emulators serve elsewhere than 8006 and 22. The token secrets come from a
vault-encrypted file, as the example reads them; HOME is a temporary directory, so the
snapshots go where the example puts them, one directory per cluster.

* One cluster's token is wrong: that cluster fails and is not written to, the other two are
  hardened, and the run ends failed (the documented behaviour of playbooks/harden.yml).
* With the right token, through the AWX project's playbook (docs/examples/fleet/harden.yml):
  the third cluster is hardened, the other two are not written to.
* A rerun changes nothing anywhere; a dry run asked for outside check mode is refused before
  any request.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.pve.firewall.tests.emulator.auth import Token
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.topology import load_topology

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "docs" / "examples" / "fleet"
VENV_BIN = Path(sys.executable).parent  # the virtualenv's bin, not the base interpreter's
CONTROLLER = "127.0.0.1/32"  # where ansible-playbook's connections come from
VAULT_PASSWORD = "fleet-test-vault-password"

pytestmark = pytest.mark.slow


def example_hosts() -> dict[str, dict[str, Any]]:
    inventory = yaml.safe_load((EXAMPLE / "inventory.yml").read_text(encoding="utf-8"))
    return dict(inventory["pve_clusters"]["hosts"])


def example_admin_networks() -> list[str]:
    example_vars = yaml.safe_load((EXAMPLE / "group_vars" / "pve_clusters.yml").read_text(encoding="utf-8"))
    return list(example_vars["hardened_defaults_admin_networks"])


def secret_of(host: str) -> str:
    return f"{host}-0f3c9e1a-5b7d-4e2f-9a61-{len(host):012d}"


class Fleet:
    """Three emulators under the example's host names, and the example laid out in ``work``."""

    def __init__(self, make: Callable[..., RunningEmulator], work: Path) -> None:
        self.work = work
        self.hosts = example_hosts()
        topology = load_topology(REPO_ROOT / "tools" / "demo-topology.yml")
        self.clusters: dict[str, RunningEmulator] = {}
        for host, variables in self.hosts.items():
            user, token_id = str(variables["pve_api_token_id"]).split("!")
            self.clusters[host] = make(topology=topology, tls=True, judging=True, tokens=(Token(user, token_id, secret_of(host)),))
        self.project = work / "fleet"
        shutil.copytree(EXAMPLE, self.project)
        inventory = yaml.safe_load((self.project / "inventory.yml").read_text(encoding="utf-8"))
        (self.project / "ca").mkdir()
        for host, running in self.clusters.items():
            address, api_port, ssh_port = running.node_host()
            assert running.ca is not None
            shutil.copy(running.ca, self.project / "ca" / f"{host}.pem")  # where the example looks
            inventory["pve_clusters"]["hosts"][host].update(
                {"pve_api_host": address, "pve_api_port": api_port, "safe_rollout_verify_api_port": api_port, "safe_rollout_verify_ssh_port": ssh_port}
            )
            inventory["pve_clusters"]["hosts"][host].pop("safe_rollout_node_addresses", None)  # the emulator reports reachable ones
        (self.project / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
        (work / "vault-password").write_text(VAULT_PASSWORD, encoding="utf-8")
        (work / "home").mkdir()

    def write_tokens(self, **wrong: str) -> None:
        """The example's token file, vault-encrypted; ``wrong`` replaces some secrets."""
        tokens = self.project / "fleet-tokens.yml"
        tokens.write_text(yaml.safe_dump({host: wrong.get(host, secret_of(host)) for host in self.hosts}), encoding="utf-8")
        command = [str(VENV_BIN / "ansible-vault"), "encrypt", "--vault-password-file", str(self.work / "vault-password"), str(tokens)]
        completed = subprocess.run(command, capture_output=True, text=True, env=self.env(), check=False, timeout=60)
        assert completed.returncode == 0, completed.stderr
        assert tokens.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT;")

    def env(self) -> dict[str, str]:
        # no PROXMOX_*: every connection value must come from the inventory; no interpreter:
        # the playbook names the one of ansible-playbook itself
        environment = {key: value for key, value in os.environ.items() if not key.startswith(("PROXMOX_", "ANSIBLE_"))}
        return {
            **environment,
            "HOME": str(self.work / "home"),
            "ANSIBLE_COLLECTIONS_PATH": str(REPO_ROOT / ".build"),
            "ANSIBLE_LOCAL_TEMP": str(self.work / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }

    def run(self, playbook: str = "pve.firewall.harden", *extra: str) -> subprocess.CompletedProcess[str]:
        # the controller joins the example's admin networks: the emulators judge its connections
        admin = self.work / "admin.yml"
        admin_vars = {
            "hardened_defaults_admin_networks": [*example_admin_networks(), CONTROLLER],
            "safe_rollout_settle_time": 0,  # the emulator applies changes at once
            "safe_rollout_verify_timeout": 2,
        }
        admin.write_text(yaml.safe_dump(admin_vars), encoding="utf-8")
        command = [
            str(VENV_BIN / "ansible-playbook"), "-i", str(self.project / "inventory.yml"), "--forks", "3",
            "--vault-password-file", str(self.work / "vault-password"), "-e", f"@{admin}", *extra, playbook,
        ]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, env=self.env(), cwd=self.project, check=False, timeout=600)

    def seq(self) -> dict[str, int]:
        return {host: int(running.control.requests(10**12)["last_seq"]) for host, running in self.clusters.items()}

    def requests_since(self, host: str, seq: dict[str, int]) -> list[dict[str, Any]]:
        return list(self.clusters[host].control.requests(seq[host])["requests"])

    def writes_since(self, host: str, seq: dict[str, int]) -> list[dict[str, Any]]:
        return [entry for entry in self.requests_since(host, seq) if entry["method"] != "GET"]

    def cluster_fw(self, host: str) -> str:
        return (self.clusters[host].state_dir / "firewall" / "cluster.fw").read_text(encoding="utf-8")


@pytest.fixture
def fleet(make_pve_emulator: Callable[..., RunningEmulator], tmp_path: Path) -> Fleet:
    return Fleet(make_pve_emulator, tmp_path)


def recap(completed: subprocess.CompletedProcess[str]) -> dict[str, dict[str, int]]:
    """The PLAY RECAP counters per host."""
    found = {}
    for line in completed.stdout.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match:
            found[match.group(1)] = {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return found


def assert_hardened(fleet: Fleet, host: str) -> None:
    """The example's hardened defaults, read back through the cluster's API."""
    api = fleet.clusters[host].api(token=Token(*str(fleet.hosts[host]["pve_api_token_id"]).split("!"), secret_of(host)))
    options = api.get("/cluster/firewall/options")
    assert options["enable"] == 1 and options["policy_in"] == "DROP", options
    admins = {entry["cidr"] for entry in api.get("/cluster/firewall/ipset/management")}
    assert admins == {*example_admin_networks(), CONTROLLER.removesuffix("/32")}
    assert {group["group"] for group in api.get("/cluster/firewall/groups")} == {"web", "database"}
    for node in ("pve1", "pve2", "pve3"):
        assert api.get(f"/nodes/{node}/firewall/options")["nosmurfs"] == 1
    web1 = api.get("/nodes/pve1/qemu/100/firewall/rules")
    assert [(rule["type"], rule["action"]) for rule in web1] == [("group", "web")]
    assert api.get("/nodes/pve3/qemu/102/firewall/options")["enable"] == 1
    snapshots = list((fleet.work / "home" / ".local/state/pve.firewall/snapshots" / host).glob("firewall-*.yml"))
    assert len(snapshots) == 1, snapshots  # written before the change, in the cluster's own directory


def test_fleet_hardens_each_cluster_isolates_a_failure_and_reruns_unchanged(fleet: Fleet) -> None:
    east, west, lab = fleet.hosts  # the example's three clusters, in its order
    fleet.write_tokens(**{west: "expired-0000-0000-0000-000000000000"})
    before = fleet.seq()
    failed = fleet.run()
    output = failed.stdout + failed.stderr
    assert failed.returncode == 2, output[-4000:]
    counts = recap(failed)
    assert counts[west]["failed"] == 1 and counts[east]["failed"] == 0 and counts[lab]["failed"] == 0, counts
    assert counts[east]["changed"] > 0 and counts[lab]["changed"] > 0
    assert fleet.writes_since(west, before) == []
    assert {entry["status"] for entry in fleet.requests_since(west, before)} == {401}  # it tried, with its own (bad) token
    for host in (east, lab):
        assert_hardened(fleet, host)
    assert fleet.cluster_fw(east) == fleet.cluster_fw(lab)  # same topology, same variables: the same firewall
    for host in fleet.hosts:
        assert secret_of(host) not in output

    # the token fixed; through the playbook an AWX project runs
    fleet.write_tokens()
    before = fleet.seq()
    fixed = fleet.run(str(fleet.project / "harden.yml"))
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr)[-4000:]
    counts = recap(fixed)
    assert sorted(counts) == sorted(fleet.hosts)
    assert counts[west]["changed"] > 0 and counts[east]["changed"] == 0 and counts[lab]["changed"] == 0, counts
    assert fleet.writes_since(east, before) == [] and fleet.writes_since(lab, before) == []
    assert_hardened(fleet, west)
    assert fleet.cluster_fw(west) == fleet.cluster_fw(east)

    before = fleet.seq()
    again = fleet.run()
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert all(host_counts["changed"] == 0 and host_counts["failed"] == 0 for host_counts in recap(again).values()), recap(again)
    assert all(fleet.writes_since(host, before) == [] for host in fleet.hosts)


def test_a_dry_run_outside_check_mode_is_refused_before_any_request(fleet: Fleet) -> None:
    fleet.write_tokens()
    before = fleet.seq()
    refused = fleet.run("pve.firewall.harden", "-e", "pve_firewall_dry_run=true")
    assert refused.returncode == 2
    assert all(counts["failed"] == 1 for counts in recap(refused).values()), recap(refused)
    assert "not in check mode" in refused.stdout
    assert all(fleet.requests_since(host, before) == [] for host in fleet.hosts)

    checked = fleet.run("pve.firewall.harden", "-e", "pve_firewall_dry_run=true", "--check")
    assert checked.returncode == 0, (checked.stdout + checked.stderr)[-4000:]
    assert all(counts["changed"] > 0 for counts in recap(checked).values()), recap(checked)  # what a real run would change
    assert all(fleet.writes_since(host, before) == [] for host in fleet.hosts)


def test_the_awx_guide_shows_the_project_playbook_as_it_is() -> None:
    # the tarball leaves the playbook out (galaxy.yml's build_ignore), so the guide is where an
    # installed copy's reader finds it: the two must not drift apart
    guide = (REPO_ROOT / "docs" / "awx.md").read_text(encoding="utf-8")
    shown = re.findall(r"```yaml\n(.*?)```", guide, re.DOTALL)
    assert (EXAMPLE / "harden.yml").read_text(encoding="utf-8") in shown
