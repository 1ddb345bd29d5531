"""pytest fixtures that run the emulator (registered from tests/conftest.py).

* ``pve_emulator`` (session): one in-process emulator on free loopback addresses and a free
  port, with a token, a read-only token and a user; shared by every test that uses it.
* ``pve`` (function): the same emulator, reset to an empty cluster before the test.
* ``make_pve_emulator`` (function): a factory for emulators with their own topology or
  options (TLS, judging); each is stopped after the test.
* ``pve_emulator_process`` (module): the command line started as a subprocess, stopped with
  SIGTERM afterwards.

Each gives a :class:`RunningEmulator` with ``api()`` clients and a ``control`` client.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from .app import Emulator, EmulatorConfig
from .auth import Token
from .client import ApiClient, ControlClient

TOKEN = Token("root@pam", "ci", "f1c4b0e2-9d1e-4c59-8a57-3f0d3c0e9a11")
READ_ONLY_TOKEN = Token("audit@pve", "ro", "0b7d9f5e-2a41-4f7e-b1a9-6b3c2d8e4f00", read_only=True)
USER, PASSWORD = "root@pam", "emulator-password"
EMULATOR_SCRIPT = Path(__file__).with_name("pve_emulator.py")


@dataclass
class RunningEmulator:
    """Where a started emulator listens and how to talk to it."""

    nodes: list[dict[str, Any]]
    control_url: str
    ca: str | None
    state_dir: Path
    emulator: Emulator | None = None  # set for in-process emulators
    _clients: list[Any] = field(default_factory=list)

    @property
    def control(self) -> ControlClient:
        client = ControlClient(self.control_url)
        self._clients.append(client)
        return client

    def node_url(self, node: str | None = None) -> str:
        entry = self.nodes[0] if node is None else next(item for item in self.nodes if item["node"] == node)
        return str(entry["api_url"])

    def node_host(self, node: str | None = None) -> tuple[str, int, int | None]:
        entry = self.nodes[0] if node is None else next(item for item in self.nodes if item["node"] == node)
        return str(entry["host"]), int(entry["api_port"]), entry.get("ssh_port")

    def api(self, node: str | None = None, *, token: Token | None = TOKEN, timeout: float = 10.0, source_address: str | None = None) -> ApiClient:
        """A client of ``node``'s API (default: the first node), with a token unless None."""
        client = ApiClient(
            self.node_url(node),
            token=f"{token.full_id}={token.secret}" if token else None,
            ca=self.ca,
            timeout=timeout,
            source_address=source_address,
        )
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


def random_listen_base() -> str:
    """A loopback /24 nobody else is likely to use (the suite may run beside other emulators)."""
    return f"127.{random.randint(64, 250)}.{random.randint(0, 255)}.1"


def _config(state_dir: Path, **overrides: Any) -> EmulatorConfig:
    base = EmulatorConfig(
        state_dir=state_dir,
        tokens=(TOKEN, READ_ONLY_TOKEN),
        users=((USER, PASSWORD),),
        listen_base=random_listen_base(),
        port=0,
        ssh_port=0,
    )
    return replace(base, **overrides)


def start_in_process(state_dir: Path, **overrides: Any) -> RunningEmulator:
    last: OSError | None = None
    for _attempt in range(5):  # another process may hold the random addresses' port
        try:
            emulator = Emulator(_config(state_dir, **overrides)).start()
            break
        except OSError as error:
            last = error
    else:
        raise RuntimeError(f"could not start the emulator: {last}")
    status = emulator.status()
    return RunningEmulator(status["nodes"], status["control_url"], status["ca"], Path(status["state_dir"]), emulator)


@pytest.fixture(scope="session")
def pve_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    running = start_in_process(tmp_path_factory.mktemp("pve-emulator"))
    yield running
    running.close_clients()
    assert running.emulator is not None
    running.emulator.stop()


@pytest.fixture
def pve(pve_emulator: RunningEmulator) -> Iterator[RunningEmulator]:
    """The session emulator, emptied first: no files, logs, faults, clock offset."""
    assert pve_emulator.emulator is not None
    pve_emulator.emulator.reset()
    yield pve_emulator
    pve_emulator.close_clients()


@pytest.fixture
def make_pve_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningEmulator]]:
    started: list[RunningEmulator] = []

    def make(**overrides: Any) -> RunningEmulator:
        running = start_in_process(tmp_path_factory.mktemp("pve-emulator"), **overrides)
        started.append(running)
        return running

    yield make
    for running in started:
        running.close_clients()
        assert running.emulator is not None
        running.emulator.stop()


def start_process(state_dir: Path, *extra: str, timeout: float = 30.0) -> tuple[subprocess.Popen[str], RunningEmulator]:
    """Start ``pve_emulator.py`` and wait for its ``ready {json}`` line."""
    command = [
        sys.executable,
        str(EMULATOR_SCRIPT),
        "--state-dir",
        str(state_dir),
        "--listen-base",
        random_listen_base(),
        "--port",
        "0",
        "--ssh-port",
        "0",
        "--token",
        f"{TOKEN.full_id}={TOKEN.secret}",
        "--read-only-token",
        f"{READ_ONLY_TOKEN.full_id}={READ_ONLY_TOKEN.secret}",
        "--user",
        USER,
        "--password",
        PASSWORD,
        *extra,
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("ready "):
            info = json.loads(line[len("ready ") :])
            return process, RunningEmulator(info["nodes"], info["control_url"], info["ca"], Path(info["state_dir"]))
    process.wait(timeout=timeout)
    raise RuntimeError(f"the emulator exited with {process.returncode}: {process.stderr.read() if process.stderr else ''}")


def stop_process(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@pytest.fixture(scope="module")
def pve_emulator_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    process, running = start_process(tmp_path_factory.mktemp("pve-emulator-process"), "--tls")
    yield running
    running.close_clients()
    stop_process(process)
