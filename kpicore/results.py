"""The result of computing one metric for one period: value, comparison, trend, segments, target status."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, overload

UNITS = ("count", "currency", "percent", "points", "minutes", "ratio")
#: Units whose period-over-period change is in points (percentage points, NPS points), not relative:
#: a relative change of a rate or of a score that can cross zero is noise (-22 pts of NPS is not -318 %).
POINT_UNITS = ("percent", "points")
#: Significant digits a JSON number keeps: enough for every digit a source stores (ten digits
#: before the cents), few enough to drop the binary noise of float sums (33038.82000000004).
JSON_DIGITS = 12


@overload
def clean_number(value: float) -> float: ...
@overload
def clean_number(value: None) -> None: ...
@overload
def clean_number(value: float | None) -> float | None: ...
def clean_number(value: float | None) -> float | int | None:
    """``value`` without binary floating-point noise: rounded to ``JSON_DIGITS`` significant digits
    (``33038.82000000004`` -> ``33038.82``, ``0.49 - 0.44`` -> ``0.05``); ints and None unchanged."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if not math.isfinite(value):
        return None
    return float(f"{value:.{JSON_DIGITS}g}")


def change(value: float | None, previous: float | None) -> float | None:
    """value - previous, or None when either is missing."""
    if value is None or previous is None:
        return None
    return clean_number(value - previous)


def relative_change(value: float | None, previous: float | None, unit: str) -> float | None:
    """The change in percent of ``previous`` (12.5 means +12.5 %); None for point units, when
    ``previous`` is 0 or either value is missing."""
    if unit in POINT_UNITS or value is None or previous is None or previous == 0:
        return None
    return 100.0 * (value - previous) / abs(previous)


#: The keys of a target in ``[targets]``.
KEYS = ("min", "max", "goal")


@dataclass(frozen=True)
class Target:
    """A metric's target: a lower bound, an upper bound, both (a range) or a goal."""

    min: float | None = None
    max: float | None = None
    goal: float | None = None

    def to_json(self) -> dict[str, float]:
        """The target as configured: ``{"min": 40}``, ``{"min": 30, "max": 50}``, ``{"goal": 50000}``."""
        return {key: getattr(self, key) for key in KEYS if getattr(self, key) is not None}


@dataclass(frozen=True)
class TargetStatus:
    """Where a value stands against its target: ``on_track`` and ``gap`` (value - target, in the
    metric's unit); both None when the value is missing."""

    target: Target
    on_track: bool | None
    gap: float | None


@dataclass
class Warning_:
    """One kind of invalid record left out of a metric, and how many (0: a note about the whole
    metric, such as a breakdown it cannot have)."""

    message: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "count": self.count}


@dataclass
class LeftOut:
    """Values of one column that did not parse, left out of the metrics that read it (files as exported)."""

    entity: str
    column: str
    count: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "column": self.column, "count": self.count, "reason": self.reason}


@dataclass
class Duplicates:
    """Repeated rows of an entity, counted once: ``kind`` "rows" (identical in every cell) or "ids" (an
    earlier row replaced by a later one with the same id)."""

    entity: str
    kind: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"entity": self.entity, "kind": self.kind, "count": self.count}


@dataclass
class Segment:
    """The metric's value for one value of a dimension (``--by``), and for the period before."""

    segment: str
    value: float | None
    n: int
    previous: float | None = None
    #: The records behind ``previous`` (not in the JSON contract; for insights that weigh segments).
    previous_n: int | None = None
    #: The sampling variance of ``value`` and of ``previous`` (``Metric.variance``: from the segment's
    #: counts, and its sums of squares computed in SQL), None where the metric gives none; not in the JSON
    #: contract: for insights that test whether a segment's change stands out from noise.
    variance: float | None = None
    previous_variance: float | None = None
    #: The sampling variance of the change ``value - previous`` when the two periods share records (a
    #: lifetime metric such as CLV: ``kpicore.metric.change_variance``); None when they are apart and the
    #: two variances add. Not in the JSON contract.
    change_variance: float | None = None
    #: With ``--compare last-year``: the segment's value a year before (None without data then).
    compare: float | None = None
    compared: bool = False

    @property
    def delta(self) -> float | None:
        """value - previous, in the metric's unit (points for percent and points metrics)."""
        return change(self.value, self.previous)

    def to_json(self) -> dict[str, Any]:
        data = {
            "segment": self.segment,
            "value": clean_number(self.value),
            "previous": clean_number(self.previous),
            "delta": self.delta,
            "n": self.n,
        }
        if self.compared:
            data["compare"] = clean_number(self.compare)
        return data


@dataclass
class Comparison:
    """The metric over the same period a year before (``--compare last-year``).

    ``value`` is None with a ``reason`` when the source holds no data a year back (no records in that
    period, or none before it: history that starts inside it would make a partial, wrong number).
    """

    period: str
    start: str
    end: str
    value: float | None
    unit: str
    current: float | None
    reason: str | None = None

    @property
    def delta(self) -> float | None:
        """current - value a year before; in points for percent and NPS metrics."""
        return change(self.current, self.value)

    @property
    def delta_pct(self) -> float | None:
        """Relative change in percent; None for point units or without both values."""
        return relative_change(self.current, self.value, self.unit)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "period": self.period,
            "start": self.start,
            "end": self.end,
            "value": clean_number(self.value),
            "delta": self.delta,
            "delta_pct": clean_number(self.delta_pct),
        }
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class TrendPoint:
    """The metric's value for one period of a trend, oldest first."""

    period: str
    start: str
    end: str
    value: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "start": self.start,
            "end": self.end,
            "value": clean_number(self.value),
        }


@dataclass
class MetricResult:
    """One metric over one period, with its comparison to the period before.

    ``better`` ("higher" or "lower") and ``n_noun`` (what ``n`` counts: "orders") are not part of
    the JSON contract but let renderers mark a change as good or bad and say "571 orders".
    """

    metric: str
    title: str
    unit: str
    better: str
    status: str  # "ok" | "unavailable"
    period: str
    start: str
    end: str
    value: float | None = None
    previous: float | None = None
    n: int | None = None
    warnings: list[Warning_] = field(default_factory=list)
    segments: list[Segment] | None = None
    trend: list[TrendPoint] | None = None
    reason: str | None = None
    dimension: str | None = None
    n_noun: str = "records"
    #: Set by ``kpicore.targets.apply_targets`` when kpi.toml has a target for the metric.
    target_status: TargetStatus | None = None
    #: With ``--compare last-year``: the same period a year before.
    compare: Comparison | None = None
    #: Values of the columns the metric reads that did not parse, and repeated rows counted once.
    left_out: list[LeftOut] = field(default_factory=list)
    duplicates: list[Duplicates] = field(default_factory=list)
    #: The records behind ``left_out`` (a record with two values that did not parse counts once).
    left_out_records: int = 0

    @classmethod
    def of(cls, metric, period, status: str = "ok", **fields: Any) -> MetricResult:
        """A result of ``metric`` for ``period``, with the metric's title, unit and direction."""
        return cls(
            metric=metric.name,
            title=metric.title,
            unit=metric.unit,
            better=metric.better,
            status=status,
            period=period.label,
            start=period.start_iso(),
            end=period.end_iso(),
            **fields,
        )

    @property
    def left_out_count(self) -> int:
        return self.left_out_records or sum(item.count for item in self.left_out)

    @property
    def duplicate_count(self) -> int:
        return sum(item.count for item in self.duplicates)

    @property
    def delta(self) -> float | None:
        """value - previous; in points for percent and NPS metrics."""
        return change(self.value, self.previous)

    @property
    def delta_pct(self) -> float | None:
        """Relative change in percent (12.5 means +12.5 %); None for percent and points units
        (their change is ``delta``, in points), when previous is 0 or either value is missing."""
        return relative_change(self.value, self.previous, self.unit)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def on_track(self) -> bool | None:
        """True or False against the metric's target; None without a target or a value."""
        return None if self.target_status is None else self.target_status.on_track

    @property
    def gap(self) -> float | None:
        """value - target in the metric's unit (see ``kpicore.targets``); None without a target or a value."""
        return None if self.target_status is None else self.target_status.gap

    def to_json(self) -> dict[str, Any]:
        """The result as JSON: plain JSON types, numbers as numbers (without float noise) or None."""
        data: dict[str, Any] = {
            "metric": self.metric,
            "title": self.title,
            "unit": self.unit,
            "status": self.status,
            "period": self.period,
            "start": self.start,
            "end": self.end,
            "value": clean_number(self.value),
            "previous": clean_number(self.previous),
            "delta": self.delta,
            "delta_pct": clean_number(self.delta_pct),
            "n": self.n,
            "warnings": [w.to_json() for w in self.warnings],
            "left_out": [item.to_json() for item in self.left_out],
            "duplicates": [item.to_json() for item in self.duplicates],
            "dimension": self.dimension,
            "segments": None if self.segments is None else [s.to_json() for s in self.segments],
            "trend": None if self.trend is None else [t.to_json() for t in self.trend],
            "target": None if self.target_status is None else self.target_status.target.to_json(),
            "on_track": self.on_track,
            "gap": self.gap,
        }
        if self.compare is not None:
            data["compare"] = self.compare.to_json()
        if self.status != "ok":
            data["reason"] = self.reason
        return data
