"""Counting measures whose filter compares time columns with the period, evaluated in bucket space.

Churn's starting set S (``signup_at < p.start and (churned_at is NULL or churned_at >= p.start)``)
depends on the period, so it cannot be one GROUP BY on one time column. But every comparison of a
time column with a window boundary is decided by the column's *bucket* (the slice between
consecutive boundaries it falls in): with buckets numbered so that bucket i is
``[boundary i-1, boundary i)``, ``x < boundary j`` exactly when ``bucket(x) <= j`` and
``x >= boundary j`` exactly when ``bucket(x) > j``. So one inner GROUP BY over the buckets of the
entity's time columns (plus, for each time column, whether it is NULL, and for each pair, how they
compare) turns the table into a few hundred rows, and an outer query evaluates each measure for each
window over those rows, summing their counts. The per-row cost is one CASE chain per time column
whatever the number of windows and measures.

A filter that uses anything else (another column, ``<=`` against a boundary, a function of the
period) raises ``Unsupported`` and the measure stays with the per-window conditional aggregation.
"""

from __future__ import annotations

import datetime as dt
from itertools import combinations
from typing import Any

import sqlalchemy as sa

from .metric import Measure


def window_boundaries(windows) -> list[dt.datetime]:
    """The sorted distinct starts and ends of the windows: bucket i is [boundary i-1, boundary i)."""
    return sorted({w.start for w in windows} | {w.end for w in windows})


def bucket_of(column, boundaries: list[dt.datetime], null=None) -> sa.ColumnElement:
    """The bucket of a time column (a ``TimeColumn``): i for [boundary i-1, boundary i), len(boundaries)
    past the last, ``null`` (default NULL) when it has no value, NULL when it is not a time. Exact, like
    every comparison with a bound. The one definition of a bucket: the bucketed GROUP BY, the
    bucket-space counts below and derived entities (``Entity.derive_buckets``) all use it."""
    whens = [(column.is_(None), sa.null() if null is None else null)]
    whens += [(column < boundary, index) for index, boundary in enumerate(boundaries)]
    return sa.case(*whens, else_=sa.case((column.valid(), len(boundaries)), else_=sa.null()))


class Unsupported(Exception):
    """The measure's filter cannot be evaluated on buckets."""


class BucketTime:
    """A time column of the grouped rows: its bucket, whether it is NULL, how it compares with the others."""

    def __init__(self, name: str, columns, boundaries: list[dt.datetime]):
        self.name = name
        self._columns = columns
        self._boundaries = boundaries

    @property
    def _bucket(self):
        return self._columns[f"{self.name}__bucket"]

    def _index(self, bound) -> int:
        if not isinstance(bound, dt.datetime):
            raise Unsupported(f"{self.name} compared with {bound!r}")
        for index, boundary in enumerate(self._boundaries):
            if boundary == bound:
                return index
        raise Unsupported(f"{bound} is not a window boundary")

    def _sign(self, other: BucketTime):
        key = f"{self.name}__vs__{other.name}"
        if key in self._columns:
            return self._columns[key]
        return -self._columns[f"{other.name}__vs__{self.name}"]

    def __lt__(self, other):
        if isinstance(other, BucketTime):
            return self._sign(other) < 0
        return self._bucket <= self._index(other)

    def __ge__(self, other):
        if isinstance(other, BucketTime):
            return self._sign(other) >= 0
        return self._bucket > self._index(other)

    def __gt__(self, other):
        if isinstance(other, BucketTime):
            return self._sign(other) > 0
        raise Unsupported("> against a boundary")

    def __le__(self, other):
        if isinstance(other, BucketTime):
            return self._sign(other) <= 0
        raise Unsupported("<= against a boundary")

    def in_window(self, start, end):
        return sa.and_(self >= start, self < end)

    def is_(self, value):
        if value is not None:
            raise Unsupported("is_ with a value")
        return self._columns[f"{self.name}__null"] == 1

    def is_not(self, value):
        if value is not None:
            raise Unsupported("is_not with a value")
        return self._columns[f"{self.name}__null"] == 0

    def valid(self):
        return self._bucket.is_not(None)


class BucketRow:
    """The ``t`` of a measure evaluated on grouped rows: time columns only."""

    def __init__(self, columns, time_columns, boundaries):
        self._times = {name: BucketTime(name, columns, boundaries) for name in time_columns}

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._times:
            return self._times[name]
        raise Unsupported(f"column {name} is not a time column")


def state_measures(measures: list[Measure], time_columns, windows) -> list[Measure]:
    """The counting measures whose filter, for every window, can be written in bucket space."""
    boundaries = window_boundaries(windows)
    probe = _inner_columns_probe(time_columns)
    row = BucketRow(probe, time_columns, boundaries)
    chosen = []
    for measure in measures:
        if measure.aggregate != "count" or (measure.time and measure.time not in time_columns):
            continue
        try:
            for window in windows:
                measure.condition(row, window)
        except (Unsupported, AttributeError, TypeError):
            continue
        chosen.append(measure)
    return chosen


def _inner_columns_probe(time_columns) -> dict:
    columns: dict[str, Any] = {}
    for name in time_columns:
        columns[f"{name}__bucket"] = sa.column(f"{name}__bucket")
        columns[f"{name}__null"] = sa.column(f"{name}__null")
    for first, second in combinations(time_columns, 2):
        columns[f"{first}__vs__{second}"] = sa.column(f"{first}__vs__{second}")
    return columns


def state_query(source, entity: str, measures: list[Measure], windows):
    """One SELECT of every measure for every window (columns m{window}_{measure}) over grouped buckets."""
    relation = source.relation(entity)
    t = source.row(entity)
    time_columns = list(relation.storage)
    boundaries = window_boundaries(windows)
    keys = []
    for name in time_columns:
        column = getattr(t, name)
        keys.append(bucket_of(column, boundaries).label(f"{name}__bucket"))
        keys.append(sa.case((column.is_(None), 1), else_=0).label(f"{name}__null"))
    for first, second in combinations(time_columns, 2):
        a, b = getattr(t, first), getattr(t, second)
        sign = sa.case((a < b, -1), (a > b, 1), (a >= b, 0), else_=sa.null())
        keys.append(sign.label(f"{first}__vs__{second}"))
    # The keys computed once per row in a subquery and grouped as plain values (``Source.bucket_rows``):
    # SQLite would evaluate each CASE twice, and PostgreSQL plan the grouping for the distinct values
    # of the time columns rather than for a few hundred groups.
    rows = source.bucket_rows(sa.select(*keys).select_from(relation.from_), f"{entity}_bucket_rows")
    plain_keys = [rows.c[key.name] for key in keys]
    grouped = (
        sa.select(*plain_keys, sa.func.count().label("records"))
        .group_by(*plain_keys)
        .subquery(f"{entity}_buckets")
    )
    row = BucketRow(grouped.c, time_columns, boundaries)
    columns = []
    for w, window in enumerate(windows):
        for i, measure in enumerate(measures):
            conditions = measure.condition(row, window)
            total = (
                sa.func.sum(sa.case((sa.and_(*conditions), grouped.c.records), else_=0))
                if conditions
                else (sa.func.sum(grouped.c.records))
            )
            columns.append(total.label(f"m{w}_{i}"))
    return sa.select(*columns).select_from(grouped)
