"""Writes to several firewall files at once, through a bounded pool of kept-alive connections;
and the independent reads of a whole-cluster gather, at once over the same pool (``fan_out``).

PVE takes a lock per file for each write (``PVE::Firewall::lock_clusterfw_conf``,
``lock_vmfw_conf``, ``lock_hostfw_conf``, ``lock_vnetfw_conf`` in PVE::Firewall and
PVE::API2::Firewall::*), so writes to different files do not wait for each other, while
writes to one file are carried out one at a time. Most of a write's time is the round trip;
``run_jobs`` overlaps the round trips of independent files:

* a job names the file it writes (``lock``) and the jobs it waits for (``after``); jobs start
  in their given order as soon as they may, at most one per file, at most ``size`` at once;
* every job runs on a connection of its own, taken from the pool and given back after it,
  so each connection stays open (kept alive) from job to job;
* a job's order-free writes (IP set entries, aliases: each names its object) may be spread
  over the connections that are idle at that moment (``Lease.spread``);
* when a job fails, no job starts any more; the jobs under way finish, and the result names
  what each job did, so the next run converges from there.

The connections after the first share its login (a ticket, or the API token).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .._compiler.api_mapping import ApiCall
from .service import FirewallApi
from .transport import PveTransport

R = TypeVar("R")
MAX_CONNECTIONS = 16


def sharing_login(transport: PveTransport) -> PveTransport:
    """A new connection with the same settings and, once ``transport`` has logged in, its
    ticket: N connections cost one login, not N."""
    clone = PveTransport(transport.settings)
    # the same layer owns both objects; the ticket is valid on every connection
    clone._auth_headers = transport._auth_headers  # pylint: disable=protected-access
    clone._csrf = transport._csrf  # pylint: disable=protected-access
    return clone


class ConnectionPool:
    """Up to ``size`` API clients: the given one and others opened when first needed."""

    def __init__(self, api: FirewallApi, size: int) -> None:
        if not 1 <= size <= MAX_CONNECTIONS:
            raise ValueError(f"size must be 1 to {MAX_CONNECTIONS}")
        self.size = size
        self._first = api
        self._idle: list[FirewallApi] = [api]
        self._opened = 1
        self._lock = threading.Lock()
        self._created: list[FirewallApi] = []

    def take(self, most: int = 1) -> list[FirewallApi]:
        """Up to ``most`` idle clients, without waiting (opening new ones while under ``size``)."""
        with self._lock:
            taken = [self._idle.pop() for _index in range(min(most, len(self._idle)))]
            while len(taken) < most and self._opened < self.size:
                api = FirewallApi(sharing_login(self._first.transport))
                self._created.append(api)
                self._opened += 1
                taken.append(api)
            return taken

    def give_back(self, apis: Sequence[FirewallApi]) -> None:
        with self._lock:
            self._idle.extend(apis)

    def fan_out(self, reads: Sequence[Callable[[FirewallApi], Any]]) -> list[Any]:
        """Run independent reads over up to ``size`` connections at once; the results in the
        order of ``reads``. After a failure no read starts; the first error is raised once the
        reads under way have ended (a ``FanOut`` of the service layer)."""
        if not reads:
            return []
        apis = self.take(min(len(reads), self.size))
        if not apis:
            raise RuntimeError("fan_out needs an idle connection of the pool")
        results: list[Any] = [None] * len(reads)
        errors: list[BaseException] = []
        pending = iter(range(len(reads)))
        lock = threading.Lock()

        def worker(api: FirewallApi) -> None:
            while True:
                with lock:
                    index = None if errors else next(pending, None)
                if index is None:
                    return
                try:
                    results[index] = reads[index](api)
                except BaseException as error:  # pylint: disable=broad-exception-caught  # raised below, in the caller's thread
                    with lock:
                        errors.append(error)
                    return

        threads = [threading.Thread(target=worker, args=(api,), daemon=True) for api in apis[1:]]
        for thread in threads:
            thread.start()
        worker(apis[0])
        for thread in threads:
            thread.join()
        self.give_back(apis)
        if errors:
            raise errors[0]
        return results

    def close(self) -> None:
        """Close the connections this pool opened (the given one stays with its owner)."""
        for api in self._created:
            api.transport.close()


@dataclass
class Lease:
    """A running job's connection, and a way to spread order-free writes over idle ones."""

    api: FirewallApi
    pool: ConnectionPool
    on_release: Callable[[], None] = lambda: None

    def spread(self, calls: Sequence[ApiCall], send: Callable[[FirewallApi, ApiCall], bool]) -> tuple[list[ApiCall], BaseException | None]:
        """Send ``calls`` (whose order does not matter) over this job's connection and any idle
        ones. ``send`` returns whether the call wrote. Returns the calls that wrote, in the
        given order, and the first error (after which no call starts)."""
        extra = self.pool.take(len(calls) - 1) if len(calls) > 1 else []
        apis = [self.api, *extra]
        written = [False] * len(calls)
        errors: list[BaseException] = []
        stop = threading.Event()

        def worker(offset: int, api: FirewallApi) -> None:
            for index in range(offset, len(calls), len(apis)):
                if stop.is_set():
                    return
                try:
                    written[index] = send(api, calls[index])
                except Exception as error:  # pylint: disable=broad-exception-caught  # reported by the job
                    errors.append(error)
                    stop.set()
                    return

        threads = [threading.Thread(target=worker, args=(offset, api), daemon=True) for offset, api in enumerate(apis[1:], start=1)]
        for thread in threads:
            thread.start()
        worker(0, self.api)
        for thread in threads:
            thread.join()
        self.pool.give_back(extra)
        self.on_release()
        return [call for call, wrote in zip(calls, written) if wrote], (errors[0] if errors else None)


@dataclass(frozen=True)
class Job(Generic[R]):
    """One unit of writes to one file."""

    id: str
    lock: str
    work: Callable[[Lease], R]
    after: frozenset[str] = frozenset()


@dataclass
class JobsResult(Generic[R]):
    """What each job returned, the job that failed and its error, and the jobs never started."""

    results: dict[str, R] = field(default_factory=dict)
    failures: list[tuple[str, BaseException]] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)
    # the most jobs that ran at the same time (for tests and benchmarks)
    most_at_once: int = 0


def run_jobs(jobs: Sequence[Job[R]], pool: ConnectionPool) -> JobsResult[R]:
    """Run ``jobs`` as their ``after`` and ``lock`` allow, at most ``pool.size`` at once."""
    known = {job.id for job in jobs}
    for job in jobs:
        missing = job.after - known
        if missing:
            raise ValueError(f"job {job.id} waits for unknown jobs {', '.join(sorted(missing))}")
    outcome: JobsResult[R] = JobsResult()
    waiting = list(jobs)
    running: dict[str, threading.Thread] = {}
    busy_files: set[str] = set()
    finished: set[str] = set()
    changed = threading.Condition()

    def wake() -> None:
        with changed:
            changed.notify_all()

    def body(job: Job[R], api: FirewallApi) -> None:
        lease = Lease(api, pool, wake)
        try:
            result = job.work(lease)
        except BaseException as error:  # pylint: disable=broad-exception-caught  # reported below
            with changed:
                outcome.failures.append((job.id, error))
        else:
            with changed:
                outcome.results[job.id] = result
                finished.add(job.id)
        finally:
            pool.give_back([api])
            with changed:
                del running[job.id]
                busy_files.discard(job.lock)
                changed.notify_all()

    with changed:
        while True:
            if not outcome.failures:
                for job in list(waiting):
                    if len(running) >= pool.size:
                        break
                    if job.lock in busy_files or not job.after <= finished:
                        continue
                    apis = pool.take(1)
                    if not apis:
                        break
                    waiting.remove(job)
                    busy_files.add(job.lock)
                    thread = threading.Thread(target=body, args=(job, apis[0]), daemon=True, name=f"job {job.id}")
                    running[job.id] = thread
                    outcome.most_at_once = max(outcome.most_at_once, len(running))
                    thread.start()
            if not running:
                break
            changed.wait()
    if waiting and not outcome.failures:
        raise ValueError(f"jobs that can never start: {', '.join(job.id for job in waiting)}")
    outcome.not_started = [job.id for job in waiting]
    return outcome


def first_error(result: JobsResult[Any]) -> BaseException | None:
    return result.failures[0][1] if result.failures else None
