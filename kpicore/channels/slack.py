"""The Slack channel: posts the Block Kit messages with slack_sdk and uploads the trend charts.

Destinations: ``slack:#channel-name`` (resolved to an id with conversations.list),
``slack:C0123ABC``, or ``slack:@U0123ABC``: a direct message to that user (opened with
conversations.open; the bot needs the ``im:write`` scope, and ``im:history`` to resume a send).
The bot token comes from ``SLACK_BOT_TOKEN`` only. The Web API base URL is ``KPI_SLACK_API_URL``, else
``[slack] api_url``, else Slack's (GovSlack needs another; tests point it at a local server); since every
call carries the token, it must be https, or http on this machine's loopback.

Charts go up in Slack's three upload steps (``kpicore.channels.slack_files``), the claim proven between
the upload and the share; ``files:write`` covers the upload and the files.delete of a second copy.

Settings (``[slack]`` in kpi.toml, all optional): ``charts`` ("thread" — the default: upload the
charts in a thread under the first message — or "off"), ``max_retries`` (per kind of failure,
default 3), ``retry_backoff`` (seconds, default 0.5; 429 answers always wait for Retry-After).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from kpicore.channels.base import Channel, Delivery, Message
from kpicore.channels.handover import ClaimLost, prove_claim
from kpicore.channels.slack_files import (
    charts_in_thread,
    delete_files,
    files_in_thread,
    remove_second_charts,
    upload_files,
)
from kpicore.errors import ConfigError, DeliveryError

TOKEN_ENV = "SLACK_BOT_TOKEN"
API_URL_ENV = "KPI_SLACK_API_URL"
DEFAULT_API_URL = "https://slack.com/api/"
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{6,}$")
#: The metadata event type of kpicore's messages; its payload names the ledger key and the part.
METADATA_EVENT = "kpicore_delivery"
#: How many pages (200 messages each) of a channel's history a resumed send looks through.
HISTORY_PAGES = 5
log = logging.getLogger("kpicore.delivery")


def api_url(settings: dict[str, Any] | None = None) -> str:
    """The Web API base URL (ending in ``/``): ``KPI_SLACK_API_URL``, else ``[slack] api_url``, else Slack's.
    ConfigError for one that is not https and not on the loopback (it would carry the bot token)."""
    from urllib.parse import urlsplit

    from_env = os.environ.get(API_URL_ENV)
    url = from_env or (settings or {}).get("api_url") or DEFAULT_API_URL
    where = API_URL_ENV if from_env else "[slack] api_url"
    parts = urlsplit(url) if isinstance(url, str) else None
    loopback = parts is not None and parts.hostname in ("127.0.0.1", "::1", "localhost")
    if (
        parts is None
        or not parts.hostname
        or not (parts.scheme == "https" or (parts.scheme == "http" and loopback))
    ):
        raise ConfigError(
            f"{where} = {url!r}: the Slack Web API URL must be https:// (or http:// on 127.0.0.1), "
            "since every call carries the bot token"
        )
    return url if url.endswith("/") else url + "/"


def make_client(settings: dict[str, Any] | None = None, *, retry_ambiguous: bool = True):
    """A WebClient from the environment, with retries on 429 (honouring Retry-After), 5xx and
    connection errors. Raises DeliveryError when the token is missing.

    With ``retry_ambiguous=False`` only 429 is retried: a post whose answer was lost (timeout,
    dropped connection, 5xx) may have arrived, so the caller looks it up before posting again.
    """
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
    base_url = api_url(settings)
    retries = int(settings.get("max_retries", 3))
    backoff = BackoffRetryIntervalCalculator(backoff_factor=float(settings.get("retry_backoff", 0.5)))
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=int(settings.get("timeout", 30)),
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=retries),
            *(
                [
                    ConnectionErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
                    ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=backoff),
                ]
                if retry_ambiguous
                else []
            ),
        ],
    )


class SlackChannel(Channel):
    """Posts a digest to a Slack channel (Block Kit, split within Slack's limits) with its charts."""

    scheme = "slack"
    description = "Slack channel by #name or id (SLACK_BOT_TOKEN); charts uploaded in a thread"
    formats = ("slack",)
    can_look_up = True
    setting_keys = ("api_url", "charts", "max_retries", "retry_backoff", "timeout")
    environment = (TOKEN_ENV,)

    def settings_section(self) -> str:
        return "[slack]"

    def settings(self, config) -> dict[str, Any]:
        """The ``[slack]`` table of kpi.toml."""
        return dict(config.slack)

    def check_settings(self, settings: dict[str, Any], where: str) -> None:
        """Known keys only, and a Web API URL that is https or on the loopback."""
        super().check_settings(settings, where)
        try:
            api_url(settings)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None

    def check_target(self, target: str) -> None:
        """A channel must be named."""
        if not target or target == "#":
            raise ConfigError(
                f"destination 'slack:{target}' names no channel: write slack:#kpis or slack:C0123ABC"
            )
        if target.startswith("@") and not _USER_ID.match(target[1:]):
            raise ConfigError(
                f"destination 'slack:{target}': a direct message names a Slack user id, e.g. slack:@U0123ABC"
            )

    def __init__(self) -> None:
        # (base URL, token fingerprint) -> {channel name: channel id}; names rarely change.
        self._channel_ids: dict[tuple[str, int], dict[str, str]] = {}

    def preflight(self, target: str, settings: dict[str, Any]) -> list[str]:
        """A missing channel name or SLACK_BOT_TOKEN (the token's value is never shown)."""
        problems = []
        if not target:
            problems.append("names no channel: use slack:#name or slack:C0123ABC")
        if not os.environ.get(TOKEN_ENV):
            problems.append(
                f"{TOKEN_ENV} is not set: the send will fail until it holds the bot token (xoxb-...)"
            )
        return problems

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """Post every message of the Slack rendering to ``target``, then upload the charts."""
        return self._deliver(message, target, settings, resume=False)

    def resume(
        self, message: Message, target: str, settings: dict[str, Any], previous: list[str]
    ) -> Delivery:
        """Finish a send interrupted by a crash: find the parts already posted (by their metadata)
        and the charts already in the first part's thread, then post only what is missing."""
        return self._deliver(message, target, settings, resume=True)

    def _deliver(self, message: Message, target: str, settings: dict[str, Any], *, resume: bool) -> Delivery:
        from slack_sdk.errors import SlackApiError, SlackClientError

        destination = f"slack:{target}"
        if not target:
            raise DeliveryError(
                f"Destination {destination!r} names no channel: use slack:#name or slack:C0123ABC"
            )
        rendered = message.rendered("slack")
        client = make_client(settings)
        send = _Send(client, make_client(settings, retry_ambiguous=False), delivery_key(message, destination))
        message_ids, parts, found = send.message_ids, len(rendered.messages), {}
        try:
            send.channel_id = self.resolve_channel(client, target)
            found = find_parts(client, send.channel_id, send.key) if resume else {}
            try:
                send.everything(message, rendered, found, settings, resume=resume)
            except ClaimLost:
                send.withdraw()
                raise
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            status = getattr(error.response, "status_code", None)
            raise DeliveryError(
                f"Slack refused the {message.kind} {message.name!r} for {destination}: "
                f"{code or 'unknown error'}{f' (HTTP {status})' if status and status != 200 else ''}"
                f"{_advice(code, target)}{_partial(message_ids, parts)}"
            ) from None
        except SlackClientError as error:
            raise DeliveryError(
                f"Could not reach Slack for {destination} ({message.kind} {message.name!r}): {type(error).__name__}"
            ) from None
        except OSError as error:
            raise DeliveryError(
                f"Could not reach Slack for {destination} ({message.kind} {message.name!r}): {error.strerror or error}"
            ) from None
        reused = sum(1 for n in found if n <= parts)
        detail = f"{parts} message(s) to {target}" + (f", {reused} found already posted" if resume else "")
        return Delivery(message_ids=message_ids, detail=detail)

    def resolve_channel(self, client, target: str) -> str:
        """A channel id for ``#name`` (conversations.list, paginated, cached), for ``@USER`` (the direct
        message, conversations.open, cached) or the id itself."""
        from slack_sdk.errors import SlackApiError

        if target.startswith("@"):
            cache = self._channel_ids.setdefault((client.base_url, hash(client.token)), {})
            if target not in cache:
                response = client.conversations_open(users=target[1:], return_im=False)
                cache[target] = response["channel"]["id"]
            return cache[target]
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


class _Send:
    """One send to one channel: what it posts, what it found already there, and what it posted itself
    (to withdraw its late copies when it turns out to have lost its claim)."""

    def __init__(self, client, poster, key: str) -> None:
        self.client, self.poster, self.key = client, poster, key
        self.channel_id = ""
        self.message_ids: list[str] = []
        self.own: list[str] = []  # the ts of the parts and the file:ID of the charts this send shared
        self.thread_ts: str | None = None

    def everything(
        self, message: Message, rendered, found: dict[int, str], settings: dict[str, Any], *, resume: bool
    ) -> None:
        """Post the parts not in ``found``, share the charts missing from the first part's thread, prove
        the claim once more, then (a resumed send) delete second copies; ids go to ``message_ids``."""
        client, channel_id, parts = self.client, self.channel_id, len(rendered.messages)
        for number, payload in enumerate(rendered.messages, start=1):
            ts = found.get(number)
            if ts is None:
                prove_claim()  # a sender paused past its lease stops here: the holder posts it
                ts = post_part(client, self.poster, channel_id, payload, self.key, number, parts, settings)
                self.own.append(ts or "")
            self.thread_ts = self.thread_ts or ts
            self.message_ids.append(f"{channel_id}:{ts}")
        charts_on = rendered.images and settings.get("charts", "thread") != "off"
        uploads = chart_uploads(message, rendered) if charts_on else []
        if uploads:
            look = resume and self.thread_ts in found.values()
            ids = send_charts(client, channel_id, uploads, self.thread_ts, look, shared=self.own)
            self.message_ids.extend(ids)
        # Still the holder after the last post? One that is not withdraws its late copies (ClaimLost), and
        # never cleans up: the copies it would keep may not be the ones the holder recorded.
        prove_claim()
        if resume:
            remove_second_copies(client, channel_id, self.key, self.message_ids)
            if uploads and self.thread_ts is not None:
                kept = [i.removeprefix("file:") for i in self.message_ids if i.startswith("file:")]
                remove_second_charts(client, channel_id, self.thread_ts, [u["title"] for u in uploads], kept)

    def withdraw(self) -> None:
        """After ClaimLost: delete this send's own posts that have an older copy (the holder's, or one it
        adopted). The holder deletes every copy but the one it recorded when it finishes; this covers a
        post that arrives after that. Never raises: the claim's loss is what the caller reports."""
        from slack_sdk.errors import SlackApiError, SlackClientError

        if not self.own:
            return
        try:
            withdraw_own_copies(self.client, self.channel_id, self.key, self.own, self.thread_ts)
        except (SlackApiError, SlackClientError, OSError) as error:
            log.warning("slack: could not withdraw the late copies of %s: %s", self.key, type(error).__name__)


def chart_uploads(message: Message, rendered) -> list[dict[str, Any]]:
    """The charts of a rendering as uploads; the title (message, metric, period) names the chart
    within the thread of the message's first part, where a resumed send looks for it."""
    return [
        {
            "content": png,
            "filename": f"{metric}.png",
            "title": f"{message.title}: {metric} ({message.period_label})",
            "alt_txt": rendered.chart_alts.get(metric) or None,
        }
        for metric, content_id in rendered.charts.items()
        if (png := rendered.images.get(content_id))
    ]


def send_charts(
    client,
    channel_id: str,
    uploads: list[dict[str, Any]],
    thread_ts: str | None,
    look: bool,
    *,
    shared: list[str] | None = None,
) -> list[str]:
    """Upload the charts missing from the thread (all of them unless ``look``) and share them there;
    ``file:ID`` of every chart in the thread. The claim is proven before the upload and again between
    the upload and the share: a sender paused past its lease meanwhile never shares its copy."""
    ids: list[str] = []
    if look and thread_ts is not None:
        present = charts_in_thread(client, channel_id, thread_ts)
        ids.extend(f"file:{present[u['title']]}" for u in uploads if u["title"] in present)
        uploads = [u for u in uploads if u["title"] not in present]
    if uploads:
        prove_claim()
        files = upload_files(
            client, uploads, channel_id=channel_id, thread_ts=thread_ts, before_share=prove_claim
        )
        ids.extend(own := [f"file:{f.get('id')}" for f in files])
        if shared is not None:
            shared.extend(own)
    return ids


def delivery_key(message: Message, destination: str) -> str:
    """The ledger key of a message to a destination, as carried in its Slack metadata."""
    key = message.key
    return f"{key.kind}|{key.name}|{key.period}|{key.segment}|{destination}"


def post_part(
    client,
    poster,
    channel_id: str,
    payload: dict[str, Any],
    key: str,
    number: int,
    parts: int,
    settings: dict[str, Any],
) -> str | None:
    """Post part ``number`` of a message once; the ts of the message in the channel.

    When the answer does not say whether the post arrived (a timeout, a dropped connection, a 5xx),
    the channel's history is searched for the part's metadata before posting again: a retry never
    duplicates a message Slack already has. ``poster`` is a client that retries 429 only.
    """
    import time

    from slack_sdk.errors import SlackApiError, SlackClientError

    attempts = int(settings.get("max_retries", 3)) + 1
    backoff = float(settings.get("retry_backoff", 0.5))
    for attempt in range(1, attempts + 1):
        try:
            response = poster.chat_postMessage(
                channel=channel_id,
                text=payload["text"],
                blocks=payload["blocks"],
                unfurl_links=False,
                unfurl_media=False,
                metadata={
                    "event_type": METADATA_EVENT,
                    "event_payload": {"key": key, "part": number, "parts": parts},
                },
            )
            return response.get("ts")
        except SlackApiError as error:
            status = getattr(error.response, "status_code", 200) or 200
            if status < 500 or attempt == attempts:
                raise
        except (SlackClientError, OSError):
            if attempt == attempts:
                raise
        time.sleep(backoff * 2 ** (attempt - 1))
        found = find_parts(client, channel_id, key)
        if number in found:
            return found[number]
    return None  # not reached: the last attempt returns or raises


def find_parts(client, channel_id: str, key: str, *, max_pages: int = HISTORY_PAGES) -> dict[int, str]:
    """Part number -> ts of the messages carrying ``key`` in the channel's recent history (the oldest
    copy of each part)."""
    return {
        number: copies[0]
        for number, copies in find_copies(client, channel_id, key, max_pages=max_pages).items()
    }


def remove_second_copies(client, channel_id: str, key: str, message_ids: list[str]) -> int:
    """Delete every copy of a part of ``key`` that is not the one recorded in ``message_ids``
    (chat.delete): a sender paused between its claim check and its post can leave a second one.
    Returns how many were deleted."""
    kept = {item.split(":", 1)[1] for item in message_ids if not item.startswith("file:")}
    removed = 0
    for copies in find_copies(client, channel_id, key).values():
        for ts in copies:
            if ts not in kept and len(copies) > 1:
                client.chat_delete(channel=channel_id, ts=ts)
                removed += 1
    if removed:
        log.warning("slack: removed %d second cop%s of %s", removed, "y" if removed == 1 else "ies", key)
    return removed


def withdraw_own_copies(client, channel_id: str, key: str, own: list[str], thread_ts: str | None) -> int:
    """Delete the posts in ``own`` (part ts, ``file:ID`` of charts) that have an older copy: a part of
    ``key`` posted before it, a chart of the same title shared before it in the thread of ``thread_ts``.
    The oldest copy is never deleted here, and the holder's recorded one is never a sender's own, so a
    copy always stays. Returns how many were deleted."""
    from slack_sdk.errors import SlackApiError

    parts = {ts for ts in own if not ts.startswith("file:")}
    files = {item.removeprefix("file:") for item in own if item.startswith("file:")}
    removed = 0
    for copies in find_copies(client, channel_id, key).values():
        for ts in copies[1:]:
            if ts in parts:
                try:
                    client.chat_delete(channel=channel_id, ts=ts)
                    removed += 1
                except SlackApiError as error:  # the holder's clean-up may have deleted it already
                    if error.response.get("error") != "message_not_found":
                        raise
    if files and thread_ts is not None:
        later = [i for ids in files_in_thread(client, channel_id, thread_ts).values() for i in ids[1:]]
        removed += delete_files(client, [i for i in later if i in files])
    if removed:
        log.warning("slack: withdrew %d late cop%s of %s", removed, "y" if removed == 1 else "ies", key)
    return removed


def find_copies(client, channel_id: str, key: str, *, max_pages: int = HISTORY_PAGES) -> dict[int, list[str]]:
    """Part number -> ts of every message carrying ``key`` in the channel's recent history, oldest first."""
    found: dict[int, list[str]] = {}
    cursor = None
    for _ in range(max_pages):
        response = client.conversations_history(
            channel=channel_id, include_all_metadata=True, limit=200, cursor=cursor
        )
        for item in response.get("messages") or []:
            metadata = item.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                found.setdefault(int(payload.get("part", 0)), []).append(item["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            break
    return {number: sorted(copies, key=float) for number, copies in found.items()}


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
    if code in ("user_not_found", "user_disabled", "cannot_dm_bot"):
        return f"; {target!r} must be the id of an active person in the workspace (U0123ABC)"
    if code == "missing_scope" and target.startswith("@"):
        return "; direct messages need the bot scopes im:write and im:history (reinstall the app)"
    if code == "ratelimited":
        return "; Slack kept rate limiting after retries, try again later"
    return ""
