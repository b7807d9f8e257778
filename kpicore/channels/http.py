"""One HTTP POST for channel plugins, on the standard library, that says whether the request arrived.

Three outcomes, because a channel without a lookup must know which one it had: an answer (any status,
with its headers and body); :class:`NotSent` (connecting or sending failed: nothing arrived, so a retry
is safe); :class:`OutcomeUnknown` (the request went out and no answer came back: it may have been
acted on, so it is never retried). :func:`post_with_retries` waits out 429 (``Retry-After`` or what the
caller reads from the body) and backs off on 5xx and on :class:`NotSent`. Nothing here puts a URL in a
message: webhook URLs and bot tokens in paths are secrets.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from kpicore.channels.parts import OutcomeUnknown
from kpicore.errors import DeliveryError

__all__ = ["Answer", "NotSent", "OutcomeUnknown", "post", "post_with_retries"]


class NotSent(DeliveryError):
    """The request never reached the server (refused, unreachable, timed out connecting)."""


@dataclass
class Answer:
    """What the server said."""

    status: int
    headers: dict[str, str]
    body: bytes

    def retry_after(self) -> float | None:
        """The ``Retry-After`` header in seconds, None when absent or not a number."""
        try:
            return float(self.headers.get("retry-after", ""))
        except ValueError:
            return None


def post(url: str, body: bytes, content_type: str, *, timeout: float, what: str) -> Answer:
    """POST ``body`` to ``url`` once; ``what`` names the call in messages (never the URL)."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, "User-Agent": "kpicore"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, _headers(response.headers), response.read())
    except urllib.error.HTTPError as error:  # before URLError, its base: the server answered
        try:
            return Answer(error.code, _headers(error.headers), error.read())
        finally:
            error.close()
    except urllib.error.URLError as error:  # urllib wraps what fails before the request is sent
        reason = error.reason
        text = (
            getattr(reason, "strerror", None) or type(reason).__name__
            if isinstance(reason, OSError)
            else str(reason)
        )
        raise NotSent(f"could not reach the server for {what}: {text}") from None
    except (OSError, http.client.HTTPException) as error:
        raise OutcomeUnknown(
            f"no answer to {what} ({type(error).__name__}): it may have been delivered"
        ) from None


def post_with_retries(
    send: Callable[[], Answer],
    *,
    max_retries: int = 3,
    backoff: float = 0.5,
    max_wait: float = 120.0,
    retry_after: Callable[[Answer], float | None] = Answer.retry_after,
    sleep: Callable[[float], None] = time.sleep,
) -> Answer:
    """Call ``send`` until it answers something other than 429 or 5xx, or the retries run out.

    A 429 waits ``retry_after(answer)`` (past ``max_wait`` it is returned as it is); 5xx and
    :class:`NotSent` wait ``backoff``, doubling. :class:`OutcomeUnknown` is raised at once.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            answer = send()
        except NotSent:
            if attempt > max_retries:
                raise
            sleep(backoff * 2 ** (attempt - 1))
            continue
        if answer.status == 429 and attempt <= max_retries:
            wait = retry_after(answer)
            wait = backoff if wait is None else wait
            if wait <= max_wait:
                sleep(wait)
                continue
        elif answer.status >= 500 and attempt <= max_retries:
            sleep(backoff * 2 ** (attempt - 1))
            continue
        return answer


def _headers(headers) -> dict[str, str]:
    return {name.lower(): value for name, value in (headers or {}).items()}
