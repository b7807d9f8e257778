"""The delivery ledger: one row per (digest, period, destination), so each digest is sent once.

Sending is claimed before it happens: a process first turns the row into ``pending`` with an
atomic INSERT (the unique key makes a second INSERT fail) or an atomic UPDATE that only matches
a ``failed`` row. Two processes sharing a database can therefore never both send the same
(digest, period, destination).

Delivery semantics: **at most once**. If the process dies between the send and its record,
the row stays ``pending`` and is shown as ``unknown`` once it is older than ``STALE_AFTER``:
the message may or may not have arrived, and neither Slack nor SMTP can tell us which. kpicore
never resends such a row automatically (a duplicate Monday digest is worse than a missing one
that someone can check); ``force=True`` (``kpi digest send --force``) resends it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from kpicore.errors import ConfigError, KpiError

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData, Table

    from kpicore.channels.base import Channel, OutgoingDigest
    from kpicore.digest.render import DigestSpec

PENDING, SENT, FAILED, UNKNOWN = "pending", "sent", "failed", "unknown"
#: A pending row older than this is reported as ``unknown`` (the sender probably crashed).
STALE_AFTER = dt.timedelta(minutes=15)
MAX_ERROR_LENGTH = 2000

_METADATA: MetaData | None = None


def deliveries_columns() -> list:
    """Fresh Column and constraint objects of the ``deliveries`` table.

    The single definition of the table: deliveries_table() and the Alembic migration
    ``0002_deliveries`` both build from it (tests compare the migrated schema with it). A later
    change to the table needs a new migration, and this list then describes the newest schema:
    copy the old list into 0002 first so that history stays what it was.
    """
    from sqlalchemy import Column, DateTime, Integer, String, Text, UniqueConstraint

    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("digest", String(200), nullable=False),
        Column("period", String(100), nullable=False),
        Column("destination", String(1000), nullable=False),
        Column("status", String(20), nullable=False),
        Column("attempts", Integer, nullable=False, default=0),
        Column("last_error", Text, nullable=True),
        Column("message_ids", Text, nullable=True),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("digest", "period", "destination", name="uq_deliveries_digest_period_destination"),
    ]


def deliveries_table(metadata: MetaData) -> Table:
    """The ``deliveries`` table on ``metadata`` (defined once per MetaData; the state database's
    Alembic migration 0002 creates it)."""
    from sqlalchemy import Table

    if "deliveries" in metadata.tables:
        return metadata.tables["deliveries"]
    return Table("deliveries", metadata, *deliveries_columns())


def _table() -> Table:
    """The table definition used by the functions below (one shared MetaData)."""
    global _METADATA
    from sqlalchemy import MetaData

    if _METADATA is None:
        _METADATA = MetaData()
    return deliveries_table(_METADATA)


def create_deliveries_table(engine: Engine) -> None:
    """Create the table if it is missing (tests, and databases not managed by the migrations)."""
    table = _table()
    table.metadata.create_all(engine, tables=[table], checkfirst=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class LedgerRow:
    """One row of the ledger, with ``status`` as shown to users (``unknown`` for a stale pending)."""

    digest: str
    period: str
    destination: str
    status: str
    attempts: int
    last_error: str | None
    message_ids: list[str]
    updated_at: dt.datetime


@dataclass
class Claim:
    """The result of claim(): ``claimed`` True when this process may send now; else the row's status."""

    claimed: bool
    status: str
    attempts: int = 0


def _key(table: Table, digest: str, period: str, destination: str):
    return (table.c.digest == digest) & (table.c.period == period) & (table.c.destination == destination)


def claim(engine: Engine, digest: str, period: str, destination: str, *, force: bool = False) -> Claim:
    """Mark (digest, period, destination) ``pending`` for this process, atomically.

    A new key is claimed by INSERT; a ``failed`` one by UPDATE ... WHERE status = 'failed'
    (with ``force``, any status). Returns ``Claim(claimed=False, status=...)`` when another
    process holds it, it was sent already, or its outcome is unknown.
    """
    from sqlalchemy import insert, select, update
    from sqlalchemy.exc import IntegrityError

    table = _table()
    now = _now()
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(table).values(
                    digest=digest,
                    period=period,
                    destination=destination,
                    status=PENDING,
                    attempts=1,
                    updated_at=now,
                )
            )
        return Claim(claimed=True, status=PENDING, attempts=1)
    except IntegrityError:
        pass  # the row exists: try to take it over below, in a fresh transaction
    allowed = [FAILED, SENT, PENDING] if force else [FAILED]
    with engine.begin() as connection:
        result = connection.execute(
            update(table)
            .where(_key(table, digest, period, destination) & table.c.status.in_(allowed))
            .values(status=PENDING, attempts=table.c.attempts + 1, updated_at=now, last_error=None)
        )
        row = connection.execute(
            select(table.c.status, table.c.attempts, table.c.updated_at).where(
                _key(table, digest, period, destination)
            )
        ).one()
    if result.rowcount == 1:
        return Claim(claimed=True, status=PENDING, attempts=row.attempts)
    return Claim(claimed=False, status=_shown_status(row.status, row.updated_at), attempts=row.attempts)


def mark_sent(engine: Engine, digest: str, period: str, destination: str, message_ids: Iterable[str]) -> None:
    """Record a successful send with the ids of what was created."""
    _finish(engine, digest, period, destination, status=SENT, message_ids=list(message_ids), error=None)


def mark_failed(engine: Engine, digest: str, period: str, destination: str, error: str) -> None:
    """Record a failed send; the next ``deliver`` retries it."""
    _finish(engine, digest, period, destination, status=FAILED, message_ids=None, error=error)


def _finish(engine, digest, period, destination, *, status, message_ids, error) -> None:
    from sqlalchemy import update

    table = _table()
    values: dict[str, Any] = {"status": status, "updated_at": _now(), "last_error": error}
    if error is not None:
        values["last_error"] = error[:MAX_ERROR_LENGTH]
    if message_ids is not None:
        values["message_ids"] = json.dumps(message_ids)
    with engine.begin() as connection:
        connection.execute(update(table).where(_key(table, digest, period, destination)).values(**values))


def _aware(value: dt.datetime) -> dt.datetime:
    # SQLite gives naive datetimes back; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _shown_status(status: str, updated_at: dt.datetime, stale_after: dt.timedelta = STALE_AFTER) -> str:
    if status == PENDING and _now() - _aware(updated_at) > stale_after:
        return UNKNOWN
    return status


def list_deliveries(
    engine: Engine,
    *,
    digest: str | None = None,
    period: str | None = None,
    stale_after: dt.timedelta = STALE_AFTER,
) -> list[LedgerRow]:
    """Ledger rows, newest first, optionally for one digest and period."""
    from sqlalchemy import select

    table = _table()
    query = select(table).order_by(table.c.updated_at.desc(), table.c.id.desc())
    if digest is not None:
        query = query.where(table.c.digest == digest)
    if period is not None:
        query = query.where(table.c.period == period)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        LedgerRow(
            digest=row.digest,
            period=row.period,
            destination=row.destination,
            status=_shown_status(row.status, row.updated_at, stale_after),
            attempts=row.attempts,
            last_error=row.last_error,
            message_ids=json.loads(row.message_ids) if row.message_ids else [],
            updated_at=_aware(row.updated_at),
        )
        for row in rows
    ]


@dataclass
class DeliveryOutcome:
    """What happened to one destination in one ``deliver`` call."""

    destination: str
    status: Literal["sent", "failed", "skipped"]
    message_ids: list[str] = field(default_factory=list)
    error: str | None = None
    #: For ``skipped``: the ledger status that made us skip (sent, pending, unknown).
    previous_status: str | None = None

    @property
    def message(self) -> str:
        """One line for the CLI."""
        if self.status == "sent":
            return f"{self.destination}: sent"
        if self.status == "failed":
            return f"{self.destination}: failed: {self.error}"
        reasons = {
            SENT: "already sent for this period (use --force to resend)",
            PENDING: "being sent by another process",
            UNKNOWN: "outcome unknown (a previous send was interrupted; check the destination, "
            "then use --force to resend)",
        }
        return f"{self.destination}: skipped, {reasons.get(self.previous_status or '', self.previous_status)}"


def deliver(
    spec: DigestSpec,
    outgoing: OutgoingDigest,
    destinations: Iterable[str],
    engine: Engine,
    channels: dict[str, Channel],
    settings: dict[str, dict[str, Any]] | None = None,
    force: bool = False,
) -> list[DeliveryOutcome]:
    """Send ``outgoing`` to each destination at most once per (digest, period), recording each in the ledger.

    ``channels`` maps a scheme to its channel; ``settings`` maps a scheme to that channel's
    kpi.toml table (``{"email": {...}}``). A failing destination is recorded as failed and does
    not stop the others; destinations already sent (or in doubt) are skipped unless ``force``.
    """
    from kpicore.channels.base import parse_destination

    settings = settings or {}
    period = outgoing.period_label
    outcomes: list[DeliveryOutcome] = []
    for destination in destinations:
        try:
            scheme, target = parse_destination(destination)
        except ConfigError as error:
            outcomes.append(DeliveryOutcome(destination, "failed", error=str(error)))
            continue
        channel = channels.get(scheme)
        if channel is None:
            known = ", ".join(sorted(channels)) or "none"
            outcomes.append(
                DeliveryOutcome(
                    destination,
                    "failed",
                    error=f"Digest {spec.name!r}: no channel plugin handles {scheme!r} (known: {known})",
                )
            )
            continue
        ticket = claim(engine, spec.name, period, destination, force=force)
        if not ticket.claimed:
            outcomes.append(DeliveryOutcome(destination, "skipped", previous_status=ticket.status))
            continue
        try:
            delivery = channel.send(outgoing, target, dict(settings.get(scheme) or {}))
        except KpiError as error:
            message = str(error)
        except Exception as error:  # noqa: BLE001 - a plugin bug must not stop the other destinations
            message = f"{type(error).__name__}: {error}"
        else:
            mark_sent(engine, spec.name, period, destination, delivery.message_ids)
            outcomes.append(DeliveryOutcome(destination, "sent", message_ids=delivery.message_ids))
            continue
        mark_failed(engine, spec.name, period, destination, message)
        outcomes.append(DeliveryOutcome(destination, "failed", error=message))
    return outcomes
