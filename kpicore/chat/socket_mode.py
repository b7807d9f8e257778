"""``/kpi`` over Slack's Socket Mode: no public URL, the app opens a WebSocket to Slack.

Runs when ``SLACK_APP_TOKEN`` (xapp-...) is set, through Bolt's Socket Mode adapter (slack_sdk's
built-in client: apps.connections.open on the Web API, then the WebSocket it names).
"""

from __future__ import annotations

import os

APP_TOKEN_ENV = "SLACK_APP_TOKEN"


def start_socket_mode(bolt_app, app_token: str | None = None):
    """Connect ``bolt_app`` over Socket Mode and return the handler (``close()`` disconnects).

    Returns None when there is no app token (``SLACK_APP_TOKEN`` unset).
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk import WebClient

    token = app_token or os.environ.get(APP_TOKEN_ENV)
    if not token:
        return None
    # apps.connections.open goes to the same Web API as everything else (KPI_SLACK_API_URL in tests).
    web_client = WebClient(token=bolt_app.client.token, base_url=bolt_app.client.base_url)
    handler = SocketModeHandler(bolt_app, app_token=token, web_client=web_client)
    handler.connect()
    return handler
