"""A local HTTP server that speaks the Telegram Bot API as documented (core.telegram.org/bots/api), for the
methods kpicore uses: sendMessage, sendPhoto, sendMediaGroup, getUpdates, setWebhook, deleteWebhook,
getWebhookInfo, answerCallbackQuery, getMe.

As Telegram does: ``/bot<token>/METHOD`` with JSON or multipart bodies; 401 for a wrong token, 404 for
an unknown method; ``parse_mode=HTML`` is parsed (only Telegram's tags, every ``&`` an entity) and the
text is measured after parsing, in UTF-16 units (4,096 a message, 1,024 a caption); albums hold 2-10
photos; 429 answers carry ``parameters.retry_after``; a second getUpdates ends the first with 409, and
getUpdates while a webhook is set is 409 too; setWebhook takes https on ports 443, 80, 88 or 8443.

For the tests: ``rate_limit_next`` / ``fail_next`` answer 429 / 500 to the next sends, ``drop_next``
closes the connection after storing the message (its answer lost), ``on_store`` runs when a message is
stored (to kill the sender there), ``push`` queues an update for getUpdates.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import itertools
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlparse

from kpicore.testing import LoopbackServer

TOKEN = "123456789:AAF-test-token-do-not-leak-0123456789"
MAX_TEXT, MAX_CAPTION = 4096, 1024
WEBHOOK_PORTS = (443, 80, 88, 8443)
_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "tg-spoiler",
    "span",
    "blockquote",
    "tg-emoji",
}
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None):
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


def parse_html(text: str) -> str:
    """The visible text of Telegram HTML; ApiError(400, "can't parse entities…") as Telegram says it."""
    out, stack, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "<":
            end = text.find(">", index)
            if end < 0:
                raise ApiError(
                    400, f"Bad Request: can't parse entities: Unclosed start tag at byte offset {index}"
                )
            tag = text[index + 1 : end].strip()
            closing = tag.startswith("/")
            name = tag.lstrip("/").split()[0].lower() if tag.lstrip("/") else ""
            if name not in _TAGS:
                raise ApiError(
                    400,
                    f'Bad Request: can\'t parse entities: Unsupported start tag "{name}" at byte offset {index}',
                )
            if closing:
                if not stack or stack.pop() != name:
                    raise ApiError(
                        400,
                        f'Bad Request: can\'t parse entities: Unmatched end tag at byte offset {index}, expected "</{stack[-1] if stack else ""}>", found "</{name}>"',
                    )
            else:
                stack.append(name)
            index = end + 1
        elif char == "&":
            match = _ENTITY.match(text, index)
            if not match:
                raise ApiError(
                    400,
                    f"Bad Request: can't parse entities: Can't find end of the entity starting at byte offset {index}",
                )
            out.append(html.unescape(match.group(0)))
            index = match.end()
        else:
            out.append(char)
            index += 1
    if stack:
        raise ApiError(
            400,
            f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\"",
        )
    return "".join(out)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Recorded:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


class FakeTelegram:
    """State and behaviour of one bot on the fake Bot API."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.bot = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "KPI",
            "username": "kpicore_test_bot",
        }
        #: chat id -> chat object; usernames resolve public channels
        self.chats: dict[int, dict[str, Any]] = {
            -1001000000001: {"id": -1001000000001, "type": "supergroup", "title": "Sales"},
            -1001000000002: {
                "id": -1001000000002,
                "type": "channel",
                "title": "KPIs",
                "username": "kpi_news",
            },
            42: {"id": 42, "type": "private", "first_name": "Alice"},
        }
        self.messages: list[dict[str, Any]] = []  # every message stored, in order
        self.photos: dict[str, bytes] = {}  # file_id -> the uploaded image
        self.requests: list[Recorded] = []
        self.updates: list[dict[str, Any]] = []
        self.update_ids = itertools.count(1000)
        self.message_ids = itertools.count(1)
        self.callback_queries: dict[str, bool] = {}  # id -> answered
        self.webhook: dict[str, Any] | None = None
        self.rate_limit_next, self.retry_after = 0, 1
        self.fail_next = 0
        self.drop_next = 0
        self.down = False  # every method answers 502 (the Bot API unreachable behind its proxy)
        self.on_store: Callable[[dict[str, Any]], None] | None = None
        self.lock = threading.Condition()
        self._poll_generation = 0

    # --- for tests -------------------------------------------------------------------------------
    def in_chat(self, chat: int) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["chat"]["id"] == chat]

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def push(self, update: dict[str, Any]) -> int:
        """Queue an update (``message`` or ``callback_query``) for getUpdates; returns its update_id."""
        with self.lock:
            update = {"update_id": next(self.update_ids), **update}
            if "callback_query" in update:
                self.callback_queries[update["callback_query"]["id"]] = False
            self.updates.append(update)
            self.lock.notify_all()
            return update["update_id"]

    # --- the API -------------------------------------------------------------------------------
    def handle(self, token: str, method: str, params: dict[str, Any], files: dict[str, bytes]):
        record = Recorded(method, params, files)
        self.requests.append(record)
        try:
            if self.down:
                raise ApiError(502, "Bad Gateway")
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            handler = getattr(self, f"api_{method}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(params, files)
            record.response = {"ok": True, "result": result}
        except ApiError as error:
            record.status = error.code
            record.response = {"ok": False, "error_code": error.code, "description": error.description}
            if error.retry_after is not None:
                record.response["parameters"] = {"retry_after": error.retry_after}
        return record.status, record.response

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for chat in self.chats.values():
                if chat.get("username") == chat_id[1:]:
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        try:
            return self.chats[int(chat_id)]
        except (KeyError, TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None

    def _before_send(self) -> None:
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            raise ApiError(429, f"Too Many Requests: retry after {self.retry_after}", self.retry_after)
        if self.fail_next:
            self.fail_next -= 1
            raise ApiError(500, "Internal Server Error")

    def _text(self, value: Any, parse_mode: Any, limit: int, what: str) -> str:
        text = str(value or "")
        visible = parse_html(text) if parse_mode == "HTML" else text
        if parse_mode not in (None, "HTML"):
            raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
        if utf16_length(visible) > limit:
            raise ApiError(400, f"Bad Request: {what} is too long")
        return visible

    def _store(self, chat: dict[str, Any], **content: Any) -> dict[str, Any]:
        if "photo" in content:  # Telegram answers with PhotoSize objects; the bytes stay here
            file_id = f"photo{len(self.photos) + 1}"
            self.photos[file_id] = content["photo"]
            content["photo"] = [
                {"file_id": file_id, "file_size": len(content["photo"]), "width": 800, "height": 400}
            ]
        message = {"message_id": next(self.message_ids), "date": 0, "chat": chat, **content}
        self.messages.append(message)
        if self.on_store:
            self.on_store(message)
        return message

    def api_getMe(self, params, files):
        return self.bot

    def api_sendMessage(self, params, files):
        chat = self._chat(params.get("chat_id"))
        if not params.get("text"):
            raise ApiError(400, "Bad Request: message text is empty")
        visible = self._text(params["text"], params.get("parse_mode"), MAX_TEXT, "message")
        self._before_send()
        return self._store(chat, text=visible, html=params["text"], reply_markup=params.get("reply_markup"))

    def _photo(self, media: str, files: dict[str, bytes]) -> bytes:
        name = media.removeprefix("attach://")
        if not media.startswith("attach://") or name not in files:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        data = files[name]
        if not (data.startswith(b"\x89PNG\r\n\x1a\n") or data.startswith(b"\xff\xd8")):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        return data

    def api_sendPhoto(self, params, files):
        chat = self._chat(params.get("chat_id"))
        photo = self._photo(str(params.get("photo", "")), files)
        caption = self._text(params.get("caption"), params.get("parse_mode"), MAX_CAPTION, "message caption")
        self._before_send()
        return self._store(chat, photo=photo, caption=caption)

    def api_sendMediaGroup(self, params, files):
        chat = self._chat(params.get("chat_id"))
        media = params.get("media")
        if isinstance(media, str):
            media = json.loads(media)
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: media must include 2-10 items")
        items = []
        for item in media:
            if item.get("type") != "photo":
                raise ApiError(400, "Bad Request: unsupported media type")
            photo = self._photo(str(item.get("media", "")), files)
            caption = self._text(item.get("caption"), item.get("parse_mode"), MAX_CAPTION, "message caption")
            items.append((photo, caption))
        self._before_send()
        group = str(next(self.message_ids))
        return [
            self._store(chat, photo=photo, caption=caption, media_group_id=group) for photo, caption in items
        ]

    def api_answerCallbackQuery(self, params, files):
        query = params.get("callback_query_id")
        if query not in self.callback_queries or self.callback_queries[query]:
            raise ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_queries[query] = True
        return True

    def api_getUpdates(self, params, files):
        with self.lock:
            if self.webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
                )
            self._poll_generation += 1
            mine = self._poll_generation
            self.lock.notify_all()  # ends a poll in flight
            offset = int(params.get("offset") or 0)
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            timeout = min(float(params.get("timeout") or 0), 50.0)
            self.lock.wait_for(lambda: self.updates or self._poll_generation != mine, timeout=timeout)
            if self._poll_generation != mine:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            return list(self.updates[: int(params.get("limit") or 100)])

    def api_setWebhook(self, params, files):
        url = str(params.get("url") or "")
        if not url:
            return self.api_deleteWebhook(params, files)
        parsed = urlparse(url)
        if parsed.scheme != "https":
            raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        if (parsed.port or 443) not in WEBHOOK_PORTS:
            raise ApiError(
                400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self.lock:
            self.webhook = {"url": url, "secret_token": secret}
            self._poll_generation += 1
            self.lock.notify_all()
        return True

    def api_deleteWebhook(self, params, files):
        with self.lock:
            self.webhook = None
        return True

    def api_getWebhookInfo(self, params, files):
        return {"url": (self.webhook or {}).get("url", ""), "pending_update_count": len(self.updates)}


def _parse_body(headers, body: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    content_type = headers.get("Content-Type", "")
    if not body:
        return {}, {}
    if content_type.startswith("application/json"):
        return json.loads(body), {}
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        params, files = {}, {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename():
                files[name] = part.get_payload(decode=True)
            else:
                value = part.get_payload(decode=True).decode()
                try:
                    params[name] = json.loads(value) if value[:1] in "[{" else value
                except ValueError:
                    params[name] = value
        return params, files
    from urllib.parse import parse_qs

    return {k: v[-1] for k, v in parse_qs(body.decode()).items()}, {}


def _handler_class(fake: FakeTelegram):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def _serve(self):
            match = re.fullmatch(r"/bot([^/]+)/(\w+)", urlparse(self.path).path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if match is None:
                status, response = 404, {"ok": False, "error_code": 404, "description": "Not Found"}
            else:
                params, files = _parse_body(self.headers, body)
                status, response = fake.handle(match.group(1), match.group(2), params, files)
                if status == 200 and fake.drop_next and match.group(2).startswith("send"):
                    fake.drop_next -= 1
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
            payload = json.dumps(response).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _serve
        do_GET = _serve

    return Handler


class TelegramServer(LoopbackServer):
    """Runs a FakeTelegram on 127.0.0.1 (random port) in a thread; ``api_base`` for ``[channels.telegram]``."""

    def __init__(self, fake: FakeTelegram | None = None) -> None:
        self.fake = fake or FakeTelegram()
        super().__init__(_handler_class(self.fake))
        self.api_base = self.root.rstrip("/")

    def stop(self) -> None:
        with self.fake.lock:  # wake the long polls, so the server can stop
            self.fake._poll_generation += 1
            self.fake.lock.notify_all()
        super().stop()
