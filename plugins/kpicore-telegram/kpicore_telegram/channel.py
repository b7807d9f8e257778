"""The Telegram channel: a digest as HTML messages (``sendMessage``), then its charts as photos
(``sendMediaGroup``, or ``sendPhoto`` for one), to ``telegram:CHAT_ID`` or ``telegram:@channelname``.

Telegram has no way to look a sent message up, so every part follows the ``sending`` rule
(kpicore.channels.parts): recorded just before its request and after its answer. A later attempt
sends only the parts never started; a part whose request got no answer is reported, never resent.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from kpicore.channels import Channel, Delivery
from kpicore.channels.parts import current_parts, send_parts, unknown_note
from kpicore.delivery import Message
from kpicore.errors import ConfigError, DeliveryError
from kpicore_telegram import render
from kpicore_telegram.api import (
    DEFAULT_API_BASE,
    TOKEN_ENV,
    BotApi,
    TelegramError,
    check_api_base,
)

log = logging.getLogger("kpicore.telegram")

MODES = ("polling", "webhook")
CHART_MODES = ("photos", "off")
#: Telegram's album limit: 2 to 10 photos per sendMediaGroup.
MAX_ALBUM = 10
_CHAT_ID = re.compile(r"^-?\d{1,20}$")
_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")


def chat_id(target: str) -> int | str:
    """The ``chat_id`` of a target: an integer id, or the ``@channelname`` itself."""
    return int(target) if _CHAT_ID.match(target) else target


def check_chat(target: str) -> None:
    """ConfigError unless ``target`` is a chat id (``-1001234567890``) or a public ``@channelname``."""
    if not (_CHAT_ID.match(target) or _USERNAME.match(target)):
        raise ConfigError(
            f"destination 'telegram:{target}': name a chat id (telegram:-1001234567890) or a public "
            "channel (telegram:@channelname)"
        )


def check_telegram_settings(settings: dict[str, Any], where: str) -> None:
    """ConfigError for an api_base that is neither https nor loopback, an unknown mode or charts value."""
    section = f"{where}: [channels.telegram]"
    if "api_base" in settings:
        check_api_base(settings["api_base"], section)
    for key, allowed in (("mode", MODES), ("charts", CHART_MODES)):
        if key in settings and settings[key] not in allowed:
            raise ConfigError(f"{section}: {key} = {settings[key]!r}: use one of {', '.join(allowed)}")
    for key in ("timeout", "max_retries", "retry_backoff", "poll_timeout"):
        value = settings.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise ConfigError(f"{section}: {key} = {value!r}: use a number of at least 0")


class TelegramChannel(Channel):
    """Sends a digest to a Telegram chat as HTML messages within 4,096 characters, then its charts."""

    scheme = "telegram"
    description = "Telegram chat by id or @channelname (TELEGRAM_BOT_TOKEN); HTML messages, charts as photos"
    formats = ("text", "html")
    setting_keys = ("api_base", "mode", "charts", "timeout", "max_retries", "retry_backoff", "poll_timeout")

    def check_settings(self, settings: dict[str, Any], where: str) -> None:
        super().check_settings(settings, where)
        check_telegram_settings(settings, where)

    def check_target(self, target: str) -> None:
        check_chat(target)

    def preflight(self, target: str, settings: dict[str, Any]) -> list[str]:
        """A missing token; the token's value is never shown."""
        import os

        problems = []
        if not os.environ.get(TOKEN_ENV):
            problems.append(f"{TOKEN_ENV} is not set: the send will fail until it holds the bot's token")
        return problems

    def takes_follows(self, config) -> bool:
        """``/kpi follow`` is answered here whenever /kpi is (the bot token is set); the personal
        message goes to the follower's private chat, ``telegram:USER_ID``."""
        import os

        return bool(os.environ.get(TOKEN_ENV))

    def chat_endpoints(self, config) -> Any:
        """``/kpi`` on Telegram: the poller (``mode = "polling"``) or ``POST /telegram/webhook``."""
        import os

        from kpicore.chat.service import ChatEndpoints
        from kpicore.delivery.store import ledger_engine
        from kpicore_telegram.chat import Poller, TelegramChat

        if not os.environ.get(TOKEN_ENV):
            return ChatEndpoints(routes=[], off_reason=f"{TOKEN_ENV} is not set")
        settings = {"api_base": DEFAULT_API_BASE, **self.settings(config)}
        chat = TelegramChat(config, BotApi.from_settings(settings), ledger_engine(config))
        endpoints = ChatEndpoints(routes=[])
        endpoints._closers.append(chat.answerer.close)
        if settings.get("mode", "polling") == "webhook":
            endpoints.routes = chat.routes()
            return endpoints
        poll_timeout = float(settings.get("poll_timeout", 25))
        polling = BotApi.from_settings({**settings, "timeout": poll_timeout + 15})
        poller = Poller(chat, polling, poll_timeout=poll_timeout).start()
        endpoints.watched.append(("telegram_polling", poller))
        endpoints._closers.append(poller.close)
        return endpoints

    def parts(self, message: Message, settings: dict[str, Any]) -> list[tuple[str, Any]]:
        """What the message becomes, in order: ``("message", html)`` then ``("photos", [(metric, caption, png)])``."""
        text = message.rendered("text")
        if message.kind in ("digest", "personal"):
            blocks = render.digest_blocks(text.body, getattr(text, "headline", ""))
        else:
            blocks = render.plain_blocks(text.body)
        parts: list[tuple[str, Any]] = [("message", body) for body in render.split_messages(blocks)]
        if message.kind == "digest" and settings.get("charts", "photos") != "off":
            charted = message.rendered("html")
            photos = [
                (metric, render.caption(charted.chart_alts.get(metric) or metric), charted.images[content_id])
                for metric, content_id in charted.charts.items()
                if content_id in charted.images
            ]
            for start in range(0, len(photos), MAX_ALBUM):
                parts.append(("photos", photos[start : start + MAX_ALBUM]))
        return parts

    def send(self, message: Message, target: str, settings: dict[str, Any]) -> Delivery:
        """Send each part not yet delivered; stop at the first failure (the rest go on the next attempt)."""
        destination = f"telegram:{target}"
        check_chat(target)
        api = BotApi.from_settings({"api_base": DEFAULT_API_BASE, **settings})
        parts = self.parts(message, settings)
        total = len(parts)

        def send_part(number: int) -> str:
            kind, content = parts[number - 1]
            try:
                return self._send_part(api, target, kind, content)
            except TelegramError as error:
                raise DeliveryError(
                    f"Telegram refused part {number} of {total} of the {message.kind} {message.name!r} for "
                    f"{destination}: {error.code} {error.description}{_advice(error)}"
                ) from None

        unknown = send_parts(
            total,
            send_part,
            lambda n: f"{destination}: part {n} of {total} of the {message.kind} {message.name!r}",
        )
        detail = f"{total} part(s) to {target}{unknown_note(unknown)}"
        return Delivery(message_ids=current_parts().entries(total), detail=detail)

    @staticmethod
    def _send_part(api: BotApi, target: str, kind: str, content: Any) -> str:
        chat = chat_id(target)
        if kind == "message":
            result = api.call(
                "sendMessage",
                {
                    "chat_id": chat,
                    "text": content,
                    "parse_mode": "HTML",
                    "link_preview_options": {"is_disabled": True},
                },
            )
            return f"{result['chat']['id']}:{result['message_id']}"
        files = {f"chart{index}": (f"{metric}.png", png) for index, (metric, _, png) in enumerate(content)}
        if len(content) == 1:
            _, text, _ = content[0]
            result = api.call(
                "sendPhoto",
                {"chat_id": chat, "photo": "attach://chart0", "caption": text, "parse_mode": "HTML"},
                files,
            )
            return f"{result['chat']['id']}:{result['message_id']}"
        media = [
            {"type": "photo", "media": f"attach://chart{index}", "caption": text, "parse_mode": "HTML"}
            for index, (_, text, _) in enumerate(content)
        ]
        results = api.call("sendMediaGroup", {"chat_id": chat, "media": media}, files)
        return f"{results[0]['chat']['id']}:" + ",".join(str(item["message_id"]) for item in results)


def _advice(error: TelegramError) -> str:
    description = error.description.lower()
    if error.code == 401:
        return f"; check {TOKEN_ENV} (BotFather's /token shows it)"
    if "chat not found" in description:
        return "; add the bot to the group, or as an administrator of the channel"
    if error.code == 403:
        return "; the bot was removed, blocked or is not allowed to post there"
    if error.code == 429:
        return f" (flood control: retry after {error.retry_after} s)"
    return ""
