"""``/kpi`` on Telegram inside `kpi serve`: long polling (one poller per state database, by lease) or
``POST /telegram/webhook``; answered by kpicore's own answerer, as on Slack.

``/kpi nps last week`` (or ``/kpi@YourBot …`` in a group with several bots) in a private chat or a
group gets the same answer, in the same language, under the same rate limit and ``[chat] allow``
(keyed ``telegram:CHAT_ID``) as on Slack, ``/kpi follow`` too (the weekly message goes to the
follower's private chat); follow-ups are inline keyboard buttons, whose presses come back as
callback queries and go through the same grammar and permission check as typed text.
Each ``update_id`` is handled once (kpicore.chat.webhooks, in the state database).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
import os
import re
import threading
from typing import Any

from kpicore.chat.answers import Answerer, Asker
from kpicore.chat.plain import reply_buttons, reply_lines
from kpicore.chat.webhooks import Refused, first_time, read_body, single_header
from kpicore.errors import DeliveryError
from kpicore.events import event
from kpicore_telegram import render
from kpicore_telegram.api import WEBHOOK_SECRET_ENV, BotApi, TelegramError

log = logging.getLogger("kpicore.telegram")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
_COMMAND = re.compile(r"^/kpi(?:@(\w+))?(?:\s+(.*))?$", re.DOTALL | re.IGNORECASE)
#: Telegram's limit on a button's callback_data.
MAX_CALLBACK_DATA = 64
POLLER_LEASE = dt.timedelta(seconds=30)


def command_text(text: str, bot_username: str | None) -> str | None:
    """The words after ``/kpi`` (``""`` for a bare ``/kpi``), None when the message is not ``/kpi`` for us."""
    match = _COMMAND.match((text or "").strip())
    if match is None:
        return None
    if match.group(1) and bot_username and match.group(1).lower() != bot_username.lower():
        return None  # /kpi@AnotherBot
    return (match.group(2) or "").strip()


def keyboard(buttons) -> dict[str, Any] | None:
    """An inline keyboard, one button a row, of the follow-ups whose command fits in callback_data."""
    rows = [
        [{"text": button.label[:64], "callback_data": button.command}]
        for button in buttons
        if len(button.command.encode()) <= MAX_CALLBACK_DATA
    ]
    return {"inline_keyboard": rows[:8]} if rows else None


class TelegramChat:
    """Turns updates into answers: one per service process, shared by the poller and the webhook."""

    def __init__(self, config, api: BotApi, engine) -> None:
        self.config, self.api, self.engine = config, api, engine
        self.answerer = Answerer(config)
        self._username: str | None = None

    def bot_username(self) -> str | None:
        if self._username is None:
            try:
                self._username = (self.api.call("getMe", {}) or {}).get("username") or ""
            except DeliveryError as error:
                log.warning("telegram: getMe failed: %s", error)
        return self._username or None

    def handle(self, update: dict[str, Any]) -> None:
        """Answer one update once (a second delivery of its update_id does nothing)."""
        update_id = update.get("update_id")
        if not isinstance(update_id, int) or not first_time(self.engine, "telegram", str(update_id)):
            return
        query = update.get("callback_query")
        if query:
            message, sender, text = query.get("message") or {}, query.get("from") or {}, query.get("data")
            try:
                self.api.call("answerCallbackQuery", {"callback_query_id": query.get("id")})
            except DeliveryError as error:
                log.warning("telegram: answerCallbackQuery failed: %s", error)
        else:
            message = update.get("message") or {}
            sender = message.get("from") or {}
            text = command_text(message.get("text") or "", self.bot_username())
        chat = message.get("chat") or {}
        if text is None or "id" not in chat:
            return
        asker = Asker(
            f"telegram:{sender.get('id', chat['id'])}",
            f"telegram:{chat['id']}",
            "",
            shared=chat.get("type", "private") != "private",  # a group sees the bot's answers
        )
        reply = self.answerer.reply(text, asker)
        self.post_reply(chat["id"], reply.message)
        if reply.later is not None:
            reply.later.add_done_callback(lambda done: self._post_later(chat["id"], done))

    def _post_later(self, chat_id: int, done) -> None:
        try:
            self.post_reply(chat_id, done.result().message)
        except Exception as error:  # a worker thread: log, never raise
            log.warning("telegram: could not post a late answer: %s", error)

    def post_reply(self, chat_id: int, message: dict[str, Any]) -> None:
        self.post(chat_id, reply_lines(message), reply_buttons(message))

    def post(self, chat_id: int, lines: list[str], buttons) -> None:
        """Send the lines (the first bold) as HTML messages, the buttons under the last one."""
        blocks = [f"<b>{render.escape(lines[0])}</b>", *(render.escape(line) for line in lines[1:])]
        messages = render.split_messages(blocks)
        markup = keyboard(buttons)
        for number, body in enumerate(messages, start=1):
            fields: dict[str, Any] = {"chat_id": chat_id, "text": body, "parse_mode": "HTML"}
            if markup and number == len(messages):
                fields["reply_markup"] = markup
            try:
                self.api.call("sendMessage", fields)
            except DeliveryError as error:
                log.warning("telegram: could not answer in chat %s: %s", chat_id, error)
                return

    # -- webhook ---------------------------------------------------------------------------------
    def routes(self) -> list:
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response
        from starlette.routing import Route

        async def webhook(request):
            try:
                secret = single_header(request, SECRET_HEADER)
                expected = os.environ.get(WEBHOOK_SECRET_ENV, "")
                if not expected or not secret or not hmac.compare_digest(secret.encode(), expected.encode()):
                    raise Refused(401, "wrong or missing secret token")
                body = await read_body(request)
                update = json.loads(body)
                if not isinstance(update, dict):
                    raise Refused(400, "not an update")
            except Refused as refused:
                log.warning("telegram: refused a webhook request: %s", refused)
                return Response(status_code=refused.status)
            except ValueError:
                return Response(status_code=400)
            await run_in_threadpool(self.handle, update)
            return Response(status_code=200)

        return [Route(WEBHOOK_PATH, endpoint=webhook, methods=["POST"])]


class Poller:
    """Long polling in a thread; only the process holding the poller lease in the state database polls.

    While getUpdates fails (the Bot API down, 409 because a webhook is set or another bot instance
    polls) ``problem`` says why, so /healthz is degraded; one ``telegram_polling_down`` line is
    logged per outage (not per attempt) and ``telegram_polling_up`` when it recovers.
    """

    def __init__(self, chat: TelegramChat, api: BotApi, *, poll_timeout: float = 25.0) -> None:
        self.chat, self.api, self.poll_timeout = chat, api, poll_timeout
        self.problem: str | None = None
        self.owner = f"{os.getpid()}:{id(self):x}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kpicore-telegram-poller", daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _down(self, text: str) -> None:
        hint = "; a webhook is set: `kpi telegram delete-webhook`" if "webhook" in text else ""
        if self.problem is None:  # one line per outage
            event("telegram_polling_down", logging.ERROR, error=text + hint, retrying="yes")
        self.problem = f"Telegram polling failed: {text}{hint}"

    def _run(self) -> None:
        from kpicore_telegram.lease import hold

        offset, pause = 0, 1.0
        while not self._stop.is_set():
            if not hold(self.chat.engine, "telegram-poller", self.owner, POLLER_LEASE):
                self._stop.wait(POLLER_LEASE.total_seconds() / 3)
                continue
            try:
                updates = self.api.call(
                    "getUpdates",
                    {
                        "offset": offset,
                        "timeout": int(self.poll_timeout),
                        "allowed_updates": ["message", "callback_query"],
                    },
                )
            except (TelegramError, DeliveryError) as error:
                self._down(str(error))
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
                continue
            pause = 1.0
            if self.problem is not None:
                self.problem = None
                event("telegram_polling_up")
            for update in updates or []:
                offset = max(offset, int(update.get("update_id", 0)) + 1)
                try:
                    self.chat.handle(update)
                except Exception:
                    log.exception("telegram: an update could not be handled")
