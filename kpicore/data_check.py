"""Time values that are not times, for ``kpi check --data``.

A record whose time column holds text that does not parse as a time ('soon', '2026-13-45',
'17/11/2026') falls in no period, so every metric leaves it out; on PostgreSQL, which casts a text time
column, such a value makes the computation of its entity fail, and that entity's metrics are unavailable. Computations only read the period's
slice of a table (through the time column's index) and so cannot count such values; this check scans
each mapped time column once, in the database, and says how many there are, with examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .dialects.base import TEXT
from .errors import MappingError, SourceError
from .source import BUCKET, EntityUnavailable, Source

EXAMPLES = 3


@dataclass
class TimeCheck:
    """What ``kpi check --data`` found in one mapped time column."""

    entity: str
    column: str
    unreadable: int = 0  # values present that are not times
    examples: list[str] = field(default_factory=list)  # a few of them, where the source keeps the text
    error: str | None = None  # the database refused the check, or could not read the data
    #: True where such values stop the computation of the entity (PostgreSQL casts text time columns, and
    #: refuses text that is not a time), False where the metrics leave those records out.
    stops_compute: bool = False


def check_times(source: Source, entity_names) -> list[TimeCheck]:
    """Count, for every time column of the given (table- or query-mapped) entities, the values that are
    present but not times, with a few examples."""
    import sqlalchemy as sa

    checks: list[TimeCheck] = []
    for name in entity_names:
        try:
            relation = source.relation(name)
        except (EntityUnavailable, MappingError):  # `kpi check` reports a mapping error itself
            continue
        if relation.entity.derive is not None:
            continue  # derived from other entities, whose own columns are checked
        t = source.row(name)
        for column, storage in relation.storage.items():
            if storage == BUCKET:
                continue
            time = getattr(t, column)
            unreadable = sa.and_(time.is_not(None), sa.not_(_valid(source, time)))
            check = TimeCheck(
                name, column, stops_compute=source.dialect.text_time_stops_query and storage == TEXT
            )
            checks.append(check)
            # Files keep no text once it failed to parse: no examples for them.
            text = sa.cast(time.sql, sa.Text) if time.unparsed is None else None
            _count_unreadable(source, relation, unreadable, text, check)
    return checks


@dataclass
class NumberCheck:
    """What ``kpi check --data`` found in one number column: values present that are not numbers
    ('1,234.50', '12 EUR'), which every metric reads as missing."""

    entity: str
    column: str
    unreadable: int = 0
    examples: list[str] = field(default_factory=list)
    error: str | None = None


def check_numbers(source: Source, entity_names) -> list[NumberCheck]:
    """Count, for every number column of the given entities, the values present that are not numbers
    (where the source reads them as NULL: a folder of files, SQLite), with a few examples."""
    import sqlalchemy as sa

    from .config import EntityMapping
    from .model import UNPARSED_SUFFIX

    checks: list[NumberCheck] = []
    for name in entity_names:
        try:
            relation = source.relation(name)
        except (EntityUnavailable, MappingError):
            continue
        if relation.entity.derive is not None:
            continue
        mapping = source.config.entities.get(name) or EntityMapping()
        available = relation.from_.c
        for column in relation.entity.columns:
            source_name = mapping.source_column(column.name)
            if column.kind not in ("number", "integer") or source_name not in available:
                continue
            text: sa.ColumnElement
            unreadable: sa.ColumnElement[bool]
            if source_name + UNPARSED_SUFFIX in available:  # files: the text that did not parse
                text = available[source_name + UNPARSED_SUFFIX]
                unreadable = text.is_not(None)
            elif (
                source.dialect.loose_number_columns
            ):  # e.g. SQLite reads non-numbers as NULL (Source._cleaned)
                text = sa.func.trim(sa.cast(available[source_name], sa.Text))
                unreadable = sa.and_(text.is_not(None), text != "", relation.columns[column.name].is_(None))
            else:
                continue  # a typed column of a database holds numbers only
            check = NumberCheck(name, column.name)
            checks.append(check)
            _count_unreadable(source, relation, unreadable, text, check)
    return checks


def _count_unreadable(source: Source, relation, unreadable, text, check) -> None:
    """Set ``check.unreadable`` to the rows matching ``unreadable`` and ``check.examples`` to a few
    distinct ``text`` values of them (none when ``text`` is None), or ``check.error``."""
    import sqlalchemy as sa

    try:
        ((count,),) = source.execute(sa.select(sa.func.count()).select_from(relation.from_).where(unreadable))
        check.unreadable = int(count)
        if count and text is not None:
            examples = (
                sa.select(text)
                .select_from(relation.from_)
                .where(unreadable)
                .distinct()
                .order_by(text)
                .limit(EXAMPLES)
            )
            check.examples = [value for (value,) in source.execute(examples)]
    except SourceError as error:
        check.error = str(error)


def _valid(source: Source, time):
    """The value is a time, tested so that a bad value is counted rather than failing the query (a
    PostgreSQL text column is cast by the computations, which fail on the first value that does not cast)."""
    return source.dialect.checked_parses(time)


@dataclass
class DuplicateCheck:
    """Ids of one entity that more than one row holds (``kpi check --data`` on a database)."""

    entity: str
    column: str
    repeated: int = 0
    examples: list = field(default_factory=list)
    error: str | None = None


def check_duplicate_ids(source: Source, entity_names) -> list[DuplicateCheck]:
    """For every entity with an id of its own (order_id of orders), the ids held by more than one row."""
    import sqlalchemy as sa

    checks: list[DuplicateCheck] = []
    for name in entity_names:
        try:
            relation = source.relation(name)
        except (EntityUnavailable, MappingError):
            continue
        identifier = next((c.name for c in relation.entity.columns if c.kind == "id"), None)
        if relation.entity.derive is not None or identifier is None or identifier in relation.missing:
            continue
        column = relation.columns[identifier]
        check = DuplicateCheck(name, identifier)
        checks.append(check)
        repeated = (
            sa.select(column.label("id"))
            .select_from(relation.from_)
            .where(column.is_not(None))
            .group_by(column)
            .having(sa.func.count() > 1)
            .subquery("repeated_ids")
        )
        try:
            ((count,),) = source.execute(sa.select(sa.func.count()).select_from(repeated))
            check.repeated = int(count)
            if count:
                examples = sa.select(repeated.c.id).order_by(repeated.c.id).limit(EXAMPLES)
                check.examples = [value for (value,) in source.execute(examples)]
        except SourceError as error:
            check.error = str(error)
    return checks
