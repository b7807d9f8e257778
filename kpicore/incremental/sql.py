"""The source-side SQL of the incremental lifetime aggregates: every aggregate is computed in the source.

A row of orders counts as the lifetime metrics count it: a *valid order* has a customer, an amount and a
time that parses. Days are local calendar days of the business timezone; a row's day is found by a
binary search over the local midnights (a CASE tree, one exact comparison per level, whatever the
storage kind of the time column), so every dialect that compares a time column with a bound exactly
(SQLite text, naive and aware timestamps, MariaDB, DuckDB) buckets exactly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from ..dialects.columns import TEXT
from ..periods import _midnight


def midnights(first: dt.date, last: dt.date, zone) -> list[dt.datetime]:
    """The local midnights of the days ``first`` .. ``last`` (both included)."""
    return [_midnight(first + dt.timedelta(days=i), zone) for i in range((last - first).days + 1)]


def day_of(column, first: dt.date, boundaries: list[dt.datetime]) -> sa.ColumnElement:
    """The local day ordinal of a time column, for a row with ``boundaries[0] <= time < boundaries[-1]``
    (``boundaries`` the midnights from ``first`` on): a balanced CASE tree, log2(days) comparisons a row."""
    base = first.toordinal()

    def tree(lo: int, hi: int):  # the row is in [boundaries[lo], boundaries[hi])
        if hi - lo == 1:
            return sa.literal(base + lo, sa.Integer)
        mid = (lo + hi) // 2
        return sa.case((column < boundaries[mid], tree(lo, mid)), else_=tree(mid, hi))

    return tree(0, len(boundaries) - 1)


def _chars(text, count: int, weight: int) -> sa.ColumnElement:
    """A number from the last ``count`` characters and the length of ``text`` (SQLite has no hash)."""
    total = sa.func.length(text)
    for i in range(1, count + 1):
        total = total + sa.func.coalesce(sa.func.unicode(sa.func.substr(text, -i, 1)), 0) * (weight**i)
    return total


def _integer_typed(column) -> bool:
    return isinstance(getattr(column, "type", None), sa.Integer)


def _sqlite_number(column) -> sa.ColumnElement:
    """An integer standing for an id: the value of an INTEGER column (a text that is no number stored in
    one reads as 0), else a number from the last 6 characters of its text."""
    if _integer_typed(column):
        return sa.func.coalesce(column, -11)
    return _chars(sa.func.coalesce(sa.cast(column, sa.Text), ""), 6, 31)


def _sqlite_hash(raw) -> sa.ColumnElement:
    """The product of (id) and (customer, amount in cents, time in milliseconds) modulo primes: a sum of
    it moves when a value moves from one row to another. Plain arithmetic on the stored values: no
    typeof() or rounding per row (1 M orders: 0.25 s instead of 0.45 s)."""
    cents = sa.func.coalesce(sa.cast(raw["amount"] * 100, sa.Integer), -7)
    millis = sa.func.coalesce(sa.cast(sa.func.julianday(raw["ordered_at"]) * 86400000, sa.Integer), -3)
    x = _sqlite_number(raw["order_id"]) % 2147483647 + 1
    y = ((_sqlite_number(raw["customer_id"]) % 2147483647) * 1000003 + cents * 7919 + millis) % 2147483629 + 1
    return (x * y) % 1000000007


#: PostgreSQL's own seeded hash function of each kind of column (cheap: no cast to text per row), the
#: type its value is read as and what stands for NULL.
_PG_HASHES = (
    (sa.SmallInteger, "hashint8extended", sa.BigInteger, -11),
    (sa.Integer, "hashint8extended", sa.BigInteger, -11),
    (sa.Numeric, "hash_numeric_extended", sa.Numeric, -7),
    (sa.Float, "hashfloat8extended", sa.Float(53), -7.0),
    (sa.DateTime, "timestamp_hash_extended", sa.DateTime, "-infinity"),
    (sa.String, "hashtextextended", sa.Text, "~"),
)


def _pg_hash(column, seed) -> sa.ColumnElement:
    """The value hashed by its type's seeded hash function (NULL read as the type's stand-in)."""
    type_ = getattr(column, "type", None)
    for kind, name, read_as, null in _PG_HASHES:
        if isinstance(type_, kind) and not (kind is sa.Numeric and isinstance(type_, sa.Float)):
            value = column
            if kind is sa.DateTime and getattr(type_, "timezone", False):
                value = sa.func.timezone("UTC", column)  # timestamptz: its UTC time, whatever the session's
            elif kind is not sa.DateTime:
                value = sa.cast(column, read_as)
            value = sa.func.coalesce(value, sa.cast(sa.literal(null), read_as))
            return getattr(sa.func, name)(value, seed, type_=sa.BigInteger)
    value = sa.func.coalesce(sa.cast(column, sa.Text), "~")
    return sa.func.hashtextextended(value, seed, type_=sa.BigInteger)


def _pg_row_hash(raw) -> sa.ColumnElement:
    """PostgreSQL: the four values hashed in a chain, each by its type's own seeded hash function with
    the previous hash as the seed, so that the sum is not a sum per column; the high 32 bits kept (a
    sum of 10 M of them fits a BIGINT). Four function calls a row: 10 M orders 2.0 s at load 6 against
    2.7 s for the earlier hashes mixed by shifts and xors, 1.3 s for the scan alone."""
    hashed: sa.ColumnElement = sa.literal(0, sa.BigInteger)
    for name in ("order_id", "customer_id", "amount", "ordered_at"):
        hashed = _pg_hash(raw[name], hashed)
    return hashed.op(">>")(sa.literal_column("32"))


def raw_columns(source) -> dict[str, sa.ColumnElement]:
    """The orders columns as stored (not cleaned), by entity column name, typed as the table declares
    them where it is a table (the hash picks its arithmetic by type); untyped otherwise."""
    from ..config import EntityMapping

    relation = source.relation("orders")
    mapping = source.config.entities.get("orders") or EntityMapping(table="orders")
    from_ = relation.from_
    declared: dict[str, Any] = {}
    if isinstance(from_, sa.TableClause) and not isinstance(from_, sa.Subquery):
        try:
            described = source._run(
                lambda conn: sa.inspect(conn).get_columns(from_.name, schema=from_.schema)
            )
            declared = {c["name"]: c["type"] for c in described}
        except Exception:  # an unusual table (a view some drivers cannot describe): untyped
            declared = {}
    found = {}
    for name in ("order_id", "customer_id", "amount", "ordered_at"):
        column = mapping.source_column(name)
        if column not in from_.c:
            found[name] = relation.columns[name]
        elif column in declared:
            found[name] = sa.column(column, declared[column], _selectable=from_)
        else:
            found[name] = from_.c[column]
    return found


def row_hash(source, relation) -> sa.ColumnElement:
    """A per-row integer hash of order id, customer, amount and time, in SQL of the dialect.

    PostgreSQL: the types' own hash functions chained (``_pg_row_hash``); MariaDB/MySQL: CRC32;
    DuckDB: hash() modulo a prime; SQLite, which has no hash function: ``_sqlite_hash``.
    """
    raw = raw_columns(source)
    name = source.engine.dialect.name
    if name == "sqlite":
        return _sqlite_hash(raw)
    if name == "postgresql":
        return _pg_row_hash(raw)
    parts = [raw["order_id"], raw["customer_id"], raw["amount"], raw["ordered_at"]]
    if name in ("mysql", "mariadb"):
        text = sa.func.concat_ws("|", *(sa.func.coalesce(sa.cast(p, sa.String), "~") for p in parts))
        return sa.func.crc32(text) % 2147483647
    text = sa.func.concat_ws("|", *(sa.func.coalesce(sa.cast(p, sa.Text), "~") for p in parts))
    return sa.cast(sa.func.hash(text) % 2147483647, sa.BigInteger)


def _orders(source, start: dt.datetime | None = None, end: dt.datetime | None = None):
    """The orders relation and its row; on SQLite with its text times parsed once per row (the rows in
    [start, end) when given, read through the time index where there is a start)."""
    from ..source import Row

    if end is None:
        return source.relation("orders"), source.row("orders")
    raw = source.row("orders").ordered_at
    parsed = source.parsed_relation("orders", raw.range(start, end))
    if parsed is None:
        return source.relation("orders"), source.row("orders")
    return parsed, Row(source, parsed)


def _is_before(t, bound: dt.datetime, before: bool = True) -> sa.ColumnElement:
    """Whether the order's time is before ``bound`` (``before``) or not: the exact comparison, or
    ``_before`` on text times (a plain condition is one comparison a row, the CASE three)."""
    column = t.ordered_at
    if column.storage != TEXT:
        return column < bound if before else column >= bound
    return _before(t, bound) == (1 if before else 0)


def _before(t, bound: dt.datetime) -> sa.ColumnElement:
    """On text times, 1 where the order's time is before ``bound``, else 0: exact, and on text times compared as text
    more than a day from the bound (no offset moves a time by a day), parsed only near it. A text that
    is not a time but sorts before the bound counts as before: the fingerprint then covers a few rows
    the aggregates leave out, which can only cause a needless full recompute."""
    column = t.ordered_at
    day = bound.astimezone(dt.UTC).date()
    return sa.case(
        (column.sql < (day - dt.timedelta(days=1)).isoformat(), 1),
        (column.sql >= (day + dt.timedelta(days=2)).isoformat(), 0),
        (column < bound, 1),
        else_=0,
    )


#: The key of the one fingerprint row (the stored table is keyed by month; see ``fingerprint_query``).
ALL = "*"


def fingerprint_query(source, start: dt.datetime | None, end: dt.datetime, split: dt.datetime | None = None):
    """Over the rows in [start, end) (no start: every row before end), in one ungrouped scan: count,
    amount sum, positive orders and the sum of row hashes. Ungrouped, because a GROUP BY month costs a
    sort of every row on SQLite and keeps PostgreSQL from scanning in parallel (1 M orders: 2-4x the
    scan); the time parsed only near a bound. With ``split`` (and no start), the sums of the rows in
    [split, end) too (``added_orders``, ...), from the same scan: an increment's check of the older
    rows (the difference) and the fingerprint of its rows, one read of the table instead of two.
    The added rows' sums are filtered aggregates over the whole scan; the older rows' sums are not
    filtered too, as each filtered aggregate costs a condition a row (10 M orders on PostgreSQL: the
    two queries 1.5 s and 0.6 s, this one 1.85-1.95 s, both sides filtered 2.1 s, of a CASE 2.3 s,
    a GROUP BY of the condition 2.2 s; the plain scan 1.5 s)."""
    relation, t = _orders(source)
    # The amount as stored: the cleaned one costs a CASE per row on SQLite, and any stored change moves
    # the sums either way.
    amount = raw_columns(source)["amount"]
    where = [t.ordered_at.range(start, end), _is_before(t, end)]
    if start is not None:
        where.append(_is_before(t, start, before=False))
    hashed = row_hash(source, relation)
    sums = _fingerprint_sums(amount, hashed, None, "")
    if split is not None:
        sums += _fingerprint_sums(amount, hashed, _is_before(t, split, before=False), "added_")
    return sa.select(*sums).select_from(relation.from_).where(*where)


#: Sources whose increment takes both fingerprints from one scan (``fingerprint_query``'s ``split``,
#: which needs the aggregates' FILTER clause, not in MariaDB/MySQL): PostgreSQL, where the added week
#: read through the time index costs 40 % of the table's scan (10 M orders in random customer order).
#: Not SQLite, where it is cheap (1 M orders: 0.05 s) and the one scan dearer than the two queries
#: (0.46 s against 0.38 s: the text times' CASE a row).
ONE_SCAN = ("postgresql",)


def _fingerprint_sums(amount, hashed, among, prefix: str) -> list:
    """The four sums of a fingerprint over the rows where ``among`` holds (each aggregate with a
    FILTER clause), or over every row (None; plain SQL of any dialect)."""

    def aggregate(function, value=None):
        found = function() if value is None else function(value)
        return found if among is None else found.filter(among)

    if among is None:
        purchases: sa.ColumnElement = sa.func.count(sa.case((amount > 0, 1)))
    else:
        purchases = sa.func.count().filter(sa.and_(among, amount > 0))
    return [
        aggregate(sa.func.count).label(prefix + "orders"),
        sa.func.coalesce(aggregate(sa.func.sum, amount), 0.0).label(prefix + "amount"),
        purchases.label(prefix + "purchases"),
        sa.func.coalesce(aggregate(sa.func.sum, hashed), 0).label(prefix + "hash"),
    ]


def _day_rows(source, start: dt.datetime | None, first: dt.date, boundaries):
    """The valid-time rows in [start, boundaries[-1]) with their local day (start None: all before)."""
    end = boundaries[-1]
    relation, t = _orders(source, start, end)
    where = [t.ordered_at.valid(), t.ordered_at < end]
    if start is not None:
        where += [t.ordered_at.range(start, end), t.ordered_at >= start]
    return relation, sa.select(
        relation.columns["customer_id"].label("customer_id"),
        day_of(t.ordered_at, first, boundaries).label("day"),
        relation.columns["amount"].label("amount"),
    ).select_from(relation.from_).where(*where)


def day_totals_query(source, start, first: dt.date, boundaries):
    """Per local day: revenue of orders with a customer, orders with no amount, orders with an amount
    and no customer (the lifetime warnings), for the rows in [start, boundaries[-1])."""
    _, select = _day_rows(source, start, first, boundaries)
    rows = source.once_per_row(select, "day_rows")
    r = rows.c
    return sa.select(
        r.day,
        sa.func.coalesce(sa.func.sum(sa.case((r.customer_id.is_not(None), r.amount))), 0.0).label("revenue"),
        sa.func.count(sa.case((r.amount.is_(None), 1))).label("no_amount"),
        sa.func.count(sa.case((sa.and_(r.amount.is_not(None), r.customer_id.is_(None)), 1))).label(
            "no_customer"
        ),
    ).group_by(r.day)


def _per_customer_day(source, start, first: dt.date, boundaries) -> sa.Select:
    """Per (customer, local day), valid orders only: orders, purchases (amount > 0) and their amount."""
    _, select = _day_rows(source, start, first, boundaries)
    r = source.once_per_row(select, "customer_day_rows").c
    return (
        sa.select(
            r.customer_id,
            r.day.label("unit"),
            sa.func.count().label("orders"),
            sa.func.count(sa.case((r.amount > 0, 1))).label("purchases"),
            sa.func.sum(r.amount).label("amount"),
        )
        .where(r.customer_id.is_not(None), r.amount.is_not(None))
        .group_by(r.customer_id, r.day)
    )


def running(d) -> sa.Select:
    """Rows per (customer, unit) (``d``: customer_id, unit, orders, purchases, amount and any more
    columns; the unit a day or a slice, in time order) with ``so_far``, the running count of the
    customer's purchases up to and including the unit."""
    return sa.select(
        *d,
        sa.func.sum(d.purchases)
        .over(partition_by=d.customer_id, order_by=d.unit, rows=(None, 0))
        .label("so_far"),
    )


def firsts(u) -> sa.Select:
    """Per customer, from ``running`` rows (``u``, SQL of any dialect): the unit of the first order, of
    the first and second purchase (amount > 0; two in one unit make it both), orders, purchases,
    amount."""
    return sa.select(
        u.customer_id,
        sa.func.min(u.unit).label("first_order_day"),
        sa.func.min(sa.case((u.so_far >= 1, u.unit))).label("first_purchase_day"),
        sa.func.min(sa.case((u.so_far >= 2, u.unit))).label("second_purchase_day"),
        sa.func.sum(u.orders).label("orders"),
        sa.func.sum(u.purchases).label("purchases"),
        sa.func.sum(u.amount).label("amount"),
    ).group_by(u.customer_id)


def customers_query(source, first: dt.date, boundaries):
    """Per customer, over every valid order before ``boundaries[-1]``: the day of the first order, of
    the first and second purchase (amount > 0; two on one day make it both), orders, purchases, amount.
    One pass grouped by (customer, day), then a running count of purchases (``running``, ``firsts``)."""
    days = _per_customer_day(source, None, first, boundaries).subquery("customer_days")
    return firsts(running(days.c).subquery("customer_running").c)


def earliest_day(source, before: dt.datetime) -> dt.date | None:
    """The local day of the earliest valid order time before ``before``, by a binary search of cheap
    index-friendly existence queries (None when there is none)."""
    relation, t = _orders(source)
    zone = source.timezone

    def any_before(moment: dt.datetime) -> bool:
        query = (
            sa.select(sa.literal(1))
            .select_from(relation.from_)
            .where(t.ordered_at.range(None, moment), t.ordered_at < moment, t.ordered_at.valid())
            .limit(1)
        )
        return bool(source.execute(query))

    if not any_before(before):
        return None
    last = before.astimezone(zone).date()
    lo, hi = dt.date(1900, 1, 1), last  # no valid row before lo's midnight is assumed below
    if any_before(_midnight(lo, zone)):
        lo = dt.date(1000, 1, 1)
    # Invariant: no row before midnight(lo); some row before midnight(hi + 1 day).
    hi = hi + dt.timedelta(days=1)
    while (hi - lo).days > 1:
        mid = lo + dt.timedelta(days=(hi - lo).days // 2)
        if any_before(_midnight(mid, zone)):
            hi = mid
        else:
            lo = mid
    return lo


def _tail_rows(source, bounds: list[dt.datetime], name: str) -> sa.Subquery:
    """The rows read live, in [bounds[0], bounds[-1]): customer, slice between ``bounds`` (1 the
    first), amount."""
    from ..buckets import bucket_of

    start, end = bounds[0], bounds[-1]
    relation, t = _orders(source, start, end)
    return source.once_per_row(
        sa.select(
            relation.columns["customer_id"].label("customer_id"),
            bucket_of(t.ordered_at, bounds).label("slice"),
            relation.columns["amount"].label("amount"),
        )
        .select_from(relation.from_)
        .where(t.ordered_at.range(start, end), t.ordered_at >= start, t.ordered_at < end),
        name,
    )


def span_query(source, start: dt.datetime, first: dt.date, boundaries):
    """The rows in [start, boundaries[-1]) (``boundaries`` the local midnights from ``first`` on) per
    (customer, local day): rows, rows with an amount, purchases and their amount; customer NULL is one
    group (guest orders); the running count of each customer's purchases. One read of the span gives
    both the per-day totals and the customers' firsts (``merge``)."""
    _, select = _day_rows(source, start, first, boundaries)
    return _span_groups(source.once_per_row(select, "span_rows").c, "day")


def tail_query(source, bounds: list[dt.datetime]):
    """The rows read live, in [bounds[0], bounds[-1]), as ``span_query`` groups them, by slice between
    ``bounds`` (1 the first) instead of by day."""
    return _span_groups(_tail_rows(source, bounds, "tail_rows").c, "slice")


def _span_groups(r, unit: str) -> sa.Select:
    """Per (customer, unit): rows, rows with an amount, purchases, amount, and the running count of the
    customer's purchases (``running``: computed in the source, which sorted the groups for it already;
    in a SQLite state database the window cost three times a GROUP BY)."""
    grouped = sa.select(
        r.customer_id,
        r[unit].label("unit"),
        sa.func.count().label("records"),
        sa.func.count(r.amount).label("orders"),
        sa.func.count(sa.case((r.amount > 0, 1))).label("purchases"),
        sa.func.coalesce(sa.func.sum(r.amount), 0.0).label("amount"),
    ).group_by(r.customer_id, r[unit])
    return running(grouped.subquery("span_groups").c)
