"""Concurrent writers: per-file locks serialise them like pmxcfs, digests catch lost updates."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from emulator_helpers import MODIFIED, RULES, assert_failure, post_labelled

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator
from ansible_collections.pve.firewall.tests.emulator.state import FileKey

WRITERS, EACH = 8, 12


def test_parallel_posts_lose_nothing(pve: RunningEmulator) -> None:
    def write(writer: int) -> None:
        api = pve.api(node=f"pve{writer % 3 + 1}")  # every node writes the same cluster.fw
        for index in range(EACH):
            api.post(RULES, type="in", action="ACCEPT", proto="tcp", dport=str(1000 + writer), comment=f"w{writer}-{index}")

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(write, range(WRITERS)))
    rules = pve.api().get(RULES)
    assert sorted(rule["comment"] for rule in rules) == sorted(f"w{w}-{i}" for w in range(WRITERS) for i in range(EACH))
    for writer in range(WRITERS):  # each writer's rules keep their order: newest on top
        mine = [rule["comment"] for rule in rules if rule["comment"].startswith(f"w{writer}-")]
        assert mine == [f"w{writer}-{index}" for index in reversed(range(EACH))]


def test_parallel_writes_to_different_files_all_land(pve: RunningEmulator) -> None:
    paths = [RULES, "/nodes/pve1/firewall/rules", "/nodes/pve1/qemu/100/firewall/rules", "/cluster/sdn/vnets/vnet1/firewall/rules"]

    def write(path: str) -> None:
        api = pve.api()
        for index in range(EACH):
            api.post(path, type="group" if "vnet" in path else "in", action="grp" if "vnet" in path else "ACCEPT", comment=str(index))

    with ThreadPoolExecutor(len(paths)) as pool:
        list(pool.map(write, paths))
    for path in paths:
        assert len(pve.api().get(path)) == EACH, path


def test_a_digest_race_has_exactly_one_winner(pve: RunningEmulator) -> None:
    api = pve.api()
    post_labelled(api, "A")
    digest = api.get(RULES)[0]["digest"]
    barrier = threading.Barrier(WRITERS)

    def update(writer: int) -> int:
        client = pve.api()
        client.get("/version")  # connect before the race
        barrier.wait()
        return client.call("PUT", f"{RULES}/0", {"comment": f"by {writer}", "digest": digest}).status

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = list(pool.map(update, range(WRITERS)))
    assert sorted(statuses) == [200] + [500] * (WRITERS - 1)
    winner = statuses.index(200)
    assert api.get(RULES)[0]["comment"] == f"by {winner}"


def test_a_stale_digest_after_another_writer_is_refused(pve: RunningEmulator) -> None:
    first, second = pve.api("pve1"), pve.api("pve2")
    post_labelled(first, "A", "B")
    seen = second.get(RULES)[0]["digest"]
    first.delete(f"{RULES}/0")
    assert_failure(second.call("DELETE", f"{RULES}/0", {"digest": seen}), MODIFIED.strip())
    assert [rule["comment"] for rule in first.get(RULES)] == ["B"]


def test_a_held_file_lock_times_out_like_pmxcfs(pve: RunningEmulator) -> None:
    assert pve.emulator is not None
    pve.control.settings(lock_timeout=0.3)
    api: ApiClient = pve.api()
    with pve.emulator.ctx.store.locked(FileKey.cluster()):
        started = time.monotonic()
        response = api.call("POST", RULES, {"type": "in", "action": "ACCEPT"})
        waited = time.monotonic() - started
        assert api.get(RULES) == []  # reads do not wait for the lock
        other_file = api.call("POST", "/nodes/pve1/firewall/rules", {"type": "in", "action": "ACCEPT"})
    assert_failure(response, "cfs-lock 'firewall-cluster' error: got lock request timeout")
    assert waited >= 0.3
    assert other_file.status == 200  # locks are per file
