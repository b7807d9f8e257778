"""A data source opened by a connector: entity relations as SQL, and the dialect's time arithmetic.

Every comparison with a period boundary goes through here, because sources store time in many
forms: SQLite keeps text in several formats, PostgreSQL has ``timestamp`` and ``timestamptz``, files
are read through DuckDB as ``TIMESTAMPTZ``. Each time column gets a *storage* kind and each kind its
own exact predicate, plus an index-friendly raw range for the WHERE clause.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from .config import EntityMapping, SourceConfig
from .errors import MappingError, SourceError
from .model import UNPARSED_SUFFIX, Entity

UTC = dt.UTC
#: Storage kinds of a time column.
TEXT, NAIVE, AWARE, DATE, DATE_TEXT = "text", "naive", "aware", "date", "date_text"
#: A time column of a relation derived in bucket space (``Entity.derive_buckets``): the index of the
#: slice between window boundaries its time falls in (bucket i is [boundary i-1, boundary i)), NULL for none.
BUCKET = "bucket"
#: The most queries one compute runs at the same time, each on its own pooled connection.
MAX_CONCURRENT_QUERIES = 4


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


class EntityUnavailable(Exception):
    """The source has no table for an entity (its metrics become "unavailable")."""


@dataclass
class Relation:
    """An entity as SQL: a FROM clause and its canonical columns."""

    entity: Entity
    from_: sa.FromClause
    columns: dict[str, sa.ColumnElement]
    storage: dict[str, str] = field(default_factory=dict)
    dimensions: tuple[str, ...] = ()
    origin: str = ""
    #: Text time columns already parsed once per row (SQLite, see ``Source.parsed_relation``).
    parsed: dict[str, sa.ColumnElement] = field(default_factory=dict)
    #: Flags of time values present in the source but unparseable (files, read with TRY_CAST): such a
    #: value is invalid, not an empty cell.
    unparsed: dict[str, sa.ColumnElement] = field(default_factory=dict)


class TimeColumn:
    """A time column that compares correctly with period bounds (aware datetimes) and other time columns."""

    def __init__(self, source: Source, sql: sa.ColumnElement, storage: str, parsed: sa.ColumnElement | None = None,
                 unparsed: sa.ColumnElement | None = None):
        self.source = source
        self.sql = sql
        self.storage = storage
        self.parsed = parsed
        self.unparsed = unparsed

    def _compare(self, op: str, other):
        if self.storage == BUCKET:
            raise TypeError("a bucket-space time column only groups, it does not compare")
        if isinstance(other, TimeColumn):
            left, right = self.source.normalized(self), self.source.normalized(other)
            return sa.sql.operators.custom_op(op)(left, right) if op not in _OPS else _OPS[op](left, right)
        if isinstance(other, dt.datetime):
            return self.source.compare(self, op, other)
        return NotImplemented

    def __lt__(self, other):
        return self._compare("<", other)

    def __le__(self, other):
        return self._compare("<=", other)

    def __gt__(self, other):
        return self._compare(">", other)

    def __ge__(self, other):
        return self._compare(">=", other)

    def in_window(self, start: dt.datetime, end: dt.datetime):
        """start <= column < end."""
        return sa.and_(self >= start, self < end)

    def is_(self, value):
        """``is_(None)``: no value (NULL, or empty text: DESIGN 4's empty cell)."""
        if value is None and self.storage in (TEXT, DATE_TEXT):
            return sa.or_(self.sql.is_(None), self.sql == "")
        if value is None and self.unparsed is not None:
            return sa.and_(self.sql.is_(None), sa.not_(self.unparsed))
        return self.sql.is_(value)

    def is_not(self, value):
        if value is None and self.storage in (TEXT, DATE_TEXT):
            return sa.and_(self.sql.is_not(None), self.sql != "")
        if value is None and self.unparsed is not None:
            return sa.or_(self.sql.is_not(None), self.unparsed)
        return self.sql.is_not(value)

    def valid(self):
        """The value is present and parses as a time."""
        return self.source.parses(self)


_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class Row:
    """The ``t`` a measure's lambdas receive: columns by name, plus dialect-aware helpers."""

    def __init__(self, source: Source, relation: Relation):
        self._source = source
        self._relation = relation

    def __getattr__(self, name: str):
        relation = self._relation
        if name not in relation.columns:
            known = ", ".join(relation.columns)
            raise AttributeError(f"entity {relation.entity.name} has no column {name!r} (columns: {known})")
        if name in relation.storage:
            return TimeColumn(
                self._source, relation.columns[name], relation.storage[name], relation.parsed.get(name),
                relation.unparsed.get(name),
            )
        return relation.columns[name]

    def is_integer(self, expression) -> sa.ColumnElement:
        """The value is a whole number (7.5 is not)."""
        expression = getattr(expression, "sql", expression)
        return sa.cast(expression, sa.Integer) == expression

    def truthy(self, expression) -> sa.ColumnElement:
        """A boolean column, whether stored as boolean, 0/1 or 'true'/'false'."""
        return self._source.truthy(getattr(expression, "sql", expression))

    def minutes_between(self, start: TimeColumn, end: TimeColumn) -> sa.ColumnElement:
        """Minutes from ``start`` to ``end`` (negative when end is before start)."""
        return self._source.minutes_between(start, end)

    def epoch_seconds(self, column: TimeColumn, near: dt.datetime) -> sa.ColumnElement:
        """Seconds since 1970-01-01 UTC of a time column, as a number comparable with ``near.timestamp()``.

        Values without an offset are read in the source timezone, at its UTC offset at ``near``: exact for
        values within hours of ``near`` unless a DST change of the source timezone lies between them.
        """
        return self._source.epoch_seconds(column, near)


class Source:
    """An opened data source: a SQLAlchemy engine plus entity mappings."""

    def __init__(
        self,
        engine: sa.Engine,
        config: SourceConfig,
        entities: dict[str, Entity],
        *,
        display: str,
        timezone: ZoneInfo,
    ):
        self.engine = engine
        self.config = config
        self.entities = entities
        self.display = display
        self.timezone = timezone
        self.dialect = engine.dialect.name
        self._relations: dict[str, Relation | EntityUnavailable] = {}
        self._bucketed: dict[tuple, Relation] = {}
        self._tables: set[str] | None = None

    # -- relations ------------------------------------------------------------------------------
    def relation(self, name: str) -> Relation:
        """The entity as SQL; raises EntityUnavailable or MappingError."""
        cached = self._relations.get(name)
        if cached is None:
            try:
                cached = self._build_relation(name)
            except EntityUnavailable as missing:
                cached = missing
            self._relations[name] = cached
        if isinstance(cached, EntityUnavailable):
            raise cached
        return cached

    def row(self, name: str) -> Row:
        return Row(self, self.relation(name))

    def bucketed_relation(self, name: str, boundaries: list[dt.datetime]) -> Relation:
        """A derived entity built in bucket space for these window boundaries (``Entity.derive_buckets``).

        Its time columns hold bucket indexes (storage ``BUCKET``), which only the bucketed GROUP BY reads.
        """
        key = (name, tuple(boundaries))
        if key not in self._bucketed:
            entity = self.entities[name]
            from_, columns = entity.derive_buckets(self, list(boundaries))
            storage = {c: BUCKET for c in entity.time_columns if c in columns}
            self._bucketed[key] = Relation(entity, from_, columns, storage, origin="derived")
        return self._bucketed[key]

    def bucket_of(self, column: TimeColumn, boundaries: list[dt.datetime]) -> sa.ColumnElement:
        """The bucket of a time column: i for [boundary i-1, boundary i), len(boundaries) past the last,
        NULL when the value is NULL or does not parse. Exact, like every comparison with a bound."""
        whens = [(column.sql.is_(None), sa.null())]
        whens += [(column < boundary, index) for index, boundary in enumerate(boundaries)]
        return sa.case(*whens, else_=sa.case((column.valid(), len(boundaries)), else_=sa.null()))

    def table_names(self) -> set[str]:
        if self._tables is None:
            self._tables = set(self._run(lambda conn: sa.inspect(conn).get_table_names(schema=self.config.schema)))
            try:
                views = self._run(lambda conn: sa.inspect(conn).get_view_names(schema=self.config.schema))
                self._tables |= set(views)
            except NotImplementedError:
                pass
        return self._tables

    def _build_relation(self, name: str) -> Relation:
        entity = self.entities.get(name)
        if entity is None:
            raise MappingError(f"unknown entity {name!r}")
        if entity.derive is not None:
            from_, columns, storage = entity.derive(self)
            return Relation(entity, from_, columns, storage, origin="derived")
        mapping = self.config.entities.get(name)
        if mapping is None:
            if name not in self.table_names():
                raise EntityUnavailable(f"source {self.display} has no table {name!r}")
            mapping = EntityMapping(table=name)
        from_, origin = self._from_clause(entity, mapping)
        available = list(from_.c.keys())
        columns: dict[str, sa.ColumnElement] = {}
        for column in entity.columns:
            source_name = mapping.source_column(column.name)
            if source_name in available:
                expression = self._cleaned(from_.c[source_name], column.kind)
                if column.name in mapping.scale:
                    expression = expression * mapping.scale[column.name]
                columns[column.name] = expression
            elif column.required or column.name in mapping.columns:
                renamed = f" (mapped to {source_name!r})" if source_name != column.name else ""
                raise MappingError(
                    f"entity {name}: column {column.name!r}{renamed} not found in {origin} of source "
                    f"{self.display}; it has: {', '.join(sorted(available)) or 'no columns'}"
                )
            else:
                columns[column.name] = sa.null()
        dimensions: tuple[str, ...] = ()
        if entity.has_dimensions:
            used = {mapping.source_column(c.name) for c in entity.columns}
            if mapping.dimensions is not None:
                for dimension in mapping.dimensions:
                    if dimension not in available:
                        raise MappingError(
                            f"entity {name}: dimension {dimension!r} not found in {origin} of source {self.display}"
                        )
                dimensions = tuple(mapping.dimensions)
            else:
                dimensions = tuple(c for c in available if c not in used and not c.endswith(UNPARSED_SUFFIX))
            for dimension in dimensions:
                columns.setdefault(dimension, self._cleaned(from_.c[dimension], "text"))
            if "channel" in columns and not isinstance(columns["channel"], sa.sql.elements.Null):
                dimensions = ("channel",) + tuple(d for d in dimensions if d != "channel")
        storage = self._storage(entity, from_, columns, available, mapping)
        unparsed = {
            name: from_.c[mapping.source_column(name) + UNPARSED_SUFFIX]
            for name in storage
            if mapping.source_column(name) + UNPARSED_SUFFIX in available
        }
        return Relation(entity, from_, columns, storage, dimensions, origin, unparsed=unparsed)

    def _cleaned(self, column: sa.ColumnElement, kind: str) -> sa.ColumnElement:
        """SQLite keeps whatever was written: read a number column's non-numbers ('abc', '12,50') and
        empty text as NULL, so metrics leave them out and warn instead of summing them as 0 or 12.
        Time columns stay raw, so their indexes keep working (see TimeColumn.is_)."""
        if self.dialect != "sqlite":
            return column
        if kind in ("number", "integer"):
            text = sa.func.trim(column)
            numeric_text = sa.and_(
                text.op("GLOB")("*[0-9]*"), sa.not_(text.op("GLOB")("*[^0-9.eE+-]*")),
            )
            return sa.case(
                (sa.func.typeof(column).in_(["integer", "real"]), column),
                (sa.and_(sa.func.typeof(column) == "text", numeric_text), sa.cast(text, sa.Float)),
            )
        if kind == "text":
            return sa.func.nullif(sa.func.trim(column), "")
        return column

    def _from_clause(self, entity: Entity, mapping: EntityMapping) -> tuple[sa.FromClause, str]:
        if mapping.query:
            self.table_names()  # the source answers: a failure below is the query's fault
            probe = sa.text(f"SELECT * FROM ({mapping.query}) AS q WHERE 1 = 0")
            try:
                keys = self._run(lambda conn: list(conn.execute(probe).keys()))
            except SourceError as error:
                detail = str(error).removeprefix(f"source {self.display}: ")
                raise MappingError(
                    f"kpi.toml [entities.{entity.name}] query fails on source {self.display}: {detail} "
                    "(run it in your database client to fix it)"
                ) from None
            query = sa.text(mapping.query).columns(*[sa.column(k) for k in keys])
            return query.subquery(f"{entity.name}_q"), f"the query of [entities.{entity.name}]"
        table_name = mapping.table or entity.name
        schema = self.config.schema
        if "." in table_name:
            schema, table_name = table_name.split(".", 1)
        if table_name not in self.table_names() and schema == self.config.schema:
            raise MappingError(
                f"entity {entity.name}: table {table_name!r} not found in source {self.display}"
            )
        probe = sa.select(sa.text("*")).select_from(sa.table(table_name, schema=schema)).where(sa.false())
        names = self._run(lambda conn: list(conn.execute(probe).keys()))
        table = sa.table(table_name, *[sa.column(name) for name in names], schema=schema)
        return table, f"table {table_name!r}"

    def _storage(self, entity, from_, columns, available, mapping) -> dict[str, str]:
        """Storage kind of each time column, from the driver's column types."""
        time_columns = [c for c in entity.time_columns if not isinstance(columns[c], sa.sql.elements.Null)]
        if not time_columns:
            return {}
        if self.dialect == "sqlite":
            return {c: DATE_TEXT if entity.column(c).kind == "date" else TEXT for c in time_columns}
        probe = sa.select(*[columns[c].label(c) for c in time_columns]).select_from(from_).where(sa.false())

        def describe(conn):
            result = conn.execute(probe)
            description = result.cursor.description
            result.close()
            return description

        description = self._run(describe)
        storage = {}
        for column_name, described in zip(time_columns, description):
            storage[column_name] = self._storage_kind(described[1], entity.column(column_name).kind)
        return storage

    def _storage_kind(self, type_code, kind: str) -> str:
        text = str(type_code).upper()
        if self.dialect == "postgresql":
            text = {1114: "TIMESTAMP", 1184: "TIMESTAMP WITH TIME ZONE", 1082: "DATE"}.get(type_code, "TEXT")
        if "WITH TIME ZONE" in text or text == "TIMESTAMPTZ":
            return AWARE
        if text.startswith(("TIMESTAMP", "DATETIME")):
            return NAIVE
        if text == "DATE":
            return DATE
        return DATE_TEXT if kind == "date" else TEXT

    # -- time arithmetic ------------------------------------------------------------------------
    def compare(self, column: TimeColumn, op: str, bound: dt.datetime):
        """``column op bound`` for an aware bound, exact for the column's storage kind."""
        compare = _OPS[op]
        storage = column.storage
        if storage in (DATE, DATE_TEXT):
            day = _date_bound(bound)
            if storage == DATE:
                return compare(column.sql, day)
            if self.dialect == "sqlite":  # text that is not a date ('2026-13-45') is in no period
                return sa.and_(compare(column.sql, day.isoformat()), self.parses(column))
            return compare(column.sql, day.isoformat())
        if storage == AWARE:
            return compare(column.sql, bound.astimezone(UTC))
        local = bound.astimezone(self.timezone).replace(tzinfo=None)
        if storage == NAIVE:
            return compare(column.sql, local)
        # Text: compare parsed, normalised values; naive text is in the source's timezone.
        if self.dialect == "sqlite":
            parsed = self.normalized(column)
            utc_instant = _sqlite_instant(sa.literal(_text(bound.astimezone(UTC)), sa.Text()))
            if self.timezone.key == "UTC":
                exact = compare(parsed, utc_instant)
            else:
                offset = _has_offset(column.sql)
                local_instant = _sqlite_instant(sa.literal(_text(local), sa.Text()))
                exact = sa.or_(
                    sa.and_(offset, compare(parsed, utc_instant)),
                    sa.and_(sa.not_(offset), compare(parsed, local_instant)),
                )
            return sa.and_(self.raw_range(column, op, bound), exact)
        return compare(self.normalized(column), bound.astimezone(UTC))

    def raw_range(self, column: TimeColumn, op: str, bound: dt.datetime):
        """An index-friendly comparison on the raw text, a day wider than the exact one."""
        day = bound.astimezone(UTC).date()
        if op in (">=", ">"):
            return column.sql >= (day - dt.timedelta(days=1)).isoformat()
        return column.sql < (day + dt.timedelta(days=2)).isoformat()

    def prefilter(self, column: TimeColumn, start: dt.datetime | None, end: dt.datetime):
        """A WHERE-clause range that lets the database use an index on the time column."""
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

    def once_per_row(self, rows: sa.Select, name: str) -> sa.Subquery:
        """``rows`` as a subquery whose expressions are evaluated once per row, for a GROUP BY above it.

        SQLite flattens a plain subquery into the query around it, and then evaluates a GROUP BY key
        (a bucket's CASE chain) both to sort and again for the result, and an aggregate's cleaned input
        once per use: ``LIMIT -1`` keeps it a co-routine that computes each expression once and hands
        the sorter plain values (1 M orders: GROUP BY (customer, bucket) 0.8 s instead of 2.1 s, the
        orders buckets 0.66 s instead of 1.02 s). Elsewhere a plain subquery (the planner merges it).
        """
        if self.dialect == "sqlite":
            rows = rows.limit(sa.literal_column("-1"))
        return rows.subquery(name)

    def parsed_relation(self, name: str, where=None) -> Relation | None:
        """SQLite: the entity's rows passing ``where`` with each text time column parsed once per row.

        SQLite does not share common subexpressions, so a query with one CASE per measure and window
        would call ``datetime()`` on the same value dozens of times per row; a MATERIALIZED CTE
        (SQLite 3.35+) parses each value once. None where that does not apply.
        """
        import sqlite3

        if sqlite3.sqlite_version_info < (3, 35):
            return None
        return self._parsed(name, where, materialized=True)

    def _parsed(self, name: str, where, materialized: bool) -> Relation | None:
        relation = self.relation(name)
        text_columns = [c for c, kind in relation.storage.items() if kind == TEXT]
        if self.dialect != "sqlite" or not text_columns:
            return None
        present = {c: e for c, e in relation.columns.items() if not isinstance(e, sa.sql.elements.Null)}
        parsed_names = {c: f"{c}__parsed" for c in text_columns}
        rows = sa.select(
            *[expression.label(c) for c, expression in present.items()],
            *[_sqlite_instant(relation.columns[c]).label(parsed_names[c]) for c in text_columns],
        ).select_from(relation.from_)
        if where is not None:
            rows = rows.where(where)
        if materialized:
            from_ = rows.cte(f"{name}_rows").prefix_with("MATERIALIZED")
        else:
            from_ = rows.limit(sa.literal_column("-1")).subquery(f"{name}_rows")
        columns = {c: (from_.c[c] if c in present else expression) for c, expression in relation.columns.items()}
        parsed = {c: from_.c[parsed_names[c]] for c in text_columns}
        return Relation(relation.entity, from_, columns, relation.storage, relation.dimensions, relation.origin, parsed)

    def normalized(self, column: TimeColumn):
        """The column as a value comparable across rows (the Julian day number, to the ms, on SQLite)."""
        if column.storage == TEXT and self.dialect == "sqlite":
            # Not datetime(): it drops fractional seconds, so 09:00:00 would not be before 09:00:00.250.
            return column.parsed if column.parsed is not None else _sqlite_instant(column.sql)
        if column.storage == TEXT:
            return sa.cast(column.sql, sa.DateTime(timezone=True))
        return column.sql

    def parses(self, column: TimeColumn):
        """The value is a time (a date, for a date column) that can fall in a period."""
        if self.dialect == "sqlite" and column.storage == DATE_TEXT:
            # With a modifier, date() carries '2026-02-30' over to March 2nd: a valid date is its own date().
            written = sa.func.substr(column.sql, 1, 10)  # the date as written, before any time or offset
            day = sa.func.date(written, sa.literal("+0 days", sa.Text()))
            return sa.and_(day.is_not(None), day == written)
        if self.dialect == "sqlite" and column.storage == TEXT:
            # julianday() also reads 'now' and bare Julian day numbers, which no period holds.
            return sa.and_(self.normalized(column).is_not(None), column.sql.op("GLOB")("[0-9][0-9][0-9][0-9]-*"))
        return self.normalized(column).is_not(None)

    def minutes_between(self, start: TimeColumn, end: TimeColumn):
        if self.dialect == "sqlite":
            seconds = sa.func.strftime("%s", end.sql) - sa.func.strftime("%s", start.sql)
            return sa.cast(seconds, sa.Float) / 60.0
        if self.dialect == "duckdb":
            return (sa.func.epoch(self.normalized(end)) - sa.func.epoch(self.normalized(start))) / 60.0
        return sa.extract("epoch", self.normalized(end) - self.normalized(start)) / 60.0

    def epoch_seconds(self, column: TimeColumn, near: dt.datetime):
        """See :meth:`Row.epoch_seconds`."""
        if column.storage in (DATE, DATE_TEXT):
            raise ValueError("epoch_seconds needs a timestamp column, not a date")
        naive_offset = self.timezone.utcoffset(near.astimezone(self.timezone).replace(tzinfo=None))
        offset = sa.literal_column(repr(float(naive_offset.total_seconds())))
        if self.dialect == "sqlite":
            seconds = (sa.func.julianday(column.sql) - sa.literal_column("2440587.5")) * sa.literal_column("86400.0")
            if column.storage != TEXT or not naive_offset:
                return seconds
            return sa.case((_has_offset(column.sql), seconds), else_=seconds - offset)
        value = self.normalized(column)
        seconds = sa.func.epoch(value) if self.dialect == "duckdb" else sa.extract("epoch", value)
        return seconds - offset if column.storage == NAIVE and naive_offset else seconds

    def truthy(self, expression):
        if self.dialect == "sqlite":
            # Typed literals, so the SQL shown by `kpi metrics --details` renders on an INTEGER column too.
            words = [sa.literal(word, sa.Text()) for word in ("1", "true", "TRUE", "True", "t", "yes")]
            return expression.in_([sa.literal(1, sa.Integer()), *words])
        return sa.cast(expression, sa.Boolean).is_(True)

    # -- execution ------------------------------------------------------------------------------
    def _run(self, work):
        try:
            with self.engine.connect() as conn:
                group = getattr(_in_group, "group", None)
                if group is None:
                    return work(conn)
                return group.run(conn, work)
        except sa.exc.DBAPIError as error:
            raise SourceError(f"source {self.display}: {self.describe_error(error.orig)}") from None

    def describe_error(self, error: Exception) -> str:
        """One line about a driver error (connectors override it to say more, e.g. which file)."""
        return _first_line(error)

    def execute(self, statement) -> list[sa.Row]:
        """Run one query and return its (few) rows; database failures become SourceError."""
        return self._run(lambda conn: conn.execute(statement).all())

    @property
    def concurrency(self) -> int:
        """How many queries may run at once, each on its own pooled connection: one where the pool
        has a single connection (an in-memory SQLite database) and on DuckDB, which spreads each query
        over every core itself; one per core on a SQLite file, which works in this process; and
        ``MAX_CONCURRENT_QUERIES`` on a database server."""
        if self.dialect == "duckdb" or not isinstance(self.engine.pool, sa.pool.QueuePool | sa.pool.NullPool):
            return 1
        if self.dialect == "sqlite":
            return max(1, min(usable_cores(), MAX_CONCURRENT_QUERIES))
        return MAX_CONCURRENT_QUERIES

    def execute_all(self, statements: list) -> list[list[sa.Row]]:
        """Run independent queries, up to ``concurrency`` at a time on pooled connections (the
        database does the work; the driver releases the GIL while it waits), and return their rows in
        order. On the first failure, or an interrupt, the queries still running are stopped, those
        not started never start, and the failure is raised."""
        workers = min(self.concurrency, len(statements))
        if workers <= 1:
            return [self.execute(statement) for statement in statements]
        group = _QueryGroup()

        def run_in_group(statement):
            _in_group.group = group
            try:
                return self.execute(statement)
            finally:
                _in_group.group = None

        with ThreadPoolExecutor(workers, thread_name_prefix="kpicore-query") as pool:
            futures = [pool.submit(run_in_group, statement) for statement in statements]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)  # a failure is seen as soon as it happens
                for future in futures:
                    if future.done() and future.exception() is not None:
                        future.result()  # raises it
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                group.stop()  # the other results are not needed: stop them rather than wait for them
                raise

    def compile(self, statement) -> str:
        """The SQL text of a statement, with bound values inlined, for ``kpi metrics --details``."""
        return str(statement.compile(self.engine, compile_kwargs={"literal_binds": True}))

    def close(self) -> None:
        self.engine.dispose()


#: The query group (``Source.execute_all``) the current worker thread runs for, if any.
_in_group = threading.local()


class _Stopped(Exception):
    """A query of a stopped group that had not started: it never runs."""


class _QueryGroup:
    """The queries of one ``execute_all`` call: which connections are running one, and stopping them."""

    def __init__(self):
        self._lock = threading.Lock()
        self._stopping = False
        self._running: set = set()  # driver connections with a query of this group in progress
        self._told: set = set()  # those told to stop: discarded, not pooled, when their query ends

    def run(self, conn, work):
        driver = conn.connection.dbapi_connection
        with self._lock:
            if self._stopping:
                raise _Stopped
            self._running.add(driver)
        try:
            return work(conn)
        finally:
            with self._lock:
                self._running.discard(driver)
                told = driver in self._told
            if told:
                conn.invalidate()  # a stop request may still be in flight: never reuse the connection

    def stop(self) -> None:
        """Stop the running queries (sqlite3 ``interrupt``, DB-API ``cancel``) and return when they have
        ended; none starts after this. A query registered but not yet sent to the database would miss
        a single stop (an idle connection ignores it), so the stop is repeated until each one ends."""
        with self._lock:
            self._stopping = True
        while True:
            with self._lock:
                running = list(self._running)
                self._told.update(running)
            if not running:
                return
            for driver in running:
                stop = getattr(driver, "interrupt", None) or getattr(driver, "cancel", None)
                if stop is not None:
                    with contextlib.suppress(Exception):  # the query may have ended meanwhile
                        stop()
            time.sleep(0.05)


def _first_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _sqlite_instant(text_column) -> sa.ColumnElement:
    """SQLite text time as its Julian day number (a REAL; offsets applied), NULL when unparseable.

    SQLite parses a time to whole milliseconds (an integer) and ``julianday`` returns them divided by
    86 400 000, so two values compare exactly as their millisecond instants do, as the text of
    ``strftime('%Y-%m-%d %H:%M:%f')`` would, at a fifth of its cost per row (no text is built).
    A bound is compared as ``julianday('<bound text>')``: a constant SQLite evaluates once.
    """
    return sa.func.julianday(text_column, type_=sa.Float)


def _text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _date_bound(bound: dt.datetime) -> dt.date:
    """The first calendar day whose local midnight is at or after ``bound`` (business timezone)."""
    day = bound.date()
    if bound.timetz().replace(tzinfo=None) != dt.time(0):
        day += dt.timedelta(days=1)
    return day


def _has_offset(text_column) -> sa.ColumnElement:
    """True for SQLite text timestamps that carry 'Z' or '+HH:MM' / '-HH:MM' after the time."""
    tail = sa.func.substr(text_column, 20)
    return sa.or_(
        sa.func.instr(tail, "Z") > 0, sa.func.instr(tail, "+") > 0, sa.func.instr(tail, "-") > 0
    )
