"""``/kpi`` over Slack's Socket Mode: no public URL, the app opens a WebSocket to Slack.

Runs when ``SLACK_APP_TOKEN`` (xapp-...) is set, through Bolt's Socket Mode adapter (slack_sdk's
built-in client: apps.connections.open on the Web API, then the WebSocket it names).

The connection is kept by :class:`SocketModeLink`: a first attempt at start, then a watcher
thread that reconnects with backoff whenever the connection is down (Slack unreachable, the
WebSocket closed). A failure never stops the service: digests keep firing and ``/healthz`` says
``degraded`` with the reason. Slack refusing the token itself (revoked, invalid) is not retried:
one log line, and the reason stays on ``/healthz`` until the token is fixed and the service restarted.
"""

from __future__ import annotations

import logging
import os
import threading

APP_TOKEN_ENV = "SLACK_APP_TOKEN"
#: Seconds between reconnection attempts: doubled after each failure, up to the last.
BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
#: How often the watcher looks at a connection that is up.
CHECK_EVERY = 1.0
#: apps.connections.open errors that no retry can cure (the token itself is refused).
REFUSED_TOKEN = frozenset(
    {
        "invalid_auth",
        "token_revoked",
        "not_authed",
        "account_inactive",
        "not_allowed_token_type",
        "token_expired",
    }
)

log = logging.getLogger("kpicore.chat")


def _reason(error: BaseException) -> tuple[str, bool]:
    """(what went wrong, in one line without secrets; True when retrying cannot help)."""
    from slack_sdk.errors import SlackApiError

    if isinstance(error, SlackApiError):
        code = str((error.response or {}).get("error") or "error")
        if code in REFUSED_TOKEN:
            return f"Slack refused {APP_TOKEN_ENV} ({code}); set a valid app token and restart", True
        return f"apps.connections.open failed ({code})", False
    return f"cannot connect to Slack ({type(error).__name__})", False


class SocketModeLink:
    """A Socket Mode connection kept up in the background; ``problem`` is why it is down, or None."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.problem: str | None = None
        self.refused = False  # the token was refused: no more attempts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="kpi-socket-mode", daemon=True)

    def start(self) -> SocketModeLink:
        self._attempt()  # the first connection at once, so a working setup is connected on return
        self._thread.start()
        return self

    def _attempt(self) -> bool:
        """One connection attempt (a fresh URL from apps.connections.open); True when connected."""
        from kpicore.events import event

        client = self.handler.client
        try:
            client.wss_uri = None
            client.connect()
        except Exception as error:
            reason, permanent = _reason(error)
            if self.problem != reason or permanent:
                event("socket_mode_down", logging.ERROR, error=reason, retrying="no" if permanent else "yes")
            self.problem, self.refused = reason, permanent
            return False
        if self.problem is not None:
            event("socket_mode_up")
        self.problem = None
        return True

    def _watch(self) -> None:
        failures = 0
        while not self._stop.is_set() and not self.refused:
            if self.handler.client.is_connected():
                failures = 0
                self._stop.wait(CHECK_EVERY)
                continue
            if failures == 0 and self.problem is None:
                self.problem = "the Socket Mode connection closed; reconnecting"
            if self._attempt():
                failures = 0
                continue
            self._stop.wait(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1

    def close(self) -> None:
        """Stop reconnecting and disconnect."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self.handler.close()
        except Exception as error:  # a client that never connected has little to close
            log.debug("closing Socket Mode: %s", error)


def start_socket_mode(bolt_app, app_token: str | None = None) -> SocketModeLink | None:
    """Connect ``bolt_app`` over Socket Mode and keep it connected (``close()`` disconnects).

    Returns None when there is no app token (``SLACK_APP_TOKEN`` unset). A failing first attempt
    does not raise: the link retries in the background and reports its ``problem``.
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk import WebClient

    token = app_token or os.environ.get(APP_TOKEN_ENV)
    if not token:
        return None
    # apps.connections.open goes to the same Web API as everything else (KPI_SLACK_API_URL in tests).
    web_client = WebClient(token=bolt_app.client.token, base_url=bolt_app.client.base_url)
    # The link reconnects itself (slack_sdk's own reconnection would retry a refused token forever).
    handler = SocketModeHandler(
        bolt_app, app_token=token, web_client=web_client, auto_reconnect_enabled=False
    )
    return SocketModeLink(handler).start()
