"""Fixtures of the Teams plugin's tests: the loopback Workflows webhook and the demo database.

This file's folder goes on sys.path (pytest's "prepend" import mode), so `kpicore_teams` imports
before the plugin is installed; ``tests/`` goes there too, for the loopback server module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from teams_server import WorkflowsServer

from tests.conftest import demo_database, servers  # noqa: F401  (the root suite's fixtures)


@pytest.fixture
def workflows():
    """The loopback Workflows service (``workflows.fake``: flows, channel posts, failed runs)."""
    with WorkflowsServer() as server:
        yield server
