"""Time values that are not times, for ``kpi check --data``.

A record whose time column holds text that does not parse as a time ('soon', '2026-13-45',
'17/11/2026') falls in no period, so every metric leaves it out. Computations only read the period's
slice of a table (through the time column's index) and so cannot count such values; this check scans
each mapped time column once, in the database, and says how many there are, with examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    error: str | None = None  # the database refused the check (e.g. PostgreSQL text it cannot cast)


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
            check = TimeCheck(name, column)
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


def _valid(source: Source, time):
    """The value is a time, tested so that a bad value is counted rather than failing the query (a
    PostgreSQL text column is cast by the computations, which fail on the first value that does not cast)."""
    return source.dialect.checked_parses(time)
