"""The SQL of measures: one conditional aggregate per measure and window, the time prefilter, the segment
expression, and the switch to the plain queries the shortcuts are tested against."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import sqlalchemy as sa

from ..dimensions import refusal
from ..errors import MappingError
from ..metric import Measure
from ..periods import Period
from ..settings import did_you_mean
from ..source import EntityUnavailable, Row, Source

#: Inside ``plain_queries()``: (buckets and bucket space allowed, parse-once relation allowed).
_SHORTCUTS: ContextVar[tuple[bool, bool]] = ContextVar("kpicore_engine_shortcuts", default=(True, True))


@contextmanager
def plain_queries(*, parse_once: bool = False):
    """Within this block, compute() builds the plain queries: one conditional aggregate per measure and
    window, over the relation as mapped. Slower; the reference the engine's shortcuts (bucketed GROUP BYs,
    counts in bucket space and, unless ``parse_once``, SQLite text times parsed once per row) are tested
    against."""
    token = _SHORTCUTS.set((False, parse_once))
    try:
        yield
    finally:
        _SHORTCUTS.reset(token)


def measure_query(
    source: Source,
    entity: str,
    measures: list[Measure],
    windows: list[Period],
    by: str | None = None,
    squares: bool = False,
):
    """One SELECT computing every measure for every window (columns m{window}_{measure}); with
    ``squares``, also the sum of squares of every sum measure (columns q{window}_{measure}), in the same
    conditional aggregate: what the variance of a segment's sum or mean is computed from."""
    relation = source.relation(entity)
    t = source.row(entity)
    prefilter = _prefilter(source, t, measures, windows)
    shortcut = by is None and len(windows) > 1 and _SHORTCUTS.get()[1]
    parsed = source.parsed_relation(entity, prefilter) if shortcut else None
    if parsed is not None:  # the prefilter is inside: it still reads through the time index
        relation, t, prefilter = parsed, Row(source, parsed), None
    columns = []
    for w, window in enumerate(windows):
        for i, measure in enumerate(measures):
            columns.append(_aggregate(measure, t, window).label(f"m{w}_{i}"))
            if squares and measure.aggregate == "sum":
                columns.append(_squares(measure, t, window).label(f"q{w}_{i}"))
    statement = sa.select(*columns).select_from(relation.from_)
    if prefilter is not None:
        statement = statement.where(prefilter)
    if by is not None:
        segment, joined = segment_expression(source, entity, by)
        if joined is not None:
            statement = statement.select_from(joined)
        statement = statement.add_columns(segment.label("segment")).group_by(segment)
    return statement


def _aggregate(measure: Measure, t, window: Period | None):
    conditions = measure.condition(t, window)
    condition = sa.and_(*conditions) if conditions else None
    value = measure.expression(t, window)
    if measure.aggregate == "count":
        if condition is None:
            return sa.func.count()
        return sa.func.count(sa.case((condition, 1)))
    expression = value if condition is None else sa.case((condition, value))
    if measure.aggregate == "count_distinct":
        return sa.func.count(sa.distinct(expression))
    if measure.aggregate == "sum":
        return sa.func.sum(expression)
    return getattr(sa.func, measure.aggregate)(expression)


def _squares(measure: Measure, t, window: Period | None):
    """SUM(x * x) over the records the sum measure adds up (x times 1.0 first: no integer overflow)."""
    conditions = measure.condition(t, window)
    value = measure.expression(t, window)
    squared = (value * sa.literal(1.0)) * value
    return sa.func.sum(squared if not conditions else sa.case((sa.and_(*conditions), squared)))


def _prefilter(source: Source, t, measures: list[Measure], windows: list[Period]):
    """A WHERE range on the time column when every measure is bounded by the same one."""
    times = {(m.time, m.window) for m in measures}
    if len({time for time, _ in times}) != 1:
        return None
    time = next(iter(times))[0]
    if time is None or any(window == "all" for _, window in times):
        return None
    column = getattr(t, time)
    end = max(w.end for w in windows)
    bounded = [window for _, window in times if window != "missing"]
    start = min(w.start for w in windows) if all(window == "in" for window in bounded) else None
    condition = source.prefilter(column, start, end)
    if len(bounded) < len(times):
        # Measures counting records with no time (warnings) must see them: IS NULL can use the index too.
        condition = sa.or_(condition, column.is_(None))
    return condition


def segment_expression(source: Source, entity: str, by: str):
    """The SQL of dimension ``by`` for records of ``entity``, and the join it needs (or None).

    A dimension is a column of the entity itself, or of the entity holding its dimensions
    (``Entity.dimension_lookup``: ``customers`` through ``customer_key`` unless ``dimensions_from`` says
    otherwise). Raises EntityUnavailable when the records cannot reach the dimension.
    """
    relation = source.relation(entity)
    if _has_column(relation, by):
        return relation.columns[by], None
    lookup_path = relation.entity.dimension_lookup
    if lookup_path is None:
        raise EntityUnavailable(f"{entity} records have no customer, so they cannot be broken down by {by}")
    owner_name, own_key, owner_key = lookup_path
    owner = source.relation(owner_name)
    if not _has_column(owner, by) and by in owner.from_.c:
        raise refusal(source, owner, by)
    if not _has_column(owner, by):
        hint = did_you_mean(by, owner.dimensions, cutoff=0.5)
        raise MappingError(
            f"unknown dimension {by!r}{hint}: {owner_name} have {', '.join(owner.dimensions) or 'no dimensions'}"
        )
    if not _has_column(relation, own_key):
        raise EntityUnavailable(f"{entity} records have no {own_key}, so they cannot be broken down by {by}")
    lookup = (
        sa.select(owner.columns[owner_key].label("key"), owner.columns[by].label("segment"))
        .select_from(owner.from_)
        .subquery("dimension")
    )
    joined = relation.from_.outerjoin(lookup, relation.columns[own_key] == lookup.c.key)
    return lookup.c.segment, joined


def _has_column(relation, name: str) -> bool:
    return name in relation.columns and not isinstance(relation.columns[name], sa.sql.elements.Null)


class _RecordingRow(Row):
    """A Row that notes the name of every column a measure's lambdas touch."""

    def __init__(self, source: Source, relation, seen: set[str]):
        super().__init__(source, relation)
        self._seen = seen

    def __getattr__(self, name: str):
        value = super().__getattr__(name)
        self._seen.add(name)
        return value
