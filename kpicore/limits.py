"""The body limit of every request `kpi serve` reads: over 1 MB is 413, before it is held in memory.

An ASGI middleware in front of the whole app (Starlette, Bolt's routes): a ``Content-Length`` over
the limit is answered at once, without reading the body; any other body (chunked, or a length
that lies) is read by the middleware, counting, and answered 413 as soon as the count passes the
limit. What it read (at most the limit) is handed on to the app, so nothing downstream ever holds
more than that.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("kpicore.serve")

#: No request Slack (or any chat service) sends is near this; anything larger is refused.
MAX_BODY = 1024 * 1024


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with 413."""

    def __init__(self, app, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.limit:
            await self._refuse(scope, send, length)
            return
        chunks: list[bytes] = []
        read = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            if read > self.limit:
                await self._refuse(scope, send, read)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope, send, size: int) -> None:
        log.warning(
            "refused a %s %s: body over %d bytes (%d or more)",
            scope["method"],
            scope["path"],
            self.limit,
            size,
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"text/plain"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": b"request body over 1 MB\n"})


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive):
    """A ``receive`` that gives the app the body already read, then waits on the real one."""
    sent = False

    async def replayed() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
