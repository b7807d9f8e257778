"""What every chat webhook route of `kpi serve` checks before it runs anything (Telegram's
``POST /telegram/webhook``, Teams' ``POST /teams/messages``): a body of at most 1 MB (413 before it is
read into memory), exactly one signature header (a repeated one is refused), and each delivery
handled once (an update or activity id claimed in the state database, so a replay or a retry of the
same id runs nothing, across processes sharing the database).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

MAX_BODY = 1024 * 1024
#: How long a claimed id is kept (Telegram redelivers for about a day; Teams never replays legitimately).
KEEP = dt.timedelta(days=2)


class Refused(Exception):
    """A request refused before anything ran: its HTTP status and a one-line reason for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def read_body(request, limit: int = MAX_BODY) -> bytes:
    """The body of a Starlette request; Refused(413) when it is (or says it is) over ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise Refused(413, f"body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def single_header(request, name: str) -> str | None:
    """The one value of header ``name`` (None when absent); Refused(400) when it is repeated."""
    values = request.headers.getlist(name)
    if len(values) > 1:
        raise Refused(400, f"repeated {name} header")
    return values[0] if values else None


def first_time(engine: Engine, source: str, delivery_id: str) -> bool:
    """True the first time (``source``, ``delivery_id``) is claimed, atomically, in the state database;
    False for as long as it is kept (``KEEP``). The claim is the one replay claim of every chat route
    (``request_claims``, :class:`kpicore.chat.replays.DatabaseReplayGuard`), so Slack signatures,
    Telegram update ids and Teams activity ids share one table and one expiry rule; Refused(503)
    when the database does not answer (the sender retries)."""
    from kpicore.chat.replays import DatabaseReplayGuard, GuardUnavailable

    try:
        return DatabaseReplayGuard(lambda: engine, window=KEEP.total_seconds()).claim(source, delivery_id)
    except GuardUnavailable as error:
        raise Refused(503, f"the state database did not answer ({error})") from None
