"""The dialect interface: everything one database does differently, behind one object.

A ``Source`` holds entities, mappings and relations; whenever a time column meets a period bound,
two time columns are compared, a session is set up or a running query is stopped, it asks its dialect.
Built-in dialects (``sqlite``, ``postgresql``, ``duckdb``, ``mysql``) are registered by a default plugin
through the ``register_dialects`` hook, like anyone's; a plugin registers a ``Dialect`` subclass for a
database kpicore does not know (its ``name`` is the SQLAlchemy dialect name, ``engine.dialect.name``).

Each time column of a relation has a *storage* kind, decided by the dialect from the driver's column
types: ``NAIVE`` (a timestamp without zone, read in the source's timezone), ``AWARE`` (an instant),
``TEXT`` (ISO 8601 text, naive or with an offset), ``DATE`` and ``DATE_TEXT`` (a calendar day), and
``BUCKET`` (a derived relation's bucket index, see ``kpicore.buckets``).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .columns import (  # noqa: F401 - the storage kinds, re-exported
    AWARE,
    BUCKET,
    DATE,
    DATE_TEXT,
    NAIVE,
    OPS,
    TEXT,
    Relation,
    TimeColumn,
)

UTC = dt.UTC
#: The most queries one compute runs at the same time on a database server, each on its own connection.
MAX_CONCURRENT_QUERIES = 4


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class Dialect:
    """How one database reads and compares times, guards its sessions and runs queries.

    Subclasses set ``name`` (the SQLAlchemy dialect name they serve) and override what their database
    does differently; the defaults are ANSI SQL as PostgreSQL speaks it. One instance per opened source,
    made with the source's timezone (``Dialect(timezone)``).
    """

    #: The SQLAlchemy dialect name (``engine.dialect.name``) this dialect serves.
    name: ClassVar[str] = ""
    #: URL schemes that mean this database but that SQLAlchemy does not load (``postgres`` -> ``postgresql``).
    url_aliases: ClassVar[tuple[str, ...]] = ()
    #: The driver SQLAlchemy should use when a URL names none (``postgresql://`` -> psycopg 3).
    default_driver: ClassVar[str | None] = None
    #: What to install when the driver is missing.
    driver_hint: ClassVar[str] = ""
    #: Whether ``kpi check --indexes`` can advise on indexes for this database.
    index_advice: ClassVar[bool] = False
    #: Whether one text time value that does not cast stops the whole query (rather than falling in no
    #: period): ``kpi check --data`` says so, and such an entity's metrics become unavailable.
    text_time_stops_query: ClassVar[bool] = False
    #: Whether a number column may hold text that reads as NULL (SQLite's loose typing): ``kpi check --data``
    #: then counts such cells.
    loose_number_columns: ClassVar[bool] = False
    #: Whether GROUP BY sorts every row it groups (no hash aggregation: SQLite). Grouping a lifetime
    #: read by bucket then sorts the whole history before the first window, which the engine instead
    #: aggregates on its own, without grouping (``kpicore.compute``).
    groups_by_sorting: ClassVar[bool] = False
    #: Up to this many window boundaries (a period and the one before: 3), a bucket query with lifetime
    #: measures aggregates the history before the first window on its own too, where GROUP BY hashes:
    #: a plain aggregate the database can run in parallel, and the windows read through the time
    #: index, rather than one hash aggregation of every row by its bucket (0: never; SQLite always
    #: does, ``groups_by_sorting``).
    history_apart_boundaries: ClassVar[int] = 0
    #: Whether a value computed in a subquery (``once_per_row``) is computed once however often the
    #: query around it reads it; False where the database merges the subquery into it and evaluates
    #: the expression at each use (MySQL/MariaDB's derived_merge).
    reuses_subquery_values: ClassVar[bool] = True
    #: Whether a per-customer pass over a few buckets groups on the raw times of a time-typed column and
    #: buckets each customer's aggregates afterwards (one comparison per boundary per order), rather
    #: than computing each order's bucket (a CASE chain per order) and grouping twice.
    buckets_after_grouping: ClassVar[bool] = False

    def __init__(self, timezone: ZoneInfo):
        self.timezone = timezone

    # -- connecting -----------------------------------------------------------------------------
    @classmethod
    def engine_options(cls, url) -> dict[str, Any]:
        """Keyword arguments for ``sqlalchemy.create_engine`` (pooling, connect timeout)."""
        return {}

    # -- kpicore's own tables (the state database, the sync staging database) ------------------
    @classmethod
    def state_options(cls, url) -> dict[str, Any]:
        """``create_engine`` arguments for kpicore's own database (state, staging): the source's, by default."""
        return cls.engine_options(url)

    @classmethod
    def upsert(
        cls, table: sa.Table, rows: list[dict[str, Any]], keys: Sequence[str], update: Callable
    ) -> Any:
        """An INSERT of ``rows`` that, where a row with the same ``keys`` (a unique constraint) exists,
        sets the columns ``update(new)`` returns instead; ``new`` holds the incoming row's values by column
        (``new.value``). ANSI ``ON CONFLICT`` as PostgreSQL and SQLite speak it."""
        statement = cls.insert(table).values(rows)
        return statement.on_conflict_do_update(index_elements=list(keys), set_=update(statement.excluded))

    @classmethod
    def upsert_select(
        cls, table: sa.Table, columns: Sequence[str], select: sa.Select, keys: Sequence[str], update: Callable
    ) -> Any:
        """``upsert`` of the rows a SELECT gives (``columns``: the table's columns it fills, in order),
        run in the database. On SQLite a SELECT with a join needs a WHERE clause here (``ON CONFLICT``
        would read as the join's ``ON``)."""
        statement = cls.insert(table).from_select(list(columns), select)
        return statement.on_conflict_do_update(index_elements=list(keys), set_=update(statement.excluded))

    @classmethod
    def insert_or_ignore(cls, table: sa.Table, rows: list[dict[str, Any]]) -> Any:
        """An INSERT of ``rows`` that leaves out, without an error, each row a unique constraint refuses."""
        return cls.insert(table).values(rows).on_conflict_do_nothing()

    @classmethod
    def insert(cls, table: sa.Table) -> Any:
        """The INSERT construct of this database's SQLAlchemy dialect (with its conflict clauses)."""
        from sqlalchemy.dialects.postgresql import insert

        return insert(table)

    @classmethod
    def run_migrations(cls, engine: sa.Engine, upgrade: Callable[[sa.Connection], None]) -> None:
        """Run ``upgrade(connection)`` (Alembic's) in one transaction, one process at a time: processes
        starting together (several `kpi serve`, a cron job and a CLI) each find the schema up to date."""
        with engine.begin() as connection:
            upgrade(connection)

    @classmethod
    def writer_options(cls) -> dict[str, Any]:
        """``create_engine`` arguments for writing sample data (``kpi demo --into``)."""
        return {}

    @classmethod
    def demo_type(cls, kind: str):
        """The column type ``kpi demo --into`` gives a column: kind "time", "day", or a SQLite type name."""
        if kind == "time":
            return sa.DateTime(timezone=True)
        if kind == "day":
            return sa.Date()
        if kind in ("INTEGER", "BIGINT"):
            return sa.Integer()
        if kind in ("REAL", "FLOAT", "DOUBLE", "NUMERIC"):
            return sa.Double()
        return sa.Text()

    @classmethod
    def demo_instant(cls, moment: dt.datetime):
        """An aware instant as the value ``kpi demo --into`` writes into a "time" column."""
        return moment.astimezone(UTC)

    def install_guards(self, engine: sa.Engine, timeout: float) -> None:
        """Make every session of ``engine`` read-only, with a statement timeout of ``timeout`` seconds and
        the source's timezone, where the database allows."""

    def concurrency(self, engine: sa.Engine) -> int:
        """How many queries may run at once, each on its own pooled connection: one where the pool has a
        single connection, ``MAX_CONCURRENT_QUERIES`` on a database server."""
        if not isinstance(engine.pool, sa.pool.QueuePool | sa.pool.NullPool):
            return 1
        return MAX_CONCURRENT_QUERIES

    def stop_query(self, engine: sa.Engine, driver_connection) -> None:
        """Ask the database to stop the query running on ``driver_connection`` (from another thread)."""
        stop = getattr(driver_connection, "interrupt", None) or getattr(driver_connection, "cancel", None)
        if stop is not None:
            stop()

    def timed_out(self, conn, error: Exception) -> bool:
        """Whether ``error``, raised by a query on ``conn`` (a SQLAlchemy connection), means the query ran
        past the statement timeout (rather than failing or being stopped for another reason)."""
        return False

    def describe_error(self, error: Exception) -> str:
        """One line about a driver error."""
        text = str(error).strip()
        return text.splitlines()[0] if text else type(error).__name__

    # -- types ----------------------------------------------------------------------------------
    #: False where the driver's column types say nothing (SQLite): ``storage_kind`` gets None.
    reads_column_types: ClassVar[bool] = True

    def storage_kind(self, type_code, kind: str) -> str:
        """The storage kind of a time column from its driver type code; ``kind`` is the entity's
        ("timestamp" or "date")."""
        text = str(type_code).upper()
        if "WITH TIME ZONE" in text or text == "TIMESTAMPTZ":
            return AWARE
        if text.startswith(("TIMESTAMP", "DATETIME")):
            return NAIVE
        if text == "DATE":
            return DATE
        return DATE_TEXT if kind == "date" else TEXT

    def cleaned(self, column: sa.ColumnElement, kind: str) -> sa.ColumnElement:
        """A source column as the metrics read it (a column of ``kind``: "number", "text", ...)."""
        return column

    def truthy(self, expression) -> sa.ColumnElement:
        """A boolean column, whether stored as boolean, 0/1 or 'true'/'false'."""
        return sa.cast(expression, sa.Boolean).is_(True)

    # -- time -----------------------------------------------------------------------------------
    def compare(self, column: TimeColumn, op: str, bound: dt.datetime) -> sa.ColumnElement:
        """``column op bound`` for an aware bound, exact for the column's storage kind."""
        compare = OPS[op]
        storage = column.storage
        if storage in (DATE, DATE_TEXT):
            day = date_bound(bound)
            return compare(column.sql, day if storage == DATE else day.isoformat())
        if storage == AWARE:
            return compare(column.sql, bound.astimezone(UTC))
        if storage == NAIVE:
            return compare(column.sql, self.local(bound))
        return compare(self.normalized(column), bound.astimezone(UTC))

    def local(self, bound: dt.datetime) -> dt.datetime:
        """A bound as a naive time in the source's timezone (how naive values are read)."""
        return bound.astimezone(self.timezone).replace(tzinfo=None)

    def raw_range(self, column: TimeColumn, op: str, bound: dt.datetime) -> sa.ColumnElement:
        """An index-friendly comparison on the raw text, a day wider than the exact one."""
        day = bound.astimezone(UTC).date()
        if op in (">=", ">"):
            return column.sql >= (day - dt.timedelta(days=1)).isoformat()
        return column.sql < (day + dt.timedelta(days=2)).isoformat()

    def prefilter(self, column: TimeColumn, start: dt.datetime | None, end: dt.datetime) -> sa.ColumnElement:
        """A WHERE-clause range [start, end) that lets the database use an index on the time column."""
        parts = []
        if column.storage == TEXT:
            if start is not None:
                parts.append(self.raw_range(column, ">=", start))
            parts.append(self.raw_range(column, "<", end))
        else:
            if start is not None:
                parts.append(self.compare(column, ">=", start))
            parts.append(self.compare(column, "<", end))
        return sa.and_(*parts)

    def scan_before(self, column: TimeColumn, bound: dt.datetime) -> sa.ColumnElement:
        """Exactly the rows before ``bound`` (``column < bound``), for a read the database should do by
        scanning the table (``scan_range``); the comparison itself where the planner weighs that."""
        return self.compare(column, "<", bound)

    def scan_range(self, column: TimeColumn, start: dt.datetime | None, end: dt.datetime) -> sa.ColumnElement:
        """``prefilter``'s range, for a read the database should do by scanning the table rather than
        through the column's index (most of the rows, which an index would visit one random table
        lookup each when they are not stored in time order); the same as ``prefilter`` where the
        planner weighs that itself."""
        return self.prefilter(column, start, end)

    def normalized(self, column: TimeColumn) -> sa.ColumnElement:
        """The column as a value comparable across rows and with other time columns."""
        if column.storage == TEXT:
            return sa.cast(column.sql, sa.DateTime(timezone=True))
        return column.sql

    def parses(self, column: TimeColumn) -> sa.ColumnElement:
        """The value is a time (a date, for a date column) that can fall in a period."""
        return self.normalized(column).is_not(None)

    def checked_parses(self, column: TimeColumn) -> sa.ColumnElement:
        """``parses`` for ``kpi check --data``, which must count bad values rather than fail on them."""
        return self.parses(column)

    def is_empty(self, column: TimeColumn) -> sa.ColumnElement:
        """The time column holds no value (NULL, or empty text: an empty cell)."""
        if column.storage in (TEXT, DATE_TEXT):
            return sa.or_(column.sql.is_(None), column.sql == "")
        if column.unparsed is not None:
            return sa.and_(column.sql.is_(None), sa.not_(column.unparsed))
        return column.sql.is_(None)

    def minutes_between(self, start: TimeColumn, end: TimeColumn) -> sa.ColumnElement:
        """Minutes from ``start`` to ``end`` (negative when end is before start)."""
        return sa.extract("epoch", self.normalized(end) - self.normalized(start)) / 60.0

    def naive_offset(self, near: dt.datetime) -> float:
        """Seconds east of UTC of the source's timezone at ``near``."""
        offset = self.timezone.utcoffset(near.astimezone(self.timezone).replace(tzinfo=None))
        return offset.total_seconds() if offset is not None else 0.0

    def epoch(self, value: sa.ColumnElement) -> sa.ColumnElement:
        """Seconds since 1970-01-01 of a timestamp expression (naive values read as UTC)."""
        return sa.extract("epoch", value)

    def epoch_seconds(self, column: TimeColumn, near: dt.datetime) -> sa.ColumnElement:
        """Seconds since 1970-01-01 UTC, naive values read at the source timezone's offset at ``near``."""
        if column.storage in (DATE, DATE_TEXT):
            raise ValueError("epoch_seconds needs a timestamp column, not a date")
        offset = self.naive_offset(near)
        seconds = self.epoch(self.normalized(column))
        if column.storage == NAIVE and offset:
            return seconds - sa.literal_column(repr(float(offset)))
        return seconds

    # -- query shape ----------------------------------------------------------------------------
    def grouping_key(self, column: sa.ColumnElement) -> sa.ColumnElement:
        """A column as the key of a GROUP BY over a whole table, where the database should scan the
        table rather than read it in key order through an index on the column."""
        return column

    def once_per_row(self, rows: sa.Select, name: str) -> sa.Subquery:
        """``rows`` as a subquery whose expressions are evaluated once per row, for a GROUP BY above it."""
        return rows.subquery(name)

    def bucket_rows(self, rows: sa.Select, name: str) -> sa.Subquery:
        """``once_per_row`` for the rows of a GROUP BY on buckets, which has a handful of groups
        whatever the number of rows."""
        return self.once_per_row(rows, name)

    def parse_once(self, relation: Relation, name: str, where) -> Relation | None:
        """The relation's rows passing ``where`` with each text time parsed once per row, where the
        database would otherwise parse the same value once per use; None where that does not apply."""
        return None


def date_bound(bound: dt.datetime) -> dt.date:
    """The first calendar day whose local midnight is at or after ``bound`` (business timezone)."""
    day = bound.date()
    if bound.timetz().replace(tzinfo=None) != dt.time(0):
        day += dt.timedelta(days=1)
    return day


def bound_text(moment: dt.datetime) -> str:
    """A naive time as the text SQLite and MySQL parse: 'YYYY-MM-DD HH:MM:SS'."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")
