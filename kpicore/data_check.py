"""Time values that are not times, for ``kpi check --data``.

A record whose time column holds text that does not parse as a time ('soon', '2026-13-45',
'17/11/2026') falls in no period, so every metric leaves it out; on PostgreSQL, which casts a text time
column, such a value makes the computation of its entity fail, and that entity's metrics are unavailable. Computations only read the period's
slice of a table (through the time column's index) and so cannot count such values; this check scans
each mapped time column once, in the database, and says how many there are, with examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import MappingError, SourceError
from .source import BUCKET, TEXT, EntityUnavailable, Source

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
            check = TimeCheck(name, column, stops_compute=source.dialect == "postgresql" and storage == TEXT)
            checks.append(check)
            try:
                ((count,),) = source.execute(sa.select(sa.func.count()).select_from(relation.from_).where(unreadable))
                check.unreadable = int(count)
                if count and time.unparsed is None:  # files keep no text once it failed to parse
                    text = sa.cast(time.sql, sa.Text)
                    examples = sa.select(text).select_from(relation.from_).where(unreadable).distinct().order_by(
                        text).limit(EXAMPLES)
                    check.examples = [value for (value,) in source.execute(examples)]
            except SourceError as error:
                check.error = str(error)
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
            if source_name + UNPARSED_SUFFIX in available:  # files: the text that did not parse
                text = available[source_name + UNPARSED_SUFFIX]
                unreadable = text.is_not(None)
            elif source.dialect == "sqlite":  # SQLite reads non-numbers as NULL (Source._cleaned)
                text = sa.func.trim(sa.cast(available[source_name], sa.Text))
                unreadable = sa.and_(text.is_not(None), text != "", relation.columns[column.name].is_(None))
            else:
                continue  # a typed column of a database holds numbers only
            check = NumberCheck(name, column.name)
            checks.append(check)
            try:
                ((count,),) = source.execute(sa.select(sa.func.count()).select_from(relation.from_).where(unreadable))
                check.unreadable = int(count)
                if count:
                    examples = sa.select(text).select_from(relation.from_).where(unreadable).distinct().order_by(
                        text).limit(EXAMPLES)
                    check.examples = [value for (value,) in source.execute(examples)]
            except SourceError as error:
                check.error = str(error)
    return checks


def _valid(source: Source, time):
    """The value is a time. A PostgreSQL text column is cast by the computations, which fail on the first
    value that does not cast; here its values are checked first, so that they can be counted."""
    if source.dialect == "postgresql" and time.storage == TEXT:
        return _postgres_instant(time.sql).is_not(None)
    return time.valid()


#: The ISO 8601 text forms PostgreSQL casts to ``timestamptz`` (those SQLite sources hold).
_POSTGRES_ISO_TIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([ Tt]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?\s*([Zz]|[+-](0\d|1[0-5])(:?[0-5]\d)?)?)?$"
)


def _postgres_instant(text_column):
    """PostgreSQL text as ``timestamptz``, NULL (not an error) for text that is not a time, such as
    'soon' or '2026-02-30'. Nested CASEs: PostgreSQL evaluates a CASE's branches in order, but not the
    operands of an AND, and the substrings may only be cast once the pattern matched."""
    import sqlalchemy as sa

    year, month, day = (sa.cast(sa.func.substr(text_column, start, length), sa.Integer)
                        for start, length in ((1, 4), (6, 2), (9, 2)))
    leap = sa.or_(sa.and_(year % 4 == 0, year % 100 != 0), year % 400 == 0)
    last_day = sa.case((month.in_([4, 6, 9, 11]), 30), (month == 2, sa.case((leap, 29), else_=28)), else_=31)
    exists = sa.and_(year >= 1, day <= last_day)
    cast = sa.cast(text_column, sa.DateTime(timezone=True))
    return sa.case((text_column.op("~")(_POSTGRES_ISO_TIME), sa.case((exists, cast))))
