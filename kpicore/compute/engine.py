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

from ..left_out import reading_notes
from ..metric import Metric
from ..periods import Period
from ..results import MetricResult, TrendPoint
from ..source import Source
from ..targets import apply_targets
from .assembling import _comparison, add_segments, blank_result
from .planning import compute_windows, plan
from .queries import columns_read
from .running import measure_values
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
    windows, trend_periods, year_ago = compute_windows(period, trend, compare)
    previous = windows[1]
    the_plan = plan(metrics, source, windows, config)

    window_values = measure_values(source, the_plan, windows, config, progress)

    segment_windows = [period, previous, *([year_ago] if year_ago is not None else [])]
    segment_values, segment_problems = ({}, {})
    if by is not None:
        segment_values, segment_problems = _segments(
            source, the_plan, period, by, windows=segment_windows, squares=True
        )

    def index_of(target: Period) -> int:
        return next(i for i, w in enumerate(windows) if (w.start, w.end) == (target.start, target.end))

    results = []
    for metric in the_plan.metrics:
        result = blank_result(metric, period, by, config)
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
            add_segments(result, metric, config, segment_values, segment_problems, segment_windows)
    apply_targets(results, config)
    return results
