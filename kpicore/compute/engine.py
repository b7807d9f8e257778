"""The compute entry point: metrics -> measures -> a few SQL queries per entity -> results.

Every measure of every requested metric is evaluated for every period window (the period, the one
before it and, with ``trend``, the last N). Measures whose filter does not depend on the period are
*bucketed*: one GROUP BY on a CASE that maps their time column to the slice between consecutive
window boundaries, so the cost per row is one CASE chain whatever the number of windows, and each
window's value is the sum of its buckets (a handful of rows). The others are evaluated by conditional
aggregation, one CASE per measure and window, in a single query per entity. Only aggregates come back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

from ..errors import PeriodError
from ..left_out import reading_notes
from ..metric import Measure, Metric
from ..periods import Period, year_before
from ..results import MetricResult, TrendPoint, Warning_
from ..source import Source
from ..targets import apply_targets
from .assembling import _comparison, _metric_segments
from .planning import COMPARISONS, plan
from .queries import _labelled_queries, columns_read
from .running import _execute_isolating_entities
from .segments import _segments
from .values import _metric_values, _n, _warnings


def compute(
    metrics: Sequence[Metric],
    period: Period,
    source: Source,
    *,
    config=None,
    by: str | None = None,
    trend: int | None = None,
    progress: Callable[[list[str]], None] | None = None,
    compare: str | None = None,
) -> list[MetricResult]:
    """Compute ``metrics`` for ``period`` (and the one before) in the source database.

    ``compare="last-year"`` also computes the same period a year before (:func:`~kpicore.periods.year_before`)
    into each result's ``compare``, in the same queries; its value is None, with a reason, when the source
    holds no records of the metric in that period or in the one just before it (history starting inside it
    would give a partial number). ``progress``, when given, is called with the entities whose queries are
    running whenever that changes (from the threads running them), for a terminal to show.
    """
    if compare is not None and compare not in COMPARISONS:
        raise PeriodError(f"cannot compare with {compare!r}: use {', '.join(COMPARISONS)}")
    previous = period.previous()
    windows = [period, previous]
    trend_periods = period.trend(trend) if trend else []
    year_ago = year_before(period) if compare else None
    extra = [year_ago, year_ago.previous()] if year_ago is not None else []
    for window in [*trend_periods, *extra]:
        if all((window.start, window.end) != (w.start, w.end) for w in windows):
            windows.append(window)
    the_plan = plan(metrics, source, windows, config)

    labelled = _labelled_queries(source, the_plan, windows)
    queries = [query for _, query in labelled]
    window_values: list[dict[Measure, float | None]] = [{} for _ in windows]
    answers, queries = _execute_isolating_entities(
        source, the_plan, windows, queries, config, [entity for entity, _ in labelled], progress
    )
    for rows, (_, read) in zip(answers, queries, strict=True):
        for w, window in enumerate(windows):
            window_values[w].update(read(rows, w, window))

    segment_windows = [period, previous, *([year_ago] if year_ago is not None else [])]
    segment_values, segment_problems = ({}, {})
    if by is not None:
        segment_values, segment_problems = _segments(source, the_plan, period, by, windows=segment_windows)

    def index_of(target: Period) -> int:
        return next(i for i, w in enumerate(windows) if (w.start, w.end) == (target.start, target.end))

    results = []
    for metric in the_plan.metrics:
        result = MetricResult(
            metric=metric.name,
            title=metric.title,
            unit=metric.unit,
            better=metric.better,
            status="ok",
            period=period.label,
            start=period.start_iso(),
            end=period.end_iso(),
            dimension=by,
            n_noun=metric.count_noun(config),
        )
        results.append(result)
        if metric.name in the_plan.unavailable:
            result.status = "unavailable"
            result.reason = the_plan.unavailable[metric.name]
            continue
        current = _metric_values(metric, config, window_values[0], period)
        result.value = metric.value(current)
        result.previous = metric.value(_metric_values(metric, config, window_values[1], previous))
        result.n = _n(metric, current)
        result.warnings = _warnings(metric, config, window_values[0])
        result.left_out, result.duplicates, result.left_out_records = reading_notes(
            source, functools.partial(columns_read, metric, source, period, config)
        )
        if trend:
            result.trend = [
                TrendPoint(
                    w.label,
                    w.start_iso(),
                    w.end_iso(),
                    metric.value(_metric_values(metric, config, window_values[index_of(w)], w)),
                )
                for w in trend_periods
            ]
        if year_ago is not None:
            result.compare = _comparison(
                metric,
                config,
                year_ago,
                window_values[index_of(year_ago)],
                window_values[index_of(year_ago.previous())],
                result.value,
            )
        if by is not None:
            problem = next(
                (segment_problems[e] for e in metric.entities(config) if e in segment_problems), None
            )
            if problem:
                # Not invalid records: the metric as a whole is fine, it has no breakdown (count 0).
                result.warnings.append(Warning_(problem, 0))
            else:
                result.segments = _metric_segments(metric, config, segment_values, segment_windows)
                if result.compare is not None:
                    for segment in result.segments:
                        segment.compared = True
                        if result.compare.value is None:
                            segment.compare = None  # no data a year back for the total: none for a segment
    apply_targets(results, config)
    return results
