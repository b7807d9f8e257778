"""The Slack app manifest for ``/kpi``: one paste at api.slack.com/apps ("From an app manifest")."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from kpicore.chat.http import EVENTS_PATH
from kpicore.errors import ConfigError

#: Bot scopes: the slash command, posting answers and digests, charts, finding channels by name,
#: reading a channel's history (how a digest send that crashed is found again), and the direct
#: messages of personal digests (/kpi follow: opening them, and their history for the same reason).
BOT_SCOPES = (
    "commands",
    "chat:write",
    "files:write",
    "channels:read",
    "groups:read",
    "channels:history",
    "im:write",
    "im:history",
)
USAGE_HINT = (
    "nps last week [by region] [vs last year] [chart] [share] | list | help | digest NAME"
    " | follow nps [by region] | unfollow nps | following"
)


def request_url(url: str) -> str:
    """``url`` (where ``kpi serve`` is reachable) as the full events URL ending in /slack/events."""
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise ConfigError(
            f"--url {url!r}: give the public https:// address of kpi serve, e.g. https://kpi.example.com"
        )
    if parsed.path.rstrip("/").endswith(EVENTS_PATH):
        return url
    return url.rstrip("/") + EVENTS_PATH


def manifest(*, url: str | None = None, socket_mode: bool = False, name: str = "kpicore") -> dict[str, Any]:
    """The manifest for a request URL (HTTP) or for Socket Mode (no public URL)."""
    if socket_mode == (url is not None):
        raise ConfigError("give either --url https://... (where kpi serve is reachable) or --socket-mode")
    command: dict[str, Any] = {
        "command": "/kpi",
        "description": "Ask kpicore for a KPI",
        "usage_hint": USAGE_HINT,
        "should_escape": False,
    }
    settings: dict[str, Any] = {
        "interactivity": {"is_enabled": True},
        "org_deploy_enabled": False,
        "socket_mode_enabled": socket_mode,
        "token_rotation_enabled": False,
    }
    if url is not None:
        events = request_url(url)
        command["url"] = events
        settings["interactivity"]["request_url"] = events
    return {
        "display_information": {
            "name": name,
            "description": "KPIs where your data lives, on demand: /kpi nps last week",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": settings,
    }
