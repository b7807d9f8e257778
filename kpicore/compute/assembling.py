"""Assembling results: the comparison a year before and the segments of a breakdown."""

from __future__ import annotations

from ..metric import Metric, change_variance
from ..periods import Period
from ..results import Comparison, MetricResult, Segment, Warning_
from .values import NONE_SEGMENT, Squared, _metric_values, _n


def _comparison(metric: Metric, config, year_ago: Period, values, before_values, current) -> Comparison:
    """The metric over ``year_ago``, or None with the reason when the source has no data that far back."""
    at = _metric_values(metric, config, values, year_ago)
    before = _metric_values(metric, config, before_values, year_ago.previous())
    value, n, n_before = metric.value(at), _n(metric, at), _n(metric, before)
    reason = None
    if value is None or n == 0:
        reason = f"no data for {year_ago.label}, a year before"
    elif n_before == 0:
        # Records in the period but none before it: the history starts inside it, a partial value.
        reason = f"the data starts inside {year_ago.label}, a year before, so it has no whole value"
    return Comparison(
        year_ago.label,
        year_ago.start_iso(),
        year_ago.end_iso(),
        None if reason else value,
        metric.unit,
        current,
        reason,
    )


def _metric_segments(metric: Metric, config, segment_values, windows: list[Period]) -> list[Segment]:
    segments = []
    own = set(metric.resolved_measures(config).values())
    for key in sorted(segment_values, key=lambda s: (s == NONE_SEGMENT, s)):
        per_window = segment_values[key]
        if not own.intersection(per_window[0]):
            continue
        evaluated = []
        for by_measure, window in zip(per_window, windows, strict=True):
            filled = {m: (0 if m.aggregate in ("count", "sum", "count_distinct") else None) for m in own}
            filled.update({m: v for m, v in by_measure.items() if m in filled})
            squares = {m: by_measure.get(Squared(m)) or 0 for m in own if m.aggregate == "sum"}
            evaluated.append(_metric_values(metric, config, filled, window, squares))
        current, before = evaluated[:2]
        segment = Segment(
            key,
            metric.value(current),
            _n(metric, current) or 0,
            previous=metric.value(before),
            previous_n=_n(metric, before) or 0,
            variance=_variance(metric, current),
            previous_variance=_variance(metric, before),
            change_variance=_change_variance(metric, current, before),
        )
        if len(evaluated) > 2:  # a year before: None where the segment had no records then
            segment.compare = metric.value(evaluated[2]) if _n(metric, evaluated[2]) != 0 else None
        segments.append(segment)
    return segments


def _variance(metric: Metric, values) -> float | None:
    """The sampling variance of the segment's value, as the metric gives it (None: it gives none)."""
    if metric.value(values) is None:
        return None
    variance = metric.variance(values)
    return None if variance is None or variance != variance or variance < 0 else float(variance)


def _change_variance(metric: Metric, values, before) -> float | None:
    """The sampling variance of the segment's change when its two periods share records (lifetime
    measures, ``change_variance``); None when they do not, or it cannot be told."""
    variance = change_variance(metric, values, before)
    return None if variance is None or variance != variance or variance < 0 else float(variance)


def blank_result(metric: Metric, period: Period, by: str | None, config) -> MetricResult:
    """The result of ``metric`` over ``period`` before any value is known."""
    return MetricResult(
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


def add_segments(
    result: MetricResult, metric: Metric, config, segment_values, segment_problems, windows
) -> None:
    """The breakdown of ``result`` by its dimension, or a warning saying why the metric has none."""
    problem = next((segment_problems[e] for e in metric.entities(config) if e in segment_problems), None)
    if problem:
        # Not invalid records: the metric as a whole is fine, it has no breakdown (count 0).
        result.warnings.append(Warning_(problem, 0))
        return
    result.segments = _metric_segments(metric, config, segment_values, windows)
    if result.compare is not None:
        for segment in result.segments:
            segment.compared = True
            if result.compare.value is None:
                segment.compare = None  # no data a year back for the total: none for a segment
