"""Telegram for kpicore: digests to ``telegram:CHAT_ID`` / ``telegram:@channelname`` through the Bot API.

Registered through kpicore's hooks like the built-in channels: the channel (``register_channels``)
and its ``[channels.telegram]`` keys (``register_settings``).
"""

from __future__ import annotations

from kpicore import hookimpl
from kpicore_telegram.channel import TelegramChannel

__version__ = "0.1.0"

SETTINGS = {
    "api_base": "Bot API base URL (default https://api.telegram.org; https, or http on 127.0.0.1)",
    "mode": "how /kpi arrives: polling (default) or webhook",
    "charts": "photos (default: the trend charts after the messages) or off",
    "timeout": "seconds per Bot API request (default 30)",
    "max_retries": "retries of a 429, 5xx or failed connection (default 3)",
    "retry_backoff": "seconds before the first retry of a 5xx, doubling (default 0.5)",
    "poll_timeout": "seconds one getUpdates long poll waits (default 25)",
}


@hookimpl
def register_channels(register):
    register(TelegramChannel())


@hookimpl
def register_settings(register):
    register("channels.telegram", SETTINGS)


@hookimpl
def register_commands(cli):
    from kpicore_telegram.commands import telegram

    cli.add_command(telegram)


__all__ = ["TelegramChannel"]
