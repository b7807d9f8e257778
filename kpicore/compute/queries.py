"""The queries of a plan, each with the function reading its rows back; the SQL preview and the columns read."""

from __future__ import annotations

from collections import defaultdict

from ..buckets import state_measures, state_query
from ..metric import Measure, Metric
from ..periods import Period
from ..source import Source
from .bucketed import bucket_queries, bucketable
from .planning import Plan, plan
from .sql import _SHORTCUTS, _RecordingRow, measure_query
from .values import _values


def entity_queries(source: Source, entity: str, measures: list[Measure], windows: list[Period]):
    """The queries that evaluate ``measures`` of one entity for every window, each with the function
    reading its rows back: ``[(statement, read(rows, w, window) -> {measure: value})]``.

    With several windows: bucketable measures in one GROUP BY over bucket tuples, period-dependent
    counts in bucket space, and what is left as conditional aggregation; with one window, the last.
    """
    queries = []
    if len(windows) > 1 and _SHORTCUTS.get()[0]:
        bucketed = [m for m in measures if bucketable(m, windows)]
        for query in bucket_queries(source, entity, bucketed, windows):
            queries.append(
                (query.statement, lambda rows, w, window, query=query: query.window_values(rows, window))
            )
        measures = [m for m in measures if m not in bucketed]
        in_bucket_space = state_measures(measures, list(source.relation(entity).storage), windows)
        if in_bucket_space:
            queries.append(
                (
                    state_query(source, entity, in_bucket_space, windows),
                    lambda rows, w, window, chosen=in_bucket_space: _values(
                        chosen, rows[0] if rows else None, w
                    ),
                )
            )
            measures = [m for m in measures if m not in in_bucket_space]
    if measures:
        queries.append(
            (
                measure_query(source, entity, measures, windows),
                lambda rows, w, window, rest=measures: _values(rest, rows[0] if rows else None, w),
            )
        )
    return queries


def plan_queries(source: Source, the_plan: Plan, windows: list[Period]):
    """Every query of a plan, ``[(statement, read)]`` as in ``entity_queries``, in the order they start.

    Derived entities (per-customer lifetimes) cost the most, so their queries start first: with
    queries running side by side, the longest one sets the pace.
    """
    return [query for _, query in _labelled_queries(source, the_plan, windows)]


def _labelled_queries(source: Source, the_plan: Plan, windows: list[Period]):
    """``plan_queries`` as ``[(entity, (statement, read))]``."""
    entities = sorted(
        the_plan.measures, key=lambda e: getattr(source.entities.get(e), "derive", None) is None
    )
    return [
        (entity, query)
        for entity in entities
        for query in entity_queries(source, entity, the_plan.measures[entity], windows)
    ]


def preview_sql(metric: Metric, source: Source, period: Period, config=None) -> list[str]:
    """The SQL the engine would run for ``metric`` alone over ``period`` and the one before."""
    windows = [period, period.previous()]
    the_plan = plan([metric], source, windows, config)
    return [source.compile(statement) for statement, _ in plan_queries(source, the_plan, windows)]


def columns_read(metric: Metric, source: Source, period: Period, config=None) -> dict[str, list[str]]:
    """The columns of each entity that ``metric``'s measures read (filters, values and time columns)."""
    read: dict[str, set[str]] = defaultdict(set)
    for measure in metric.resolved_measures(config).values():
        row = _RecordingRow(source, source.relation(measure.entity), read[measure.entity])
        measure.condition(row, period)
        measure.expression(row, period)
    return {entity: sorted(columns) for entity, columns in sorted(read.items())}
