"""A data source opened by a connector: its entities as SQL relations.

``Source`` holds the entity mappings and builds each entity's relation (a FROM clause and its
canonical columns). Every database difference (how a time column meets a period bound, epoch seconds,
session guards, how many queries run at once) belongs to the source's dialect (``kpicore.dialects``);
running queries side by side is ``kpicore.execution``.

The public API a plugin's derived entity uses (``Entity.derive``, ``Entity.derive_buckets``) is
``Source.relation``, ``Source.row``, ``Source.once_per_row`` and the time columns of a row
(``TimeColumn``): see docs/plugins.md.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from . import execution
from .config import EntityMapping, SourceConfig
from .dialects.base import (  # noqa: F401 - the storage kinds, re-exported for plugins and checks
    AWARE,
    BUCKET,
    DATE,
    DATE_TEXT,
    MAX_CONCURRENT_QUERIES,
    NAIVE,
    OPS,
    TEXT,
    Dialect,
    usable_cores,
)
from .dialects.columns import Relation, TimeColumn
from .dimensions import default_dimensions
from .errors import MappingError, SourceError
from .model import UNPARSED_SUFFIX, Entity


class EntityUnavailable(Exception):
    """The source has no table for an entity (its metrics become "unavailable")."""


class ColumnUnavailable(EntityUnavailable):
    """The entity's table lacks a column a metric reads: that metric is unavailable, the others are not."""


class Row:
    """The ``t`` a measure's lambdas receive: columns by name, plus dialect-aware helpers."""

    def __init__(self, source: Source, relation: Relation):
        self._source = source
        self._relation = relation

    def __getattr__(self, name: str):
        relation = self._relation
        if name in relation.missing:
            raise ColumnUnavailable(relation.missing[name])
        if name not in relation.columns:
            known = ", ".join(relation.columns)
            raise AttributeError(f"entity {relation.entity.name} has no column {name!r} (columns: {known})")
        if name in relation.storage:
            return TimeColumn(
                self._source,
                relation.columns[name],
                relation.storage[name],
                relation.parsed.get(name),
                relation.unparsed.get(name),
            )
        return relation.columns[name]

    def is_integer(self, expression) -> sa.ColumnElement:
        """The value is a whole number (7.5 is not)."""
        expression = getattr(expression, "sql", expression)
        return sa.cast(expression, sa.Integer) == expression

    def truthy(self, expression) -> sa.ColumnElement:
        """A boolean column, whether stored as boolean, 0/1 or 'true'/'false'."""
        return self._source.dialect.truthy(getattr(expression, "sql", expression))

    def minutes_between(self, start: TimeColumn, end: TimeColumn) -> sa.ColumnElement:
        """Minutes from ``start`` to ``end`` (negative when end is before start)."""
        return self._source.dialect.minutes_between(start, end)

    def epoch_seconds(self, column: TimeColumn, near: dt.datetime) -> sa.ColumnElement:
        """Seconds since 1970-01-01 UTC of a time column, as a number comparable with ``near.timestamp()``.

        Values without an offset are read in the source timezone, at its UTC offset at ``near``: exact for
        values within hours of ``near`` unless a DST change of the source timezone lies between them.
        """
        return self._source.dialect.epoch_seconds(column, near)


class Source:
    """An opened data source: a SQLAlchemy engine plus entity mappings."""

    #: Entity mapping keys beyond table/query/columns/dimensions/scale that this kind of source reads
    #: (a connector plugin's, such as the Spark plugin's ``path``).
    entity_options: tuple[str, ...] = ()

    def __init__(
        self,
        engine: sa.Engine,
        config: SourceConfig,
        entities: dict[str, Entity],
        *,
        display: str,
        timezone: ZoneInfo,
        dialect: Dialect | None = None,
    ):
        self.engine = engine
        self.config = config
        self.entities = entities
        self.display = display
        self.timezone = timezone
        if dialect is None:
            from .dialects import dialect_for

            dialect = dialect_for(engine.dialect.name, display)(timezone)
        #: What this database does differently (``kpicore.dialects.base.Dialect``).
        self.dialect = dialect
        self._relations: dict[str, Relation | EntityUnavailable] = {}
        self._bucketed: dict[tuple, Relation] = {}
        self._tables: set[str] | None = None
        self._deriving: list[set[str]] = []  # the relations each derivation being built reads
        #: The entities each derived entity is built from.
        self.derived_from: dict[str, set[str]] = {}

    # -- relations ------------------------------------------------------------------------------
    def relation(self, name: str) -> Relation:
        """The entity as SQL; raises EntityUnavailable or MappingError."""
        if self._deriving:
            self._deriving[-1].add(name)
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
            assert entity.derive_buckets is not None, f"entity {name} has no bucket-space derivation"
            from_, columns = entity.derive_buckets(self, list(boundaries))
            storage = {c: BUCKET for c in entity.time_columns if c in columns}
            self._bucketed[key] = Relation(entity, from_, columns, storage, origin="derived")
        return self._bucketed[key]

    def table_names(self) -> set[str]:
        if self._tables is None:
            self._tables = set(
                self._run(lambda conn: sa.inspect(conn).get_table_names(schema=self.config.schema))
            )
            try:
                views = self._run(lambda conn: sa.inspect(conn).get_view_names(schema=self.config.schema))
                self._tables |= set(views)
            except NotImplementedError:
                pass
        return self._tables

    def _case_hint(self, name: str) -> str:
        """``(it has 'Orders': ...)`` when a table differs from ``name`` only in case (``Orders.csv``)."""
        same = sorted(table for table in self.table_names() if table.casefold() == name.casefold())
        if not same:
            return ""
        return (
            f" (it has {same[0]!r}: names are matched exactly, so rename it to {name!r} or map it in "
            f'kpi.toml: [entities.{name}] table = "{same[0]}")'
        )

    def _build_relation(self, name: str) -> Relation:
        entity = self.entities.get(name)
        if entity is None:
            raise MappingError(f"unknown entity {name!r}")
        columns: dict[str, sa.ColumnElement]
        missing: dict[str, str]
        if entity.derive is not None:
            return self._derived_relation(name, entity)
        mapping = self.config.entities.get(name)
        unread = sorted(set(mapping.options) - set(self.entity_options)) if mapping is not None else []
        if unread:
            raise MappingError(
                f"kpi.toml [entities.{name}]: source {self.display} does not read {', '.join(map(repr, unread))} "
                "(a key of another kind of source): remove it, or map the entity with 'table' or 'query'"
            )
        if mapping is None:
            if name not in self.table_names():
                raise EntityUnavailable(f"source {self.display} has no table {name!r}{self._case_hint(name)}")
            mapping = EntityMapping(table=name)
        from_, origin = self._from_clause(entity, mapping)
        available = list(from_.c.keys())
        columns = {}
        missing = {}
        shown = sorted(c for c in available if not c.endswith(UNPARSED_SUFFIX))  # never internal names
        for column in entity.columns:
            source_name = mapping.source_column(column.name)
            if source_name in available:
                expression = self.dialect.cleaned(from_.c[source_name], column.kind)
                if column.name in mapping.scale:
                    expression = expression * mapping.scale[column.name]
                columns[column.name] = expression
            elif column.name in mapping.columns:
                raise MappingError(
                    f"entity {name}: column {column.name!r} (mapped to {source_name!r}) not found in {origin} "
                    f"of source {self.display}; it has: {', '.join(shown) or 'no columns'}"
                )
            else:
                columns[column.name] = sa.null()
                if column.required:
                    missing[column.name] = (
                        f"column {name}.{column.name} not found in {origin} of source {self.display} "
                        f"(it has: {', '.join(shown) or 'no columns'}); add it, or map it with "
                        f"[entities.{name}] columns"
                    )
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
                candidates = [c for c in available if c not in used and not c.endswith(UNPARSED_SUFFIX)]
                dimensions = default_dimensions(self, from_, candidates, self.config.named_dimensions)
            for dimension in dimensions:
                columns.setdefault(dimension, self.dialect.cleaned(from_.c[dimension], "text"))
            if "channel" in columns and not isinstance(columns["channel"], sa.sql.elements.Null):
                dimensions = ("channel", *(d for d in dimensions if d != "channel"))
        storage = self._storage(entity, from_, columns, available, mapping)
        unparsed: dict[str, sa.ColumnElement] = {
            name: from_.c[mapping.source_column(name) + UNPARSED_SUFFIX]
            for name in storage
            if mapping.source_column(name) + UNPARSED_SUFFIX in available
        }
        return Relation(
            entity, from_, columns, storage, dimensions, origin, unparsed=unparsed, missing=missing
        )

    def _derived_relation(self, name: str, entity: Entity) -> Relation:
        """The relation of an entity derived from others (``entity.derive``), missing what they miss."""
        assert entity.derive is not None
        self._deriving.append(set())
        try:
            from_, columns, storage = entity.derive(self)
        finally:
            read = self._deriving.pop()
        self.derived_from[name] = read
        missing: dict[str, str] = {}
        for other in read:  # a derivation reads its entities' columns as it likes: any missing one counts
            built = self._relations.get(other)
            if isinstance(built, Relation) and built.missing:
                missing.update(dict.fromkeys(columns, next(iter(built.missing.values()))))
        return Relation(entity, from_, columns, storage, origin="derived", missing=missing)

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
        empty = sa.select(sa.text("*")).select_from(sa.table(table_name, schema=schema)).where(sa.false())
        names = self._run(lambda conn: list(conn.execute(empty).keys()))
        table = sa.table(table_name, *[sa.column(name) for name in names], schema=schema)
        return table, f"table {table_name!r}"

    def _storage(self, entity, from_, columns, available, mapping) -> dict[str, str]:
        """Storage kind of each time column, from the driver's column types (the dialect decides)."""
        time_columns = [c for c in entity.time_columns if not isinstance(columns[c], sa.sql.elements.Null)]
        if not time_columns:
            return {}
        if not self.dialect.reads_column_types:
            return {c: self.dialect.storage_kind(None, entity.column(c).kind) for c in time_columns}
        probe = sa.select(*[columns[c].label(c) for c in time_columns]).select_from(from_).where(sa.false())

        def describe(conn):
            result = conn.execute(probe)
            description = result.cursor.description
            result.close()
            return description

        description = self._run(describe)
        return {
            name: self.dialect.storage_kind(described[1], entity.column(name).kind)
            for name, described in zip(time_columns, description, strict=False)
        }

    # -- what the engine asks of the dialect, for a relation of this source ----------------------
    def prefilter(self, column: TimeColumn, start: dt.datetime | None, end: dt.datetime):
        """A WHERE-clause range [start, end) that lets the database use an index on the time column."""
        return self.dialect.prefilter(column, start, end)

    def scan_range(self, column: TimeColumn, start: dt.datetime | None, end: dt.datetime):
        """``prefilter``'s range, read by scanning the table rather than through an index where the
        dialect can say so (``Dialect.scan_range``)."""
        return self.dialect.scan_range(column, start, end)

    def scan_before(self, column: TimeColumn, bound: dt.datetime):
        """Exactly the rows before ``bound``, read by scanning the table where the dialect can say so
        (``Dialect.scan_before``)."""
        return self.dialect.scan_before(column, bound)

    def once_per_row(self, rows: sa.Select, name: str) -> sa.Subquery:
        """``rows`` as a subquery whose expressions are evaluated once per row, for a GROUP BY above it
        (where the database would otherwise evaluate a grouping key or an aggregate's input twice)."""
        return self.dialect.once_per_row(rows, name)

    def bucket_rows(self, rows: sa.Select, name: str) -> sa.Subquery:
        """``once_per_row`` for the rows of a GROUP BY on buckets (a handful of groups), as the dialect
        plans that best (``Dialect.bucket_rows``)."""
        return self.dialect.bucket_rows(rows, name)

    def parsed_relation(self, name: str, where=None) -> Relation | None:
        """The entity's rows passing ``where`` with each text time column parsed once per row, where the
        dialect does that (SQLite); None elsewhere."""
        return self.dialect.parse_once(self.relation(name), name, where)

    # -- execution ------------------------------------------------------------------------------
    def _run(self, work):
        try:
            with self.engine.connect() as conn:
                try:
                    return execution.run(conn, work)
                except sa.exc.DBAPIError as error:
                    if self.dialect.timed_out(conn, error.orig or error):
                        raise SourceError(self.timeout_message()) from None
                    raise
        except sa.exc.DBAPIError as error:
            raise SourceError(f"source {self.display}: {self.describe_error(error.orig or error)}") from None

    def timeout_message(self) -> str:
        """What to say when a query ran past the source's statement timeout."""
        return (
            f"source {self.display}: a query ran past the statement timeout of {self.config.timeout:g} s "
            "and was stopped: raise [source] timeout in kpi.toml, or pass `kpi compute --timeout SECONDS` "
            "for one run"
        )

    def describe_error(self, error: Exception) -> str:
        """One line about a driver error (connectors override it to say more, e.g. which file)."""
        return self.dialect.describe_error(error)

    def execute(self, statement) -> list[sa.Row]:
        """Run one query and return its (few) rows; database failures become SourceError."""
        return self._run(lambda conn: conn.execute(statement).all())

    @property
    def concurrency(self) -> int:
        """How many queries may run at once, each on its own pooled connection (the dialect says)."""
        return self.dialect.concurrency(self.engine)

    def execute_all(
        self, statements: list, labels: list[str] | None = None, progress=None
    ) -> list[list[sa.Row]]:
        """Run independent queries side by side and return their rows in order (``kpicore.execution``;
        ``progress`` is told the ``labels`` of the queries running)."""
        return execution.execute_all(self, statements, labels, progress)

    def compile(self, statement) -> str:
        """The SQL text of a statement, with bound values inlined, for ``kpi metrics --details``."""
        return str(statement.compile(self.engine, compile_kwargs={"literal_binds": True}))

    def close(self) -> None:
        self.engine.dispose()
