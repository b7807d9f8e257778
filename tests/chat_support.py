"""Helpers for the /kpi tests: a kpi folder on the demo data, the Bolt app under a real uvicorn on
loopback, and signed slash-command and interactivity requests computed the way Slack does."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret-do-not-leak"
_TRIGGERS = itertools.count(1)

KPI_TOML = """
timezone = "UTC"
state_url = "sqlite:///kpi-state.db"

[targets]
nps = {{ min = 40 }}

[digests.weekly]
metrics = ["nps", "csat"]
period = "2026-W47"
trend = 4
breakdowns = {{ nps = "region" }}

[chat]
allow = {{ "#leadership" = ["*"], "*" = ["nps", "csat", "fcr", "churn_rate"], "U0BOSS" = ["revenue"] }}
{chat}
"""


def kpi_folder(
    tmp_path: Path, demo_database: Path, chat: str = "", source: str | None = None, top: str = ""
) -> Path:
    """A folder with the demo database and a kpi.toml; ``chat`` adds lines to ``[chat]``, ``top`` top-level
    keys (``locale = "fa_IR"``)."""
    folder = tmp_path / "shop"
    folder.mkdir()
    shutil.copy(demo_database, folder / "kpi-demo.db")
    text = top + KPI_TOML.format(chat=chat)
    if source:
        text += f'\n[source]\nurl = "{source}"\n'
    (folder / "kpi.toml").write_text(text, encoding="utf-8")
    return folder


def signature(body: str, timestamp: int, secret: str = SIGNING_SECRET) -> str:
    """Slack's v0 signature: HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret."""
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return f"v0={digest}"


@dataclass
class Answer:
    status: int
    body: dict | str
    elapsed: float

    @property
    def text(self) -> str:
        """Every text in the answer's blocks, joined (for assertions)."""
        if not isinstance(self.body, dict):
            return str(self.body)
        return blocks_text(self.body.get("blocks") or []) + "\n" + str(self.body.get("text", ""))


def blocks_text(blocks) -> str:
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def send(
    url: str,
    body: str,
    *,
    timestamp: int | None = None,
    sign_with: str | None = SIGNING_SECRET,
    signature_header: str | None = None,
    content_type: str = "application/x-www-form-urlencoded",
) -> Answer:
    """POST ``body`` to ``url`` with Slack's headers; returns the status and the decoded answer."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp)}
    if signature_header is not None:
        headers["X-Slack-Signature"] = signature_header
    elif sign_with is not None:
        headers["X-Slack-Signature"] = signature(body, timestamp, sign_with)
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    elapsed = time.perf_counter() - started
    try:
        decoded = json.loads(raw) if raw else ""
    except json.JSONDecodeError:
        decoded = raw.decode(errors="replace")
    return Answer(status, decoded, elapsed)


def command_body(
    text: str,
    *,
    user: str = "U0ALICE",
    channel_id: str = "C0GENERAL3",
    channel_name: str = "general",
    response_url: str = "http://127.0.0.1:9/none",
) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": "T0TEAM",
            "team_domain": "shop",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": "alice",
            "command": "/kpi",
            "text": text,
            "api_app_id": "A0KPI",
            "response_url": response_url,
            "trigger_id": f"1.2.{next(_TRIGGERS)}",
        }
    )


def action_body(
    action_id: str,
    value: str,
    *,
    user: str = "U0ALICE",
    channel_id: str = "C0GENERAL3",
    channel_name: str = "general",
    response_url: str = "http://127.0.0.1:9/none",
    select: bool = False,
) -> str:
    action = {"action_id": action_id, "block_id": "kpi_actions", "type": "button", "value": value}
    if select:
        action = {
            "action_id": action_id,
            "block_id": "kpi_actions",
            "type": "static_select",
            "selected_option": {"value": value, "text": {"type": "plain_text", "text": "x"}},
        }
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM"},
        "user": {"id": user},
        "api_app_id": "A0KPI",
        "token": "legacy",
        "trigger_id": f"1.2.{next(_TRIGGERS)}",
        "response_url": response_url,
        "channel": {"id": channel_id, "name": channel_name},
        "container": {"type": "message"},
        "actions": [action],
    }
    return urlencode({"payload": json.dumps(payload)})


class UvicornThread:
    """A Starlette app under a real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, asgi_app, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(asgi_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
        )
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-chat", daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_for(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")
