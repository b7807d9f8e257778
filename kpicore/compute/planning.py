"""Planning a compute: the metrics asked for, the windows, and the measures each entity must answer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..metric import Measure, Metric
from ..periods import Period
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
