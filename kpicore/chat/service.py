"""``/kpi`` inside ``kpi serve``: the Bolt app's HTTP routes on the service's port, and Socket Mode
beside them when ``SLACK_APP_TOKEN`` is set."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from kpicore.state import state_url

log = logging.getLogger("kpicore.chat")


@dataclass
class ChatEndpoints:
    """What the service mounts (``routes``) and what it must close on shutdown."""

    routes: list[Any]
    socket_mode: Any = None
    #: Why /kpi is off (no bot token), or None when it is served.
    off_reason: str | None = None
    #: (kind, a link kept up in the background whose ``problem`` says why it is down, else None):
    #: a channel plugin's poller, reported on /healthz like Socket Mode.
    watched: list[tuple[str, Any]] = field(default_factory=list)
    _closers: list[Any] = field(default_factory=list)

    def problems(self) -> list[dict[str, str]]:
        """What /healthz reports about /kpi: Socket Mode or a watched link while it is down."""
        links = [("socket_mode", self.socket_mode), *self.watched]
        return [
            {"kind": kind, "message": problem}
            for kind, link in links
            if (problem := getattr(link, "problem", None))
        ]

    def close(self) -> None:
        """Disconnect Socket Mode and stop the answerer's worker threads; safe to call twice."""
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception as error:
                log.warning("closing /kpi: %s", error)


def chat_endpoints(config) -> ChatEndpoints:
    """The Bolt app for ``config`` at ``POST /slack/events``, and over Socket Mode with an app token.

    Requests are verified with ``SLACK_SIGNING_SECRET`` (without it every HTTP request is refused).
    Without ``SLACK_BOT_TOKEN`` /kpi is off and the service runs its schedules alone.
    """
    import os

    from kpicore.channels.slack import TOKEN_ENV

    if not os.environ.get(TOKEN_ENV):
        return ChatEndpoints(routes=[], off_reason=f"{TOKEN_ENV} is not set")
    from kpicore.chat.app import build_app
    from kpicore.chat.http import slack_routes
    from kpicore.chat.replays import DatabaseReplayGuard
    from kpicore.chat.socket_mode import start_socket_mode

    bolt_app = build_app(config)
    guard = DatabaseReplayGuard(lambda: _state_engine(config))
    endpoints = ChatEndpoints(routes=slack_routes(bolt_app, guard=guard))
    endpoints._closers.append(bolt_app.kpi_answerer.close)
    endpoints.socket_mode = start_socket_mode(bolt_app)
    if endpoints.socket_mode is not None:
        endpoints._closers.append(endpoints.socket_mode.close)
    return endpoints


def _state_engine(config):
    """The state database (where verified signatures are claimed), opened on first use."""
    from kpicore.state import open_state

    return open_state(state_url(config))
