"""The result of computing one metric for one period: the shape of DESIGN section 8."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNITS = ("count", "currency", "percent", "points", "minutes", "ratio")
#: Units whose period-over-period delta is in points (percentage points, NPS points), not relative.
POINT_UNITS = ("percent", "points")


@dataclass
class Warning_:
    """One kind of invalid record left out of a metric, and how many."""

    message: str
    count: int

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "count": self.count}


@dataclass
class Segment:
    """The metric's value for one value of a dimension (``--by``)."""

    segment: str
    value: float | None
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"segment": self.segment, "value": self.value, "n": self.n}


@dataclass
class TrendPoint:
    """The metric's value for one period of a trend, oldest first."""

    period: str
    start: str
    end: str
    value: float | None

    def to_json(self) -> dict[str, Any]:
        return {"period": self.period, "start": self.start, "end": self.end, "value": self.value}


@dataclass
class MetricResult:
    """One metric over one period, with its comparison to the period before.

    ``better`` ("higher" or "lower") is not part of the JSON contract but lets
    renderers mark a change as good or bad.
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

    @property
    def delta(self) -> float | None:
        """value - previous; in points for percent and NPS metrics."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def delta_pct(self) -> float | None:
        """Relative change in percent (12.5 means +12.5 %); None when previous is 0 or None."""
        if self.value is None or self.previous is None or self.previous == 0:
            return None
        return 100.0 * (self.value - self.previous) / abs(self.previous)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """The DESIGN 8 object: plain JSON types, numbers as numbers or None."""
        data: dict[str, Any] = {
            "metric": self.metric,
            "title": self.title,
            "unit": self.unit,
            "status": self.status,
            "period": self.period,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "previous": self.previous,
            "delta": self.delta,
            "delta_pct": self.delta_pct,
            "n": self.n,
            "warnings": [w.to_json() for w in self.warnings],
            "segments": None if self.segments is None else [s.to_json() for s in self.segments],
            "trend": None if self.trend is None else [t.to_json() for t in self.trend],
        }
        if self.status != "ok":
            data["reason"] = self.reason
        return data
