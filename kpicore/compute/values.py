"""Reading values back: query rows to measure values, measure values to a metric's values, its n and warnings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..metric import Measure, Metric, Values
from ..periods import Period
from ..results import Warning_

NONE_SEGMENT = "(none)"


@dataclass(frozen=True)
class Squared:
    """The key of a sum measure's sum of squares among a segment's measure values."""

    measure: Measure


def _number(value):
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    return float(value)


def _values(measures: list[Measure], row, w: int) -> dict[Measure, float | None]:
    values = {}
    for i, measure in enumerate(measures):
        value = _number(row._mapping[f"m{w}_{i}"]) if row is not None else None
        if value is None and measure.aggregate in ("count", "sum", "count_distinct"):
            value = 0
        values[measure] = value
    return values


def _squares(measures: list[Measure], row, w: int) -> dict[Measure, float]:
    """The sums of squares of the sum measures in ``row`` (columns q{w}_{i}; 0 when no record)."""
    return {
        measure: _number(row._mapping[f"q{w}_{i}"]) or 0
        for i, measure in enumerate(measures)
        if measure.aggregate == "sum" and f"q{w}_{i}" in row._mapping
    }


def _metric_values(
    metric: Metric,
    config,
    by_measure: Mapping[Measure, float | None],
    window: Period,
    squares: Mapping[Measure, float] | None = None,
) -> Values:
    resolved = metric.resolved_measures(config)
    return Values(
        {name: by_measure.get(measure) for name, measure in resolved.items()},
        config,
        window,
        squares=None
        if squares is None
        else {name: squares[measure] for name, measure in resolved.items() if measure in squares},
    )


def _n(metric: Metric, values: Values) -> int | None:
    name = metric.n
    if name is None:
        counts = [
            k
            for k, m in metric.resolved_measures(values.config).items()
            if m.aggregate == "count" and not m.warn and not m.note
        ]
        name = counts[0] if counts else None
    value = values.get(name) if name else None
    return None if value is None else int(value)


def _warnings(metric: Metric, config, by_measure) -> list[Warning_]:
    warnings = []
    for measure in metric.resolved_measures(config).values():
        count = by_measure.get(measure) or 0
        if measure.warn and count:
            warnings.append(Warning_(measure.warn, int(count)))
        elif measure.note and count:  # not invalid: a note about the metric, no count
            warnings.append(Warning_(measure.note, 0))
    return warnings
