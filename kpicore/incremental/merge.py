"""Merging a span of customers' orders with the stored per-customer aggregates, in the state database.

The source groups the span's valid orders by customer (``sql.customers_query``,
``sql.tail_customers_query``: the day or slice of the first order, first and second purchase; orders,
purchases, amount). Those rows are bulk-loaded, a batch at a time, into a temporary table of the state
database and joined there with the stored customers: one grouped query counts the firsts the span adds
(a customer's first order, first and second purchase), one upsert extends the stored rows (the
increment). Nothing is looked up or merged one customer at a time in Python.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from . import store

#: The columns of a span's per-customer row, as the source queries give them (by position).
SPAN = (
    "customer_id",
    "first_order_day",
    "first_purchase_day",
    "second_purchase_day",
    "orders",
    "purchases",
    "amount",
)


@contextmanager
def span_table(connection) -> Iterator[sa.Table]:
    """A temporary table of the connection's session for one span's per-customer rows, dropped after.
    A unique name: a table left by a failed run on a pooled connection is in nobody's way."""
    table = sa.Table(
        f"kpicore_span_{uuid.uuid4().hex[:12]}",
        sa.MetaData(),
        sa.Column("customer_id", sa.String(200), nullable=False),
        sa.Column("first_order_day", sa.Integer, nullable=False),
        sa.Column("first_purchase_day", sa.Integer),
        sa.Column("second_purchase_day", sa.Integer),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("purchases", sa.Integer, nullable=False),
        sa.Column("amount", sa.Float, nullable=False),
        prefixes=["TEMPORARY"],
    )
    table.create(connection)
    try:
        yield table
    finally:
        try:
            table.drop(connection)
        except sa.exc.DBAPIError:  # a failed PostgreSQL transaction: its rollback drops the table
            pass


def load(connection, table: sa.Table, batches: Iterable) -> int:
    """Insert the source's per-customer rows (``SPAN`` by position), a batch at a time; their count."""
    loaded = 0
    insert = sa.insert(table)
    for batch in batches:
        rows = [
            {
                "customer_id": str(row[0]),
                "first_order_day": int(row[1]),
                "first_purchase_day": None if row[2] is None else int(row[2]),
                "second_purchase_day": None if row[3] is None else int(row[3]),
                "orders": int(row[4]),
                "purchases": int(row[5]),
                "amount": float(row[6]),
            }
            for row in batch
        ]
        if rows:
            connection.execute(insert, rows)
            loaded += len(rows)
    return loaded


def _joined(span: sa.Table):
    stored = store.customers.alias("stored")
    return stored, span.outerjoin(stored, stored.c.customer_id == span.c.customer_id)


def _second(span: sa.Table, stored) -> sa.ColumnElement:
    """The day (or slice) of the customer's second purchase when it falls in the span: the span's first
    purchase after one stored purchase, its second after none; NULL when it was stored before."""
    return sa.case(
        (stored.c.second_purchase_day.is_not(None), sa.null()),
        (stored.c.first_purchase_day.is_not(None), span.c.first_purchase_day),
        else_=span.c.second_purchase_day,
    )


def add_firsts(connection, span: sa.Table, counts: dict[str, dict[int, float]]) -> None:
    """Add to ``counts`` ("customers", "purchasers", "repeaters", by day or slice) the customers of the
    span whose first order, first or second purchase falls in it; one grouped query."""
    stored, joined = _joined(span)
    first = sa.case((stored.c.customer_id.is_(None), span.c.first_order_day))
    purchase = sa.case((stored.c.first_purchase_day.is_(None), span.c.first_purchase_day))
    second = _second(span, stored)
    query = (
        sa.select(first, purchase, second, sa.func.count())
        .select_from(joined)
        .group_by(first, purchase, second)
    )
    for first_at, purchase_at, second_at, n in connection.execute(query):
        for kind, at in (("customers", first_at), ("purchasers", purchase_at), ("repeaters", second_at)):
            if at is not None:
                counts[kind][int(at)] += int(n)


def extend_customers(connection, dialect, span: sa.Table) -> None:
    """Extend the stored customers by the span's rows (all later than every stored order), adding the
    customers new to the store: one INSERT ... SELECT upsert joined with the stored rows."""
    stored, joined = _joined(span)
    s, w = stored.c, span.c
    merged = (
        sa.select(
            w.customer_id,
            sa.func.coalesce(s.first_order_day, w.first_order_day),
            sa.func.coalesce(s.first_purchase_day, w.first_purchase_day),
            sa.func.coalesce(s.second_purchase_day, _second(span, stored)),
            sa.func.coalesce(s.orders, 0) + w.orders,
            sa.func.coalesce(s.purchases, 0) + w.purchases,
            sa.func.coalesce(s.amount, 0.0) + w.amount,
        )
        .select_from(joined)
        .where(w.customer_id.is_not(None))  # a WHERE, so that SQLite reads ON CONFLICT as the upsert's
    )
    names = list(SPAN)
    connection.execute(
        dialect.upsert_select(
            store.customers, names, merged, ("customer_id",), lambda new: {k: new[k] for k in names[1:]}
        )
    )
