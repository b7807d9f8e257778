"""PostgreSQL: ``timestamp``, ``timestamptz`` and ``date`` columns, ISO text cast to ``timestamptz``."""

from __future__ import annotations

import sqlalchemy as sa

from .base import AWARE, DATE, DATE_TEXT, NAIVE, TEXT, Dialect

#: psycopg type OIDs of the time types.
_TYPES = {1114: NAIVE, 1184: AWARE, 1082: DATE}

#: The ISO 8601 text forms PostgreSQL casts to ``timestamptz`` (those SQLite sources hold).
_ISO_TIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([ Tt]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?\s*([Zz]|[+-](0\d|1[0-5])(:?[0-5]\d)?)?)?$"
)


class PostgreSQLDialect(Dialect):
    """PostgreSQL (psycopg 3). The session timezone is the source's, so that text cast to a timestamp,
    and comparisons between ``timestamp`` and ``timestamptz`` columns, read naive values in it."""

    name = "postgresql"
    url_aliases = ("postgres",)  # what Heroku, Render and Supabase hand out
    default_driver = "psycopg"
    driver_hint = "pip install 'kpicore[postgres]'"
    index_advice = True
    text_time_stops_query = True
    #: 1 M orders, the plain case's orders query: 0.38-0.47 s instead of 0.84 s (docs/performance.md,
    #: finding 15). A trend keeps one hash aggregation: its windows are a larger share of the rows.
    history_apart_boundaries = 4

    @classmethod
    def engine_options(cls, url):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}

    @classmethod
    def run_migrations(cls, engine, upgrade):
        from sqlalchemy import text

        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(4215061807)"))  # ends with the transaction
            upgrade(connection)

    def install_guards(self, engine, timeout):
        from sqlalchemy import event

        timezone = self.timezone.key

        @event.listens_for(engine, "connect")
        def postgres_session(dbapi_connection, record):
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET default_transaction_read_only = on")
                cursor.execute(f"SET statement_timeout = {max(1, round(timeout * 1000))}")  # 0 would be none
                cursor.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
            dbapi_connection.autocommit = autocommit

    def timed_out(self, conn, error):
        """``statement_timeout`` cancels with SQLSTATE 57014 and says so (a cancel from ``stop_query``
        has the same code but says "user request")."""
        return getattr(error, "sqlstate", None) == "57014" and "statement timeout" in str(error)

    def bucket_rows(self, rows, name):
        """``OFFSET 0`` keeps the subquery from being flattened, so the planner sees the bucket as a
        column of its own rather than an expression of the time column: it would estimate the groups
        from that column's distinct values (8 M for 10 M orders) and sort every row on disk to group
        them; over the subquery it expects a few hundred groups and hashes them (10 M orders, the
        orders bucket query: 5.9 s instead of 7.8 s; docs/performance.md, finding 10). Not for a
        per-customer GROUP BY, whose million groups the planner rightly sorts."""
        return rows.offset(0).subquery(name)

    def storage_kind(self, type_code, kind):
        found = _TYPES.get(type_code)
        if found is not None:
            return found
        return DATE_TEXT if kind == "date" else TEXT

    def checked_parses(self, column):
        """Text is cast by the computations, which fail on the first value that does not cast; here its
        values are checked first, so that they can be counted."""
        if column.storage == TEXT:
            return guarded_instant(column.sql).is_not(None)
        return self.parses(column)


def guarded_instant(text_column):
    """PostgreSQL text as ``timestamptz``, NULL (not an error) for text that is not a time, such as
    'soon' or '2026-02-30'. Nested CASEs: PostgreSQL evaluates a CASE's branches in order, but not the
    operands of an AND, and the substrings may only be cast once the pattern matched."""
    year, month, day = (
        sa.cast(sa.func.substr(text_column, start, length), sa.Integer)
        for start, length in ((1, 4), (6, 2), (9, 2))
    )
    leap = sa.or_(sa.and_(year % 4 == 0, year % 100 != 0), year % 400 == 0)
    last_day = sa.case((month.in_([4, 6, 9, 11]), 30), (month == 2, sa.case((leap, 29), else_=28)), else_=31)
    exists = sa.and_(year >= 1, day <= last_day)
    cast = sa.cast(text_column, sa.DateTime(timezone=True))
    return sa.case((text_column.op("~")(_ISO_TIME), sa.case((exists, cast))))
