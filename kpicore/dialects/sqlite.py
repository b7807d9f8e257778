"""SQLite: every time is text (in several ISO forms), numbers may be any text, one writer per file."""

from __future__ import annotations

import datetime as dt
import time

import sqlalchemy as sa

from .base import (
    DATE_TEXT,
    MAX_CONCURRENT_QUERIES,
    OPS,
    TEXT,
    UTC,
    Dialect,
    bound_text,
    date_bound,
    usable_cores,
)
from .columns import Relation, TimeColumn

#: Set in a connection's ``info`` when its progress handler stopped a query past the timeout.
TIMED_OUT = "kpicore.timed_out"


class SQLiteDialect(Dialect):
    """SQLite files and in-memory databases (the embedded default)."""

    name = "sqlite"
    index_advice = True
    loose_number_columns = True
    groups_by_sorting = True  # no hash aggregation: every GROUP BY is a sort
    reads_column_types = False  # SQLite keeps whatever was written: times are text

    @classmethod
    def insert(cls, table):
        from sqlalchemy.dialects.sqlite import insert

        return insert(table)

    @classmethod
    def run_migrations(cls, engine, upgrade):
        # pysqlite begins transactions lazily and runs DDL outside them; BEGIN IMMEDIATE takes the
        # database's write lock before Alembic reads its version.
        with engine.connect() as connection:
            driver_connection = connection.connection.dbapi_connection
            previous = driver_connection.isolation_level
            driver_connection.isolation_level = None  # the driver leaves BEGIN and COMMIT to us
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    upgrade(connection)
                except BaseException:
                    connection.exec_driver_sql("ROLLBACK")
                    raise
                connection.exec_driver_sql("COMMIT")
            finally:
                driver_connection.isolation_level = previous

    def install_guards(self, engine, timeout):
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def sqlite_session(dbapi_connection, record):
            dbapi_connection.execute("PRAGMA query_only = ON")

        @event.listens_for(engine, "before_cursor_execute")
        def sqlite_deadline(conn, cursor, statement, parameters, context, executemany):
            deadline = time.monotonic() + timeout
            info = conn.info  # the driver connection's: says whether the deadline (not a stop) interrupted it
            info.pop(TIMED_OUT, None)

            def past_deadline():
                if time.monotonic() > deadline:
                    info[TIMED_OUT] = True
                    return 1
                return 0

            conn.connection.dbapi_connection.set_progress_handler(past_deadline, 10_000)

    def timed_out(self, conn, error):
        """The progress handler marks the connection when it interrupts a query for its deadline; an
        interrupt from ``stop_query`` leaves no mark."""
        return bool(conn.info.get(TIMED_OUT))

    def prefilter(self, column, start, end):
        """A range with a start reads through the column's index; one without (a lifetime read:
        everything before ``end``) is most of the table, which a scan reads in storage order, while the
        index would visit the rows in time order, one random table lookup each when the rows are not
        stored in time order (1 M shuffled orders, timed by hand: the per-customer pass about 3x faster
        scanning; docs/performance.md, finding 9). ``+column`` keeps SQLite from using the index."""
        if start is not None:
            return super().prefilter(column, start, end)
        return super().prefilter(unindexed(column), None, end)

    def scan_range(self, column, start, end):
        """``+column``: SQLite's planner does not know whether rows are stored in time order, and
        through the index a range holding a quarter of 10 M shuffled orders took 6.5 s of CPU against
        0.7 s for a scan of the whole table (docs/performance.md, finding 10)."""
        return super().prefilter(unindexed(column), start, end)

    def scan_before(self, column, bound):
        """The exact comparison on ``+column``: its text range would otherwise read through the index."""
        return self.compare(unindexed(column), "<", bound)

    def concurrency(self, engine):
        """One per core on a SQLite file, which works in this process; one for a single-connection pool."""
        if not isinstance(engine.pool, sa.pool.QueuePool | sa.pool.NullPool):
            return 1
        return max(1, min(usable_cores(), MAX_CONCURRENT_QUERIES))

    def storage_kind(self, type_code, kind):
        return DATE_TEXT if kind == "date" else TEXT

    def cleaned(self, column, kind):
        """Read a number column's non-numbers ('abc', '12,50') and empty text as NULL, so metrics leave
        them out and warn instead of summing them as 0 or 12. Time columns stay raw, so their indexes
        keep working."""
        if kind in ("number", "integer"):
            text = sa.func.trim(column)
            numeric_text = sa.and_(
                text.op("GLOB")("*[0-9]*"),
                sa.not_(text.op("GLOB")("*[^0-9.eE+-]*")),
            )
            # A number first, by one comparison: ``+column`` has no affinity, so an integer or a real
            # (even -Inf) is <= +Inf while text and blobs sort after every number and NULL is unknown.
            # typeof() is called only for what is left (1 M orders: the cleaned amount 0.02 s beyond
            # the scan, against 0.10 s for CASE typeof(column), and it is read in every query).
            return sa.case(
                (no_affinity(column) <= sa.literal_column("9e999"), column),
                (sa.func.typeof(column) == "text", sa.case((numeric_text, sa.cast(text, sa.Float)))),
            )
        if kind == "text":
            return sa.func.nullif(sa.func.trim(column), "")
        return column

    def truthy(self, expression):
        # Typed literals, so the SQL shown by `kpi metrics --details` renders on an INTEGER column too.
        words = [sa.literal(word, sa.Text()) for word in ("1", "true", "TRUE", "True", "t", "yes")]
        return expression.in_([sa.literal(1, sa.Integer()), *words])

    def compare(self, column, op, bound):
        compare = OPS[op]
        if column.storage == DATE_TEXT:  # text that is not a date ('2026-13-45') is in no period
            if column.parsed is not None:  # checked once per row: the text where it is a date, else NULL
                return compare(column.parsed, date_bound(bound).isoformat())
            return sa.and_(compare(column.sql, date_bound(bound).isoformat()), self.parses(column))
        if column.storage != TEXT:
            return super().compare(column, op, bound)
        # Compare parsed, normalised values; naive text is in the source's timezone.
        parsed = self.normalized(column)
        utc_instant = instant(sa.literal(bound_text(bound.astimezone(UTC)), sa.Text()))
        if self.timezone.key == "UTC":
            exact = compare(parsed, utc_instant)
        else:
            offset = has_offset(column.sql)
            local_instant = instant(sa.literal(bound_text(self.local(bound)), sa.Text()))
            exact = sa.or_(
                sa.and_(offset, compare(parsed, utc_instant)),
                sa.and_(sa.not_(offset), compare(parsed, local_instant)),
            )
        return sa.and_(self.raw_range(column, op, bound), exact)

    def normalized(self, column):
        """The Julian day number, to the millisecond (not datetime(): it drops fractional seconds, so
        09:00:00 would not be before 09:00:00.250)."""
        if column.storage == TEXT:
            return column.parsed if column.parsed is not None else instant(column.sql)
        return column.sql

    def parses(self, column):
        if column.storage == DATE_TEXT:
            return column.parsed.is_not(None) if column.parsed is not None else is_date_text(column.sql)
        if column.storage == TEXT:
            # julianday() also reads 'now' and bare Julian day numbers, which no period holds.
            return sa.and_(
                self.normalized(column).is_not(None), column.sql.op("GLOB")("[0-9][0-9][0-9][0-9]-*")
            )
        return super().parses(column)

    def minutes_between(self, start, end):
        seconds = sa.func.strftime("%s", end.sql) - sa.func.strftime("%s", start.sql)
        return sa.cast(seconds, sa.Float) / 60.0

    def epoch_seconds(self, column, near: dt.datetime):
        if column.storage == DATE_TEXT:
            raise ValueError("epoch_seconds needs a timestamp column, not a date")
        offset = self.naive_offset(near)
        seconds = (sa.func.julianday(column.sql) - sa.literal_column("2440587.5")) * sa.literal_column(
            "86400.0"
        )
        if column.storage != TEXT or not offset:
            return seconds
        return sa.case(
            (has_offset(column.sql), seconds), else_=seconds - sa.literal_column(repr(float(offset)))
        )

    def once_per_row(self, rows, name):
        """SQLite flattens a plain subquery into the query around it, and then evaluates a GROUP BY key
        (a bucket's CASE chain) both to sort and again for the result, and an aggregate's cleaned input
        once per use: ``LIMIT -1`` keeps it a co-routine that computes each expression once and hands
        the sorter plain values (1 M orders: GROUP BY (customer, bucket) 0.8 s instead of 2.1 s, the
        orders buckets 0.66 s instead of 1.02 s)."""
        return rows.limit(sa.literal_column("-1")).subquery(name)

    def parse_once(self, relation, name, where):
        """SQLite does not share common subexpressions, so a query with one CASE per measure and window
        would call ``julianday()`` on the same value dozens of times per row; a MATERIALIZED CTE
        (SQLite 3.35+) parses each value once."""
        import sqlite3

        text_columns = [
            c
            for c, kind in relation.storage.items()
            if kind in (TEXT, DATE_TEXT) and not isinstance(relation.columns[c], sa.sql.elements.Null)
        ]
        if sqlite3.sqlite_version_info < (3, 35) or not text_columns:
            return None
        present = {c: e for c, e in relation.columns.items() if not isinstance(e, sa.sql.elements.Null)}
        parsed_names = {c: f"{c}__parsed" for c in text_columns}

        def parsed_once(column: str) -> sa.ColumnElement:
            """A timestamp's Julian day; a date's text where it is a date (NULL where not), which
            compares with a day's ISO text as the text itself does."""
            sql = relation.columns[column]
            if relation.storage[column] == DATE_TEXT:
                return sa.case((is_date_text(sql), sql))
            return instant(sql)

        rows = sa.select(
            *[expression.label(c) for c, expression in present.items()],
            *[parsed_once(c).label(parsed_names[c]) for c in text_columns],
        ).select_from(relation.from_)
        if where is not None:
            rows = rows.where(where)
        from_ = rows.cte(f"{name}_rows").prefix_with("MATERIALIZED")
        columns = {
            c: (from_.c[c] if c in present else expression) for c, expression in relation.columns.items()
        }
        parsed: dict[str, sa.ColumnElement] = {c: from_.c[parsed_names[c]] for c in text_columns}
        return Relation(
            relation.entity, from_, columns, relation.storage, relation.dimensions, relation.origin, parsed
        )


def is_date_text(sql) -> sa.ColumnElement:
    """Whether text is a date as written: its first ten characters are a real day. With a modifier,
    date() carries '2026-02-30' over to March 2nd, so a valid date is its own date()."""
    written = sa.func.substr(sql, 1, 10)  # the date as written, before any time or offset
    day = sa.func.date(written, sa.literal("+0 days", sa.Text()))
    return sa.and_(day.is_not(None), day == written)


def unindexed(column):
    """The time column as ``+column``: the same values, which SQLite does not read through an index."""
    from sqlalchemy.sql import operators

    plus = sa.sql.elements.UnaryExpression(
        column.sql, operator=operators.custom_op("+"), type_=column.sql.type
    )
    return TimeColumn(column.source, plus, column.storage, None, column.unparsed)


def no_affinity(column) -> sa.ColumnElement:
    """``+column``: the same value with no type affinity, so it compares by its storage class."""
    from sqlalchemy.sql import operators

    return sa.sql.elements.UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def instant(text_column) -> sa.ColumnElement:
    """SQLite text time as its Julian day number (a REAL; offsets applied), NULL when unparseable.

    SQLite parses a time to whole milliseconds (an integer) and ``julianday`` returns them divided by
    86 400 000, so two values compare exactly as their millisecond instants do, as the text of
    ``strftime('%Y-%m-%d %H:%M:%f')`` would, at a fifth of its cost per row (no text is built).
    A bound is compared as ``julianday('<bound text>')``: a constant SQLite evaluates once.
    """
    return sa.func.julianday(text_column, type_=sa.Float)


def has_offset(text_column) -> sa.ColumnElement:
    """True for text timestamps that carry 'Z' or '+HH:MM' / '-HH:MM' after the time."""
    tail = sa.func.substr(text_column, 20)
    return sa.or_(sa.func.instr(tail, "Z") > 0, sa.func.instr(tail, "+") > 0, sa.func.instr(tail, "-") > 0)
