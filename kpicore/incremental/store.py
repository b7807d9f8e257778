"""The incremental lifetime aggregates in the state database, and how a run brings them up to date.

The store holds the aggregates of every valid order before the *cutoff*, a local midnight ``late_data``
(7 days) before the run: per customer (days of the first order, first and second purchase; orders,
purchases, amount) and per local day (revenue, the lifetime warnings, how many customers made their first
order, first and second purchase that day). Rows at or after the cutoff are read live at every answer.

A run moves the cutoff forward by reading only the rows between the old and the new cutoff, once a
fingerprint of the rows before the old cutoff (count, amount sum, positive orders and the sum of a
per-row hash, in one ungrouped scan; stored as the one row ``sql.ALL`` of ``incremental_months``)
matches the stored one. It recomputes everything instead when the configuration
fingerprint (source, orders mapping, timezone, week start) changed, when ``[serve] recompute`` is due,
when the fingerprint of the older rows moved, and on demand (``kpi compute --full``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict

import sqlalchemy as sa

from .. import clock
from ..periods import _midnight
from ..state import state_dialect
from . import sql

#: Version of what the store holds: a change recomputes every store.
LAYOUT = "3"
#: Customers per batch read from the source and written to the state database.
BATCH = 5000
#: A gap between two cutoffs longer than this is a full recompute, not an increment.
MAX_INCREMENT_DAYS = 400
#: Intervals ``[serve] recompute`` accepts, in days (``never``: only when something invalidates).
RECOMPUTE = {"daily": 1, "weekly": 7, "monthly": 30, "never": None}
#: Relative tolerance of the fingerprint's amount sums (databases may sum in another order).
AMOUNT_TOLERANCE = 1e-9

metadata = sa.MetaData()
meta = sa.Table(
    "incremental_meta",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
customers = sa.Table(
    "incremental_customers",
    metadata,
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("first_order_day", sa.Integer, nullable=False),
    sa.Column("first_purchase_day", sa.Integer),
    sa.Column("second_purchase_day", sa.Integer),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("purchases", sa.Integer, nullable=False),
    sa.Column("amount", sa.Float, nullable=False),
)
DAY_COUNTS = ("revenue", "no_amount", "no_customer", "customers", "purchasers", "repeaters")
days = sa.Table(
    "incremental_days",
    metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("revenue", sa.Float, nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False) for name in DAY_COUNTS[1:]),
)
MONTH_COUNTS = ("orders", "amount", "purchases", "hash")
months = sa.Table(
    "incremental_months",
    metadata,
    sa.Column("month", sa.String(40), primary_key=True),
    sa.Column("orders", sa.Integer, nullable=False),
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("purchases", sa.Integer, nullable=False),
    sa.Column("hash", sa.BigInteger, nullable=False),
)


def config_fingerprint(source, config) -> str:
    """What the aggregates depend on besides the data: the source, the orders mapping, the timezone and
    the week start; a change recomputes them."""
    mapping = source.config.entities.get("orders")
    described = {
        "layout": LAYOUT,
        "source": source.display,
        "schema": source.config.schema,
        "orders": repr(mapping),
        "timezone": source.timezone.key,
        "week_start": getattr(config, "week_start", None) or "monday",
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]


def cutoff_for(now: dt.datetime, late_data: float, zone) -> dt.datetime:
    """The local midnight at or before ``now - late_data``: rows before it are aggregated, rows after
    it read live."""
    day = (now - dt.timedelta(seconds=late_data)).astimezone(zone).date()
    return _midnight(day, zone)


def read_meta(engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {row.key: row.value for row in connection.execute(sa.select(meta))}


def read_days(engine) -> dict[int, dict]:
    with engine.connect() as connection:
        return {row.day: dict(row._mapping) for row in connection.execute(sa.select(days))}


#: SQLite page cache of a state connection that merges customers (KiB): the default 2 MB makes the
#: join of a span's customers with a million-customer store read its pages again; 32 MB (SQLite's
#: sorts may use as much) took the second digest's peak RSS from 86 to 111 MB at 10 M orders, no faster.
SQLITE_CACHE_KIB = 8192


def roomy(connection) -> None:
    """Give a SQLite state connection a page cache that holds the customer pages a merge revisits."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


class Refresh:
    """What one refresh did, for logs, tests and the benchmark."""

    def __init__(self, kind: str, reason: str = "", seconds: float = 0.0):
        self.kind, self.reason, self.seconds = kind, reason, seconds  # kind: full, increment, none

    def __repr__(self) -> str:
        return f"Refresh({self.kind!r}, {self.reason!r})"


def refresh(
    source, config, engine, *, late_data: float, recompute: str = "weekly", full: bool = False, now=None
) -> Refresh:
    """Bring the store up to date for a run at ``now``: a full recompute or an increment (see the module)."""
    import time

    started = time.perf_counter()
    now = now or clock.now()
    zone = source.timezone
    cutoff = cutoff_for(now, late_data, zone)
    stored = read_meta(engine)
    fingerprint = config_fingerprint(source, config)
    reason = ""
    if full:
        reason = "asked for (--full)"
    elif not stored.get("cutoff"):
        reason = "no aggregates yet"
    elif stored.get("config") != fingerprint:
        reason = "the mapping, timezone or week start changed"
    elif _due(stored, recompute, now):
        reason = f"[serve] recompute = {recompute!r} is due"
    old_cutoff = dt.datetime.fromisoformat(stored["cutoff"]) if stored.get("cutoff") else None
    if not reason and old_cutoff is not None and cutoff < old_cutoff:
        cutoff = old_cutoff  # a clock that went back keeps the aggregates where they are
    if not reason and old_cutoff is not None and (cutoff - old_cutoff).days > MAX_INCREMENT_DAYS:
        reason = "the last run was too long ago"
    if not reason:
        if cutoff != old_cutoff and source.engine.dialect.name in sql.ONE_SCAN:
            older, added = _fingerprints(source, old_cutoff, cutoff)
        else:
            older, added = _fingerprint(source, None, old_cutoff), {}
        if not _same_months(older, _stored_months(engine)):
            reason = "older orders changed (the fingerprint moved)"
        elif cutoff == old_cutoff:
            return Refresh("none", "up to date", time.perf_counter() - started)
        else:
            added = added or _fingerprint(source, old_cutoff, cutoff)
            _increment(source, engine, stored, old_cutoff, cutoff, _merged(older, added), now)
            return Refresh("increment", "", time.perf_counter() - started)
    _full(source, engine, fingerprint, cutoff, now)
    return Refresh("full", reason, time.perf_counter() - started)


def _due(stored: dict, recompute: str, now: dt.datetime) -> bool:
    interval = RECOMPUTE.get(recompute, 7)
    if interval is None or not stored.get("full_at"):
        return False
    return now - dt.datetime.fromisoformat(stored["full_at"]) >= dt.timedelta(days=interval)


def _fingerprint(source, start, end) -> dict:
    """The fingerprint of the rows in [start, end) (no start: every row before end), as stored."""
    found = {}
    for row in source.execute(sql.fingerprint_query(source, start, end)):
        found[sql.ALL] = (int(row.orders), float(row.amount), int(row.purchases), int(row.hash))
    return found


def _fingerprints(source, split, end) -> tuple[dict, dict]:
    """The fingerprints of the rows before ``split`` and of those in [split, end), from one scan: the
    sums of every row before ``end`` less those of the rows from ``split`` on (the amount subtracted as
    the database gives it, exactly for a decimal)."""
    older: dict = {}
    added: dict = {}
    for row in source.execute(sql.fingerprint_query(source, None, end, split)):
        amount = (row.amount or 0) - (row.added_amount or 0)
        older[sql.ALL] = (
            int(row.orders) - int(row.added_orders),
            float(amount),
            int(row.purchases) - int(row.added_purchases),
            int(row.hash) - int(row.added_hash),
        )
        added[sql.ALL] = (
            int(row.added_orders),
            float(row.added_amount),
            int(row.added_purchases),
            int(row.added_hash),
        )
    return older, added


def _merged(older: dict, added: dict) -> dict:
    merged = dict(older)
    for key, (orders, amount, purchases, hashed) in added.items():
        o, a, p, h = merged.get(key, (0, 0.0, 0, 0))
        merged[key] = (o + orders, a + amount, p + purchases, h + hashed)
    return merged


def _stored_months(engine) -> dict:
    with engine.connect() as connection:
        return {
            row.month: (row.orders, row.amount, row.purchases, row.hash)
            for row in connection.execute(sa.select(months))
        }


def _same_months(found: dict, stored: dict) -> bool:
    if found.keys() != stored.keys():
        return False
    for month, (orders, amount, purchases, hashed) in found.items():
        o, a, p, h = stored[month]
        if (orders, purchases, hashed) != (o, p, h):
            return False
        if abs(amount - a) > AMOUNT_TOLERANCE * max(1.0, abs(a)):
            return False
    return True


def _write_meta(connection, dialect, values: dict[str, str]) -> None:
    rows = [{"key": k, "value": v} for k, v in values.items()]
    connection.execute(dialect.upsert(meta, rows, ("key",), lambda new: {"value": new.value}))


def _write_months(connection, dialect, found: dict) -> None:
    connection.execute(sa.delete(months))
    rows = [dict(zip(("month", *MONTH_COUNTS), (m, *v), strict=True)) for m, v in found.items()]
    for i in range(0, len(rows), BATCH):
        connection.execute(sa.insert(months), rows[i : i + BATCH])


def _stream(source, statement):
    """The rows of a source query, a batch at a time (the database's cursor streams them)."""
    with source.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=BATCH).execute(statement)
        yield from result.partitions(BATCH)


def _full(source, engine, fingerprint: str, cutoff: dt.datetime, now: dt.datetime) -> None:
    """Recompute every aggregate of the rows before ``cutoff``."""
    dialect = state_dialect(engine)
    zone = source.timezone
    first = sql.earliest_day(source, cutoff)
    per_day: dict[int, dict] = {}
    if first is not None:
        boundaries = sql.midnights(first, cutoff.date(), zone)
        for row in source.execute(sql.day_totals_query(source, None, first, boundaries)):
            per_day[int(row.day)] = _day_row(row.day, row.revenue, row.no_amount, row.no_customer)
    with engine.begin() as connection:
        for table in (customers, days, months):
            connection.execute(sa.delete(table))
        counts: dict[str, dict[int, int]] = {k: defaultdict(int) for k in DAY_COUNTS[3:]}
        if first is not None:
            for batch in _stream(source, sql.customers_query(source, first, boundaries)):
                rows = [_customer_row(row) for row in batch]
                for row in rows:
                    counts["customers"][row["first_order_day"]] += 1
                    if row["first_purchase_day"] is not None:
                        counts["purchasers"][row["first_purchase_day"]] += 1
                    if row["second_purchase_day"] is not None:
                        counts["repeaters"][row["second_purchase_day"]] += 1
                connection.execute(sa.insert(customers), rows)
        _write_days(connection, dialect, per_day, counts)
        _write_months(connection, dialect, _fingerprint(source, None, cutoff))
        _write_meta(
            connection,
            dialect,
            {
                "config": fingerprint,
                "cutoff": cutoff.isoformat(),
                "full_at": now.isoformat(),
                "first_day": first.isoformat() if first else "",
            },
        )


def _day_row(day, revenue=0.0, no_amount=0, no_customer=0) -> dict:
    return {
        "day": int(day),
        "revenue": float(revenue or 0.0),
        "no_amount": int(no_amount or 0),
        "no_customer": int(no_customer or 0),
        "customers": 0,
        "purchasers": 0,
        "repeaters": 0,
    }


def _customer_row(row) -> dict:
    return {
        "customer_id": str(row.customer_id),
        "first_order_day": int(row.first_order_day),
        "first_purchase_day": None if row.first_purchase_day is None else int(row.first_purchase_day),
        "second_purchase_day": None if row.second_purchase_day is None else int(row.second_purchase_day),
        "orders": int(row.orders),
        "purchases": int(row.purchases),
        "amount": float(row.amount),
    }


def _write_days(connection, dialect, per_day: dict[int, dict], counts, existing: dict | None = None) -> None:
    """Add ``per_day`` totals and ``counts`` to the stored days (``existing``: those already stored)."""
    existing = existing or {}
    merged: dict[int, dict] = {}
    for day in set(per_day) | {d for c in counts.values() for d in c}:
        row = dict(existing.get(day) or _day_row(day))
        for key, value in (per_day.get(day) or _day_row(day)).items():
            if key != "day":
                row[key] += value
        for key, by_day in counts.items():
            row[key] += by_day.get(day, 0)
        merged[day] = row
    rows = list(merged.values())
    for i in range(0, len(rows), BATCH):
        connection.execute(
            dialect.upsert(days, rows[i : i + BATCH], ("day",), lambda new: {k: new[k] for k in DAY_COUNTS})
        )


def _increment(source, engine, stored_meta, old_cutoff, cutoff, found_months, now) -> None:
    """Extend the aggregates by the rows in [old_cutoff, cutoff), all later than every stored row: the
    span's customers grouped in the source, merged with the stored ones in the state database."""
    from . import merge

    dialect = state_dialect(engine)
    zone = source.timezone
    first = old_cutoff.astimezone(zone).date()
    boundaries = sql.midnights(first, cutoff.astimezone(zone).date(), zone)
    counts: dict[str, dict[int, float]] = {k: defaultdict(int) for k in DAY_COUNTS}
    with engine.begin() as connection:
        moved = connection.execute(
            sa.update(meta)
            .where(meta.c.key == "cutoff", meta.c.value == stored_meta["cutoff"])
            .values(value=cutoff.isoformat())
        )
        if moved.rowcount != 1:
            return  # another process moved the cutoff first: its increment is the one kept
        roomy(connection)
        with merge.span_table(connection) as span:
            merge.load(
                connection, span, _stream(source, sql.span_query(source, old_cutoff, first, boundaries))
            )
            merge.add_totals(connection, span, counts)
            with merge.span_customers(connection, span) as found:
                merge.add_firsts(connection, found, customers, counts)
                merge.extend_customers(connection, dialect, found, customers)
        per_day = {day: _day_row(day) for k in DAY_COUNTS[:3] for day in counts[k]}
        for day, row in per_day.items():
            for k in DAY_COUNTS[:3]:
                row[k] += counts[k].get(day, 0)
        counts = {k: counts[k] for k in DAY_COUNTS[3:]}
        existing = read_days_in(connection, set(per_day) | {d for c in counts.values() for d in c})
        _write_days(connection, dialect, per_day, counts, existing)
        _write_months(connection, dialect, found_months)


def read_days_in(connection, wanted: set[int]) -> dict[int, dict]:
    if not wanted:
        return {}
    rows = connection.execute(sa.select(days).where(days.c.day.in_(sorted(wanted))))
    return {row.day: dict(row._mapping) for row in rows}
