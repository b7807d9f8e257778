"""The slack_bolt App behind ``/kpi``: the slash command and the answer buttons.

Bolt verifies every HTTP request's signature (``SLACK_SIGNING_SECRET``, v0 HMAC, 5-minute window)
before a listener runs; the WebClient uses ``SLACK_BOT_TOKEN`` and, in tests, ``KPI_SLACK_API_URL``.
The listener acknowledges with the answer itself when it is ready within the budget (the HTTP
response, or the Socket Mode acknowledgement), else with "computing …"; Bolt keeps running the
listener after ``ack`` (``process_before_response`` is off), which then posts the answer through
``response_url`` in place of "computing …" (``replace_original``). Shared answers go to the channel
with chat.postMessage, charts with the external upload (``kpicore.channels.slack_files``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from kpicore.channels.slack_files import upload_files
from kpicore.chat.allow import Asker
from kpicore.chat.answers import Answerer
from kpicore.chat.blocks import ACTION_BREAKDOWN, ACTION_PREVIOUS, ACTION_SHARE, Reply, ephemeral

if TYPE_CHECKING:
    from kpicore.config import Config

SIGNING_SECRET_ENV = "SLACK_SIGNING_SECRET"
COMMAND = "/kpi"
log = logging.getLogger("kpicore.chat")

_NOT_IN_CHANNEL = ("not_in_channel", "channel_not_found", "is_archived")


class _UnusedTokenNotice(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN is unused when it is given a client: the client carries that
    token (and the Web API address), so the warning is noise in the service's log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def build_app(config: Config, answerer: Answerer | None = None, *, client=None):
    """A slack_bolt App answering ``/kpi`` and its buttons for ``config``.

    ``answerer`` defaults to a new :class:`Answerer`; ``client`` to the WebClient from the
    environment. Without ``SLACK_SIGNING_SECRET`` every HTTP request is refused (Socket Mode, which
    has no signatures, still works).
    """
    from slack_bolt import App

    from kpicore.channels.slack import make_client

    answerer = answerer or Answerer(config)
    bolt_logger = logging.getLogger("kpicore.chat.bolt")
    if not any(isinstance(f, _UnusedTokenNotice) for f in bolt_logger.filters):
        bolt_logger.addFilter(_UnusedTokenNotice())
    app = App(
        client=client or make_client({"api_url": config.slack.get("api_url")}),
        signing_secret=os.environ.get(SIGNING_SECRET_ENV) or "",
        token_verification_enabled=False,
        process_before_response=False,
        logger=bolt_logger,
    )
    app.kpi_answerer = answerer  # type: ignore[attr-defined]  # what the service closes on shutdown

    @app.command(COMMAND)
    def slash_command(ack, command, respond, client):
        asker = Asker(
            command.get("user_id", ""), command.get("channel_id", ""), command.get("channel_name", "")
        )
        reply = answerer.reply(command.get("text") or "", asker)
        ack(**_ack_arguments(reply.message))
        deliver(reply, asker, respond, client)

    def on_action(ack, body, action, respond, client):
        ack()
        channel = body.get("channel") or {}
        asker = Asker((body.get("user") or {}).get("id", ""), channel.get("id", ""), channel.get("name", ""))
        text = action.get("value") or (action.get("selected_option") or {}).get("value") or ""
        # The button's command is read and permission-checked again, exactly like typed text.
        reply = answerer.reply(text, asker)
        respond(**_respond_arguments(reply.message))
        deliver(reply, asker, respond, client)

    for action_id in (ACTION_PREVIOUS, ACTION_BREAKDOWN, ACTION_SHARE):
        app.action(action_id)(on_action)
    return app


def deliver(reply: Reply, asker: Asker, respond, client) -> None:
    """After the acknowledgement: post a shared answer, upload charts, and post a late answer."""
    if reply.later is not None:
        # The late answer takes the place of the "computing …" acknowledgement (Slack lets a
        # command's response_url replace the message that command produced, 5 times in 30 minutes).
        reply = reply.later.result()
        respond(**_respond_arguments(reply.message, replace=True))
    if reply.share is not None:
        error = _post(client, asker.channel_id, reply.share)
        if error:
            respond(**_respond_arguments(ephemeral(error)))
            return
    charts = reply.charts() if reply.charts is not None else []
    if charts:
        _upload(client, asker.channel_id, charts, respond)


def _post(client, channel_id: str, message: dict[str, Any]) -> str | None:
    from slack_sdk.errors import SlackApiError

    try:
        client.chat_postMessage(channel=channel_id, text=message["text"], blocks=message["blocks"])
    except SlackApiError as error:
        code = error.response.get("error")
        if code in _NOT_IN_CHANNEL:
            return (
                "I can't post in this channel: I'm not a member. Invite me with `/invite @kpicore`, "
                "then ask again with `share`."
            )
        log.warning("/kpi share failed: %s", code)
        return f"Slack refused to post the answer ({code}); please try again."
    return None


def _upload(client, channel_id: str, charts, respond) -> None:
    from slack_sdk.errors import SlackApiError

    try:
        upload_files(
            client,
            [{"content": png, "filename": filename, "title": title} for filename, title, png in charts],
            channel_id=channel_id,
        )
    except SlackApiError as error:
        code = error.response.get("error")
        log.warning("/kpi chart upload failed: %s", code)
        if code in _NOT_IN_CHANNEL:
            respond(
                **_respond_arguments(
                    ephemeral(
                        "I can't attach the chart here: I'm not a member of this channel. Invite me with `/invite @kpicore`."
                    )
                )
            )


def _ack_arguments(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "text": message.get("text", ""),
        "blocks": message.get("blocks"),
        "response_type": message.get("response_type", "ephemeral"),
    }


def _respond_arguments(message: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
    return {
        "text": message.get("text", ""),
        "blocks": message.get("blocks"),
        "response_type": message.get("response_type", "ephemeral"),
        "replace_original": replace,
    }
