"""A small client of the Telegram Bot API (``https://api.telegram.org/bot<token>/METHOD``), on the
standard library's HTTP client.

The token sits in the request path, so nothing here ever puts a URL in a message: errors name the
method and Telegram's description only, and the token is declared a secret to kpicore's redaction
(every log line and error of the service passes through it).

Retries: ``429`` waits for ``parameters.retry_after`` (Telegram's flood control, about 20 messages a
minute in a group); ``5xx`` and failures to connect are retried with backoff. A request that went out
and got no answer (a read timeout, a dropped connection) is *not* retried: it may have been delivered,
so :class:`OutcomeUnknown` is raised and the caller records the part as unknown.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

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


class OutcomeUnknown(DeliveryError):
    """The request went out and no answer came back: Telegram may or may not have acted on it."""


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
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, body, content_type)
            except TelegramError as error:
                retryable = error.code == 429 or error.code >= 500
                if not retryable or attempt > self.max_retries:
                    raise
                if error.code == 429:
                    wait = error.retry_after if error.retry_after is not None else self.retry_backoff
                    if wait > self.max_wait:
                        raise
                else:
                    wait = self.retry_backoff * 2 ** (attempt - 1)
            except _NotSent as error:
                if attempt > self.max_retries:
                    raise DeliveryError(f"Could not reach Telegram for {method}: {error}") from None
                wait = self.retry_backoff * 2 ** (attempt - 1)
            self.sleep(wait)

    def _once(self, method: str, body: bytes, content_type: str) -> Any:
        request = urllib.request.Request(
            f"{self.api_base}/bot{self._token}/{method}",
            data=body,
            method="POST",
            headers={"Content-Type": content_type, "User-Agent": "kpicore-telegram"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:  # before URLError, its base: Telegram answered
            payload = error.read()
            error.close()
            answer = _decode(payload)
            parameters = answer.get("parameters") or {}
            raise TelegramError(
                method,
                int(answer.get("error_code") or error.code),
                str(answer.get("description") or error.reason),
                parameters.get("retry_after"),
            ) from None
        except urllib.error.URLError as error:  # connecting or sending failed: nothing arrived
            raise _NotSent(_reason(error.reason)) from None
        except (OSError, http.client.HTTPException) as error:  # sent, but the answer was lost
            raise OutcomeUnknown(
                f"Telegram did not answer {method} ({type(error).__name__}): it may have been delivered"
            ) from None
        answer = _decode(payload)
        if not answer.get("ok"):
            raise TelegramError(method, int(answer.get("error_code") or 0), str(answer.get("description")))
        return answer.get("result")


class _NotSent(Exception):
    """The request never reached Telegram (refused, unreachable, timed out connecting)."""


def _reason(reason: Any) -> str:
    return (
        getattr(reason, "strerror", None) or type(reason).__name__
        if isinstance(reason, OSError)
        else str(reason)
    )


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
