"""Bucketed measures: one GROUP BY over the buckets between window boundaries, each window's value the sum
of its buckets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import sqlalchemy as sa

from ..buckets import bucket_of, window_boundaries
from ..metric import Measure, takes_period
from ..periods import Period
from ..source import BUCKET, Row, Source
from .sql import _aggregate, _RecordingRow
from .values import _number

#: Aggregates whose value over a window is the combination of their values over its buckets.
BUCKETED_AGGREGATES = ("count", "sum", "min", "max")
#: The bucket of a NULL time (records no period holds; what "missing" measures count).
NULL_BUCKET = -1


def bucketable(measure: Measure, windows: list[Period] | None = None) -> bool:
    """True when one GROUP BY on a bucket of the measure's time column gives it for every window.

    That holds when the period only bounds the time column (window "in" or "before_end") or the
    measure counts records with no time (window "missing": the NULL bucket), and the filter and
    value are the same for every period (``lambda t: ...``), for aggregates that add up. A distinct
    count does not add up over buckets, so it is bucketed only where each of ``windows`` is one
    bucket (a trend of weeks and the weeks it compares with): its value is that bucket's.
    """
    plain = (
        measure.time is not None
        and measure.window in ("in", "before_end", "missing")
        and not takes_period(measure.where)
        and not takes_period(measure.of)
    )
    if measure.aggregate == "count_distinct":
        return (
            plain
            and measure.window in ("in", "missing")
            and windows is not None
            and _one_bucket_each(windows)
        )
    return plain and measure.aggregate in BUCKETED_AGGREGATES


def _one_bucket_each(windows: list[Period]) -> bool:
    """Whether no window boundary falls inside a window: each window is then exactly one bucket."""
    boundaries = window_boundaries(windows)
    return all(
        _boundary_index(boundaries, w.end) - _boundary_index(boundaries, w.start) == 1 for w in windows
    )


def _in_derived_buckets(source: Source, entity: str, measure: Measure) -> bool:
    """A measure of a derived entity that its bucket-space derivation (``Entity.derive_buckets``) gives."""
    derive = getattr(source.entities.get(entity), "derive_buckets", None)
    return (
        derive is not None
        and measure.window in ("in", "before_end")
        and measure.where is None
        and (measure.of is None)
    )


@dataclass
class BucketQuery:
    """One GROUP BY over the tuple of buckets of an entity's time columns, for measures on any of them."""

    times: list[str]
    measures: list[Measure]
    boundaries: list  # sorted distinct window starts and ends (aware datetimes)
    statement: sa.Select | sa.CompoundSelect

    @property
    def time(self) -> str:
        return ", ".join(self.times)

    def window_values(self, rows, window: Period) -> dict[Measure, float | None]:
        """Each measure over ``window``: its buckets combined (bucket i is [boundary i-1, boundary i))."""
        last = _boundary_index(self.boundaries, window.end)
        start = _boundary_index(self.boundaries, window.start) + 1
        values: dict[Measure, float | None] = {}
        for i, measure in enumerate(self.measures):
            key = f"k_{self.times.index(cast(str, measure.time))}"
            if measure.window == "missing":
                wanted = range(NULL_BUCKET, NULL_BUCKET + 1)
            else:
                wanted = range(start if measure.window == "in" else 0, last + 1)
            parts = [_number(row._mapping[f"b_{i}"]) for row in rows if row._mapping[key] in wanted]
            parts = [part for part in parts if part is not None]
            if measure.aggregate == "count_distinct":
                assert len(wanted) == 1, "a distinct count is bucketed only where its window is one bucket"
                values[measure] = parts[0] if parts else 0
            elif measure.aggregate in ("count", "sum"):
                values[measure] = sum(parts) if parts else 0
            else:
                values[measure] = (min if measure.aggregate == "min" else max)(parts) if parts else None
        return values


def _boundary_index(boundaries: list, moment) -> int:
    return next(i for i, boundary in enumerate(boundaries) if boundary == moment)


def bucket_queries(
    source: Source, entity: str, measures: list[Measure], windows: list[Period]
) -> list[BucketQuery]:
    """The entity's bucketable measures in one GROUP BY over the buckets of all their time columns.

    Measures of a derived entity that can derive itself in bucket space get their own query over that
    derivation (its time columns already are buckets).
    """
    boundaries = window_boundaries(windows)
    derived = [m for m in measures if _in_derived_buckets(source, entity, m)]
    # A distinct count is per bucket of its own time column: the GROUP BY of the others is over the
    # tuple of every time column's bucket, whose groups a distinct count cannot be combined across.
    distinct = [m for m in measures if m.aggregate == "count_distinct" and m not in derived]
    rest = [m for m in measures if m not in derived and m not in distinct]
    queries = []
    if derived:
        relation = source.bucketed_relation(entity, boundaries)
        queries.append(_bucket_query(source, relation, derived, boundaries, prefilter=False))
    if rest:
        queries.append(_bucket_query(source, source.relation(entity), rest, boundaries, prefilter=True))
    for time in dict.fromkeys(m.time for m in distinct):
        of_time = [m for m in distinct if m.time == time]
        queries.append(_bucket_query(source, source.relation(entity), of_time, boundaries, prefilter=True))
    return queries


def _bucket_query(
    source: Source, relation, measures: list[Measure], boundaries: list, prefilter: bool
) -> BucketQuery:
    # Each row's bucket keys and the columns the measures read are computed once, in a subquery
    # (``Source.once_per_row``), and grouped by plain values.
    t = Row(source, relation)
    times = cast(list[str], list(dict.fromkeys(m.time for m in measures)))  # bucketed: all have one
    keys = []
    for k, time in enumerate(times):
        column = getattr(t, time)
        bucket: sa.ColumnElement
        if column.storage == BUCKET:
            bucket = sa.case((column.sql.is_(None), NULL_BUCKET), else_=column.sql)
        else:
            # NULL times go to the NULL bucket; past the last boundary or not a time: in no window.
            bucket = bucket_of(column, boundaries, null=NULL_BUCKET)
        keys.append(bucket.label(f"k_{k}"))
    # The columns the measures read, each cleaned once per row, beside the keys; the measures'
    # filters and values are then evaluated over those plain values.
    read: set[str] = set()
    recorder = _RecordingRow(source, relation, read)
    for measure in measures:
        plain = replace(measure, window="all")
        plain.condition(recorder, None)
        plain.expression(recorder, None)
    present = [
        c for c in relation.columns if c in read and not isinstance(relation.columns[c], sa.sql.elements.Null)
    ]
    flags = [c for c in relation.unparsed if c in present]  # files: time present but unparseable

    def rows_where(where, name: str, keyed: bool = True):
        """The per-row subquery of the rows passing ``where`` (with their bucket keys unless not
        ``keyed``), and a Row over it for the measures."""
        rows = sa.select(
            *(keys if keyed else []),
            *[relation.columns[c].label(c) for c in present],
            *[relation.unparsed[c].label(f"{c}__unparsed_flag") for c in flags],
        ).select_from(relation.from_)
        if where is not None:
            rows = rows.where(where)
        per_row = source.bucket_rows(rows, name)
        columns_of_rows = {c: (per_row.c[c] if c in present else e) for c, e in relation.columns.items()}
        unparsed = {c: per_row.c[f"{c}__unparsed_flag"] for c in flags}
        return per_row, Row(
            source, replace(relation, from_=per_row, columns=columns_of_rows, parsed={}, unparsed=unparsed)
        )

    if prefilter and _aggregates_history_apart(source, t, times, measures, boundaries):
        return _history_apart(source, getattr(t, times[0]), measures, boundaries, rows_where)
    per_row, t = rows_where(
        _bucket_ranges(source, t, measures, boundaries) if prefilter else None, "bucket_rows"
    )
    key_columns = [per_row.c[f"k_{k}"] for k in range(len(times))]
    columns = [_aggregate(replace(m, window="all"), t, None).label(f"b_{i}") for i, m in enumerate(measures)]
    statement = sa.select(*key_columns, *columns).select_from(per_row).group_by(*key_columns)
    return BucketQuery(times, measures, boundaries, statement)


def _aggregates_history_apart(
    source: Source, t, times: list[str], measures: list[Measure], boundaries: list
) -> bool:
    """Whether the bucket query should aggregate the rows before the first window (bucket 0) on their
    own: where GROUP BY sorts every row (SQLite), a lifetime measure on one time column would
    otherwise sort the whole history of the table to put most of it in one group; where it hashes, for
    a few windows (``Dialect.history_apart_boundaries``), the history's plain aggregate runs in
    parallel and the windows' rows come through the index."""
    return (
        (source.dialect.groups_by_sorting or len(boundaries) <= source.dialect.history_apart_boundaries)
        and len(times) == 1
        and getattr(t, times[0]).storage != BUCKET
        and any(m.window == "before_end" for m in measures)
    )


def _history_apart(
    source: Source, column, measures: list[Measure], boundaries: list, rows_where
) -> BucketQuery:
    """The bucket query as two parts in one statement: the rows from the first boundary on (and NULL
    times) grouped by bucket, and, UNION ALL, the rows before it (bucket 0) aggregated without a GROUP
    BY: only the lifetime ("before_end") measures read them. Both parts scan the table (``scan_range``):
    the history is most of it, and a range through the index costs a random lookup per row when the
    rows are not stored in time order. 10 M shuffled orders on SQLite: 6.6 s of CPU instead of 8.8 s,
    and the aggregate of the history reads 3 of the 9 orders measures (docs/performance.md, finding 10).
    """
    start, end = boundaries[0], boundaries[-1]
    recent_range = source.scan_range(column, start, end)
    if any(m.window == "missing" for m in measures):
        recent_range = sa.or_(recent_range, column.is_(None))
    per_row, t = rows_where(recent_range, "bucket_rows")
    key = per_row.c["k_0"]
    columns = [_aggregate(replace(m, window="all"), t, None).label(f"b_{i}") for i, m in enumerate(measures)]
    # The range is a little wider than exact for text: rows just before the first boundary are history.
    recent = sa.select(key, *columns).select_from(per_row).where(key != 0).group_by(key)
    # Bucket 0 is exactly the rows before the first boundary: one comparison per row rather than the
    # bucket's CASE chain (1 M shuffled orders on SQLite, the history's aggregate 0.7 s instead of 1.4 s).
    per_row, t = rows_where(source.scan_before(column, start), "history_rows", False)
    history = sa.select(
        sa.literal(0, sa.Integer).label("k_0"),
        *[
            (_aggregate(replace(m, window="all"), t, None) if m.window == "before_end" else sa.null()).label(
                f"b_{i}"
            )
            for i, m in enumerate(measures)
        ],
    ).select_from(per_row)
    return BucketQuery([cast(str, measures[0].time)], measures, boundaries, sa.union_all(recent, history))


def _bucket_ranges(source: Source, t, measures: list[Measure], boundaries: list):
    """The rows some measure may count: per time column, the range its measures read, OR-ed.

    "in" measures read [first boundary, last), "before_end" ones everything before the last boundary,
    "missing" ones the NULL times; each range reads through the column's index.
    """
    ranges = []
    for time in dict.fromkeys(cast(str, m.time) for m in measures):
        windows = {m.window for m in measures if m.time == time}
        column = getattr(t, time)
        parts = []
        if windows - {"missing"}:
            start = None if "before_end" in windows else boundaries[0]
            parts.append(source.prefilter(column, start, boundaries[-1]))
        if "missing" in windows:
            parts.append(column.is_(None))
        ranges.append(sa.or_(*parts) if len(parts) > 1 else parts[0])
    return sa.or_(*ranges) if len(ranges) > 1 else ranges[0]
