"""Late writes and concurrent exact writers, against the TLS emulator.

* A write that times out on the client may still land: the emulator's ``stall`` fault holds a
  request for a while and then carries it out, after the client gave up, as PVE does with a
  request it already received. A rerun of ``firewall_rule`` (``merged``) that meets the late
  copy, while it runs or afterwards, ends with every listed rule exactly once.
* Two ``ipset`` writers with ``purge`` (exact) and different lists on one set: the set ends
  as exactly one writer's list, because a sync that wrote reads the set back once and plans
  again when another writer was at work.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from conftest import ModuleRunner, run_playbook

from ansible_collections.pve.firewall.plugins.module_utils._api import sync as _sync
from ansible_collections.pve.firewall.plugins.module_utils._api.service import FirewallApi

RULES = "/cluster/firewall/rules"
STALL = 3.0  # seconds the late write waits before it lands; the client gives up after 1


def rule(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "in", "action": "ACCEPT", "proto": "tcp", "dport": str(3000 + n), **extra}


LISTED = [rule(n) for n in range(7)]
EXISTING = [rule(n, comment="existing") for n in range(50, 53)]


def seed_rules(cluster: ModuleRunner, rules: list[dict[str, Any]]) -> None:
    api = cluster.api()
    for item in reversed(rules):  # POST inserts at the top
        api.post(RULES, **item, enable=1)


def ports(cluster: ModuleRunner) -> list[str]:
    return [item["dport"] for item in cluster.api().get(RULES)]


def wait_for_late_write(cluster: ModuleRunner, seq: int, timeout: float = 10.0) -> None:
    """Until the stalled write since ``seq`` has been carried out (it is logged once done)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(entry["method"] != "GET" and entry["duration_ms"] >= STALL * 1000 for entry in cluster.requests_since(seq)):
            return
        time.sleep(0.05)
    raise AssertionError("the stalled write never landed")


def first_run_times_out(cluster: ModuleRunner, nth: int) -> int:
    """A merged run whose ``nth`` POST gets no answer in time but lands later; its seq."""
    seed_rules(cluster, EXISTING)
    seq = cluster.seq()
    cluster.control.arm_fault(action="stall", nth=nth, on="write", seconds=STALL, path=RULES)
    failed = cluster.run("firewall_rule", level="cluster", state="merged", rules=LISTED, api_timeout=1)
    assert failed.get("failed") is True and "no answer from" in failed["msg"], failed
    assert len(failed["commands"]) == nth - 1
    return seq


def assert_listed_once(cluster: ModuleRunner) -> None:
    stored = ports(cluster)
    listed = [item["dport"] for item in LISTED]
    assert Counter(stored) == Counter(listed + [item["dport"] for item in EXISTING]), stored
    assert stored[: len(listed)] == listed  # in the listed order, at the top where they went


@pytest.mark.parametrize("nth", [1, 4, 7])
def test_a_late_post_that_lands_after_the_rerun_is_removed_by_the_next_run(cluster: ModuleRunner, nth: int) -> None:
    seq = first_run_times_out(cluster, nth)
    rerun = cluster.ok("firewall_rule", level="cluster", state="merged", rules=LISTED)
    assert rerun["changed"] is True
    wait_for_late_write(cluster, seq)
    assert len(ports(cluster)) == len(LISTED) + len(EXISTING) + 1  # the late copy is there now

    third = cluster.ok("firewall_rule", level="cluster", state="merged", rules=LISTED)
    assert third["changed"] is True and [command.split(" ", 1)[0] for command in third["commands"]] == ["DELETE"]
    assert_listed_once(cluster)
    cluster.unchanged("firewall_rule", level="cluster", state="merged", rules=LISTED)


@pytest.mark.parametrize("nth", [1, 4, 7])
def test_a_late_post_that_lands_while_the_rerun_writes_is_removed_by_that_rerun(cluster: ModuleRunner, nth: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rerun reads, POSTs what is missing, and the late copy lands before its read-back:
    the read-back differs from the prediction, and the plan made from it drops the copy."""
    seq = first_run_times_out(cluster, nth)
    original = FirewallApi.read_rules
    reads: list[str] = []

    def read_back_after_the_late_write(api: FirewallApi, path: str) -> Any:
        if reads:  # the rerun's read-back: by now the late copy has landed
            wait_for_late_write(cluster, seq)
        reads.append(path)
        return original(api, path)

    monkeypatch.setattr(FirewallApi, "read_rules", read_back_after_the_late_write)
    rerun = cluster.ok("firewall_rule", level="cluster", state="merged", rules=LISTED)
    monkeypatch.undo()
    assert rerun["changed"] is True
    assert len(reads) >= 2
    assert_listed_once(cluster)
    assert [item["dport"] for item in rerun["after"]] == ports(cluster)
    cluster.unchanged("firewall_rule", level="cluster", state="merged", rules=LISTED)


# --------------------------------------------------------------------------------------------
# two exact writers of one IP set

SET = "/cluster/firewall/ipset/race"


def addresses(prefix: str, count: int = 50) -> list[str]:
    return [f"{prefix}.{n}" for n in range(1, count + 1)]


FIRST, SECOND = addresses("10.1.0"), addresses("10.2.0")


def stored_entries(cluster: ModuleRunner) -> list[str]:
    return sorted(item["cidr"] for item in cluster.api().get(SET))


def test_an_exact_writer_interleaved_with_another_ends_with_its_own_list(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another exact writer that read the set when this run did POSTs its own list, one entry
    before each of this run's writes: this run's read-back finds them and removes them."""
    cluster.api().post("/cluster/firewall/ipset", name="race")
    other = iter(SECOND)
    original = FirewallApi.send

    def another_writer_first(api: FirewallApi, call: Any, digest: str | None = None) -> Any:
        cidr = next(other, None)
        if cidr is not None:
            cluster.api().post(SET, cidr=cidr)
        return original(api, call, digest)

    monkeypatch.setattr(FirewallApi, "send", another_writer_first)
    result = cluster.ok("ipset", name="race", entries=FIRST)
    monkeypatch.undo()
    assert result["changed"] is True
    assert stored_entries(cluster) == sorted(FIRST)
    assert sorted(result["after"]["entries"]) == sorted(FIRST)
    cluster.unchanged("ipset", name="race", entries=FIRST)


@pytest.mark.slow
@pytest.mark.parametrize("start", [[], addresses("10.9.0", 10)], ids=["from-empty", "replacing-a-third-list"])
def test_two_exact_writers_at_once_leave_one_writers_list(cluster: ModuleRunner, tmp_path: Path, start: list[str]) -> None:
    """Two ansible-playbook runs make the set their own 50 entries at the same time (latency
    widens the window): both succeed and the set ends as one list, never a mixture."""
    cluster.api().post("/cluster/firewall/ipset", name="race")
    for cidr in start:
        cluster.api().post(SET, cidr=cidr)
    lists = {"first": FIRST, "second": SECOND}

    def play(name: str) -> Any:
        work = tmp_path / name
        work.mkdir()
        task = {"name": "exact", "pve.firewall.ipset": {"name": "race", "entries": lists[name], "purge": True}}
        return run_playbook(work, [task], cluster.env)

    cluster.control.settings(latency=0.03)
    seq = cluster.seq()
    with ThreadPoolExecutor(max_workers=len(lists)) as pool:
        outcomes = dict(zip(lists, pool.map(play, lists)))
    cluster.control.settings(latency=0)

    # each run reads the set and reads it back: 4 reads when the runs never met (how often
    # they met is up to the scheduler; here they usually plan again two or three times)
    reads = sum(entry["method"] == "GET" and entry["path"] == SET for entry in cluster.requests_since(seq))
    assert reads >= 4
    stored = stored_entries(cluster)
    assert stored in (sorted(FIRST), sorted(SECOND)), f"a mixture: {Counter(cidr.rsplit('.', 2)[0] for cidr in stored)}"
    for name in lists:
        completed, results = outcomes[name]
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
        assert results[0]["changed"] is True


def test_an_exact_writer_that_never_gets_a_clean_write_gives_up_bounded(cluster: ModuleRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer adds an entry before every write of this run: the read-back differs,
    and every write that carries the digest after it meets a conflict, until the run gives up."""
    monkeypatch.setattr(_sync, "BACKOFF", 0.0)
    cluster.api().post("/cluster/firewall/ipset", name="race")
    other = iter(SECOND)
    original = FirewallApi.send

    def another_writer_first(api: FirewallApi, call: Any, digest: str | None = None) -> Any:
        cluster.api().post(SET, cidr=next(other))
        return original(api, call, digest)

    monkeypatch.setattr(FirewallApi, "send", another_writer_first)
    seq = cluster.seq()
    failed = cluster.run("ipset", name="race", entries=FIRST[:3])
    monkeypatch.undo()
    assert failed.get("failed") is True
    assert failed["msg"] == (
        f"ipset 'race' of cluster changed under this run {_sync.MAX_STALLED} times in a row (other writers at work); giving up"
        " (after 3 successful writes; a rerun converges from here)"
    )
    ours = [entry for entry in cluster.writes_since(seq) if entry["method"] == "DELETE"]
    assert [entry["status"] for entry in ours] == [500] * _sync.MAX_STALLED
    cluster.ok("ipset", name="race", entries=FIRST[:3])
    assert stored_entries(cluster) == sorted(FIRST[:3])


# --------------------------------------------------------------------------------------------
# what the read-back costs a run that meets no other writer

SETS = "/cluster/firewall/ipset"
GUARD = "GET /cluster/firewall/options"  # is the datacenter firewall on? (the lockout guard)


def calls(cluster: ModuleRunner, seq: int) -> list[str]:
    return [f"{entry['method']} {entry['path']}" for entry in cluster.requests_since(seq)]


def test_an_exact_write_reads_the_set_back_once_and_a_rerun_reads_nothing_more(cluster: ModuleRunner) -> None:
    seq = cluster.seq()
    cluster.ok("ipset", name="race", entries=FIRST[:3])
    # A set that grows makes the module read the rest of cluster.fw once: its size after the
    # change must stay within pmxcfs' 1 MiB (the other sets' entries too, here there are none).
    size_check = [f"GET /cluster/firewall/{part}" for part in ("options", "rules", "aliases", "groups")]
    assert calls(cluster, seq) == [f"GET {SETS}", GUARD, *size_check, f"POST {SETS}"] + [f"POST {SET}"] * 3 + [f"GET {SET}"]
    seq = cluster.seq()
    cluster.ok("ipset", name="race", entries=FIRST[1:4])  # one out, one in
    assert calls(cluster, seq) == [f"GET {SETS}", f"GET {SET}", GUARD, f"DELETE {SET}/{FIRST[0]}", f"POST {SET}", f"GET {SET}"]
    seq = cluster.seq()
    cluster.unchanged("ipset", name="race", entries=FIRST[1:4])
    assert calls(cluster, seq) == [f"GET {SETS}", f"GET {SET}"]


def test_one_write_that_carries_the_digest_or_a_merge_is_not_read_back(cluster: ModuleRunner) -> None:
    cluster.ok("ipset", name="race", entries=FIRST[:3])
    seq = cluster.seq()
    cluster.ok("ipset", name="race", entries=FIRST[:2])  # one DELETE, with the digest
    cluster.ok("ipset", name="race", entries=[FIRST[0], {"cidr": FIRST[1], "comment": "c"}])  # one PUT, with the digest
    cluster.ok("ipset", name="race", entries=FIRST[5:8], purge=False)  # what others add may stay
    reads_back = [call for call in calls(cluster, seq) if call == f"GET {SET}"]
    assert len(reads_back) == 3  # each run's own read before it plans, nothing after


def test_an_alias_is_read_back_once_when_created_and_not_when_changed(cluster: ModuleRunner) -> None:
    aliases = "/cluster/firewall/aliases"
    seq = cluster.seq()
    cluster.ok("alias", name="gw", cidr="10.0.0.1")
    assert calls(cluster, seq) == [f"GET {aliases}", f"POST {aliases}", f"GET {aliases}"]
    seq = cluster.seq()
    cluster.ok("alias", name="gw", cidr="10.0.0.2")
    assert calls(cluster, seq) == [f"GET {aliases}", GUARD, f"PUT {aliases}/gw"]
    seq = cluster.seq()
    cluster.unchanged("alias", name="gw", cidr="10.0.0.2")
    assert calls(cluster, seq) == [f"GET {aliases}"]
