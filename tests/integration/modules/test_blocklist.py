"""The blocklist playbook (``ansible-playbook pve.firewall.blocklist``) against the TLS emulator.

The playbook runs as a user runs it: ansible-playbook with the collection's playbook name and
``-e`` variables, the connection from the PROXMOX_* environment (or ``pve_api_*`` variables).
What it wrote is judged by the emulator's request log and by what PVE holds afterwards.

The 60,000-line test seeds the set by writing ``cluster.fw`` through the control API: a
converge from empty costs one POST per entry, and every write makes the emulator (like PVE)
re-read and rewrite the whole file, close to a second per write at that size on a small
machine. So the refresh there changes 20 entries; ``make bench-blocklist`` measures a 1% delta.
The size is one a cluster holds: pmxcfs refuses a file over 1 MiB, and this feed's 57,158
merged entries make an 835,229-byte ``cluster.fw`` (about 14.6 bytes an entry; the same feed
fits up to about 71,700 entries). An 80,000-line feed does not fit and is refused before any
write.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import ModuleRunner, methods, playbook_environment, run_playbook

from ansible_collections.pve.firewall.plugins.module_utils._compiler.addresses import format_network
from ansible_collections.pve.firewall.tests.bench.bench_blocklist import make_feed, seeded_cluster_fw

RULES = "/cluster/firewall/rules"
IPSET = "/cluster/firewall/ipset"

FEED = """\
; Spamhaus DROP style list, with FireHOL style comments too
; Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT
#
# blank lines and comments are skipped

192.0.2.0/25 ; SBL1
192.0.2.128/25 ; SBL2 (the two halves merge into 192.0.2.0/24)
198.51.100.7
198.51.100.7/32 ; the same host again
203.0.113.77/24   # host bits: 203.0.113.0/24
203.0.113.9 ; inside 203.0.113.0/24, merged away
10.20.0.0/16
2001:db8:1::/48 ; SBL3
2001:db8:2::1
"""
FEED_ENTRIES = {"192.0.2.0/24", "198.51.100.7", "203.0.113.0/24", "10.20.0.0/16", "2001:db8:1::/48", "2001:db8:2::1"}

SUMMARY = re.compile(r"IP set (\S+): (\d+) API calls (?:to write|written): (\d+) entries added,\s+(\d+) removed, (\d+) changed")
RECAP = re.compile(r"localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)")


@dataclass(frozen=True)
class Run:
    completed: subprocess.CompletedProcess[str]
    writes: list[dict[str, Any]]

    @property
    def output(self) -> str:
        return self.completed.stdout + self.completed.stderr

    @property
    def changed(self) -> int:
        found = RECAP.search(self.completed.stdout)
        assert found, self.output[-3000:]
        return int(found.group(2))

    @property
    def summary(self) -> tuple[int, int, int, int]:
        """API calls of the set, entries added, removed, changed, as the summary task says."""
        found = SUMMARY.search(self.completed.stdout)
        assert found, self.output[-3000:]
        return int(found.group(2)), int(found.group(3)), int(found.group(4)), int(found.group(5))


def refresh(cluster: ModuleRunner, work: Path, feed: str | None, *args: str, extra: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Run:
    """Write ``feed`` (unless None) to ``work/feed.txt`` and run the playbook on it."""
    listing = work / "feed.txt"
    if feed is not None:
        listing.write_text(feed)
    variables = {"blocklist_file": str(listing), **(extra or {})}
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "pve.firewall.blocklist", "-e", json.dumps(variables), *args]
    seq = cluster.seq()
    environment = playbook_environment(work, cluster.env if env is None else env)
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=work, timeout=600, check=False)
    return Run(completed, cluster.writes_since(seq))


def ok(run: Run) -> Run:
    assert run.completed.returncode == 0, run.output[-4000:]
    return run


def stored(cluster: ModuleRunner, base: str = "/cluster/firewall", name: str = "blocklist") -> set[str]:
    return {item["cidr"] for item in cluster.api().get(f"{base}/ipset/{name}")}


def rules(cluster: ModuleRunner, base: str = "/cluster/firewall") -> list[tuple[str, str, str | None, str | None]]:
    """(type, action, source, dest) of every rule, in order."""
    return [(item["type"], item["action"], item.get("source"), item.get("dest")) for item in cluster.api().get(f"{base}/rules")]


ADMIN_RULES = [("in", "ACCEPT", "192.0.2.0/24", None), ("in", "ACCEPT", None, None)]
DROP_IN = ("in", "DROP", "+blocklist", None)
DROP_OUT = ("out", "DROP", None, "+blocklist")


def seed_admin_rules(cluster: ModuleRunner) -> None:
    api = cluster.api()
    # PVE adds a new rule on top: the last one first
    api.post(RULES, type="in", action="ACCEPT", macro="Ping", enable=1)
    api.post(RULES, type="in", action="ACCEPT", macro="SSH", source="192.0.2.0/24", enable=1)


# --------------------------------------------------------------------------------------------
# A small list, the whole life


def test_preview_refresh_rerun_and_delta(cluster: ModuleRunner, tmp_path: Path) -> None:
    seed_admin_rules(cluster)

    # check and diff mode: the plan, nothing written
    preview = ok(refresh(cluster, tmp_path, FEED, "--check", "--diff", extra={"blocklist_comment": "drop feed"}))
    assert preview.writes == []
    assert preview.summary == (1 + len(FEED_ENTRIES), len(FEED_ENTRIES), 0, 0)
    assert "feed.txt: 8 networks, 6 entries after merging" in preview.completed.stdout
    assert "+[IPSET blocklist] # drop feed" in preview.completed.stdout  # the diff of the set
    assert "DROP rules: checked once the set exists" in preview.completed.stdout  # rules cannot name a set PVE lacks
    assert cluster.api().get(IPSET) == []

    # the refresh: the set, its entries merged, and the two DROP rules on top of the others
    done = ok(refresh(cluster, tmp_path, None, extra={"blocklist_comment": "drop feed"}))
    assert methods(done.writes) == ["POST"] * (1 + len(FEED_ENTRIES)) + ["POST", "POST"]
    assert done.summary == (1 + len(FEED_ENTRIES), len(FEED_ENTRIES), 0, 0)
    assert stored(cluster) == FEED_ENTRIES
    assert [(item["name"], item.get("comment")) for item in cluster.api().get(IPSET)] == [("blocklist", "drop feed")]
    assert rules(cluster) == [DROP_IN, DROP_OUT, *ADMIN_RULES]
    assert done.changed == 2

    # rerun: nothing to write
    again = ok(refresh(cluster, tmp_path, None, extra={"blocklist_comment": "drop feed"}))
    assert again.writes == [] and again.changed == 0
    assert again.summary == (0, 0, 0, 0)

    # someone moved the DROP rule below the admin rules: it stays there. The feed lost one
    # network and gained one: one DELETE, one POST, no comment given so the set keeps its own;
    # the rules now log, each updated where it is.
    api = cluster.api()
    api.put(f"{RULES}/0", moveto=4)
    assert rules(cluster) == [DROP_OUT, *ADMIN_RULES, DROP_IN]
    moved = FEED.replace("10.20.0.0/16\n", "10.30.0.0/16 ; SBL4\n")
    delta = ok(refresh(cluster, tmp_path, moved, extra={"blocklist_log": "info"}))
    assert [(entry["method"], entry["path"]) for entry in delta.writes] == [
        ("DELETE", f"{IPSET}/blocklist/10.20.0.0/16"),
        ("POST", f"{IPSET}/blocklist"),
        ("PUT", f"{RULES}/0"),
        ("PUT", f"{RULES}/3"),
    ]
    assert delta.summary == (2, 1, 1, 0)
    assert "DROP rules: 2 API calls written" in delta.completed.stdout
    assert stored(cluster) == FEED_ENTRIES - {"10.20.0.0/16"} | {"10.30.0.0/16"}
    assert rules(cluster) == [DROP_OUT, *ADMIN_RULES, DROP_IN]
    assert [item.get("log") for item in api.get(RULES)] == ["info", None, None, "info"]
    assert [(item["name"], item.get("comment")) for item in cluster.api().get(IPSET)] == [("blocklist", "drop feed")]


def test_a_bad_line_fails_naming_it_and_nothing_is_written(cluster: ModuleRunner, tmp_path: Path) -> None:
    # a relative path is taken from where ansible-playbook runs (here tmp_path)
    run = refresh(cluster, tmp_path, "# feed\n192.0.2.1\n\nexample.org ; a name\n198.51.100.0/33\n", extra={"blocklist_file": "feed.txt"})
    assert run.completed.returncode != 0
    assert run.writes == []
    assert (
        "cidr_list: 2 lines are not an IPv4 or IPv6 address or CIDR: "
        "line 4: 'example.org': value does not look like a valid IP address or CIDR network; "
        "line 5: '198.51.100.0/33': value does not look like a valid IP address or CIDR network"
    ) in run.output
    empty = refresh(cluster, tmp_path, "# the download failed\n")
    assert empty.completed.returncode != 0 and empty.writes == []
    assert "has 0 networks, fewer than blocklist_min_entries (1): the IP set is left as it is" in empty.output
    missing = refresh(cluster, tmp_path, None, extra={"blocklist_file": ""})
    assert missing.completed.returncode != 0 and missing.writes == []
    assert "Set blocklist_file to the path of the list" in missing.output


def test_guest_set_without_rules_skipping_bad_lines_connection_from_variables(cluster: ModuleRunner, tmp_path: Path) -> None:
    """At a VM, no rules, the bad line left out with a warning, and the connection given as
    pve_api_* variables instead of the environment."""
    connection = {f"pve_{key}": value for key, value in cluster.connection.items()}
    feed = "192.0.2.1\nbogus\n192.0.2.0/31 ; contains 192.0.2.1\n"
    extra = {"blocklist_level": "vm", "blocklist_vmid": 100, "blocklist_ipset": "drop", "blocklist_rules": False, "blocklist_skip_invalid": True, **connection}
    run = ok(refresh(cluster, tmp_path, feed, extra=extra, env={}))
    assert "cidr_list: skipped 1 line is not an IPv4 or IPv6 address or CIDR: line 2: 'bogus'" in run.output
    assert methods(run.writes) == ["POST", "POST"]
    assert stored(cluster, "/nodes/pve1/qemu/100/firewall", "drop") == {"192.0.2.0/31"}
    assert rules(cluster, "/nodes/pve1/qemu/100/firewall") == [] and rules(cluster) == []
    assert cluster.api().get(IPSET) == []


def test_without_a_file_or_with_a_bad_level_the_argument_spec_fails_before_any_request(cluster: ModuleRunner, tmp_path: Path) -> None:
    """The playbook runs the role pve.firewall.blocklist, whose argument spec requires
    blocklist_file and knows the levels: its validation, the role's first task, stops the run."""
    command = [str(Path(sys.executable).with_name("ansible-playbook")), "pve.firewall.blocklist"]
    for variables, message in (
        ({}, "missing required arguments: blocklist_file"),
        ({"blocklist_file": "feed.txt", "blocklist_level": "node"}, "value of blocklist_level must be one of: cluster, vm, ct, got: node"),
    ):
        seq = cluster.seq()
        arguments = ["-e", json.dumps(variables)] if variables else []
        completed = subprocess.run(
            [*command, *arguments], capture_output=True, text=True, env=playbook_environment(tmp_path, cluster.env), cwd=tmp_path, timeout=600, check=False
        )
        assert completed.returncode != 0
        assert "Validating arguments against arg spec 'main'" in completed.stdout
        assert message in completed.stdout, completed.stdout[-3000:]
        assert cluster.requests_since(seq) == []


def test_the_role_at_a_container_with_one_direction_and_logging(cluster: ModuleRunner, tmp_path: Path) -> None:
    """The role on its own, as a play includes it, the connection from PROXMOX_*: the set and
    one OUT DROP rule that logs, at CT 200."""
    (tmp_path / "feed.txt").write_text(FEED)
    role = {"name": "pve.firewall.blocklist"}
    variables = {
        "blocklist_file": str(tmp_path / "feed.txt"),
        "blocklist_level": "ct",
        "blocklist_vmid": 200,
        "blocklist_directions": ["out"],
        "blocklist_log": "info",
    }
    seq = cluster.seq()
    completed, _summary = run_playbook(tmp_path, [{"name": "blocklist", "ansible.builtin.include_role": role, "vars": variables}], cluster.env)
    assert completed.returncode == 0, completed.stdout[-3000:]
    base = "/nodes/pve1/lxc/200/firewall"
    assert stored(cluster, base) == FEED_ENTRIES
    assert rules(cluster, base) == [DROP_OUT] and [item.get("log") for item in cluster.api().get(f"{base}/rules")] == ["info"]
    assert rules(cluster) == [] and cluster.api().get(IPSET) == []
    assert methods(cluster.writes_since(seq)) == ["POST"] * (1 + len(FEED_ENTRIES)) + ["POST"]


# --------------------------------------------------------------------------------------------
# Large lists: 60,000 lines (a cluster holds them), 80,000 (it does not)


def networks(text: str) -> list[Any]:
    """The networks of the file's lines, read by the ipaddress module."""
    found = []
    for line in text.splitlines():
        value = re.split("[#;]", line, maxsplit=1)[0].strip()
        if value:
            found.append(ipaddress.ip_network(value, strict=False))
    return found


def merged(listed: list[Any]) -> set[str]:
    """Networks merged by the ipaddress module, spelled as PVE stores them: the oracle for
    what the set must hold."""
    return {format_network(net) for version in (4, 6) for net in ipaddress.collapse_addresses(n for n in listed if n.version == version)}


def test_60000_entries_write_only_the_delta(cluster: ModuleRunner, tmp_path: Path) -> None:
    base = make_feed(60_000)
    feed, dropped, added = base.changed(20)
    cluster.control.write_file("firewall/cluster.fw", seeded_cluster_fw(base.entries))
    text = feed.text()
    listed = networks(text)
    expected = merged(listed)
    assert len(listed) == feed.listed == 60_000 and len(dropped) == len(added) == 10
    assert expected == set(feed.entries)  # the feed is built to merge into exactly these

    done = ok(refresh(cluster, tmp_path, text, extra={"blocklist_comment": "drop feed"}))
    assert sorted(methods(done.writes)) == ["DELETE"] * 10 + ["POST"] * 10
    assert {entry["path"].removeprefix(f"{IPSET}/blocklist/") for entry in done.writes if entry["method"] == "DELETE"} == set(dropped)
    assert done.summary == (20, 10, 10, 0)
    # the filter's networks: each once, not merged yet; then the set's entries, merged
    assert f"feed.txt: {len(set(listed))} networks, {len(expected)} entries after merging" in done.completed.stdout
    assert "DROP rules: 0 API calls written" in done.completed.stdout
    assert stored(cluster) == expected

    again = ok(refresh(cluster, tmp_path, None, extra={"blocklist_comment": "drop feed"}))
    assert again.writes == [] and again.changed == 0


def test_a_list_cluster_fw_cannot_hold_is_refused_before_any_write(cluster: ModuleRunner, tmp_path: Path) -> None:
    """80,000 lines merge into 76,203 entries: a 1,113,651-byte cluster.fw, over pmxcfs' 1 MiB.
    The ipset task fails before its first request that writes, naming the file and its size."""
    seed_admin_rules(cluster)
    feed = make_feed(80_000)
    run = refresh(cluster, tmp_path, feed.text())
    assert run.completed.returncode != 0
    assert run.writes == []
    assert "/etc/pve/firewall/cluster.fw would be 1,1" in run.output and "1,048,576-byte limit" in run.output, run.output[-3000:]
    assert cluster.api().get(IPSET) == []
