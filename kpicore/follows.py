"""Who follows which metric (``/kpi follow``): subscriptions kept in the state database.

One row per (Slack user, metric), with the dimension to break it down by (``by region``) and the
channel the follow was typed in: the personal message re-checks ``[chat] allow`` with that channel,
so a metric later refused there leaves the user's message too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpicore.tables import LiveTable

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData, Table

#: How many metrics one person may follow (a personal message stays one readable message).
MAX_FOLLOWS = 10


def follows_table(metadata: MetaData) -> Table:
    """The live definition of the ``follows`` table (migration 0004 carries its own frozen copy)."""
    from sqlalchemy import Column, DateTime, Integer, String, Table, UniqueConstraint

    if "follows" in metadata.tables:
        return metadata.tables["follows"]
    return Table(
        "follows",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("user_id", String(50), nullable=False),
        Column("metric", String(100), nullable=False),
        Column("dimension", String(100), nullable=False, server_default=""),
        Column("channel_id", String(50), nullable=False, server_default=""),
        Column("channel_name", String(200), nullable=False, server_default=""),
        Column("created_at", DateTime(timezone=True), nullable=False),
        UniqueConstraint("user_id", "metric", name="uq_follows_user_metric"),
    )


#: Threads answering at once define the table once.
_table = LiveTable(follows_table)


@dataclass(frozen=True)
class Follow:
    """One subscription: ``dimension`` is None for the total only."""

    user_id: str
    metric: str
    dimension: str | None
    channel_id: str
    channel_name: str
    created_at: dt.datetime


def follow(
    engine: Engine,
    user_id: str,
    metric: str,
    dimension: str | None,
    *,
    channel_id: str = "",
    channel_name: str = "",
) -> bool:
    """Subscribe ``user_id`` to ``metric`` (updating its dimension if already followed).

    Returns True for a new subscription, False when it replaced the dimension of an existing one.
    """
    from sqlalchemy import insert, update
    from sqlalchemy.exc import IntegrityError

    table = _table()
    values = {"dimension": dimension or "", "channel_id": channel_id, "channel_name": channel_name}
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(table).values(
                    user_id=user_id, metric=metric, created_at=dt.datetime.now(dt.UTC), **values
                )
            )
        return True
    except IntegrityError:
        with engine.begin() as connection:
            connection.execute(
                update(table)
                .where((table.c.user_id == user_id) & (table.c.metric == metric))
                .values(**values)
            )
        return False


def unfollow(engine: Engine, user_id: str, metric: str) -> bool:
    """Remove the subscription; False when there was none."""
    from sqlalchemy import delete

    table = _table()
    with engine.begin() as connection:
        result = connection.execute(
            delete(table).where((table.c.user_id == user_id) & (table.c.metric == metric))
        )
    return result.rowcount > 0


def following(engine: Engine, user_id: str | None = None) -> list[Follow]:
    """The subscriptions of ``user_id`` (everyone's with None), by user then in the order they were made."""
    from sqlalchemy import select

    table = _table()
    query = select(table).order_by(table.c.user_id, table.c.created_at, table.c.id)
    if user_id is not None:
        query = query.where(table.c.user_id == user_id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        Follow(
            row.user_id,
            row.metric,
            row.dimension or None,
            row.channel_id,
            row.channel_name,
            row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC),
        )
        for row in rows
    ]


def by_user(follows: list[Follow]) -> dict[str, list[Follow]]:
    """``{user_id: [Follow, ...]}`` in the order given."""
    grouped: dict[str, list[Follow]] = {}
    for item in follows:
        grouped.setdefault(item.user_id, []).append(item)
    return grouped
