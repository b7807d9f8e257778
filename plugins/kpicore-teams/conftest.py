"""Fixtures of the Teams plugin's tests: the loopback Workflows webhook and the demo database.

This file's folder goes on sys.path (pytest's "prepend" import mode), so `kpicore_teams` imports
before the plugin is installed; ``tests/`` goes there too, for the loopback server module.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from teams_server import WorkflowsServer

DEMO_TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def workflows():
    """The loopback Workflows service (``workflows.fake``: flows, channel posts, failed runs)."""
    with WorkflowsServer() as server:
        yield server


@pytest.fixture(scope="session")
def teams_demo_db(tmp_path_factory):
    from kpicore.demo_data import generate_demo_database

    path = tmp_path_factory.mktemp("teams-demo") / "kpi-demo.db"
    generate_demo_database(path, today=DEMO_TODAY)
    return path


@pytest.fixture
def servers():
    """Every `kpi serve` process (tests.test_serve.Serve) a test started, killed at its end if still running."""
    started: list = []
    yield started
    for serve in started:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait(timeout=10)
        serve.handle.close()
