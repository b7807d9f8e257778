"""Microsoft Teams for kpicore: digests to ``teams:NAME`` as Adaptive Cards through Workflows webhooks.

Registered through kpicore's hooks like the built-in channels: the channel (``register_channels``)
and its ``[channels.teams]`` keys (``register_settings``).
"""

from __future__ import annotations

from kpicore import hookimpl
from kpicore_teams.channel import TeamsChannel

__version__ = "0.1.0"

SETTINGS = {
    "webhooks": 'a table of NAME = "${TEAMS_WEBHOOK_NAME}": the Workflows webhook URL of each teams:NAME',
    "outgoing": 'a table of NAME = "${TEAMS_OUTGOING_NAME}": the base64 key of each outgoing webhook',
    "timeout": "seconds per request (default 30)",
    "max_retries": "retries of a 429, 5xx or failed connection (default 3)",
    "retry_backoff": "seconds before the first retry of a 5xx, doubling (default 0.5)",
}


@hookimpl
def register_channels(register):
    register(TeamsChannel())


@hookimpl
def register_settings(register):
    register("channels.teams", SETTINGS)


__all__ = ["TeamsChannel"]
