"""Breakdowns by a dimension: measure values per segment, and a segment's history over periods."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from ..metric import Measure, Metric
from ..periods import Period
from ..source import EntityUnavailable, Source
from .planning import Plan, plan
from .sql import measure_query
from .values import NONE_SEGMENT, Squared, _metric_values, _squares, _values


def segment_history(
    metrics: Sequence[Metric], period: Period, source: Source, *, config=None, by: str, periods: int
) -> dict[str, dict[str, list[float | None]]]:
    """Each metric's value per segment of ``by`` over the last ``periods`` periods (oldest first, the
    period last): ``{metric: {segment: [value, ...]}}``. One GROUP BY per entity, with a conditional
    aggregate per measure and period: aggregates only. A metric that cannot be broken down by ``by`` is
    left out."""
    windows = period.trend(periods)
    the_plan = plan(metrics, source, windows, config)
    values, problems = _segments(source, the_plan, period, by, windows=windows)
    history: dict[str, dict[str, list[float | None]]] = {}
    for metric in the_plan.metrics:
        if metric.name in the_plan.unavailable:
            continue
        if any(entity in problems for entity in metric.entities(config)):
            continue
        own = set(metric.resolved_measures(config).values())
        per_segment = {}
        for key in sorted(values, key=lambda s: (s == NONE_SEGMENT, s)):
            if not any(own.intersection(window_values) for window_values in values[key]):
                continue
            points = []
            for by_measure, window in zip(values[key], windows, strict=True):
                filled = {m: (0 if m.aggregate in ("count", "sum", "count_distinct") else None) for m in own}
                filled.update({m: v for m, v in by_measure.items() if m in filled})
                points.append(metric.value(_metric_values(metric, config, filled, window)))
            per_segment[key] = points
        history[metric.name] = per_segment
    return history


def _segments(
    source: Source,
    the_plan: Plan,
    period: Period,
    by: str,
    windows: list[Period] | None = None,
    squares: bool = False,
):
    """Measure values per segment for the period and the one before (or for ``windows``):
    {segment: [{measure: value} per window]}, and the entities that can't. With ``squares``, each sum
    measure's sum of squares too, under ``Squared(measure)``, from the same query."""
    windows = windows or [period, period.previous()]
    values: dict[str, list[dict[Measure | Squared, float | None]]] = defaultdict(
        lambda: [{} for _ in windows]
    )
    problems: dict[str, str] = {}
    queries = []
    for entity, measures in the_plan.measures.items():
        try:
            queries.append(
                (measure_query(source, entity, measures, windows, by=by, squares=squares), measures)
            )
        except EntityUnavailable as error:
            problems[entity] = str(error)
    for rows, (_, measures) in zip(source.execute_all([q for q, _ in queries]), queries, strict=True):
        for row in rows:
            segment = row._mapping["segment"]
            key = NONE_SEGMENT if segment is None else str(segment)
            for w in range(len(windows)):
                found: list[tuple[Measure | Squared, float | None]] = list(_values(measures, row, w).items())
                found.extend((Squared(m), q) for m, q in _squares(measures, row, w).items())
                for measure, value in found:
                    previous = values[key][w].get(measure)
                    values[key][w][measure] = value if previous is None else previous + (value or 0)
    return values, problems
