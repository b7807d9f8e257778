"""Assembling results: the comparison a year before and the segments of a breakdown."""

from __future__ import annotations

from ..metric import Metric
from ..periods import Period
from ..results import Comparison, Segment
from .values import NONE_SEGMENT, _metric_values, _n


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
            evaluated.append(_metric_values(metric, config, filled, window))
        current, before = evaluated[:2]
        segment = Segment(
            key,
            metric.value(current),
            _n(metric, current) or 0,
            previous=metric.value(before),
            previous_n=_n(metric, before) or 0,
        )
        if len(evaluated) > 2:  # a year before: None where the segment had no records then
            segment.compare = metric.value(evaluated[2]) if _n(metric, evaluated[2]) != 0 else None
        segments.append(segment)
    return segments
