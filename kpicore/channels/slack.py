"""The Slack channel: posts the Block Kit messages with slack_sdk and uploads the trend charts.

Destinations: ``slack:#channel-name`` (resolved to an id with conversations.list) or
``slack:C0123ABC``. The bot token comes from ``SLACK_BOT_TOKEN`` only; ``KPI_SLACK_API_URL``
overrides the Web API base URL (tests point it at a local server).

Settings (``[slack]`` in kpi.toml, all optional): ``charts`` ("thread" — the default: upload the
charts in a thread under the first message — or "off"), ``max_retries`` (per kind of failure,
default 3), ``retry_backoff`` (seconds, default 0.5; 429 answers always wait for Retry-After).
"""

from __future__ import annotations

import os
import re
from typing import Any

from kpicore.channels.base import Channel, Delivery, Message
from kpicore.errors import ConfigError, DeliveryError

TOKEN_ENV = "SLACK_BOT_TOKEN"
API_URL_ENV = "KPI_SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


def make_client(settings: dict[str, Any] | None = None):
    """A WebClient from the environment, with retries on 429 (honouring Retry-After), 5xx and
    connection errors. Raises DeliveryError when the token is missing."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    settings = settings or {}
    token = os.environ.get(TOKEN_ENV)
    if not token:
        raise DeliveryError(f"Slack needs a bot token: set the environment variable {TOKEN_ENV} (xoxb-...)")
    base_url = os.environ.get(API_URL_ENV) or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    retries = int(settings.get("max_retries", 3))
    backoff = BackoffRetryIntervalCalculator(backoff_factor=float(settings.get("retry_backoff", 0.5)))
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=int(settings.get("timeout", 30)),
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
            RateLimitErrorRetryHandler(max_retry_count=retries),
            ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
        ],
    )


class SlackChannel(Channel):
    """Posts a digest to a Slack channel (Block Kit, split within Slack's limits) with its charts."""

    scheme = "slack"
    description = "Slack channel by #name or id (SLACK_BOT_TOKEN); charts uploaded in a thread"
    formats = ("slack",)
    setting_keys = ("charts", "max_retries", "retry_backoff", "timeout")

    def settings_section(self) -> str:
        return "[slack]"

    def settings(self, config) -> dict[str, Any]:
        """The ``[slack]`` table of kpi.toml."""
        return dict(config.slack)

    def check_target(self, target: str) -> None:
        """A channel must be named."""
        if not target or target == "#":
            raise ConfigError(f"destination 'slack:{target}' names no channel: write slack:#kpis or slack:C0123ABC")

    def __init__(self) -> None:
        # (base URL, token fingerprint) -> {channel name: channel id}; names rarely change.
        self._channel_ids: dict[tuple[str, int], dict[str, str]] = {}

    def preflight(self, target: str, settings: dict[str, Any]) -> list[str]:
        """A missing channel name or SLACK_BOT_TOKEN (the token's value is never shown)."""
        problems = []
        if not target:
            problems.append("names no channel: use slack:#name or slack:C0123ABC")
        if not os.environ.get(TOKEN_ENV):
            problems.append(f"{TOKEN_ENV} is not set: the send will fail until it holds the bot token (xoxb-...)")
        return problems

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """Post every message of the Slack rendering to ``target``, then upload the charts."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        destination = f"slack:{target}"
        if not target:
            raise DeliveryError(
                f"Destination {destination!r} names no channel: use slack:#name or slack:C0123ABC"
            )
        rendered = message.rendered("slack")
        client = make_client(settings)
        message_ids: list[str] = []
        try:
            channel_id = self.resolve_channel(client, target)
            first_ts = None
            for payload in rendered.messages:
                response = client.chat_postMessage(
                    channel=channel_id,
                    text=payload["text"],
                    blocks=payload["blocks"],
                    unfurl_links=False,
                    unfurl_media=False,
                )
                ts = response.get("ts")
                first_ts = first_ts or ts
                message_ids.append(f"{response.get('channel', channel_id)}:{ts}")
            if rendered.images and settings.get("charts", "thread") != "off":
                uploads = [
                    {
                        "file": png,
                        "filename": f"{metric}.png",
                        "title": f"{message.title}: {metric} ({message.period_label})",
                        "alt_txt": rendered.chart_alts.get(metric) or None,
                    }
                    for metric, content_id in rendered.charts.items()
                    if (png := rendered.images.get(content_id))
                ]
                if uploads:
                    response = client.files_upload_v2(
                        channel=channel_id,
                        file_uploads=uploads,
                        thread_ts=first_ts,
                        request_file_info=False,
                    )
                    message_ids.extend(f"file:{f.get('id')}" for f in response.get("files") or [])
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            status = getattr(error.response, "status_code", None)
            raise DeliveryError(
                f"Slack refused the digest {message.name!r} for {destination}: "
                f"{code or 'unknown error'}{f' (HTTP {status})' if status and status != 200 else ''}"
                f"{_advice(code, target)}{_partial(message_ids, len(rendered.messages))}"
            ) from None
        except SlackClientError as error:
            raise DeliveryError(
                f"Could not reach Slack for {destination} (digest {message.name!r}): {type(error).__name__}"
            ) from None
        except OSError as error:
            raise DeliveryError(
                f"Could not reach Slack for {destination} (digest {message.name!r}): {error.strerror or error}"
            ) from None
        return Delivery(message_ids=message_ids, detail=f"{len(rendered.messages)} message(s) to {target}")

    def resolve_channel(self, client, target: str) -> str:
        """A channel id for ``#name`` (conversations.list, paginated, cached) or the id itself."""
        from slack_sdk.errors import SlackApiError

        name = target.removeprefix("#")
        if not target.startswith("#") and _CHANNEL_ID.match(target):
            return target
        key = (client.base_url, hash(client.token))
        cache = self._channel_ids.setdefault(key, {})
        if name in cache:
            return cache[name]
        cursor = None
        while True:
            response = client.conversations_list(
                types="public_channel,private_channel", exclude_archived=True, limit=200, cursor=cursor
            )
            for channel in response.get("channels") or []:
                cache[channel["name"]] = channel["id"]
            if name in cache:
                return cache[name]
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        # Same shape as Slack's own error, so the caller reports it the same way.
        raise SlackApiError("channel not found", {"ok": False, "error": "channel_not_found"})


def _partial(message_ids: list[str], total: int) -> str:
    """Say which parts of a split digest were posted before a failure: a resend repeats them."""
    posted = [i for i in message_ids if not i.startswith("file:")]
    if not posted:
        return ""
    return f"; {len(posted)} of {total} messages were posted before the failure ({', '.join(posted)})"


def _advice(code: str | None, target: str) -> str:
    if code == "channel_not_found":
        return f"; check the channel {target!r} exists and the bot is a member (/invite @bot)"
    if code in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
        return f"; check {TOKEN_ENV} holds a valid bot token"
    if code == "not_in_channel":
        return "; invite the bot to the channel (/invite @bot)"
    if code == "ratelimited":
        return "; Slack kept rate limiting after retries, try again later"
    return ""
