"""The JSON-over-HTTP client REST sources fetch with: retries with backoff, Retry-After, timeouts, clear errors."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, SourceError


class CursorExpired(SourceError):
    """The API no longer accepts a paging cursor: the stream starts again from its first page."""


@dataclass
class JsonClient:
    """A small JSON-over-HTTP client for REST sources: retries, Retry-After, timeouts, clear errors.

    ``display`` names the source in messages (never a secret); ``headers`` carry the credentials.
    ``sleep`` is injectable so tests can count waits without waiting.
    """

    display: str
    headers: dict[str, str]
    timeout: float = 30.0
    retries: int = 4
    max_retry_wait: float = 120.0
    credentials_hint: str = "check the credentials"
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict | None = None,
        form: dict | None = None,
        json_body: Any = None,
    ) -> Any:
        """The decoded JSON answer (None for 204); raises SourceError/ConfigError naming ``what``."""
        import http.client
        import urllib.error
        import urllib.parse
        import urllib.request

        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}"
        data, headers = None, dict(self.headers)
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            wait: float | None = None
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method=method)
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read()
                    if response.status == 204 or not body.strip():
                        return None
                    return json.loads(body)
            except urllib.error.HTTPError as error:
                status = error.code
                detail = _error_detail(error)
                if status in (401, 403):
                    raise ConfigError(
                        f"{self.display}: {what}: the server refused the credentials ({status}{detail}): "
                        f"{self.credentials_hint}"
                    ) from None
                if status == 429:
                    wait = _retry_after(error.headers.get("Retry-After"), default=min(2.0**attempt, 30.0))
                    if wait > self.max_retry_wait:
                        raise SourceError(
                            f"{self.display}: {what}: rate limited (429) with Retry-After {wait:.0f} s, more than "
                            f"[sync] max_retry_wait ({self.max_retry_wait:.0f} s): run `kpi sync` later"
                        ) from None
                    problem = "rate limited (429)"
                elif status >= 500:
                    problem = f"server error {status}{detail}"
                elif status == 400 and "cursor" in url:
                    raise CursorExpired(
                        f"{self.display}: {what}: the server no longer accepts the paging cursor"
                    ) from None
                else:
                    raise SourceError(
                        f"{self.display}: {what}: the server answered {status}{detail}"
                    ) from None
            except json.JSONDecodeError:
                raise SourceError(
                    f"{self.display}: {what}: the answer is not JSON (ask for application/json)"
                ) from None
            except (TimeoutError, OSError, urllib.error.URLError, http.client.HTTPException) as error:
                # Includes a server that dies mid-answer (IncompleteRead, connection reset).
                reason = getattr(error, "reason", None) or error
                problem = (
                    "timed out"
                    if "timed out" in str(reason)
                    else f"cannot be reached ({_first_line(reason)})"
                )
            if attempt > self.retries:
                raise SourceError(
                    f"{self.display}: {what}: {problem}, {attempt} attempts: run `kpi sync` again later"
                )
            self.sleep(wait if wait is not None else min(0.5 * 2 ** (attempt - 1), 8.0))


def _retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(value) - dt.datetime.now(dt.UTC)).total_seconds())
        except (TypeError, ValueError):
            return default


def _error_detail(error) -> str:
    try:
        text = error.read(300).decode("utf-8", "replace").strip()
    except Exception:
        return ""
    return f": {_first_line(text)[:120]}" if text else ""


def _first_line(value) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__
