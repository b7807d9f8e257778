"""A small client of the Telegram Bot API (``https://api.telegram.org/bot<token>/METHOD``), on the
standard library's HTTP client (kpicore.channels.http).

The token sits in the request path, so nothing here ever puts a URL in a message: errors name the
method and Telegram's description only, and the token is declared a secret to kpicore's redaction
(every log line and error of the service passes through it).

Retries: ``429`` waits for ``parameters.retry_after`` (Telegram's flood control, about 20 messages a
minute in a group); ``5xx`` and failures to connect are retried with backoff. A request that went out
and got no answer (a read timeout, a dropped connection) is *not* retried: it may have been delivered,
so ``OutcomeUnknown`` is raised and the caller records the part as unknown.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from kpicore.channels.http import NotSent, post, post_with_retries
from kpicore.delivery.redact import add_secrets
from kpicore.errors import ConfigError, DeliveryError

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
WEBHOOK_SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
DEFAULT_API_BASE = "https://api.telegram.org"
#: Bot tokens look like ``123456789:AAH...`` (the bot's id, a colon, 35 characters).
TOKEN_PATTERN = r"\b\d{5,16}:[A-Za-z0-9_-]{30,}"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

add_secrets(
    env=(TOKEN_ENV, WEBHOOK_SECRET_ENV), patterns=((TOKEN_PATTERN, "***"), (r"/bot[^/\s]+/", "/bot***/"))
)


class TelegramError(DeliveryError):
    """Telegram answered ``ok: false`` (after the retries): its error code and description."""

    def __init__(self, method: str, code: int, description: str, retry_after: float | None = None):
        super().__init__(f"Telegram refused {method}: {code} {description}")
        self.method, self.code, self.description, self.retry_after = method, code, description, retry_after


def check_api_base(value: Any, where: str) -> str:
    """The API base URL without a trailing slash; ConfigError unless it is https, or http on loopback."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: api_base must be a URL such as {DEFAULT_API_BASE!r}")
    parsed = urlparse(value)
    loopback = parsed.scheme == "http" and (parsed.hostname or "") in LOOPBACK_HOSTS
    if not (parsed.scheme == "https" and parsed.hostname) and not loopback:
        raise ConfigError(
            f"{where}: api_base = {value!r}: use https:// (or http:// on 127.0.0.1 for a local Bot API server)"
        )
    return value.rstrip("/")


def token_from_environment() -> str:
    """The bot token; DeliveryError naming the variable when it is not set."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise DeliveryError(
            f"Telegram needs a bot token: set the environment variable {TOKEN_ENV} (from BotFather)"
        )
    return token


class BotApi:
    """Calls Bot API methods with JSON or multipart bodies; returns ``result`` or raises."""

    def __init__(
        self,
        token: str,
        api_base: str = DEFAULT_API_BASE,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        retry_backoff: float = 0.5,
        max_wait: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._token = token
        self.api_base = api_base.rstrip("/")
        self.timeout, self.max_retries, self.retry_backoff = timeout, max_retries, retry_backoff
        self.max_wait, self.sleep = max_wait, sleep

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> BotApi:
        """A client for ``[channels.telegram]`` settings and the token in the environment."""
        return cls(
            token_from_environment(),
            check_api_base(settings.get("api_base", DEFAULT_API_BASE), "[channels.telegram]"),
            timeout=float(settings.get("timeout", 30)),
            max_retries=int(settings.get("max_retries", 3)),
            retry_backoff=float(settings.get("retry_backoff", 0.5)),
        )

    def call(
        self, method: str, fields: dict[str, Any], files: dict[str, tuple[str, bytes]] | None = None
    ) -> Any:
        """``method`` with ``fields`` (JSON; multipart when ``files`` maps attach names to (filename, bytes))."""
        if files:
            body, content_type = _multipart(fields, files)
        else:
            body, content_type = json.dumps(fields, ensure_ascii=False).encode(), "application/json"
        url = f"{self.api_base}/bot{self._token}/{method}"
        try:
            answer = post_with_retries(
                lambda: post(url, body, content_type, timeout=self.timeout, what=f"Telegram's {method}"),
                max_retries=self.max_retries,
                backoff=self.retry_backoff,
                max_wait=self.max_wait,
                retry_after=lambda answer: (_decode(answer.body).get("parameters") or {}).get("retry_after"),
                sleep=self.sleep,
            )
        except NotSent as error:
            raise DeliveryError(f"Could not reach Telegram: {error}") from None
        result = _decode(answer.body)
        if answer.status != 200 or not result.get("ok"):
            raise TelegramError(
                method,
                int(result.get("error_code") or answer.status),
                str(result.get("description") or f"HTTP {answer.status}"),
                (result.get("parameters") or {}).get("retry_after"),
            )
        return result.get("result")


def _decode(payload: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(payload or b"{}")
    except ValueError:
        return {"ok": False, "description": "the answer was not JSON"}
    return answer if isinstance(answer, dict) else {"ok": False, "description": "unexpected answer"}


def _multipart(fields: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "kpicore" + secrets.token_hex(12)
    chunks: list[bytes] = []
    for name, value in fields.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{text}\r\n'.encode()
        )
    for name, (filename, data) in files.items():
        chunks.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: image/png\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"
