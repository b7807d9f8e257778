"""What every chat webhook route of `kpi serve` checks before it runs anything (Telegram's
``POST /telegram/webhook``, Teams' ``POST /teams/messages``): a body of at most 1 MB (413 before it is
read into memory), exactly one signature header (a repeated one is refused), and each delivery
handled once (an update or activity id claimed in the state database, so a replay or a retry of the
same id runs nothing, across processes sharing the database).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from kpicore.tables import created_table

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


def _table(engine: Engine):
    from sqlalchemy import Column, DateTime, String

    return created_table(
        engine,
        "kpicore_chat_deliveries",
        Column("source", String(40), primary_key=True),
        Column("delivery_id", String(200), primary_key=True),
        Column("seen_at", DateTime(timezone=True), nullable=False),
    )


def first_time(engine: Engine, source: str, delivery_id: str) -> bool:
    """True the first time (``source``, ``delivery_id``) is claimed, atomically; False ever after."""
    from sqlalchemy import delete, insert
    from sqlalchemy.exc import IntegrityError

    from kpicore import clock

    table = _table(engine)
    now = clock.now()
    try:
        with engine.begin() as connection:
            connection.execute(insert(table).values(source=source, delivery_id=delivery_id, seen_at=now))
    except IntegrityError:
        return False
    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.source == source, table.c.seen_at < now - KEEP))
    return True
