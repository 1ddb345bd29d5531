"""The bounded writer pool: jobs start as their dependencies and files allow, never two on one
file, at most ``size`` at once; a failure stops new jobs and lets running ones finish."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.pve.firewall.plugins.module_utils._api.parallel import ConnectionPool, Job, Lease, run_jobs
from ansible_collections.pve.firewall.plugins.module_utils._api.service import FirewallApi
from ansible_collections.pve.firewall.plugins.module_utils._api.transport import ConnectionSettings, PveTransport
from ansible_collections.pve.firewall.plugins.module_utils._compiler.api_mapping import ApiCall


def pool(size: int) -> ConnectionPool:
    return ConnectionPool(FirewallApi(PveTransport(ConnectionSettings("pve.invalid", token_id="root@pam!t", token_secret="x"))), size)


class Gate:
    """Records which jobs run together; a job waits at the gate until ``expected`` are in."""

    def __init__(self, expected: int) -> None:
        self.barrier = threading.Barrier(expected, timeout=10)
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.seen_together: list[frozenset[str]] = []

    def job(self, name: str, meet: bool = False) -> object:
        def work(lease: Lease) -> str:
            with self.lock:
                self.running.add(name)
                self.seen_together.append(frozenset(self.running))
            if meet:
                self.barrier.wait()  # fails (BrokenBarrierError) unless the others run at once
            with self.lock:
                self.running.discard(name)
            return name

        return work


def test_independent_files_run_at_the_same_time() -> None:
    gate = Gate(3)
    jobs = [Job(f"node {index}", f"host{index}.fw", gate.job(f"n{index}", meet=True)) for index in range(3)]  # type: ignore[arg-type]
    result = run_jobs(jobs, pool(3))
    assert result.failures == [] and result.most_at_once == 3
    assert set(result.results.values()) == {"n0", "n1", "n2"}


def test_one_file_is_never_written_by_two_jobs_at_once() -> None:
    gate = Gate(1)
    jobs = [Job(f"set {index}", "cluster.fw", gate.job(f"s{index}")) for index in range(5)]  # type: ignore[arg-type]
    result = run_jobs(jobs, pool(4))
    assert result.most_at_once == 1 and len(result.results) == 5
    assert all(len(together) == 1 for together in gate.seen_together)


def test_a_job_waits_for_the_jobs_it_depends_on() -> None:
    order: list[str] = []
    lock = threading.Lock()

    def work(name: str) -> object:
        def run(lease: Lease) -> None:
            with lock:
                order.append(name)

        return run

    jobs = [
        Job("rules", "cluster.fw", work("rules"), frozenset({"a", "b"})),  # type: ignore[arg-type]
        Job("a", "100.fw", work("a")),  # type: ignore[arg-type]
        Job("b", "200.fw", work("b")),  # type: ignore[arg-type]
    ]
    run_jobs(jobs, pool(4))
    assert order[-1] == "rules" and set(order[:2]) == {"a", "b"}


def test_at_most_size_jobs_at_once() -> None:
    gate = Gate(1)
    jobs = [Job(f"f{index}", f"{index}.fw", gate.job(f"f{index}")) for index in range(8)]  # type: ignore[arg-type]
    result = run_jobs(jobs, pool(2))
    assert result.most_at_once <= 2 and all(len(together) <= 2 for together in gate.seen_together)


def test_a_failure_stops_new_jobs_and_names_those_not_started() -> None:
    def boom(lease: Lease) -> None:
        raise RuntimeError("write refused")

    jobs = [Job("first", "a.fw", boom), Job("second", "b.fw", lambda lease: "ok", frozenset({"first"})), Job("third", "a.fw", lambda lease: "ok")]
    result = run_jobs(jobs, pool(1))
    assert [job for job, _error in result.failures] == ["first"]
    assert result.not_started == ["second", "third"]


def test_unknown_dependencies_are_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown"):
        run_jobs([Job("a", "a.fw", lambda lease: None, frozenset({"nope"}))], pool(1))


def test_spread_sends_every_call_once_over_idle_connections() -> None:
    connections = pool(3)
    sent: list[tuple[int, str]] = []
    lock = threading.Lock()
    calls = [ApiCall("POST", "/cluster/firewall/ipset/big", {"cidr": f"10.0.0.{index}"}) for index in range(10)]

    def send(api: FirewallApi, call: ApiCall) -> bool:
        with lock:
            sent.append((id(api), str(call.params["cidr"])))
        return call.params["cidr"] != "10.0.0.3"  # one answered "already exists"

    first = connections.take(1)[0]
    written, error = Lease(first, connections).spread(calls, send)
    assert error is None
    assert sorted(cidr for _api, cidr in sent) == sorted(str(call.params["cidr"]) for call in calls)
    assert len({api for api, _cidr in sent}) == 3
    assert [call.params["cidr"] for call in written] == [f"10.0.0.{index}" for index in range(10) if index != 3]
    assert len(connections.take(3)) == 2  # the borrowed connections are back (the lease keeps its own)
