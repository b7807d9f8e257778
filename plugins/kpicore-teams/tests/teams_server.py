"""Teams on loopback, as Microsoft documents it: a Workflows webhook and an outgoing-webhook client.

**Workflows** ("When a Teams webhook request is received" -> "Post card in a chat or channel"): the
URL carries the flow's signature (``sig=``); a wrong one gets 401. A good request gets ``202 Accepted``
with no body *before* the flow runs: the flow then posts each attachment's Adaptive Card into the
channel, or its run fails (a card that is not valid Adaptive Card 1.5 per the schema in
``adaptive-card-1.5.schema.json``, a request over Teams' 28 KB of UTF-8, a private channel) and the
sender is never told. ``channel_posts`` and ``failed_runs`` show which. For the tests:
``rate_limit_next`` (429 with Retry-After), ``fail_next`` (502), ``drop_next`` (connection closed after
the flow ran), ``on_post`` (runs when a card is posted).

**Outgoing webhook**: :func:`sign` is what Teams puts in ``Authorization: HMAC <base64>`` (HMAC-SHA256
of the raw body with the base64-decoded key Teams shows), and :class:`OutgoingClient` posts a channel
message activity (``<at>KPI</at> nps last-week``) to ``/teams/messages`` as Teams does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from kpicore.testing import LoopbackServer

MAX_BYTES = 28 * 1024
CARD = "application/vnd.microsoft.card.adaptive"
SCHEMA_FILE = Path(__file__).with_name("adaptive-card-1.5.schema.json")


def card_problems(content: Any) -> list[str]:
    """What makes ``content`` an invalid Adaptive Card 1.5 (empty when valid)."""
    import jsonschema

    validator = jsonschema.Draft7Validator(json.loads(SCHEMA_FILE.read_text()))
    return [
        f"{'/'.join(map(str, error.absolute_path)) or 'card'}: {error.message}"
        for error in validator.iter_errors(content)
    ]


@dataclass
class Request:
    flow: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FakeWorkflows:
    """Flows by id, each posting into one channel; what was posted and which runs failed."""

    def __init__(self) -> None:
        self.flows: dict[str, dict[str, Any]] = {}
        self.requests: list[Request] = []
        self.channel_posts: list[dict[str, Any]] = []  # {"flow", "channel", "card", "bytes"}
        self.failed_runs: list[dict[str, Any]] = []  # {"flow", "reason"}
        self.rate_limit_next, self.retry_after = 0, 1
        self.fail_next = 0
        self.drop_next = 0
        self.on_post: Callable[[dict[str, Any]], None] | None = None
        self.base_url = ""

    def add_flow(self, channel: str = "General", *, private: bool = False) -> str:
        """A new flow posting into ``channel``; returns its webhook URL (a secret, like the real one)."""
        flow, sig = uuid.uuid4().hex, uuid.uuid4().hex
        self.flows[flow] = {"sig": sig, "channel": channel, "private": private}
        return f"{self.base_url}workflows/{flow}/triggers/manual/paths/invoke?api-version=1&sig={sig}"

    def posts(self, channel: str) -> list[dict[str, Any]]:
        return [post for post in self.channel_posts if post["channel"] == channel]

    @staticmethod
    def shown_images(post: dict[str, Any]) -> list[dict[str, Any]]:
        """What a Teams client does when it shows a posted card: GET each Image's URL (no cookies, no
        credentials); ``{"url", "status", "type", "body"}`` for each, in card order."""
        import urllib.error
        import urllib.request

        def images(element: Any):
            if isinstance(element, dict):
                if element.get("type") == "Image":
                    yield element["url"]
                for value in element.values():
                    yield from images(value)
            elif isinstance(element, list):
                for value in element:
                    yield from images(value)

        shown = []
        for url in images(post["card"]):
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    status, kind, body = answer.status, answer.headers.get("Content-Type"), answer.read()
            except urllib.error.HTTPError as error:
                status, kind, body = error.code, error.headers.get("Content-Type"), b""
            shown.append({"url": url, "status": status, "type": kind, "body": body})
        return shown

    def handle(self, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> int:
        parts = path.strip("/").split("/")
        flow = self.flows.get(parts[1]) if len(parts) > 1 and parts[0] == "workflows" else None
        status = self._status(flow, query, headers, body)
        self.requests.append(Request(parts[1] if len(parts) > 1 else "", status, body, headers))
        if status == 202:
            self._run(parts[1], flow, body)
        return status

    def _status(self, flow, query, headers, body) -> int:
        if flow is None:
            return 404
        if not hmac.compare_digest(query.get("sig", ""), flow["sig"]):
            return 401
        if self.rate_limit_next:
            self.rate_limit_next -= 1
            return 429
        if self.fail_next:
            self.fail_next -= 1
            return 502
        if not headers.get("content-type", "").startswith("application/json"):
            return 400
        try:
            json.loads(body)
        except ValueError:
            return 400
        return 202

    def _run(self, flow_id: str, flow: dict[str, Any], body: bytes) -> None:
        """The flow after the 202: post every card, or fail the run (nobody is told)."""
        request = json.loads(body)
        reason = None
        if len(body) > MAX_BYTES:
            reason = f"RequestEntityTooLarge: {len(body)} bytes, over {MAX_BYTES}"
        elif flow["private"]:
            reason = "the Flow bot cannot post in a private channel"
        elif request.get("type") != "message" or not request.get("attachments"):
            reason = "the request has no attachments of a message"
        cards = []
        for attachment in request.get("attachments") or []:
            if attachment.get("contentType") != CARD:
                reason = reason or f"unsupported contentType {attachment.get('contentType')!r}"
                continue
            problems = card_problems(attachment.get("content"))
            if problems:
                reason = reason or "invalid Adaptive Card: " + "; ".join(problems[:3])
            cards.append(attachment["content"])
        if reason:
            self.failed_runs.append({"flow": flow_id, "reason": reason})
            return
        for content in cards:
            post = {"flow": flow_id, "channel": flow["channel"], "card": content, "bytes": len(body)}
            self.channel_posts.append(post)
            if self.on_post:
                self.on_post(post)


def _handler_class(fake: FakeWorkflows):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def do_POST(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            status = fake.handle(url.path, query, headers, body)
            if status == 202 and fake.drop_next:
                fake.drop_next -= 1
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", str(fake.retry_after))
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class WorkflowsServer(LoopbackServer):
    """Runs a FakeWorkflows on 127.0.0.1 (random port) in a thread."""

    def __init__(self) -> None:
        self.fake = FakeWorkflows()
        super().__init__(_handler_class(self.fake))
        self.fake.base_url = self.root


def sign(key_base64: str, body: bytes) -> str:
    """The ``Authorization`` header Teams sends: ``HMAC`` and the base64 HMAC-SHA256 of the body."""
    digest = hmac.new(base64.b64decode(key_base64), body, hashlib.sha256).digest()
    return "HMAC " + base64.b64encode(digest).decode()


class OutgoingClient:
    """Posts channel messages to kpicore's ``/teams/messages`` as a Teams outgoing webhook does."""

    def __init__(self, url: str, key_base64: str, *, bot_name: str = "KPI") -> None:
        self.url, self.key, self.bot_name = url, key_base64, bot_name

    def activity(
        self,
        text: str,
        *,
        team: str = "19:team-sales@thread.tacv2",
        channel: str = "19:general@thread.tacv2",
        user: str = "29:alice",
    ) -> dict[str, Any]:
        return {
            "type": "message",
            "id": str(uuid.uuid4().int)[:13],
            "timestamp": "2026-11-25T09:00:00.000Z",
            "serviceUrl": "https://smba.trafficmanager.net/emea/",
            "channelId": "msteams",
            "from": {"id": user, "name": "Alice", "aadObjectId": str(uuid.uuid4())},
            "conversation": {"isGroup": True, "id": f"{channel};messageid=1", "conversationType": "channel"},
            "recipient": None,
            "textFormat": "plain",
            "text": f"<at>{self.bot_name}</at> {text}",
            "entities": [
                {
                    "type": "mention",
                    "text": f"<at>{self.bot_name}</at>",
                    "mentioned": {"id": "28:bot", "name": self.bot_name},
                }
            ],
            "channelData": {
                "teamsChannelId": channel,
                "teamsTeamId": team,
                "channel": {"id": channel},
                "team": {"id": team},
                "tenant": {"id": "tenant-1"},
            },
        }

    def send(
        self,
        activity: dict[str, Any] | bytes,
        *,
        headers: list[tuple[str, str]] | None = None,
        key: str | None = None,
    ) -> tuple[int, dict[str, Any] | bytes]:
        """POST one activity signed with the key (or with exactly ``headers``, repeated ones included);
        (status, the JSON answer or the raw body)."""
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        if headers is None:
            headers = [("Authorization", sign(key or self.key, body))]
        return _raw_post(self.url, body, headers)


def _raw_post(url: str, body: bytes, headers: list[tuple[str, str]]) -> tuple[int, dict[str, Any] | bytes]:
    import http.client

    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=15)
    try:
        connection.putrequest("POST", parsed.path)
        connection.putheader("Content-Type", "application/json; charset=utf-8")
        connection.putheader("Content-Length", str(len(body)))
        for name, value in headers:
            connection.putheader(name, value)
        try:
            connection.endheaders(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered (413) before the whole body was read: that answer is still there to read
        response = connection.getresponse()
        data = response.read()
        try:
            return response.status, json.loads(data)
        except ValueError:
            return response.status, data
    finally:
        connection.close()
