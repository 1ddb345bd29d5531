"""Shortcuts for the emulator tests: a token client and the control client of a fresh emulator."""

from __future__ import annotations

import pytest

from ansible_collections.pve.firewall.tests.emulator.client import ApiClient, ControlClient
from ansible_collections.pve.firewall.tests.emulator.fixtures import RunningEmulator


@pytest.fixture
def api(pve: RunningEmulator) -> ApiClient:
    return pve.api()


@pytest.fixture
def control(pve: RunningEmulator) -> ControlClient:
    return pve.control
