"""Fixtures of the Telegram plugin's tests: the loopback Bot API, the demo database, `kpi` as a real process.

This file's folder goes on sys.path (pytest's "prepend" import mode), so `kpicore_telegram` imports
before the plugin is installed; ``tests/`` goes there too, for the loopback server module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from telegram_server import TelegramServer

from tests.conftest import demo_database, servers  # noqa: F401  (the root suite's fixtures)


@pytest.fixture
def telegram():
    """The loopback Bot API (``telegram.fake`` holds its chats, messages and switches)."""
    with TelegramServer() as server:
        yield server
