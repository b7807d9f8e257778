"""Fixtures of the Telegram plugin's tests: the loopback Bot API, the demo database, `kpi` as a real process.

This file's folder goes on sys.path (pytest's "prepend" import mode), so `kpicore_telegram` imports
before the plugin is installed; ``tests/`` goes there too, for the loopback server module.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from telegram_server import TelegramServer

DEMO_TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def telegram():
    """The loopback Bot API (``telegram.fake`` holds its chats, messages and switches)."""
    with TelegramServer() as server:
        yield server


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory):
    from kpicore.demo_data import generate_demo_database

    path = tmp_path_factory.mktemp("telegram-demo") / "kpi-demo.db"
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
