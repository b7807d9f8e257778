"""What a dialect works on: a relation (an entity as SQL) and its time columns, with the storage kinds a time
column can have. A ``TimeColumn`` compares with period bounds through its source's dialect."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..model import Entity

#: Storage kinds of a time column.
TEXT, NAIVE, AWARE, DATE, DATE_TEXT = "text", "naive", "aware", "date", "date_text"
#: A time column of a relation derived in bucket space (``Entity.derive_buckets``): the index of the
#: slice between window boundaries its time falls in (bucket i is [boundary i-1, boundary i)), NULL for none.
BUCKET = "bucket"
OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass
class Relation:
    """An entity as SQL: a FROM clause and its canonical columns.

    ``storage`` gives each time column's storage kind (``kpicore.dialects.base``).
    """

    entity: Entity
    from_: sa.FromClause
    columns: dict[str, sa.ColumnElement]
    storage: dict[str, str] = field(default_factory=dict)
    dimensions: tuple[str, ...] = ()
    origin: str = ""
    #: Text time columns already parsed once per row (the dialect's ``parse_once``).
    parsed: dict[str, sa.ColumnElement] = field(default_factory=dict)
    #: Flags of time values present in the source but unparseable (files, read with TRY_CAST): such a
    #: value is invalid, not an empty cell.
    unparsed: dict[str, sa.ColumnElement] = field(default_factory=dict)
    #: Canonical columns the table lacks, each with the line that says so (only the metrics reading
    #: one of them are unavailable).
    missing: dict[str, str] = field(default_factory=dict)


class TimeColumn:
    """A time column that compares correctly with period bounds (aware datetimes) and other time columns.

    ``column < bound``, ``column >= bound``, ``column.in_window(start, end)`` and comparisons between two
    time columns are exact for the column's storage kind; ``sql`` is the raw column.
    """

    def __init__(
        self,
        source,
        sql: sa.ColumnElement,
        storage: str,
        parsed: sa.ColumnElement | None = None,
        unparsed: sa.ColumnElement | None = None,
    ):
        self.source = source
        self.sql = sql
        self.storage = storage
        self.parsed = parsed
        self.unparsed = unparsed

    @property
    def typed(self) -> bool:
        """Stored as a SQL time or date type (not text, not a bucket): compares as stored."""
        return self.storage in (NAIVE, AWARE, DATE)

    def of(self, sql: sa.ColumnElement) -> TimeColumn:
        """A time column of the same storage over ``sql`` (``min(ordered_at)``, say), to compare or bucket."""
        return TimeColumn(self.source, sql, self.storage)

    def _compare(self, op: str, other):
        if self.storage == BUCKET:
            raise TypeError("a bucket-space time column only groups, it does not compare")
        dialect = self.source.dialect
        if isinstance(other, TimeColumn):
            return OPS[op](dialect.normalized(self), dialect.normalized(other))
        if isinstance(other, dt.datetime):
            return dialect.compare(self, op, other)
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
        """``is_(None)``: no value (NULL, or empty text: an empty cell)."""
        if value is None:
            return self.source.dialect.is_empty(self)
        return self.sql.is_(value)

    def is_not(self, value):
        if value is None:
            return sa.not_(self.source.dialect.is_empty(self))
        return self.sql.is_not(value)

    def valid(self):
        """The value is present and parses as a time."""
        return self.source.dialect.parses(self)

    def sortable(self) -> sa.ColumnElement:
        """The value as SQL that orders rows by time (for ``ORDER BY`` and window functions)."""
        return self.source.dialect.normalized(self)

    def range(self, start: dt.datetime | None, end: dt.datetime) -> sa.ColumnElement:
        """A WHERE-clause range [start, end) (no start: everything before end) that can use an index on
        the column; a little wider than exact for text, so combine it with an exact test."""
        return self.source.dialect.prefilter(self, start, end)

    def bucket(self, boundaries: list[dt.datetime]) -> sa.ColumnElement:
        """The slice between sorted window ``boundaries`` the value falls in: i for [boundary i-1,
        boundary i), len(boundaries) past the last, NULL for no value or one that is not a time."""
        from ..buckets import bucket_of

        return bucket_of(self, boundaries)
