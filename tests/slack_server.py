"""A local HTTP server that speaks the part of the Slack Web API kpicore uses.

The real slack_sdk WebClient talks to it (``KPI_SLACK_API_URL``). It checks the bearer token,
Slack's Block Kit limits, the channel, records every request, and can be told to answer 429
(with Retry-After) or 500 on demand, to answer slowly, or to kill the sending process the moment
a message is stored (before the answer reaches it: the crash window the ledger cannot see).

As Slack does: chat.postMessage keeps ``metadata``; conversations.history lists a channel's
top-level messages newest first, with their metadata only when ``include_all_metadata`` is set;
a file completed into a thread is a reply in that thread (conversations.replies), not in history.
Files follow Slack's external upload: files.getUploadURLExternal (``filename`` and ``length`` required)
gives a file id and an upload URL; the bytes POSTed there answer 200 ``OK - <bytes>`` (text); the file is
private until files.completeUploadExternal shares it (``files`` required; ``file_not_found`` for an
id never uploaded); files.delete removes it (``file_not_found``, ``file_deleted`` the second time) and its
share leaves the thread.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlparse

from kpicore.presentation.blockkit import check_message


@dataclass
class Recorded:
    """One request the server received."""

    method: str  # Web API method ("chat.postMessage") or "upload"
    params: dict[str, Any]
    headers: dict[str, str]
    body: bytes = b""
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


class FakeSlack:
    """State and behaviour of the fake Slack workspace."""

    def __init__(self, token: str = "xoxb-test-token") -> None:
        self.token = token
        #: name -> id; more than one page so conversations.list pagination is exercised.
        self.channels = {"kpis": "C0KPIS0001", "ops": "C0OPS00002", "general": "C0GENERAL3"}
        self.channels.update({f"filler-{i}": f"C0FILL{i:04d}" for i in range(5)})
        self.page_size = 3
        self.requests: list[Recorded] = []
        self.messages: list[dict[str, Any]] = []  # accepted chat.postMessage payloads
        self.files: dict[str, dict[str, Any]] = {}  # file id -> {"filename", "data", "completed", ...}
        self.rate_limit_next = 0  # answer 429 to this many next API calls
        self.fail_channels: set[str] = set()  # channel ids whose chat.postMessage answers 500
        self.not_in_channels: set[str] = set()  # channel ids the bot is not a member of
        self.responses: list[dict[str, Any]] = []  # messages POSTed to response_url (/response/ID)
        #: response id -> what the asker sees from that command, oldest first (see ``screen``)
        self.screens: dict[str, list[dict[str, Any]]] = {}
        #: user id -> the id of the bot's direct message with them (conversations.open creates it)
        self.dms: dict[str, str] = {}
        #: user ids that exist in the workspace (conversations.open refuses the others)
        self.users = {"U0ALICE", "U0BOB", "U0BOSS", "U0CAROL"}
        self.app_token = "xapp-test-app-token"
        self.socket_url = ""  # what apps.connections.open answers (a local Socket Mode server)
        self.connections_open_down = False  # apps.connections.open answers 503 (Slack is down)
        self.post_delay = 0.0  # seconds chat.postMessage waits before answering
        #: pid to SIGKILL right after storing the next chat.postMessage (before answering), then None.
        self.kill_on_post: int | None = None
        self.kill_before_store = False  # kill_on_post kills before the message is stored instead
        #: pid to SIGSTOP right after storing the next chat.postMessage (a sender frozen mid-post), then None
        self.stop_on_post: int | None = None
        self.deleted: list[dict[str, Any]] = []  # messages removed with chat.delete
        #: pid to SIGSTOP right after storing the next upload's bytes (a sender frozen mid-upload), then None
        self.stop_on_upload: int | None = None
        self.deleted_files: dict[str, dict[str, Any]] = {}  # file id -> the file removed with files.delete
        #: pid to SIGSTOP as its next files.completeUploadExternal arrives, then None; that share is held
        #: (not stored) until ``release_share`` is set: a sender paused between its last check and the share
        self.stop_on_share: int | None = None
        self.release_share = threading.Event()
        #: the next this many chat.postMessage calls answer 500 without storing the message
        self.fail_next_posts = 0
        #: the next this many chat.postMessage calls store the message, then answer only after
        #: ``slow_delay`` seconds (past a short client timeout: the sender cannot tell it arrived)
        self.slow_next_posts = 0
        self.slow_delay = 0.0
        #: the next this many API calls get their connection closed without an answer; with
        #: ``drop_after_store`` a chat.postMessage is stored first (the answer is what is lost)
        self.drop_next = 0
        self.drop_after_store = False
        #: every posted message and file share, in order (history and replies read this)
        self.history: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        self.base_url = ""

    # -- helpers for tests -------------------------------------------------------------------
    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def posted_to(self, channel_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["channel"] == channel_id]

    def dm_messages(self, user_id: str) -> list[dict[str, Any]]:
        """What was posted in the bot's direct message with ``user_id``."""
        channel = self.dms.get(user_id)
        return self.posted_to(channel) if channel else []

    def shared_files(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        """The files completed into a channel (any channel without ``channel_id``) and not deleted."""
        return [
            f
            for f in self.files.values()
            if f.get("completed") and (channel_id is None or f.get("channel") == channel_id)
        ]

    def _known(self, channel: str | None) -> bool:
        return channel in self.channels.values() or channel in self.dms.values()

    # -- API -------------------------------------------------------------------------------------
    def handle(self, method: str, params: dict[str, Any], headers: dict[str, str], body: bytes):
        """(status, extra headers, JSON response) for one request."""
        if method == "files.completeUploadExternal" and self.stop_on_share is not None:
            import os
            import signal

            pid, self.stop_on_share = self.stop_on_share, None
            os.kill(pid, signal.SIGSTOP)
            self.release_share.wait(180)
        with self.lock:
            record = Recorded(method=method, params=params, headers=headers, body=body)
            self.requests.append(record)
            if self.drop_next > 0 and method not in ("upload", "response"):
                self.drop_next -= 1
                if self.drop_after_store and method == "chat.postMessage":
                    self._answer(method, params, headers, body)
                record.status = 0
                return 0, {}, {}  # the handler closes the connection without answering
            delay = self.post_delay if method == "chat.postMessage" else 0
            if method == "chat.postMessage" and self.fail_next_posts > 0:
                self.fail_next_posts -= 1
                record.status, record.response = 500, {"ok": False, "error": "internal_error"}
                return 500, {}, record.response
            if method == "chat.postMessage" and self.slow_next_posts > 0:
                self.slow_next_posts -= 1
                delay = max(delay, self.slow_delay)
            status, extra, response = self._answer(method, params, headers, body)
            record.status, record.response = status, response
        if delay:
            import time

            time.sleep(delay)
        return status, extra, response

    def acknowledged(self, name: str, message: dict[str, Any]) -> None:
        """Record the command's acknowledgement (the HTTP answer Slack showed) as the first thing on
        the screen of response id ``name``."""
        with self.lock:
            self.screens.setdefault(name, []).insert(0, message)

    def screen(self, name: str) -> list[dict[str, Any]]:
        """What the asker sees from the command of response id ``name``: its acknowledgement, then
        each response_url message, a ``replace_original`` one taking the place of the last shown."""
        with self.lock:
            return list(self.screens.get(name, []))

    def response_url(self, name: str = "r1") -> str:
        """A response_url on this server; what is POSTed to it lands in ``responses``."""
        return f"{self.base_url}api/response/{name}"

    def _answer(self, method, params, headers, body):
        if method == "response":
            # As Slack: a response_url takes at most 5 messages (within 30 minutes); replace_original
            # replaces the message the command produced, delete_original removes it.
            name, message = params["response_id"], json.loads(body or b"{}")
            if sum(1 for r in self.responses if r["id"] == name) >= 5:
                return 404, {}, {"ok": False, "error": "used_url"}
            self.responses.append({"id": name, **message})
            screen = self.screens.setdefault(name, [])
            if message.get("delete_original") and screen:
                screen.pop()
            elif message.get("replace_original") and screen:
                screen[-1] = message
            elif not message.get("delete_original"):
                screen.append(message)
            return 200, {}, {"ok": True}
        if method == "apps.connections.open" and self.connections_open_down:
            return 503, {}, {"ok": False, "error": "service_unavailable"}
        if method == "apps.connections.open":
            if headers.get("authorization") != f"Bearer {self.app_token}":
                return 200, {}, {"ok": False, "error": "invalid_auth"}
            return 200, {}, {"ok": True, "url": self.socket_url}
        if method == "upload":
            file_id = params["file_id"]
            if file_id not in self.files:
                return 404, {}, {"ok": False, "error": "unknown upload"}
            self.files[file_id]["data"] = body
            if self.stop_on_upload is not None:
                import os
                import signal

                pid, self.stop_on_upload = self.stop_on_upload, None
                os.kill(pid, signal.SIGSTOP)
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, f"OK - {len(body)}"
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 200, {}, {"ok": False, "error": "invalid_auth"}
        handler = getattr(self, "api_" + method.replace(".", "_"), None)
        if handler is None:
            return 404, {}, {"ok": False, "error": "unknown_method"}
        return handler(params)

    def api_auth_test(self, params):
        return 200, {}, {"ok": True, "team": "Test", "user": "kpibot", "user_id": "U0BOT"}

    def api_conversations_list(self, params):
        names = sorted(self.channels)
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), self.page_size)
        page = names[start : start + limit]
        next_cursor = str(start + limit) if start + limit < len(names) else ""
        return (
            200,
            {},
            {
                "ok": True,
                "channels": [{"id": self.channels[n], "name": n, "is_archived": False} for n in page],
                "response_metadata": {"next_cursor": next_cursor},
            },
        )

    def api_conversations_open(self, params):
        """As Slack: ``users`` is 1 to 8 comma-separated user ids (one: a direct message, the same
        id every time); ``channel`` reopens a known conversation; neither is ``users_list_not_supplied``."""
        if params.get("channel"):
            if not self._known(params["channel"]):
                return 200, {}, {"ok": False, "error": "channel_not_found"}
            return 200, {}, {"ok": True, "channel": {"id": params["channel"]}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            return 200, {}, {"ok": False, "error": "users_list_not_supplied"}
        if len(users) > 8:
            return 200, {}, {"ok": False, "error": "too_many_users"}
        if "U0BOT" in users:
            return 200, {}, {"ok": False, "error": "cannot_dm_bot"}
        if any(u not in self.users for u in users):
            return 200, {}, {"ok": False, "error": "user_not_found"}
        if len(users) > 1:
            return (
                200,
                {},
                {"ok": False, "error": "method_not_supported_for_channel_type"},
            )  # no group DMs here
        already = users[0] in self.dms
        channel = self.dms.setdefault(users[0], f"D0{users[0][2:]:0>8}"[:11])
        return 200, {}, {"ok": True, "no_op": already, "already_open": already, "channel": {"id": channel}}

    def api_chat_postMessage(self, params):
        channel = params.get("channel")
        if not self._known(channel):
            return 200, {}, {"ok": False, "error": "channel_not_found"}
        if channel in self.fail_channels:
            return 500, {}, {"ok": False, "error": "internal_error"}
        if channel in self.not_in_channels:
            return 200, {}, {"ok": False, "error": "not_in_channel"}
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks is not None and check_message({"blocks": blocks}):
            return (
                200,
                {},
                {"ok": False, "error": "invalid_blocks", "errors": check_message({"blocks": blocks})},
            )
        if not params.get("text") and not blocks:
            return 200, {}, {"ok": False, "error": "no_text"}
        if self.kill_on_post is not None and self.kill_before_store:
            import os
            import signal

            pid, self.kill_on_post = self.kill_on_post, None
            os.kill(pid, signal.SIGKILL)
            return 500, {}, {"ok": False, "error": "internal_error"}
        ts = f"1764000000.{next(self._ts):06d}"
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        stored = {
            "channel": channel,
            "ts": ts,
            "text": params.get("text"),
            "blocks": blocks,
            "metadata": metadata,
        }
        self.messages.append(stored)
        self.history.append({**stored, "type": "message"})
        if self.kill_on_post is not None:
            import os
            import signal

            pid, self.kill_on_post = self.kill_on_post, None
            os.kill(pid, signal.SIGKILL)
        if self.stop_on_post is not None:
            import os
            import signal

            pid, self.stop_on_post = self.stop_on_post, None
            os.kill(pid, signal.SIGSTOP)
        return 200, {}, {"ok": True, "channel": channel, "ts": ts, "message": {"text": params.get("text")}}

    def api_chat_delete(self, params):
        channel, ts = params.get("channel"), params.get("ts")
        found = [m for m in self.messages if m["channel"] == channel and m["ts"] == ts]
        if not found:
            return 200, {}, {"ok": False, "error": "message_not_found"}
        self.messages[:] = [m for m in self.messages if m not in found]
        self.history[:] = [m for m in self.history if not (m["channel"] == channel and m.get("ts") == ts)]
        self.deleted.extend(found)
        return 200, {}, {"ok": True, "channel": channel, "ts": ts}

    def api_conversations_history(self, params):
        channel = params.get("channel")
        if not self._known(channel):
            return 200, {}, {"ok": False, "error": "channel_not_found"}
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        top_level = [
            m
            for m in reversed(self.history)
            if m["channel"] == channel and m.get("thread_ts") in (None, m["ts"])
        ]
        start = int(params.get("cursor") or 0)
        limit = min(int(params.get("limit") or 100), 200)
        page = top_level[start : start + limit]
        messages = []
        for item in page:
            shown = {k: v for k, v in item.items() if k not in ("channel", "metadata")}
            if with_metadata and item.get("metadata"):
                shown["metadata"] = item["metadata"]
            messages.append(shown)
        more = start + limit < len(top_level)
        return (
            200,
            {},
            {
                "ok": True,
                "messages": messages,
                "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            },
        )

    def api_conversations_replies(self, params):
        channel, ts = params.get("channel"), params.get("ts")
        thread = [
            m for m in self.history if m["channel"] == channel and (m["ts"] == ts or m.get("thread_ts") == ts)
        ]
        if not thread:
            return 200, {}, {"ok": False, "error": "thread_not_found"}
        messages = [{k: v for k, v in m.items() if k not in ("channel", "metadata")} for m in thread]
        return (
            200,
            {},
            {"ok": True, "messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}},
        )

    def api_files_getUploadURLExternal(self, params):
        if not params.get("filename") or not params.get("length"):
            return 200, {}, {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._file_ids):08d}"
        self.files[file_id] = {
            "filename": params["filename"],
            "length": int(params["length"]),
            "alt_txt": params.get("alt_txt"),
            "data": None,
            "completed": False,
        }
        return 200, {}, {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}upload/{file_id}"}

    def api_files_completeUploadExternal(self, params):
        files = params.get("files")
        if isinstance(files, str):
            files = json.loads(files)
        if not files:
            return 200, {}, {"ok": False, "error": "invalid_arguments"}
        channel = params.get("channel_id")
        if channel and not self._known(channel):
            return 200, {}, {"ok": False, "error": "channel_not_found"}
        out = []
        for item in files or []:
            stored = self.files.get(item["id"])
            if stored is None or stored["data"] is None:
                return 200, {}, {"ok": False, "error": "file_not_found"}
            stored.update(
                completed=True, title=item.get("title"), channel=channel, thread_ts=params.get("thread_ts")
            )
            out.append({"id": item["id"], "title": item.get("title"), "name": stored["filename"]})
        if channel and out:
            ts = f"1764000000.{next(self._ts):06d}"
            self.history.append(
                {
                    "type": "message",
                    "channel": channel,
                    "ts": ts,
                    "thread_ts": params.get("thread_ts") or ts,
                    "files": [dict(f) for f in out],
                }
            )
        return 200, {}, {"ok": True, "files": out}

    def api_files_delete(self, params):
        """As Slack: deletes the file (``file`` required); its share leaves the thread, and a share
        message left without files or text goes with it."""
        file_id = params.get("file")
        if file_id in self.deleted_files:
            return 200, {}, {"ok": False, "error": "file_deleted"}
        if not file_id or file_id not in self.files:
            return 200, {}, {"ok": False, "error": "file_not_found"}
        self.deleted_files[file_id] = self.files.pop(file_id)
        for item in self.history:
            if any(f["id"] == file_id for f in item.get("files") or []):
                item["files"] = [f for f in item["files"] if f["id"] != file_id]
        self.history[:] = [m for m in self.history if m.get("files") != [] or m.get("text")]
        return 200, {}, {"ok": True}


def _handler_class(fake: FakeSlack):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # keep test output quiet
            pass

        def _serve(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if url.path.startswith("/upload/"):
                method = "upload"
                params["file_id"] = url.path.rsplit("/", 1)[1]
            elif url.path.startswith("/api/response/"):
                method = "response"
                params["response_id"] = url.path.rsplit("/", 1)[1]
            else:
                method = url.path.rsplit("/", 1)[-1]
                content_type = headers.get("content-type", "")
                if body and "application/json" in content_type:
                    params.update(json.loads(body))
                elif body and "x-www-form-urlencoded" in content_type:
                    params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
            status, extra, response = fake.handle(method, params, headers, body)
            if status == 0:  # a dropped connection: no status line, no body
                self.close_connection = True
                import socket

                self.connection.shutdown(socket.SHUT_RDWR)
                return
            # The upload URL answers text (``OK - <bytes>``), the Web API JSON.
            payload = response.encode() if isinstance(response, str) else json.dumps(response).encode()
            extra = {"Content-Type": "application/json; charset=utf-8", **extra}
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _serve
        do_GET = _serve

    return Handler


class SlackServer:
    """Runs a FakeSlack on 127.0.0.1 (random port) in a thread; ``base_url`` ends with ``/api/``."""

    def __init__(self, fake: FakeSlack | None = None) -> None:
        self.fake = fake or FakeSlack()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self.fake))
        self.httpd.daemon_threads = True
        host, port = self.httpd.server_address[:2]
        self.root = f"http://{host}:{port}/"
        self.base_url = self.root + "api/"
        self.fake.base_url = self.root
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
