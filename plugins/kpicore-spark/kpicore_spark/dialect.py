"""The ``spark`` dialect: what Spark SQL does differently, for kpicore's time comparisons and metrics.

Each session runs with ``spark.sql.session.timeZone`` set to the source's timezone (the connector sets it),
so a ``TIMESTAMP_NTZ`` or naive ISO text reads as a local time there, and ``TIMESTAMP`` (Spark's instant
type) compares with a bound written as an instant with its offset (``TIMESTAMP '... +00:00'``, inlined by
``kpicore_spark.dbapi``). Spark 4 runs in ANSI mode, where ``CAST('soon' AS TIMESTAMP)`` stops the whole
query: text times are read with ``try_cast`` (NULL for text that is not a time, which then falls in no
period and is counted as invalid), like number columns. Epoch and minute arithmetic use ``unix_micros``
(``EXTRACT(epoch FROM a - b)`` is not Spark SQL; ``unix_timestamp`` would drop fractions of a second).
"""

from __future__ import annotations

import sqlalchemy as sa

from kpicore.dialects.base import (
    AWARE,
    DATE,
    DATE_TEXT,
    MAX_CONCURRENT_QUERIES,
    NAIVE,
    OPS,
    TEXT,
    Dialect,
    date_bound,
)

#: Spark type names (``kpicore_spark.dbapi``) of the time types.
_TYPES = {"TIMESTAMP": AWARE, "TIMESTAMP_NTZ": NAIVE, "DATE": DATE}
#: Text that starts like an ISO date (Spark's cast also reads '2026' or '2026-1-5', which SQLite does not).
_ISO_START = "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
#: 1970-01-01 as a naive time, to read a naive value as UTC.
_EPOCH_NTZ: sa.ColumnElement = sa.literal_column("TIMESTAMP_NTZ '1970-01-01 00:00:00'")


class WrongColumnType(Exception):
    """A time column whose Spark type is not a time, a date or text."""

    def __init__(self, type_name: str):
        super().__init__(type_name)
        self.type_name = type_name


class SparkDialect(Dialect):
    """Spark SQL (Spark Connect, or an embedded local session) through ``kpicore_spark.dbapi``."""

    name = "spark"
    driver_hint = "pip install 'kpicore-spark[connect]'"

    def concurrency(self, engine):
        return MAX_CONCURRENT_QUERIES  # the cluster runs them; local[N] interleaves them

    def timed_out(self, conn, error):
        """The adapter's timer stopped the query (``interruptTag``) and marked the error."""
        return bool(getattr(error, "timed_out", False))

    def storage_kind(self, type_code, kind):
        found = _TYPES.get(str(type_code))
        if found is not None:
            return found
        if str(type_code) != "STRING":
            raise WrongColumnType(str(type_code))
        return DATE_TEXT if kind == "date" else TEXT

    def cleaned(self, column, kind):
        """Numbers stored as text ('12.50', 'abc') read as numbers or NULL, never stopping the query."""
        if kind in ("number", "integer"):
            return sa.func.try_cast(column.op("AS")(sa.literal_column("DOUBLE")), type_=sa.Float)
        return column

    def truthy(self, expression):
        return sa.func.coalesce(_try_cast(expression, "BOOLEAN", sa.Boolean), sa.false()).is_(True)

    # -- time -----------------------------------------------------------------------------------
    def compare(self, column, op, bound):
        if column.storage == DATE_TEXT:  # text that is not a date ('2026-13-45') is in no period
            return sa.and_(OPS[op](column.sql, date_bound(bound).isoformat()), self.parses(column))
        return super().compare(column, op, bound)

    def normalized(self, column):
        """Text as a ``TIMESTAMP`` (naive text in the session's timezone, the source's), NULL when it is
        not a time."""
        if column.storage == TEXT:
            return _try_cast(column.sql, "TIMESTAMP", sa.DateTime(timezone=True))
        return column.sql

    def parses(self, column):
        if column.storage == DATE_TEXT:
            day = sa.func.substr(column.sql, 1, 10)
            return sa.and_(day.op("RLIKE")(_ISO_START + "$"), _try_cast(day, "DATE", sa.Date).is_not(None))
        if column.storage == TEXT:
            return sa.and_(column.sql.op("RLIKE")(_ISO_START), self.normalized(column).is_not(None))
        return super().parses(column)

    def minutes_between(self, start, end):
        return (_micros(self._instant(end)) - _micros(self._instant(start))) / sa.literal_column("60000000.0")

    def _instant(self, column):
        """A time column as a ``TIMESTAMP`` (``TIMESTAMP_NTZ`` read in the session's timezone)."""
        if column.storage == NAIVE:
            return sa.cast(column.sql, sa.DateTime(timezone=True))
        return self.normalized(column)

    def epoch(self, value):
        return _micros(value) / sa.literal_column("1000000.0")

    def epoch_seconds(self, column, near):
        """Seconds since 1970-01-01 UTC; values without an offset are read at the source timezone's offset
        at ``near`` (as on the other databases, so the numbers agree)."""
        if column.storage in (DATE, DATE_TEXT):
            raise ValueError("epoch_seconds needs a timestamp column, not a date")
        offset: sa.ColumnElement = sa.literal_column(repr(float(self.naive_offset(near))))
        if column.storage == AWARE:
            return self.epoch(column.sql)
        if column.storage == NAIVE:
            return _naive_seconds(column.sql) - offset
        # Text: with an offset ('Z', '+02:00' after the time) an instant; without, a local time.
        tail = sa.func.substr(column.sql, 20)
        has_offset = sa.and_(sa.func.length(column.sql) > 19, tail.op("RLIKE")("[Zz+-]"))
        naive = _naive_seconds(_try_cast(column.sql, "TIMESTAMP_NTZ", sa.DateTime())) - offset
        return sa.case((has_offset, self.epoch(self.normalized(column))), else_=naive)


def _try_cast(expression, spark_type: str, type_) -> sa.ColumnElement:
    """``try_cast(expression AS spark_type)``: NULL, not an error, for a value that does not cast."""
    return sa.func.try_cast(expression.op("AS")(sa.literal_column(spark_type)), type_=type_)


def _micros(value) -> sa.ColumnElement:
    return sa.func.unix_micros(value, type_=sa.BigInteger)


def _naive_seconds(value) -> sa.ColumnElement:
    """A ``TIMESTAMP_NTZ`` as seconds since 1970-01-01, read as UTC."""
    micros = sa.func.timestampdiff(sa.literal_column("MICROSECOND"), _EPOCH_NTZ, value, type_=sa.BigInteger)
    return micros / sa.literal_column("1000000.0")
