"""MySQL and MariaDB (PyMySQL): ``DATETIME``, ``TIMESTAMP``, ``DATE`` and ISO text times.

Sessions run with ``time_zone = '+00:00'``: a ``TIMESTAMP`` (stored in UTC) then reads as UTC and is
compared with the UTC instant of a period bound, and a ``DATETIME`` (a naive local time) with the bound
converted in Python to the source's timezone, at the bound itself, so a DST change between two bounds
is exact. The server never has to resolve a named timezone: many servers (and this project's CI) have
empty zone tables (``mysql.time_zone_name``), where ``SET time_zone = 'Europe/Berlin'`` fails.

Text times are parsed by the server (``CAST(... AS DATETIME(6))``, NULL for text that is not a time)
after a trailing ``Z`` or ``+HH:MM`` is split off and applied with ``CONVERT_TZ`` (numeric offsets
need no zone tables). Zero dates (``0000-00-00``, which MySQL keeps in ``DATETIME`` and ``DATE``
columns in its non-strict modes) are not times: they fall in no period, like unparseable text.
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa

from .base import AWARE, DATE, DATE_TEXT, MAX_CONCURRENT_QUERIES, NAIVE, OPS, TEXT, UTC, Dialect, date_bound

#: PyMySQL field types (``pymysql.constants.FIELD_TYPE``) of the time types.
_TYPES = {7: AWARE, 12: NAIVE, 10: DATE, 14: DATE}
#: A trailing UTC offset of ISO 8601 text.
_OFFSET = r"([+-][0-9]{2}:?[0-9]{2}|[Zz])$"
#: How ISO text starts: a real calendar date (MySQL casts '0000-00-00' to a zero date, not NULL).
_ISO_DAY = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
#: The first instant MySQL keeps as a real time; zero dates sort before it.
_FIRST_TIME = "1000-01-01 00:00:00"


class MySQLDialect(Dialect):
    """MySQL 8 and MariaDB 10.5+ through PyMySQL (``mysql+pymysql://``)."""

    name = "mysql"
    url_aliases = ("mariadb",)
    default_driver = "pymysql"
    driver_hint = "pip install 'kpicore[mysql]'"
    # A derived table is merged into the query around it, each use of its columns evaluated again: the
    # one-pass per-customer GROUP BY read the bucket six times per order (1 M orders on MariaDB, 40 s
    # against 12.6 s for the GROUP BY (customer, bucket) grouped again).
    reuses_subquery_values = False
    # One GROUP BY customer on the raw times, bucketed after it (1 M orders on MariaDB, timed by hand:
    # 1.95-1.99 s against 2.94-2.98 s for the two groupings).
    buckets_after_grouping = True
    # A period and the one before: the orders before the first window aggregated on their own (a scan),
    # the two weeks through the time index, rather than one hash aggregation of every order by its
    # bucket (10 M orders on MariaDB, the orders query alone: 5.3-6.7 s against 9.0-10.6 s;
    # docs/performance.md, "The plain case on MariaDB: the orders history apart").
    history_apart_boundaries = 3

    @classmethod
    def engine_options(cls, url):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}

    @classmethod
    def state_options(cls, url):
        # DATETIME has no zone: the ledger's times are written and read in UTC whatever the server's zone.
        # READ COMMITTED, as PostgreSQL's default: a claim reads the row a peer has just committed, not
        # the snapshot REPEATABLE READ would keep from the transaction's first read.
        return {
            "pool_pre_ping": True,
            "isolation_level": "READ COMMITTED",
            "connect_args": {"connect_timeout": 10, **cls.writer_options()["connect_args"]},
        }

    @classmethod
    def insert(cls, table):
        from sqlalchemy.dialects.mysql import insert

        return insert(table)

    @classmethod
    def upsert(cls, table, rows, keys, update):
        statement = cls.insert(table).values(rows)  # ON DUPLICATE KEY: the table's unique key is ``keys``
        return statement.on_duplicate_key_update(update(statement.inserted))

    @classmethod
    def upsert_select(cls, table, columns, select, keys, update):
        statement = cls.insert(table).from_select(list(columns), select)
        return statement.on_duplicate_key_update(update(statement.inserted))

    @classmethod
    def insert_or_ignore(cls, table, rows):
        return cls.insert(table).values(rows).prefix_with("IGNORE")

    @classmethod
    def run_migrations(cls, engine, upgrade):
        # DDL commits on its own in MySQL, so the lock is the session's (GET_LOCK), not a transaction's.
        with engine.connect() as connection:
            locked = connection.execute(sa.text("SELECT GET_LOCK('kpicore_migrations', 120)")).scalar()
            connection.commit()
            if locked != 1:
                raise sa.exc.OperationalError(
                    "GET_LOCK('kpicore_migrations')",
                    {},
                    TimeoutError("another process migrated for over 120 s"),
                )
            try:
                with connection.begin():
                    upgrade(connection)
            finally:
                connection.execute(sa.text("SELECT RELEASE_LOCK('kpicore_migrations')"))
                connection.commit()

    @classmethod
    def writer_options(cls):
        return {"connect_args": {"init_command": "SET time_zone = '+00:00'"}}  # TIMESTAMP values are UTC

    @classmethod
    def demo_type(cls, kind):
        from sqlalchemy.dialects import mysql

        if kind == "time":
            return mysql.TIMESTAMP(fsp=6)
        if kind not in ("INTEGER", "BIGINT", "REAL", "FLOAT", "DOUBLE", "NUMERIC", "day"):
            return sa.String(255)
        return super().demo_type(kind)

    @classmethod
    def demo_instant(cls, moment):
        return moment.astimezone(UTC).replace(tzinfo=None)

    def install_guards(self, engine, timeout):
        """Read-only transactions, UTC session time (see the module docstring) and a statement timeout:
        ``max_statement_time`` (seconds) on MariaDB, ``max_execution_time`` (milliseconds) on MySQL."""
        from sqlalchemy import event

        @event.listens_for(engine, "connect")
        def mysql_session(dbapi_connection, record):
            mariadb = "mariadb" in dbapi_connection.get_server_info().lower()
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
                cursor.execute("SET SESSION time_zone = '+00:00'")
                if mariadb:
                    cursor.execute(f"SET SESSION max_statement_time = {float(timeout)!r}")
                else:
                    cursor.execute(f"SET SESSION max_execution_time = {int(timeout * 1000)}")

    def grouping_key(self, column):
        """``COALESCE(column)``, a value of the column's own type: grouped by the bare column, MariaDB
        reads a large table in key order through an index on it, one lookup of the row per row
        (``EXPLAIN``: ``range``; at 10 M orders, minutes), where a scan takes seconds."""
        return sa.func.coalesce(column)

    def concurrency(self, engine):
        return MAX_CONCURRENT_QUERIES

    def stop_query(self, engine, driver_connection):
        """PyMySQL has no cancel: ``KILL QUERY`` the connection's thread from another connection."""
        thread_id = driver_connection.thread_id()
        killer = engine.raw_connection()
        try:
            with contextlib.closing(killer.cursor()) as cursor:
                cursor.execute(f"KILL QUERY {int(thread_id)}")
        finally:
            killer.close()

    def timed_out(self, conn, error):
        """MariaDB's ``max_statement_time`` stops a query with error 1969, MySQL's ``max_execution_time``
        with 3024."""
        args: tuple = getattr(error, "args", ())
        return bool(args) and args[0] in (1969, 3024)

    def describe_error(self, error):
        """PyMySQL errors are ``(code, message)``: the message, with the code MySQL documents."""
        args: tuple = getattr(error, "args", ())
        if len(args) == 2 and isinstance(args[0], int):
            text = str(args[1]).strip().splitlines()[0] if str(args[1]).strip() else type(error).__name__
            return f"{text} (MySQL error {args[0]})"
        return super().describe_error(error)

    def storage_kind(self, type_code, kind):
        found = _TYPES.get(type_code)
        if found is not None:
            return found
        return DATE_TEXT if kind == "date" else TEXT

    def truthy(self, expression):
        # Compared as text: MySQL would read 'true' as the number 0 when compared with a number.
        text = sa.func.lower(sa.func.trim(sa.cast(expression, sa.String())))
        return text.in_(["1", "true", "t", "yes"])

    # -- time -----------------------------------------------------------------------------------
    def compare(self, column, op, bound):
        compare = OPS[op]
        storage = column.storage
        # Zero dates ('0000-00-00', '2026-00-10') sort before every real date: keep them out of "before"
        # comparisons, so that they fall in no period (a window is ">= start and < end").
        upper = op in ("<", "<=")
        if storage in (DATE, DATE_TEXT):
            day = date_bound(bound)
            if storage == DATE:
                comparison = compare(column.sql, day)
                return sa.and_(comparison, self.parses(column)) if upper else comparison
            return sa.and_(compare(column.sql, day.isoformat()), self.parses(column))
        if storage in (NAIVE, AWARE):
            value = self.local(bound) if storage == NAIVE else bound.astimezone(UTC).replace(tzinfo=None)
            comparison = compare(column.sql, value)
            return sa.and_(comparison, self.parses(column)) if upper else comparison
        # Text: naive text is in the source's timezone, text with an offset is an instant.
        local, offset = _text_parts(column.sql)
        exact = sa.or_(
            sa.and_(
                offset.is_not(None), compare(_utc(local, offset), bound.astimezone(UTC).replace(tzinfo=None))
            ),
            sa.and_(offset.is_(None), compare(local, self.local(bound))),
        )
        if upper:
            exact = sa.and_(exact, self.parses(column))
        return sa.and_(self.raw_range(column, op, bound), exact)

    def normalized(self, column):
        """Text as a ``DATETIME(6)`` in UTC where it has an offset (as written otherwise)."""
        if column.storage == TEXT:
            local, offset = _text_parts(column.sql)
            return sa.case((offset.is_not(None), _utc(local, offset)), else_=local)
        return column.sql

    def parses(self, column):
        sql = column.sql
        if column.storage == DATE_TEXT:
            day = sa.cast(sa.func.substr(sql, 1, 10), sa.Date)
            return sa.and_(
                day.is_not(None), sa.func.date_format(day, "%Y-%m-%d") == sa.func.substr(sql, 1, 10)
            )
        if column.storage == TEXT:
            return sa.and_(sql.op("REGEXP")(_ISO_DAY), self.normalized(column).is_not(None))
        if column.storage in (NAIVE, AWARE, DATE):
            # Zero dates, and dates with a zero month or day ('2026-00-10'), are not times.
            return sa.and_(sql >= _FIRST_TIME, sa.func.month(sql) > 0, sa.func.dayofmonth(sql) > 0)
        return super().parses(column)

    def is_empty(self, column):
        if column.storage in (NAIVE, AWARE, DATE):
            # Not ``col IS NULL``: in a WHERE clause MySQL makes that true for a zero date in a NOT NULL column.
            return sa.func.coalesce(column.sql).is_(None)
        return super().is_empty(column)

    def minutes_between(self, start, end):
        return (
            sa.func.timestampdiff(sa.text("MICROSECOND"), self.normalized(start), self.normalized(end)) / 60e6
        )

    def epoch(self, value):
        return sa.func.unix_timestamp(value)  # the session is UTC: a naive value is read as UTC


def _text_parts(text_column):
    """ISO text as (its time as written, a ``DATETIME(6)`` or NULL; its offset as '+HH:MM', or NULL)."""
    from sqlalchemy.dialects.mysql import DATETIME

    written = sa.cast(sa.func.regexp_replace(text_column, _OFFSET, ""), DATETIME(fsp=6))
    found = sa.func.regexp_substr(text_column, _OFFSET)
    offset = sa.case(
        (found == "", None),
        (found.in_(["Z", "z"]), "+00:00"),
        (sa.func.length(found) == 5, sa.func.concat(sa.func.left(found, 3), ":", sa.func.right(found, 2))),
        else_=found,
    )
    return written, offset


def _utc(local, offset):
    """A naive time written at ``offset``, as UTC (numeric offsets need no zone tables)."""
    return sa.func.convert_tz(local, offset, "+00:00")
