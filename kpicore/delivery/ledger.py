"""The delivery ledger: one row per (kind, name, period, segment, destination), so each message is sent once.

Sending is claimed before it happens (and before the message is computed): a process turns the
row into ``pending`` with an atomic INSERT (the unique key makes a second INSERT fail) or an
atomic UPDATE that only matches a ``failed`` row. Two processes sharing a database can therefore
never both send the same message to the same destination.

A pending row carries a **lease** (``lease_until``) that the living sender renews every
``LEASE / 3``. A pending row whose lease ran out belongs to a process that died: it is shown as
``lapsed`` and whoever comes next takes it over. For a channel that can look a message up in its
destination (Slack: message metadata) the taker finds what was already posted: exactly once.
A channel that cannot (email) records ``sending`` immediately before it hands the message over
(SMTP ``DATA``): a lapsed claim without it was never handed over and is simply sent; one that
lapsed while ``sending`` may have arrived, so it is shown as ``unknown`` and never resent
automatically (a duplicate Monday digest is worse than a missing one that someone can check).
A person resends it (:func:`request_resend`) or marks it arrived (:func:`mark_arrived`);
``force=True`` (``kpi digest send --force``) resends anything.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

from kpicore.tables import LiveTable

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData, Table

    from kpicore.message import MessageKey

PENDING, SENT, FAILED, UNKNOWN = "pending", "sent", "failed", "unknown"
#: Stored: the message is being handed over (SMTP DATA) by a channel that cannot look it up.
SENDING = "sending"
#: Shown: a pending claim whose lease ran out before anything was handed over (anyone takes it over).
LAPSED = "lapsed"
#: How long a claim stays valid without renewal: a dead sender's claim is recognised this late.
LEASE = dt.timedelta(seconds=60)
#: Rows written before leases existed (migration 0003): pending this long means unknown.
STALE_AFTER = dt.timedelta(minutes=15)
MAX_ERROR_LENGTH = 2000


def process_owner() -> str:
    """An id for this sender (host, pid and a random part), stored with its claims."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


#: The owner recorded by this process's claims unless a caller passes its own.
OWNER = process_owner()


def deliveries_table(metadata: MetaData) -> Table:
    """The live definition of the ``deliveries`` table on ``metadata``.

    The migrations do not import this (each one carries its own frozen definitions); a test
    upgrades a database from 0001 through every migration and compares the result with this.
    """
    from sqlalchemy import Column, DateTime, Integer, String, Table, Text, UniqueConstraint

    if "deliveries" in metadata.tables:
        return metadata.tables["deliveries"]
    return Table(
        "deliveries",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("kind", String(20), nullable=False, server_default="digest"),
        Column("name", String(200), nullable=False),
        Column("period", String(100), nullable=False),
        Column("segment", String(200), nullable=False, server_default=""),
        Column("destination", String(1000), nullable=False),
        Column("status", String(20), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        Column("message_ids", Text, nullable=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("lease_until", DateTime(timezone=True), nullable=True),
        Column("owner", String(100), nullable=True),
        Column("fence", Integer, nullable=False, server_default="0"),
        UniqueConstraint("kind", "name", "period", "segment", "destination", name="uq_deliveries_key"),
    )


#: Threads sending at once define the table once.
_table = LiveTable(deliveries_table)


def _now() -> dt.datetime:
    from kpicore import clock

    return clock.now()


@overload
def _aware(value: dt.datetime) -> dt.datetime: ...
@overload
def _aware(value: None) -> None: ...
def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite gives naive datetimes back; they were written in UTC.
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass
class LedgerRow:
    """One row of the ledger, with ``status`` as shown to users (``unknown`` for a dead pending claim)."""

    kind: str
    name: str
    period: str
    segment: str
    destination: str
    status: str
    attempts: int
    last_error: str | None
    message_ids: list[str]
    updated_at: dt.datetime

    @property
    def digest(self) -> str:
        """The message's name (for digests, the digest's name)."""
        return self.name


@dataclass
class Claim:
    """The result of claim(): ``claimed`` True when this process may send now; else the row's status.

    ``resumed`` is True when the claim took over a dead sender's row: the channel must look for
    what that sender already delivered before sending anything.
    """

    claimed: bool
    status: str
    attempts: int = 0
    resumed: bool = False
    message_ids: list[str] | None = None
    #: The claim's generation: raised on every take-over; the sender proves it before each step.
    fence: int = 0


def _key(table: Table, key: MessageKey, destination: str):
    return (
        (table.c.kind == key.kind)
        & (table.c.name == key.name)
        & (table.c.period == key.period)
        & (table.c.segment == key.segment)
        & (table.c.destination == destination)
    )


def _dead(status: str, updated_at: dt.datetime, lease_until: dt.datetime | None, now: dt.datetime) -> bool:
    """A claim (pending or sending) whose holder stopped renewing it."""
    if status not in (PENDING, SENDING):
        return False
    if lease_until is not None:
        return _aware(lease_until) < now
    return now - _aware(updated_at) > STALE_AFTER


def shown_status(
    status: str, updated_at: dt.datetime, lease_until: dt.datetime | None, now: dt.datetime
) -> str:
    """The status as users see it: a dead ``sending`` claim (or a pre-lease pending one) is ``unknown``,
    a dead ``pending`` one ``lapsed``."""
    if not _dead(status, updated_at, lease_until, now):
        return status
    return LAPSED if status == PENDING and lease_until is not None else UNKNOWN


def claim(
    engine: Engine,
    key: MessageKey,
    destination: str,
    *,
    force: bool = False,
    take_over_dead: bool = False,
    take_over_unknown: bool = False,
    owner: str | None = None,
    lease: dt.timedelta = LEASE,
) -> Claim:
    """Mark (key, destination) ``pending`` for this process, atomically.

    A new key is claimed by INSERT; a ``failed`` one by UPDATE ... WHERE status = 'failed' (with
    ``force``, any status). With ``take_over_dead``, a ``lapsed`` row (a pending claim whose lease
    ran out, nothing handed over) is taken over too (``Claim.resumed``); with ``take_over_unknown``
    as well, a pre-lease pending row in doubt (for a channel that can look the message up). A row
    that lapsed while ``sending`` is never taken over. Returns ``Claim(claimed=False, status=...)`` when another
    process holds it, it was sent already, or its outcome is unknown.
    """
    from sqlalchemy import insert, select, update
    from sqlalchemy.exc import IntegrityError

    table = _table()
    now = _now()
    owner = owner or OWNER
    claimed_values = {"status": PENDING, "updated_at": now, "lease_until": now + lease, "owner": owner}
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(table).values(
                    kind=key.kind,
                    name=key.name,
                    period=key.period,
                    segment=key.segment,
                    destination=destination,
                    attempts=1,
                    fence=1,
                    **claimed_values,
                )
            )
        return Claim(claimed=True, status=PENDING, attempts=1, fence=1)
    except IntegrityError:
        pass  # the row exists: try to take it over below, in a fresh transaction
    with engine.begin() as connection:
        row = connection.execute(
            select(table.c.status, table.c.updated_at, table.c.lease_until, table.c.message_ids).where(
                _key(table, key, destination)
            )
        ).one()
        shown = shown_status(row.status, row.updated_at, row.lease_until, now)
        condition = _claimable(table, row, shown, force, take_over_dead, take_over_unknown)
        result = connection.execute(
            update(table)
            .where(_key(table, key, destination) & condition)
            .values(attempts=table.c.attempts + 1, fence=table.c.fence + 1, last_error=None, **claimed_values)
        )
        attempts, fence = connection.execute(
            select(table.c.attempts, table.c.fence).where(_key(table, key, destination))
        ).one()
    previous_ids = json.loads(row.message_ids) if row.message_ids else []
    if result.rowcount == 1:
        resumed = row.status == PENDING and not force
        return Claim(
            claimed=True,
            status=PENDING,
            attempts=attempts,
            resumed=resumed,
            message_ids=previous_ids,
            fence=fence,
        )
    return Claim(claimed=False, status=shown, attempts=attempts, message_ids=previous_ids)


def _claimable(table, row, shown: str, force: bool, take_over_dead: bool, take_over_unknown: bool):
    """The WHERE condition under which ``claim`` may take over the existing row it read as ``row``."""
    from sqlalchemy import and_, or_

    if force:
        return table.c.status.in_([FAILED, SENT, PENDING, SENDING])
    if take_over_dead and (
        shown == LAPSED or (take_over_unknown and shown == UNKNOWN and row.status == PENDING)
    ):
        # The same state we read: a concurrent taker-over changes lease_until, so only one wins.
        same_lease = (
            table.c.lease_until == row.lease_until
            if row.lease_until is not None
            else table.c.lease_until.is_(None)
        )
        return or_(table.c.status == FAILED, and_(table.c.status == PENDING, same_lease))
    return table.c.status == FAILED


def renew(
    engine: Engine,
    keys: Iterable[tuple[MessageKey, str]],
    *,
    owner: str | None = None,
    lease: dt.timedelta = LEASE,
) -> int:
    """Extend the lease of this owner's pending claims; returns how many rows were renewed."""
    from sqlalchemy import update

    table = _table()
    owner = owner or OWNER
    renewed = 0
    with engine.begin() as connection:
        for key, destination in keys:
            result = connection.execute(
                update(table)
                .where(
                    _key(table, key, destination)
                    & table.c.status.in_([PENDING, SENDING])
                    & (table.c.owner == owner)
                )
                .values(lease_until=_now() + lease)
            )
            renewed += result.rowcount
    return renewed


def mark_sending(
    engine: Engine, key: MessageKey, destination: str, *, owner: str | None = None, fence: int | None = None
) -> bool:
    """Record that this owner's claim is being handed over now (just before SMTP ``DATA``).

    False, and nothing written, when the claim is no longer this owner's (its lease ran out and
    another sender took it over): the caller must not send.
    """
    table = _table()
    held = (table.c.fence == fence) if fence is not None else (table.c.owner == (owner or OWNER))
    return _update_row(engine, key, destination, (table.c.status == PENDING) & held, status=SENDING)


def holds(engine: Engine, key: MessageKey, destination: str, fence: int) -> bool:
    """True when the claim of generation ``fence`` is still the row's (a conditional UPDATE that
    touches ``updated_at``); False once another sender took it over or it was settled."""
    table = _table()
    return _update_row(
        engine, key, destination, (table.c.fence == fence) & table.c.status.in_([PENDING, SENDING])
    )


def record_progress(
    engine: Engine,
    key: MessageKey,
    destination: str,
    message_ids: Iterable[str],
    *,
    fence: int | None = None,
    sending: bool = False,
) -> bool:
    """Store what a pending send has created so far (a resumed send starts from it); ``sending`` keeps
    a send already handed over in ``sending`` (a crash then leaves it ``unknown``, never resent)."""
    return _finish(
        engine,
        key,
        destination,
        status=SENDING if sending else PENDING,
        message_ids=list(message_ids),
        error=None,
        fence=fence,
    )


def mark_sent(
    engine: Engine, key: MessageKey, destination: str, message_ids: Iterable[str], *, fence: int | None = None
) -> bool:
    """Record a successful send with the ids of what was created. With ``fence``, only while that claim
    is still the row's: False, and nothing written, when another sender holds it now."""
    return _finish(
        engine, key, destination, status=SENT, message_ids=list(message_ids), error=None, fence=fence
    )


def mark_failed(
    engine: Engine, key: MessageKey, destination: str, error: str, *, fence: int | None = None
) -> bool:
    """Record a failed send; the next delivery retries it (with ``fence``, only while the claim is held)."""
    return _finish(engine, key, destination, status=FAILED, message_ids=None, error=error, fence=fence)


def _finish(engine, key, destination, *, status, message_ids, error, fence=None) -> bool:

    table = _table()
    values: dict[str, Any] = {"status": status, "updated_at": _now()}
    if status not in (PENDING, SENDING):  # a claim in flight keeps its lease
        values.update(lease_until=None, last_error=error[:MAX_ERROR_LENGTH] if error else None)
    if message_ids is not None:
        values["message_ids"] = json.dumps(message_ids)
    condition = (
        (table.c.fence == fence) & table.c.status.in_([PENDING, SENDING]) if fence is not None else None
    )
    return _update_row(engine, key, destination, condition, **values)


def _update_row(engine, key: MessageKey, destination: str, condition, **values: Any) -> bool:
    """UPDATE the row of (key, destination) where ``condition`` holds (None: always), touching
    ``updated_at``; True when it matched."""
    from sqlalchemy import update

    table = _table()
    where = _key(table, key, destination)
    if condition is not None:
        where = where & condition
    with engine.begin() as connection:
        result = connection.execute(update(table).where(where).values(**{"updated_at": _now(), **values}))
    return result.rowcount == 1


def list_deliveries(
    engine: Engine,
    *,
    name: str | None = None,
    period: str | None = None,
    kind: str | None = None,
    digest: str | None = None,
    stored: tuple[str, ...] | None = None,
) -> list[LedgerRow]:
    """Ledger rows, newest first, optionally for one name (``digest`` is the same), kind, period and
    stored statuses."""
    from sqlalchemy import select

    table = _table()
    name = name if name is not None else digest
    query = select(table).order_by(table.c.updated_at.desc(), table.c.id.desc())
    if name is not None:
        query = query.where(table.c.name == name)
    if period is not None:
        query = query.where(table.c.period == period)
    if kind is not None:
        query = query.where(table.c.kind == kind)
    if stored is not None:
        query = query.where(table.c.status.in_(stored))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    now = _now()
    return [
        LedgerRow(
            kind=row.kind,
            name=row.name,
            period=row.period,
            segment=row.segment,
            destination=row.destination,
            status=shown_status(row.status, row.updated_at, row.lease_until, now),
            attempts=row.attempts,
            last_error=row.last_error,
            message_ids=json.loads(row.message_ids) if row.message_ids else [],
            updated_at=_aware(row.updated_at),
        )
        for row in rows
    ]


def unknown_deliveries(engine: Engine) -> list[LedgerRow]:
    """Every row whose outcome is ``unknown`` (a send that lapsed while handing the message over)."""
    return [row for row in list_deliveries(engine, stored=(SENDING, PENDING)) if row.status == UNKNOWN]


def settle_unknown(engine: Engine, key: MessageKey, destination: str, *, arrived: bool) -> str:
    """A person's decision on an ``unknown`` row: it arrived (``sent``), or send it again (``failed``, due
    for a retry). Returns the row's shown status before: only ``unknown`` is changed."""
    from sqlalchemy import select, update

    table = _table()
    now = _now()
    with engine.begin() as connection:
        row = connection.execute(
            select(table.c.status, table.c.updated_at, table.c.lease_until).where(
                _key(table, key, destination)
            )
        ).one_or_none()
        if row is None:
            return "missing"
        shown = shown_status(row.status, row.updated_at, row.lease_until, now)
        if shown != UNKNOWN:
            return shown
        note = "marked arrived by a person" if arrived else "resend requested by a person"
        same = table.c.status == row.status
        result = connection.execute(
            update(table)
            .where(_key(table, key, destination) & same & (table.c.updated_at == row.updated_at))
            .values(
                status=SENT if arrived else FAILED,
                lease_until=None,
                updated_at=now,
                last_error=f"{note} (the outcome was unknown)",
            )
        )
    return UNKNOWN if result.rowcount == 1 else "changed meanwhile"
