"""A named lease in the state database: which of several `kpi serve` processes does a job (Telegram
allows one getUpdates poller per bot: a second one gets 409)."""

from __future__ import annotations

import datetime as dt

from kpicore.tables import created_table


def _table(engine):
    from sqlalchemy import Column, DateTime, String

    return created_table(
        engine,
        "kpicore_telegram_leases",
        Column("name", String(100), primary_key=True),
        Column("owner", String(100), nullable=False),
        Column("lease_until", DateTime(timezone=True), nullable=False),
    )


def hold(engine, name: str, owner: str, lease: dt.timedelta) -> bool:
    """Take or renew lease ``name`` for ``owner``: True when ``owner`` holds it until now + ``lease``."""
    from sqlalchemy import insert, or_, update
    from sqlalchemy.exc import IntegrityError

    from kpicore import clock

    table = _table(engine)
    now = clock.now()
    values = {"owner": owner, "lease_until": now + lease}
    try:
        with engine.begin() as connection:
            connection.execute(insert(table).values(name=name, **values))
        return True
    except IntegrityError:
        pass
    with engine.begin() as connection:
        result = connection.execute(
            update(table)
            .where(table.c.name == name, or_(table.c.owner == owner, table.c.lease_until < now))
            .values(**values)
        )
    return result.rowcount == 1
