"""Planning a compute: the metrics asked for, the windows, and the measures each entity must answer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import PeriodError
from ..metric import Measure, Metric
from ..periods import Period, year_before
from ..source import EntityUnavailable, Row, Source

#: What ``compute(..., compare=...)`` accepts: the same period a year before.
COMPARISONS = ("last-year",)


@dataclass
class Plan:
    """What one compute call will ask the source for."""

    metrics: list[Metric]
    windows: list[Period]
    unavailable: dict[str, str]
    measures: dict[str, list[Measure]]  # entity -> distinct measures, in first-seen order


def select_metrics(names: Iterable[str], registry) -> list[Metric]:
    """The metrics named, in order, without repeats; ``all`` means every registered metric."""
    chosen: dict[str, Metric] = {}
    for name in names:
        if name == "all":
            for registration in registry.metrics.values():
                chosen.setdefault(registration.name, registration.item)
        else:
            chosen.setdefault(name, registry.metric(name))
    return list(chosen.values())


def plan(metrics: Sequence[Metric], source: Source, windows: list[Period], config=None) -> Plan:
    unavailable: dict[str, str] = {}
    measures: dict[str, list[Measure]] = defaultdict(list)
    for metric in metrics:
        resolved = metric.resolved_measures(config)
        missing = None
        for entity in {m.entity for m in resolved.values()}:
            try:
                source.relation(entity)
            except EntityUnavailable as error:
                missing = str(error)
                break
        if missing is None:
            missing = _missing_column(source, resolved.values(), windows[0])
        if missing:
            unavailable[metric.name] = missing
            continue
        for measure in resolved.values():
            if measure not in measures[measure.entity]:
                measures[measure.entity].append(measure)
    return Plan(list(metrics), windows, unavailable, dict(measures))


def _missing_column(source: Source, measures, window: Period) -> str | None:
    """Why the measures cannot be computed when they read a column the source lacks, else None."""
    from ..source import ColumnUnavailable

    for measure in measures:
        row = Row(source, source.relation(measure.entity))
        try:
            measure.condition(row, window)
            measure.expression(row, window)
        except ColumnUnavailable as error:
            return str(error)
    return None


def compute_windows(period: Period, trend: int | None, compare: str | None):
    """The windows one compute evaluates: the period and the one before, then the trend's periods and,
    with ``compare``, the same period a year before and the one before that, without repeats. Returns
    ``(windows, trend_periods, year_ago)``."""
    if compare is not None and compare not in COMPARISONS:
        raise PeriodError(f"cannot compare with {compare!r}: use {', '.join(COMPARISONS)}")
    windows = [period, period.previous()]
    trend_periods = period.trend(trend) if trend else []
    year_ago = year_before(period) if compare else None
    extra = [year_ago, year_ago.previous()] if year_ago is not None else []
    for window in [*trend_periods, *extra]:
        if all((window.start, window.end) != (w.start, w.end) for w in windows):
            windows.append(window)
    return windows, trend_periods, year_ago
